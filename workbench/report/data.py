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

import numpy as np
import pandas as pd

from workbench._util import link_or_copy
from workbench.metrics.registry import metric_specs
from workbench.outputs.checks import (
    CHECK_NAMES,
    CHECKS,
    SHORT,
    SPECS,
    model_summary,
    run_verdicts,
    take_status,
    verdict_table,
)
from workbench.outputs.leaderboard import display_table, failures, metric_table
from workbench.outputs.preference import usable_agreement
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

    # -- the verdicts ---------------------------------------------------------------------------

    def _verdicts(self) -> pd.DataFrame:
        if not hasattr(self, "_verdict_cache"):
            self._verdict_cache = self.run.verdicts() if self.run.verdicts_path.is_file() else run_verdicts(self.run)
        return self._verdict_cache

    def verdicts_html(self) -> str:
        """Which model gives usable takes: per model, usable takes with their 95 % interval, then each check."""
        summary = model_summary(self._verdicts(), self.samples)
        if summary.empty:
            return "<h2>Usable takes</h2><p>No clip to judge.</p>"
        table = verdict_table(summary)
        keys = pd.DataFrame(index=table.index, columns=table.columns, dtype=object)
        keys["model"] = summary["model"].to_numpy()
        keys["usable"] = (-summary["usable_share"]).to_numpy()  # the first click puts the best first
        for c in CHECK_NAMES:
            if SHORT[c] in table.columns:
                keys[SHORT[c]] = (-summary[f"check_{c}_rate"]).to_numpy()
        keys["gen.fail"] = summary["generation_failed"].to_numpy()
        titles = {SHORT[c.name]: f"{c.title}: {c.question} ({c.source})" for c in CHECKS}
        titles["usable"] = "takes that pass every check their prompt asks for, share and 95 % Wilson interval"
        notes = [f"{r.model}: {r.separable}" for r in summary.itertuples() if r.separable]
        cost = [
            f"{r.model} ${r.cost_per_usable_usd:.2f}" for r in summary.itertuples()
            if r.cost_usd > 0 and np.isfinite(r.cost_per_usable_usd)
        ]  # fmt: skip
        return (
            "<h2>Usable takes</h2><p>A take is <b>usable</b> when it passes every check its prompt asks for "
            "(lip sync on dialogue, foley timing on prompted events, the room, the mute test, the mix under dialogue). "
            "Each check column counts the takes that passed out of those it could tell; <b>?n</b> is how many it could "
            "not tell (the metric abstained: no face, no speech, too few decays...). Models are sorted by their share of "
            "usable takes; the interval is 95 % (Wilson). Hover a column for what it checks and where its threshold "
            "comes from.</p>"
            + sortable_table(table, sort_values=keys, titles=titles)
            + (f"<p><i>{html.escape('; '.join(notes))}.</i></p>" if notes else "")
            + (f"<p>Cost per usable take: {html.escape(', '.join(cost))}.</p>" if cost else "")
        )

    def matrix_html(self) -> str:
        """Shots x models: every take coloured by its verdict, the reasons in words; a click plays the clip."""
        verdicts = self._verdicts()
        takes = take_status(verdicts)
        if takes.empty:
            return ""
        by_sample = {s.sample_id: s for s in self.samples}
        reasons = {sid: g for sid, g in verdicts.groupby("sample_id", sort=False)}
        models = list(dict.fromkeys(s.model for s in self.samples))
        header = "".join(f"<th>{html.escape(m)}</th>" for m in models)
        rows = []
        for p in self.prompts:
            cells = []
            for m in models:
                t = takes[(takes["prompt_id"] == p.id) & (takes["model"] == m)].sort_values("repeat")
                parts = []
                for r in t.itertuples():
                    s = by_sample[r.sample_id]
                    g = reasons.get(r.sample_id)
                    lines = [] if g is None else [
                        f"{_check_title(c)}: {OUTCOME_WORDS[o]}: {why}"
                        for c, o, why in zip(g["check"], g["outcome"], g["reason"], strict=True)
                    ]  # fmt: skip
                    label = f"{m} · {p.id} · take {r.repeat + 1}"
                    short = _cell_text(r.colour, r.why)
                    clip = self.run.clip_path(s)
                    play = f' data-clip="{html.escape(self.clip_src(s))}"' if s.status == "ok" and clip and clip.is_file() else ""
                    parts.append(
                        f'<span class="wb-take wb-{r.colour}"{play} data-label="{html.escape(label)}" '
                        f'title="{html.escape(chr(10).join([label, *lines]))}">{html.escape(short)}'
                        + (f"<small>{html.escape(_truncate(r.why))}</small>" if r.colour != "green" else "")
                        + "</span>"
                    )
                tally = f"<b>{int(t['usable'].sum())}/{len(t)} usable</b>" if len(t) > 1 else ""  # with repeats
                cells.append(f"<td>{tally}{''.join(parts) or '–'}</td>")
            rows.append(f'<tr><th title="{html.escape(p.canonical_text())}">{html.escape(p.id)}</th>{"".join(cells)}</tr>')
        legend = (
            '<p class="wb-legend"><span class="wb-green">usable</span><span class="wb-amber">no failure, but a check '
            'could not tell, or lip sync only acceptable</span><span class="wb-red">a check failed</span>'
            '<span class="wb-grey">nothing could be told</span> Hover a take for every check and its reason; click it '
            "to play the clip.</p>"
        )
        player = (
            '<div class="wb-player"><video id="wb-player" controls preload="none"></video> '
            '<span id="wb-player-caption"></span></div>'
        )
        return (
            "<h2>Shots × models</h2>" + legend + player
            + f'<table class="wb-matrix"><thead><tr><th>shot</th>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )  # fmt: skip

    def leaderboard_html(self) -> str:
        """The details behind the verdicts: each metric's aggregate per model, as a sortable table."""
        specs = metric_specs()
        lb = metric_table(self.run_dir, specs=specs)
        disp = display_table(lb, specs=specs)
        keys = pd.DataFrame(index=disp.index, columns=disp.columns, dtype=object)
        titles: dict[str, str] = {}
        base = ["model", "clips", "failed", "cost_usd", "latency_s"]
        for c in base:
            keys[c] = lb[c].to_numpy()
        metric_cols = [c for c in lb.columns if f"{c}_spread" in lb.columns]
        for col, name in zip(disp.columns[len(base) :], metric_cols, strict=True):
            spec = specs.get(name)
            v = lb[name]
            better = spec.oriented(v) if spec is not None else None
            keys[col] = (v if better is None else -better).to_numpy()  # the first click puts the best first
            if spec is not None:
                titles[col] = f"{spec.description} {spec.direction_text.capitalize()}." + (
                    f" Validated to ±{spec.resolution:g} {spec.unit}." if spec.resolution else ""
                )
        return (
            "<h2>Details: the metrics behind the checks</h2><p>Per model: each metric's median (or mean) ± half the "
            "interquartile range, with n scored clips. ↑ higher is better, ↓ lower is better, (→0) closer to zero is "
            "better; ±x in a header is the accuracy the metric is validated to (README, \"Accuracy\"). Click a column to "
            "sort (the first click puts the best first); hover a column for what it measures.</p>"
            + sortable_table(disp, sort_values=keys, titles=titles)
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
            usable = model_summary(self._verdicts(), self.samples)[["model", "usable_share"]]
            side = prefs.merge(usable.rename(columns={"usable_share": "usable takes"}), on="model", how="left")
            rho, n = usable_agreement(prefs, usable)
            agree = (
                f"Spearman's rho between the Bradley-Terry score and the share of usable takes: {rho:+.2f} over {n} models"
                + (" (fewer than 5 models: not yet evidence either way)." if n < 5 else ".")
                if n >= 3
                else "Too few models (fewer than 3) to compare the votes with the usable takes."
            )
            parts.append(
                f"<p>{int(prefs['votes'].sum() // 2)} blind A/B votes, fitted with the Bradley-Terry model "
                "(bt_score = log strength; win_prob = chance to beat a model of average strength), beside each model's "
                f"share of usable takes from the checks. {html.escape(agree)}</p>" + sortable_table(side)
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


OUTCOME_WORDS = {"pass": "pass", "fail": "fail", "cant_tell": "can't tell"}


def _check_title(check: str) -> str:
    return SPECS[check].title if check in SPECS else check.replace("_", " ").capitalize()


def _cell_text(colour: str, why: str) -> str:
    return {"green": "✓ usable", "amber": "~ not proven", "red": "✗ fails", "grey": "? can't tell"}[colour]


def _truncate(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
