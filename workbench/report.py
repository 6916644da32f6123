"""The HTML report: papermill runs ``notebooks/compare.ipynb`` on a run folder, nbconvert
exports its outputs (code hidden) and :func:`render_report` wraps them into a page that
stands alone: ``report.html`` beside an ``assets/`` folder.

- Clips are hard-linked (copied across file systems) into ``assets/clips/`` and played
  through relative links, so ``report.html`` + ``assets/`` can be zipped and opened on
  another computer (:func:`bundle_report`). Below a size cap they can be embedded instead.
- Spectrogram grids are embedded as data URIs.
- The leaderboard sorts by clicking a column header (a few lines of inline JavaScript; no
  CDN, no external script, no widget that needs a kernel).
- No absolute local path and no value of a secret-looking environment variable
  (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``) is left in the page.

:func:`write_index` keeps ``<results>/index.html``, a list of every run and its report;
each render updates it.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from workbench import __version__
from workbench.leaderboard import display_table, failures, leaderboard, load_scores
from workbench.metrics.registry import metric_specs
from workbench.prompt import Prompt
from workbench.run import Sample, load_samples
from workbench.store import atomic_write_bytes

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
REPORT_NOTEBOOK = "compare.ipynb"
ASSETS_DIR = "assets"
#: Cells tagged with this are left out of the exported report (notes for notebook users).
SKIP_TAG = "report-skip"

_CSS = """
<style>
table.leaderboard { border-collapse: collapse; font-size: 12px; }
table.leaderboard th, table.leaderboard td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
table.leaderboard td:first-child, table.leaderboard th:first-child { text-align: left; }
table[data-sortable] th { cursor: pointer; user-select: none; white-space: nowrap; }
table[data-sortable] th[aria-sort=ascending]::after { content: " ▲"; }
table[data-sortable] th[aria-sort=descending]::after { content: " ▼"; }
.wb-prompt { font-family: ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6; padding: 6px; font-size: 12px; }
.wb-clips { display: flex; flex-wrap: wrap; gap: 8px; }
.wb-clip { width: 300px; font-size: 11px; }
.wb-clip video { width: 300px; }
.wb-side { display: flex; flex-wrap: wrap; gap: 32px; }
</style>
"""

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #eee; } h3 { font-size: 15px; }
img { max-width: 100%; }
.anchor-link { display: none; }
footer { color: #777; font-size: 11px; margin-top: 32px; }
"""

# Click a header to sort; numbers by data-v (raw value), text otherwise; blanks stay last.
_SORTER_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute("data-v");
    if (v === null) v = td.textContent.trim();
    var n = parseFloat(v);
    return (v === "" || isNaN(n)) ? {num: false, s: v.toLowerCase(), blank: v === "" || v === "–"} : {num: true, x: n};
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col]), kb = key(b.cells[col]);
      if (ka.blank !== kb.blank) return ka.blank ? 1 : -1;
      if (ka.num && kb.num) return asc ? ka.x - kb.x : kb.x - ka.x;
      if (ka.num !== kb.num) return ka.num ? -1 : 1;
      return asc ? ka.s.localeCompare(kb.s) : kb.s.localeCompare(ka.s);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  document.querySelectorAll("table[data-sortable] thead th").forEach(function (th) {
    th.title = th.title || "click to sort";
    th.addEventListener("click", function () { sortBy(th); });
  });
})();
"""

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def notebook_path(name: str = REPORT_NOTEBOOK) -> Path:
    """Path of a bundled notebook."""
    p = NOTEBOOKS_DIR / name
    if not p.is_file():
        raise FileNotFoundError(f"notebook {name} not found in {NOTEBOOKS_DIR}")
    return p


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if dst.stat().st_size == src.stat().st_size:
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def sortable_table(
    df: pd.DataFrame, *, sort_values: pd.DataFrame | None = None, titles: dict[str, str] | None = None
) -> str:
    """An HTML table (class ``dataframe leaderboard``) that the page's inline script can sort.

    ``sort_values`` (same shape and columns as ``df``) gives each cell's ``data-v`` sort key.
    """
    titles = titles or {}
    head = "".join(
        f'<th title="{html.escape(titles.get(c, ""))}">{html.escape(str(c))}</th>'
        if titles.get(c)
        else f"<th>{html.escape(str(c))}</th>"
        for c in df.columns
    )
    body = []
    for i in range(len(df)):
        cells = []
        for j, _c in enumerate(df.columns):
            v = df.iat[i, j]
            text = (
                "–"
                if v is None or (isinstance(v, float) and pd.isna(v))
                else (f"{v:.4g}" if isinstance(v, float) else str(v))
            )
            attr = ""
            if sort_values is not None:
                k = sort_values.iat[i, j]
                attr = f' data-v="{"" if k is None or (isinstance(k, float) and pd.isna(k)) else html.escape(str(k))}"'
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="dataframe leaderboard" data-sortable="1"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class ReportData:
    """Everything the compare notebook shows about one run folder.

    Parameters
    ----------
    run_dir : str or Path
    embed_media_mb : float
        Embed the clips in the page (data URIs) when they total at most this many MB;
        0 (default) always links them from ``assets/``.
    """

    def __init__(self, run_dir: str | Path, *, embed_media_mb: float = 0.0) -> None:
        self.run_dir = Path(run_dir)
        self.info = json.loads((self.run_dir / "run.json").read_text())
        self.samples: list[Sample] = load_samples(self.run_dir)
        self.prompts = [Prompt.model_validate(p) for p in self.info["suite"]["prompts"]]
        ok = [s for s in self.samples if s.status == "ok" and s.clip and (self.run_dir / s.clip).is_file()]
        total = sum((self.run_dir / s.clip).stat().st_size for s in ok)
        self.embed = embed_media_mb > 0 and total <= embed_media_mb * 1e6

    def _img(self, rel: str, alt: str) -> str:
        data = base64.b64encode((self.run_dir / rel).read_bytes()).decode()
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'

    def clip_src(self, s: Sample) -> str:
        """The ``src`` of a clip's player: ``assets/clips/<file>`` (linked now) or a data URI."""
        src = self.run_dir / s.clip
        if self.embed:
            return "data:video/mp4;base64," + base64.b64encode(src.read_bytes()).decode()
        rel = Path(ASSETS_DIR) / "clips" / src.name
        _link_or_copy(src, self.run_dir / rel)
        return rel.as_posix()

    def header_html(self) -> str:
        """Run name, time, counts."""
        cfg, stats = self.info["config"], self.info.get("stats", {})
        n_ok = sum(s.status == "ok" for s in self.samples)
        models = list(dict.fromkeys(s.model for s in self.samples))
        return (
            _CSS + f"<h1>AV Workbench report: {html.escape(cfg['name'])}</h1>"
            f"<p>{html.escape(cfg.get('description', ''))}</p>"
            f"<p>Run <code>{html.escape(self.run_dir.resolve().name)}</code>, started {self.info.get('started', '?')[:19]} UTC. "
            f"{len(self.prompts)} prompts × {len(models)} models × {cfg['repeats']} repeat(s): "
            f"{n_ok} clips, {len(self.samples) - n_ok} failed, cache hits {stats.get('cache_hits', '?')}. "
            f"Prompt template {html.escape(self.info['template_version'])}.</p>"
        )

    def leaderboard_frame(self) -> pd.DataFrame:
        """The readable leaderboard."""
        return display_table(leaderboard(self.run_dir))

    def leaderboard_html(self) -> str:
        """The leaderboard as a sortable HTML table with an explanation."""
        specs = metric_specs()
        lb = leaderboard(self.run_dir, specs=specs)
        disp = display_table(lb, specs=specs)
        keys = pd.DataFrame(index=disp.index, columns=disp.columns, dtype=object)
        titles: dict[str, str] = {}
        base = ["model", "rank", "clips", "failed", "cost_usd", "latency_s"]
        for c in base:
            keys[c] = lb[c].to_numpy()
        metric_cols = [c for c in lb.columns if f"{c}_spread" in lb.columns]
        for col, name in zip(disp.columns[len(base) :], metric_cols, strict=True):
            spec = specs.get(name)
            v = lb[name]
            keys[col] = (v.abs() if spec is not None and spec.best_at_zero else v).to_numpy()
            if spec is not None:
                titles[col] = spec.description
        return (
            "<h2>Leaderboard</h2><p>Per model: each metric's median (or mean) ± half the interquartile range, "
            "with n scored clips. ↑ higher is better, ↓ lower is better, (→0) closer to zero is better (sorts by distance "
            "from 0). <b>rank</b> is the mean rank over metrics with a direction (lower is better). Click a column to sort; "
            "hover a column for what it measures.</p>" + sortable_table(disp, sort_values=keys, titles=titles)
        )

    def preferences_html(self) -> str:
        """The creator's blind A/B preference (Bradley-Terry) and mute tests, when votes exist."""
        from workbench.preference import agreement, load_votes, mute_table, preference_table

        votes = load_votes(self.run_dir)
        if not votes:
            return ""
        prefs = preference_table(votes)
        parts = ["<h2>Creator judgements</h2>"]
        if len(prefs):
            lb = leaderboard(self.run_dir)[["model", "rank"]].rename(columns={"rank": "metric rank"})
            side = prefs.merge(lb, on="model", how="left")
            parts.append(
                f"<p>{int(prefs['votes'].sum() // 2)} blind A/B votes, fitted with the Bradley-Terry model "
                "(bt_score = log strength; win_prob = chance to beat a model of average strength). "
                "<b>metric rank</b> is the automatic leaderboard's rank, for comparison.</p>" + sortable_table(side)
            )
            ag = agreement(votes, load_scores(self.run_dir), metric_specs())
            if len(ag):
                parts.append(
                    "<h3>Agreement of each metric with the votes</h3><p>spearman: rank correlation, over models, of the "
                    "Bradley-Terry score and the metric (turned so larger is better; blank with fewer than 3 models). "
                    "vote_agreement: share of decisive votes in which the metric prefers the chosen clip.</p>"
                    + sortable_table(ag)
                )
        mt = mute_table(votes)
        if len(mt):
            parts.append(
                "<h3>Mute test</h3><p>Picture shown with its own sound and another shot's, in random order; own_share is "
                "the share of decided tests in which the creator picked the clip's own sound.</p>" + sortable_table(mt)
            )
        return "".join(parts)

    def prompts_html(self) -> str:
        """Each prompt's canonical text, as sent identically to every model."""
        parts = ["<h2>Prompts</h2><p>The canonical text sent identically to every model.</p>"]
        for p in self.prompts:
            parts.append(f"<h3>{html.escape(p.id)}: {html.escape(p.title)}</h3>")
            parts.append(f'<div class="wb-prompt">{html.escape(p.canonical_text())}</div>')
        return "".join(parts)

    def grids_html(self, *, clips: bool = True) -> str:
        """Per prompt: spectrograms of every model on a shared time axis, then (``clips``) its clips."""
        parts = [
            "<h2>Spectrograms and clips per prompt</h2><p>Each grid stacks every model's spectrogram for one prompt on a "
            "shared time axis. Dashed red: when the prompt says a foley event happens; solid green: when a dialogue line "
            "should start. Listen on headphones, then mute and watch.</p>"
        ]
        for p in self.prompts:
            parts.append(f'<h3 id="prompt-{html.escape(p.id)}">{html.escape(p.id)}</h3>')
            grid = self.run_dir / "figures" / f"grid_{p.id}.png"
            if grid.is_file():
                parts.append(self._img(f"figures/grid_{p.id}.png", f"spectrogram grid for {p.id}"))
            if clips:
                parts.append(self.clips_html(p.id))
        return "".join(parts)

    def clips_html(self, prompt_id: str) -> str:
        """Video players for one prompt's clips (relative links into ``assets/clips/``)."""
        cells = []
        for s in self.samples:
            if s.prompt_id != prompt_id:
                continue
            label = html.escape(f"{s.model} · r{s.repeat}")
            if s.status == "ok" and s.clip and (self.run_dir / s.clip).is_file():
                cells.append(
                    f'<div class="wb-clip"><video controls preload="metadata" src="{html.escape(self.clip_src(s))}"></video>'
                    f"<br>{label}{' (no audio)' if s.has_audio is False else ''}</div>"
                )
            else:
                cells.append(f'<div class="wb-clip">{label}: failed: {html.escape(s.reason or "clip missing")}</div>')
        return f'<div class="wb-clips">{"".join(cells)}</div>'

    def failures_html(self) -> str:
        """Failed generations and unscored metrics with their reasons."""
        df = failures(self.run_dir)
        if df.empty:
            return "<h2>Failures</h2><p>None.</p>"
        summary = df.groupby(["what", "reason"], dropna=False).size().reset_index(name="clips")
        return "<h2>Failures and unscored metrics</h2>" + summary.to_html(index=False, classes="leaderboard", border=0)

    def footer_html(self) -> str:
        """What made the report and how to share it."""
        media = "embedded in this page" if self.embed else f"in the <code>{ASSETS_DIR}/</code> folder beside this page"
        return (
            f"<footer>Made by AV Workbench {html.escape(__version__)} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
            f"Clips are {media}; to share the report, send <code>report.html</code> with <code>{ASSETS_DIR}/</code> "
            "(<code>workbench.report.bundle_report</code> zips both).</footer>"
        )


# -- page ---------------------------------------------------------------------------------------


def _secret_values() -> list[str]:
    return sorted(
        {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8 and not v.startswith("/")},
        key=len,
        reverse=True,
    )


def scrub(text: str, *, paths: list[Path] | tuple[Path, ...] = ()) -> str:
    """Remove secret-looking environment values and the given absolute paths from ``text``."""
    for v in _secret_values():
        text = text.replace(v, "[redacted]")
    for p in sorted({str(p) for p in paths if len(str(p)) > 1}, key=len, reverse=True):
        text = text.replace(p + "/", "").replace(p, ".")
    home = str(Path.home())
    if len(home) > 1:
        text = re.sub(re.escape(home) + r"(?=/)", "~", text)
    return text


def page(title: str, body: str) -> str:
    """A complete standalone HTML page with the report CSS and the table sorter."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style>{_CSS}</head>"
        f"<body><main>{body}</main><script>{_SORTER_JS}</script></body></html>\n"
    )


def export_body(executed: Path) -> str:
    """The outputs of an executed notebook as an HTML fragment (no code, no skipped cells)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(
        template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={SKIP_TAG}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def render_report(run_dir: str | Path, *, timeout_s: int = 600, embed_media_mb: float = 0.0) -> Path:
    """Execute the compare notebook on ``run_dir`` and write the standalone ``report.html``.

    Rebuilds from stored results only (nothing is generated or scored). Updates
    ``<results>/index.html`` when the run sits in a ``runs/`` folder.
    """
    import papermill as pm

    run_dir = Path(run_dir).resolve()
    executed = run_dir / "compare.ipynb"
    pm.execute_notebook(
        str(notebook_path()),
        str(executed),
        parameters={"run_dir": ".", "embed_media_mb": embed_media_mb},
        cwd=str(run_dir),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        execution_timeout=timeout_s,
    )
    info = json.loads((run_dir / "run.json").read_text())
    title = f"AV Workbench report: {info['config']['name']} ({run_dir.name})"
    text = scrub(page(title, export_body(executed)), paths=[run_dir, run_dir.parent.parent])
    out = run_dir / "report.html"
    atomic_write_bytes(out, text.encode())
    os.chmod(out, 0o644)
    if run_dir.parent.name == "runs":
        write_index(run_dir.parent.parent)
    return out


def bundle_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Zip ``report.html`` and ``assets/`` of a run into ``<run id>-report.zip`` (in the run folder by default)."""
    run_dir = Path(run_dir).resolve()
    report = run_dir / "report.html"
    if not report.is_file():
        raise FileNotFoundError(f"{run_dir.name} has no report.html: run `workbench report` first")
    out = Path(out) if out else run_dir / f"{run_dir.name}-report.zip"
    tmp = out.with_name(f".{out.name}.tmp")
    files = [report, *sorted(f for f in (run_dir / ASSETS_DIR).rglob("*") if f.is_file())]
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for f in files:
            info = zipfile.ZipInfo.from_file(f, f"{run_dir.name}/{f.relative_to(run_dir).as_posix()}")
            info.external_attr = (0o100644 & 0xFFFF) << 16  # readable by whoever unpacks it
            z.writestr(info, f.read_bytes())
    os.replace(tmp, out)
    return out


# -- index --------------------------------------------------------------------------------------


def _run_row(p: Path) -> dict | None:
    try:
        info = json.loads((p / "run.json").read_text())
        samples = load_samples(p) if (p / "samples.jsonl").is_file() else []
    except (OSError, ValueError, TypeError):
        return None
    cfg = info.get("config", {})
    report = p / "report.html"
    return {
        "run": p.name,
        "name": cfg.get("name", ""),
        "started": str(info.get("started", ""))[:19].replace("T", " "),
        "status": info.get("status", "?"),
        "models": len({s.model for s in samples}),
        "prompts": len({s.prompt_id for s in samples}),
        "clips": sum(s.status == "ok" for s in samples),
        "failed": sum(s.status != "ok" for s in samples),
        "report": f"runs/{p.name}/report.html" if report.is_file() else "",
        "leaderboard": f"runs/{p.name}/leaderboard.md" if (p / "leaderboard.md").is_file() else "",
    }


def _batch_row(p: Path) -> dict | None:
    try:
        m = json.loads((p / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    jobs = m.get("jobs", [])
    return {
        "batch": p.name,
        "schedule": m.get("name", ""),
        "started": str(m.get("started", ""))[:19].replace("T", " "),
        "status": m.get("status", "?"),
        "ok": sum(j.get("status") == "ok" for j in jobs),
        "failed": sum(j.get("status") not in ("ok", "pending", "running") for j in jobs),
        "manifest": f"batches/{p.name}/manifest.json",
    }


def _links_table(rows: list[dict], link_cols: tuple[str, ...]) -> str:
    if not rows:
        return "<p><i>None yet.</i></p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if c in link_cols:
                cells.append(f'<td><a href="{html.escape(v)}">{html.escape(c)}</a></td>' if v else "<td>–</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="dataframe leaderboard" data-sortable="1"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def write_index(results_root: str | Path) -> Path:
    """Write ``<results_root>/index.html``: every run (newest first) with links to its report, and every batch."""
    root = Path(results_root).resolve()
    runs_dir, batches_dir = root / "runs", root / "batches"
    runs = sorted((p for p in runs_dir.glob("*") if (p / "run.json").is_file()), key=lambda p: p.name, reverse=True)
    batches = sorted(
        (p for p in batches_dir.glob("*") if (p / "manifest.json").is_file()), key=lambda p: p.name, reverse=True
    )
    run_rows = [r for r in map(_run_row, runs) if r is not None]
    batch_rows = [r for r in map(_batch_row, batches) if r is not None]
    body = (
        "<h1>AV Workbench results</h1>"
        f"<p>{len(run_rows)} runs, {len(batch_rows)} batches. Updated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        "Click a column to sort.</p><h2>Runs</h2>" + _links_table(run_rows, ("report", "leaderboard")) +
        "<h2>Batches</h2>" + _links_table(batch_rows, ("manifest",))
    )  # fmt: skip
    out = root / "index.html"
    atomic_write_bytes(out, scrub(page("AV Workbench results", body), paths=[root]).encode())
    os.chmod(out, 0o644)
    return out
