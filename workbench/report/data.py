"""What the report notebook shows about one run: :class:`ReportData` renders each section as HTML.

Clips are hard-linked (copied across file systems) into the run's ``assets/clips/`` and played
through relative links, so ``report.html`` + ``assets/`` can be zipped and opened on another
computer. Below a size cap they can be embedded instead. Spectrogram grids are embedded as data
URIs.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from workbench._util import link_or_copy
from workbench.metrics.registry import metric_specs
from workbench.outputs.leaderboard import display_table, failures, leaderboard
from workbench.report.html import CSS, sortable_table
from workbench.rundir import ASSETS, RunDir, Sample, as_run
from workbench.version import __version__


class ReportData:
    """Everything the compare notebook shows about one run folder.

    Parameters
    ----------
    run_dir : str, Path or RunDir
    embed_media_mb : float
        Embed the clips in the page (data URIs) when they total at most this many MB;
        0 (default) always links them from ``assets/``.
    """

    def __init__(self, run_dir: str | Path | RunDir, *, embed_media_mb: float = 0.0) -> None:
        self.run = as_run(run_dir)
        self.run_dir = self.run.path
        self.info = self.run.info()
        self.samples: list[Sample] = self.run.samples()
        self.prompts = self.info.prompts()
        clips = [p for s in self.samples if s.status == "ok" and (p := self.run.clip_path(s)) and p.is_file()]
        total = sum(p.stat().st_size for p in clips)
        self.embed = embed_media_mb > 0 and total <= embed_media_mb * 1e6

    def _img(self, path: Path, alt: str) -> str:
        data = base64.b64encode(path.read_bytes()).decode()
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'

    def clip_src(self, s: Sample) -> str:
        """The ``src`` of a clip's player: ``assets/clips/<file>`` (linked now) or a data URI."""
        src = self.run_dir / str(s.clip)
        if self.embed:
            return "data:video/mp4;base64," + base64.b64encode(src.read_bytes()).decode()
        dst = self.run.assets_dir / "clips" / src.name
        link_or_copy(src, dst)
        return dst.relative_to(self.run_dir).as_posix()

    def header_html(self) -> str:
        """Run name, time, counts."""
        cfg, stats = self.info.config, self.info.stats
        n_ok = sum(s.status == "ok" for s in self.samples)
        models = list(dict.fromkeys(s.model for s in self.samples))
        return (
            CSS + f"<h1>AV Workbench report: {html.escape(cfg['name'])}</h1>"
            f"<p>{html.escape(cfg.get('description', ''))}</p>"
            f"<p>Run <code>{html.escape(self.run_dir.resolve().name)}</code>, started {self.info.started[:19]} UTC. "
            f"{len(self.prompts)} prompts × {len(models)} models × {cfg['repeats']} repeat(s): "
            f"{n_ok} clips, {len(self.samples) - n_ok} failed, cache hits {stats.get('cache_hits', '?')}. "
            f"Prompt template {html.escape(self.info.template_version)}.</p>"
        )

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
            better = spec.oriented(v) if spec is not None else None
            keys[col] = (v if better is None else -better).to_numpy()  # the first click puts the best first
            if spec is not None:
                titles[col] = spec.description
        return (
            "<h2>Leaderboard</h2><p>Per model: each metric's median (or mean) ± half the interquartile range, "
            "with n scored clips. ↑ higher is better, ↓ lower is better, (→0) closer to zero is better. "
            "<b>rank</b> is the mean rank over metrics with a direction (lower is better). Click a column to sort (the first "
            "click puts the best first); hover a column for what it measures.</p>" + sortable_table(disp, sort_values=keys, titles=titles)
        )

    def preferences_html(self) -> str:
        """The creator's blind A/B preference (Bradley-Terry) and mute tests, when votes exist."""
        from workbench.outputs.preference import agreement, load_votes, mute_table, preference_table

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
            ag = agreement(votes, self.run.scores(), metric_specs())
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
            grid = self.run.figure_path("grid", p.id)
            if grid.is_file():
                parts.append(self._img(grid, f"spectrogram grid for {p.id}"))
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
        media = "embedded in this page" if self.embed else f"in the <code>{ASSETS}/</code> folder beside this page"
        return (
            f"<footer>Made by AV Workbench {html.escape(__version__)} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
            f"Clips are {media}; to share the report, send <code>report.html</code> with <code>{ASSETS}/</code> "
            "(<code>workbench report RUN_DIR --zip</code> zips both).</footer>"
        )
