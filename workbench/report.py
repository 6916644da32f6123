"""The HTML report: papermill runs ``notebooks/compare.ipynb`` on a run folder, nbconvert
exports it with code hidden to ``report.html`` beside the run's clips and figures.

:class:`ReportData` holds what the notebook shows, so the notebook stays a few calls.
Media are referenced by paths relative to the run folder (zip the folder to share it);
no absolute local path is written into the report.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from workbench.leaderboard import display_table, failures, leaderboard
from workbench.prompt import Prompt
from workbench.run import load_samples

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
REPORT_NOTEBOOK = "compare.ipynb"

_CSS = """
<style>
table.leaderboard { border-collapse: collapse; font-size: 12px; }
table.leaderboard th, table.leaderboard td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
table.leaderboard td:first-child, table.leaderboard th:first-child { text-align: left; }
.wb-prompt { font-family: ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6; padding: 6px; font-size: 12px; }
.wb-clips { display: flex; flex-wrap: wrap; gap: 8px; }
.wb-clip { width: 300px; font-size: 11px; }
.wb-clip video { width: 300px; }
</style>
"""


def notebook_path(name: str = REPORT_NOTEBOOK) -> Path:
    """Path of a bundled notebook."""
    p = NOTEBOOKS_DIR / name
    if not p.is_file():
        raise FileNotFoundError(f"notebook {name} not found in {NOTEBOOKS_DIR}")
    return p


class ReportData:
    """Everything the compare notebook shows about one run folder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.info = json.loads((self.run_dir / "run.json").read_text())
        self.samples = load_samples(self.run_dir)
        self.prompts = [Prompt.model_validate(p) for p in self.info["suite"]["prompts"]]

    def _img(self, rel: str, alt: str) -> str:
        data = base64.b64encode((self.run_dir / rel).read_bytes()).decode()
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'

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
        """The leaderboard as an HTML table with an explanation."""
        return (
            "<h2>Leaderboard</h2><p>Per model: each metric's median (or mean) ± half the interquartile range, "
            "with n scored clips. ↑ higher is better, ↓ lower is better, (→0) closer to zero is better. "
            "<b>rank</b> is the mean rank over metrics with a direction (lower is better).</p>"
            + self.leaderboard_frame().to_html(index=False, classes="leaderboard", border=0, na_rep="–")
        )

    def prompts_html(self) -> str:
        """Each prompt's canonical text, as sent identically to every model."""
        parts = ["<h2>Prompts</h2><p>The canonical text sent identically to every model.</p>"]
        for p in self.prompts:
            parts.append(f"<h3>{html.escape(p.id)}: {html.escape(p.title)}</h3>")
            parts.append(f'<div class="wb-prompt">{html.escape(p.canonical_text())}</div>')
        return "".join(parts)

    def grids_html(self) -> str:
        """Per prompt: spectrograms of every model on a shared time axis, then its clips."""
        parts = ["<h2>Spectrograms and clips per prompt</h2>"]
        for p in self.prompts:
            parts.append(f"<h3>{html.escape(p.id)}</h3>")
            grid = self.run_dir / "figures" / f"grid_{p.id}.png"
            if grid.is_file():
                parts.append(self._img(f"figures/grid_{p.id}.png", f"spectrogram grid for {p.id}"))
            parts.append(self.clips_html(p.id))
        return "".join(parts)

    def clips_html(self, prompt_id: str) -> str:
        """Video players for one prompt's clips (relative links into ``clips/``)."""
        cells = []
        for s in self.samples:
            if s.prompt_id != prompt_id:
                continue
            label = html.escape(f"{s.model} · r{s.repeat}")
            if s.status == "ok" and s.clip:
                cells.append(
                    f'<div class="wb-clip"><video controls preload="none" src="{html.escape(s.clip)}"></video>'
                    f"<br>{label}{' (no audio)' if s.has_audio is False else ''}</div>"
                )
            else:
                cells.append(f'<div class="wb-clip">{label}: failed: {html.escape(s.reason or "")}</div>')
        return f'<div class="wb-clips">{"".join(cells)}</div>'

    def failures_html(self) -> str:
        """Failed generations and unscored metrics with their reasons."""
        df = failures(self.run_dir)
        if df.empty:
            return "<h2>Failures</h2><p>None.</p>"
        summary = df.groupby(["what", "reason"], dropna=False).size().reset_index(name="clips")
        return "<h2>Failures and unscored metrics</h2>" + summary.to_html(index=False, classes="leaderboard", border=0)


def render_report(run_dir: str | Path, *, timeout_s: int = 600) -> Path:
    """Execute the compare notebook on ``run_dir`` and export ``report.html`` (code hidden)."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    run_dir = Path(run_dir).resolve()
    executed = run_dir / "compare.ipynb"
    pm.execute_notebook(
        str(notebook_path()),
        str(executed),
        parameters={"run_dir": "."},
        cwd=str(run_dir),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        execution_timeout=timeout_s,
    )
    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    out = run_dir / "report.html"
    from workbench.store import atomic_write_bytes

    atomic_write_bytes(out, body.encode())
    return out
