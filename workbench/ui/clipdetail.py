"""Everything about one clip of a run: stream facts, timelines, metric evidence, explanations.

Used by ``notebooks/clip_detail.ipynb`` and the explorer. Metric evidence is read from
``details/<sample_id>.json`` exactly where the analyzers write it (the shapes and places are
declared once, in :mod:`workbench.metrics.evidence`): windowed lip offsets and the offset line
(``lip_offset_ms``), the mouth opening against the speech envelope (``lip_confidence``), the
free decays behind RT60 (``rt60_s``), and the prompted foley events as found in the picture and
the sound (``foley_offset_ms``), and who speaks when: the speaking face's box per turn
(``lip_offset_ms``, ``turns``).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workbench.errors import MediaError
from workbench.media import MediaInfo, frame_at, load_audio, probe
from workbench.metrics.evidence import (
    DECAYS,
    FOLEY_EVENTS,
    LIP_FRAME,
    LIP_TURNS,
    LIP_WINDOWS,
    MOUTH_SIGNALS,
    Decay,
    FoleyEvent,
    LipTurn,
    LipWindow,
)
from workbench.metrics.registry import metric_specs
from workbench.outputs.plots import DIALOGUE_COLOR, FOLEY_COLOR, PLOT_SR, clip_figure, mark_prompt, spectrogram
from workbench.prompt import Prompt
from workbench.rundir import RunDir, Sample, as_run

DETECTED_COLOR = "#1f6fd1"
DECAY_COLOR = "#8e44ad"
#: ITU-R BT.1359 acceptability window for the lip offset (ms; + = audio late).
BT1359_MS = (-45.0, 125.0)


def fig_png(fig: Figure, *, dpi: int = 80) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def show(fig: Figure | None, *, dpi: int = 90) -> None:
    """Display a figure in a notebook as a PNG (works whatever the matplotlib backend)."""
    if fig is None:
        return
    from IPython.display import Image, display

    display(Image(data=fig_png(fig, dpi=dpi), format="png"))


def _records(details: Mapping[str, Any], where: tuple[str, str]) -> list[dict[str, Any]] | None:
    """The list of records stored under ``details[metric][key]`` (None when absent or empty)."""
    metric, key = where
    rows = (details.get(metric) or {}).get(key)
    return [dict(r) for r in rows] if isinstance(rows, list) and rows else None


def lip_windows(details: Mapping[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """Windowed lip offsets (``t``, ``offset_ms``, ``confidence``: :class:`LipWindow`) and the metric holding them."""
    rows = _records(details, LIP_WINDOWS)
    if rows is None:
        return None
    df = pd.DataFrame(rows, columns=list(LipWindow.__annotations__)).dropna(subset=["t", "offset_ms"])
    return (LIP_WINDOWS[0], df.astype(float)) if len(df) else None


def speaker_turns(details: Mapping[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """Who speaks when (:class:`LipTurn`: ``face``, ``position``, ``start_s``, ``end_s``, ``frames``, ``box``,
    ``offset_ms``, ...) and the metric holding them."""
    rows = _records(details, LIP_TURNS)
    if rows is None:
        return None
    return LIP_TURNS[0], pd.DataFrame(rows, columns=list(LipTurn.__annotations__))


def foley_rows(details: Mapping[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """Per prompted foley event (:class:`FoleyEvent`: ``action``, ``at_s``, ``visual_s``, ``audio_s``, ``offset_ms``)."""
    rows = _records(details, FOLEY_EVENTS)
    if rows is None:
        return None
    return FOLEY_EVENTS[0], pd.DataFrame(rows, columns=list(FoleyEvent.__annotations__))


def decay_rows(details: Mapping[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """Free decays (:class:`Decay`: ``start_s``, ``end_s``, ``rt60_s``) behind a blind RT60."""
    rows = _records(details, DECAYS)
    if rows is None:
        return None
    df = pd.DataFrame(rows, columns=list(Decay.__annotations__)).dropna(subset=["start_s", "end_s"])
    return (DECAYS[0], df) if len(df) else None


def mouth_signals(details: Mapping[str, Any]) -> tuple[str, float, np.ndarray, np.ndarray] | None:
    """``(metric, rate, mouth, speech)``: the speaking mouth and the speech envelope (:class:`MouthSignals`)."""
    metric, key = MOUTH_SIGNALS
    sig = (details.get(metric) or {}).get(key)
    if not isinstance(sig, Mapping) or not sig.get("rate") or sig.get("mouth") is None or sig.get("speech") is None:
        return None
    m = np.asarray([np.nan if x is None else x for x in sig["mouth"]], dtype=float)
    sp = np.asarray([np.nan if x is None else x for x in sig["speech"]], dtype=float)
    n = min(len(m), len(sp))
    return metric, float(sig["rate"]), m[:n], sp[:n]


def _scalars(d: Mapping[str, Any], limit: int = 8) -> str:
    items = [f"{k}={v}" for k, v in d.items() if isinstance(v, str | int | float | bool)]
    more = len([v for v in d.values() if isinstance(v, list | dict)])
    text = ", ".join(items[:limit])
    if more:
        text += f"{'; ' if text else ''}{more} series (see plots)"
    return text


class ClipDetail:
    """One clip of a run folder: its sample record, prompt, scores, details and media."""

    def __init__(self, run_dir: str | Path | RunDir, sample_id: str = "") -> None:
        self.run = as_run(run_dir)
        self.run_dir = self.run.path
        samples = self.run.samples()
        if not sample_id:
            ok = [s for s in samples if s.status == "ok"]
            if not ok:
                raise ValueError(f"run {self.run_dir.name} has no generated clip")
            sample_id = ok[0].sample_id
        by_id = {s.sample_id: s for s in samples}
        if sample_id not in by_id:
            raise KeyError(f"no sample {sample_id!r} in run {self.run_dir.name}; known: {', '.join(by_id)}")
        self.sample: Sample = by_id[sample_id]
        prompts = {p.id: p for p in self.run.info().prompts()}
        self.prompt: Prompt | None = prompts.get(self.sample.prompt_id)
        self.details: dict[str, Any] = self.run.details(sample_id)
        sc = self.run.scores() if self.run.is_scored else pd.DataFrame()
        self.scores = sc[sc["sample_id"] == sample_id].reset_index(drop=True) if len(sc) else sc
        self.specs = metric_specs()

    @property
    def sample_id(self) -> str:
        return self.sample.sample_id

    @property
    def clip_path(self) -> Path | None:
        """The clip file, or None for a failed generation."""
        return self.run.clip_path(self.sample)

    @cached_property
    def info(self) -> MediaInfo | None:
        """Stream facts (None when the clip is missing or unreadable)."""
        try:
            return probe(self.clip_path) if self.clip_path else None
        except MediaError:
            return None

    @cached_property
    def audio(self) -> np.ndarray:
        """Mono audio at :data:`PLOT_SR` (empty without an audio stream)."""
        if self.clip_path is None or self.info is None or not self.info.has_audio:
            return np.zeros(0, np.float32)
        try:
            return load_audio(self.clip_path, sr=PLOT_SR)
        except MediaError:
            return np.zeros(0, np.float32)

    # -- tables -------------------------------------------------------------------------------

    def header_html(self) -> str:
        """Sample, model, prompt and status in one paragraph."""
        s = self.sample
        state = "ok" if s.status == "ok" else f"failed: {s.reason}"
        text = f"<h2>{html.escape(s.sample_id)}</h2><p>Model <b>{html.escape(s.model)}</b>, prompt <b>{html.escape(s.prompt_id)}</b>, repeat {s.repeat}: {html.escape(state)}.</p>"
        if self.prompt is not None:
            text += f'<pre style="white-space:pre-wrap">{html.escape(self.prompt.canonical_text())}</pre>'
        return text

    def facts_frame(self) -> pd.DataFrame:
        """Stream facts (from :func:`workbench.media.probe`) plus the generation record."""
        s, i = self.sample, self.info
        rows: list[tuple[str, Any]] = [("clip", s.clip or "–"), ("sha256", (s.clip_sha256 or "–")[:16])]
        if i is not None:
            rows += [
                ("container", i.container), ("size", f"{i.size_bytes / 1e6:.2f} MB"), ("duration", f"{i.duration_s:.3f} s"),
                ("video", f"{i.video_codec} {i.width}x{i.height} @ {i.fps:.3g} fps" if i.has_video else "none"),
                ("audio", f"{i.audio_codec} {i.sample_rate} Hz, {i.channels} ch" if i.has_audio else "none"),
            ]  # fmt: skip
        else:
            rows.append(("media", "unreadable or missing"))
        rows += [("latency", f"{s.latency_s} s"), ("cost", f"${s.cost_usd:.2f}"), ("cache hit", str(s.cache_hit))]
        return pd.DataFrame(rows, columns=["fact", "value"])

    def metrics_frame(self) -> pd.DataFrame:
        """Each metric: reading (or why none), unit, direction, what it measures, evidence."""
        rows = []
        for r in self.scores.itertuples():
            spec = self.specs.get(r.metric)
            value = "–" if pd.isna(r.value) else f"{r.value:.4g}"
            why = "" if pd.isna(r.reason) else str(r.reason)
            d = self.details.get(r.metric, {})
            rows.append({
                "metric": r.metric, "value": value, "unit": "" if pd.isna(r.unit) else r.unit, "direction": spec.direction_text if spec else "",
                "measures": spec.description if spec else "", "unscored because": why,
                "evidence": _scalars(d) if isinstance(d, Mapping) else "",
            })  # fmt: skip
        return pd.DataFrame(
            rows, columns=["metric", "value", "unit", "direction", "measures", "unscored because", "evidence"]
        )

    def reading(self, metric: str) -> float | None:
        """One metric's value for this clip (None when unscored or absent)."""
        sub = self.scores[self.scores["metric"] == metric] if len(self.scores) else self.scores
        return None if sub.empty or pd.isna(sub["value"].iloc[0]) else float(sub["value"].iloc[0])

    def rt60_reading(self) -> tuple[str, float] | None:
        """The first scored metric whose name starts with ``rt60``: ``(name, seconds)``."""
        for m in self.scores.get("metric", []):
            if str(m).startswith("rt60") and self.reading(m) is not None:
                return str(m), float(self.reading(m))
        return None

    # -- figures ------------------------------------------------------------------------------

    def _mark_detected(self, ax: Axes) -> None:
        got = foley_rows(self.details)
        if got is None:
            return
        for t in got[1]["audio_s"].dropna():
            ax.axvline(float(t), color=DETECTED_COLOR, ls="-", lw=1.4, alpha=0.9)

    def timeline_figure(self) -> Figure:
        """Waveform and spectrogram with prompted dialogue/foley times, detected foley and decays."""
        fig = Figure(figsize=(9, 4.2), layout="constrained")
        a0, a1 = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
        y, sr = self.audio, PLOT_SR
        if len(y):
            t = np.arange(len(y)) / sr
            a0.plot(t, y, lw=0.4, color="#444")
            spectrogram(y=y, sr=sr, ax=a1)
        else:
            a0.text(0.5, 0.5, "no audio", ha="center", va="center", transform=a0.transAxes)
        dec = decay_rows(self.details)
        for ax in (a0, a1):
            mark_prompt(ax, self.prompt)
            self._mark_detected(ax)
            if dec is not None:
                for r in dec[1].itertuples():
                    ax.axvspan(float(r.start_s), float(r.end_s), color=DECAY_COLOR, alpha=0.18, lw=0)
        a0.set_ylabel("amplitude", fontsize=8)
        a1.set_xlabel(
            "time (s)   red dashed: prompted foley   green: prompted dialogue start   blue: detected foley   purple: decays",
            fontsize=8,
        )
        dur = (self.info.duration_s if self.info else 0) or (len(y) / sr if len(y) else 1.0)
        a1.set_xlim(0, dur)
        fig.suptitle(f"{self.sample.model} · {self.sample.prompt_id}", fontsize=10)
        return fig

    def mouth_figure(self) -> Figure | None:
        """Mouth opening against the speech envelope, both z-scored (None when not stored)."""
        got = mouth_signals(self.details)
        if got is None:
            return None
        metric, rate, m, s = got
        t = np.arange(len(m)) / rate

        def z(x: np.ndarray) -> np.ndarray:
            sd = np.nanstd(x)
            return (x - np.nanmean(x)) / sd if sd > 0 else x * 0

        fig = Figure(figsize=(9, 2.4), layout="constrained")
        ax = fig.subplots()
        ax.plot(t, z(m), color="#d35400", lw=1, label="mouth opening")
        ax.plot(t, z(s), color=DIALOGUE_COLOR, lw=1, label="speech envelope")
        mark_prompt(ax, self.prompt)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("z-score")
        ax.legend(fontsize=8, loc="upper right")
        ax.set_title(f"mouth vs speech ({metric})", fontsize=9)
        return fig

    def turns_frame(self) -> pd.DataFrame | None:
        """The speaker turns (None when the lip-sync analyzer stored none)."""
        got = speaker_turns(self.details)
        return None if got is None else got[1]

    def faces_figure(self, *, max_turns: int = 4, side: int = 480) -> Figure | None:
        """The speaking face of each turn: a frame from the middle of the turn with the face's box drawn.

        None when no turn is stored or the clip cannot be read.
        """
        got = speaker_turns(self.details)
        if got is None or self.clip_path is None:
            return None
        metric, turns = got
        turns = turns[turns["box"].notna()].head(max_turns)
        if turns.empty:
            return None
        metric_d, key = LIP_FRAME
        frame = (self.details.get(metric_d) or {}).get(key) or [self.info.width if self.info else 0, 0]
        from matplotlib.patches import Rectangle

        fig = Figure(figsize=(3.2 * len(turns), 2.6), layout="constrained")
        axes = fig.subplots(1, len(turns), squeeze=False)[0]
        for ax, t in zip(axes, turns.itertuples(), strict=True):
            try:
                img = frame_at(self.clip_path, (float(t.start_s) + float(t.end_s)) / 2, max_side=side)
            except MediaError:
                return None
            s = img.shape[1] / float(frame[0] or img.shape[1])
            x0, y0, x1, y1 = (float(v) * s for v in t.box)
            ax.imshow(img)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#f1c40f", lw=2))
            off = "" if t.offset_ms is None or pd.isna(t.offset_ms) else f", {float(t.offset_ms):+.0f} ms"
            ax.set_title(f"face {t.face} ({t.position}) {float(t.start_s):.1f}-{float(t.end_s):.1f} s{off}", fontsize=8)
            ax.set_axis_off()
        fig.suptitle(f"who speaks when ({metric})", fontsize=9)
        return fig

    def offsets_figure(self) -> Figure | None:
        """Windowed lip offsets with the drift line and the BT.1359 window (None without windows)."""
        got = lip_windows(self.details)
        if got is None:
            return None
        metric, w = got
        fig = Figure(figsize=(9, 2.6), layout="constrained")
        ax = fig.subplots()
        ax.axhspan(*BT1359_MS, color="#2ecc71", alpha=0.12, lw=0, label="ITU-R BT.1359 window")
        ax.axhline(0, color="#888", lw=0.8)
        conf = w["confidence"].fillna(0).clip(lower=0).to_numpy()
        size = 15 + 120 * (conf / conf.max() if conf.max() > 0 else conf)
        ax.scatter(
            w["t"], w["offset_ms"], s=size, color=DETECTED_COLOR, alpha=0.8, label="window offset (size: confidence)"
        )
        dur = (self.info.duration_s if self.info else 0) or float(w["t"].max()) + 1.0
        line = self.drift_line()
        if line is not None:
            off, slope, t_ref, what = line
            tt = np.array([0.0, dur])  # drawn over the whole clip: where the drift would take the offset
            label = f"{what}: {off:+.0f} ms at {t_ref:.1f} s, {slope:+.1f} ms/s"
            ax.plot(tt, off + slope * (tt - t_ref), color="#c0392b", lw=1.6, label=label)
        ax.set_xlim(0, dur)
        ax.set_xlabel("window centre (s)")
        ax.set_ylabel("offset (ms, + = audio late)")
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"windowed lip offsets ({metric})", fontsize=9)
        return fig

    def drift_line(self) -> tuple[float, float, float, str] | None:
        """``(offset_ms, slope_ms_per_s, t_ref_s, label)`` of the lip drift line.

        The analyzer's own line fit when its details store it (``line_offset_ms``,
        ``line_slope_ms_per_s``, ``line_t_ref_s``), else the clip's ``lip_offset_ms`` and
        ``lip_drift_ms_per_s`` through the median window time; None when neither exists.
        """
        got = lip_windows(self.details)
        if got is None:
            return None
        metric, w = got
        d = self.details.get(metric, {})
        if all(isinstance(d.get(k), int | float) for k in ("line_offset_ms", "line_slope_ms_per_s", "line_t_ref_s")):
            return float(d["line_offset_ms"]), float(d["line_slope_ms_per_s"]), float(d["line_t_ref_s"]), "line fit"
        off, drift = self.reading("lip_offset_ms"), self.reading("lip_drift_ms_per_s")
        if off is None:
            return None
        label = "drift line" if drift is not None else "offset (no drift fit)"
        return off, drift or 0.0, float(np.median(w["t"])), label

    def decay_figure(self) -> Figure | None:
        """Level envelope with the free decays, and per-decay RT60 against the prompt's space."""
        got = decay_rows(self.details)
        if got is None:
            return None
        metric, dec = got
        fig = Figure(figsize=(9, 2.6), layout="constrained")
        a0, a1 = fig.subplots(1, 2, width_ratios=[3, 1])
        y, sr = self.audio, PLOT_SR
        if len(y):
            hop = sr // 100
            n = len(y) // hop
            p = (y[: n * hop].reshape(n, hop) ** 2).mean(axis=1)
            a0.plot(np.arange(n) * hop / sr, 10 * np.log10(p + 1e-12), color="#444", lw=0.8)
        for r in dec.itertuples():
            a0.axvspan(float(r.start_s), float(r.end_s), color=DECAY_COLOR, alpha=0.25, lw=0)
        a0.set_xlabel("time (s)")
        a0.set_ylabel("level (dB, 10 ms)")
        a0.set_title(f"free decays used ({metric})", fontsize=9)
        rt = dec["rt60_s"].dropna().astype(float).to_numpy()
        if self.prompt is not None:
            lo, hi = self.prompt.acoustics.expected_rt60_s()
            a1.axhspan(lo, hi, color="#2ecc71", alpha=0.2, lw=0, label=f"prompt: {self.prompt.acoustics.space_class()}")
        a1.scatter(np.zeros(len(rt)), rt, color=DECAY_COLOR, label="per decay")
        reading = self.rt60_reading()
        if reading is not None:
            a1.axhline(reading[1], color="#c0392b", lw=1.5, label=f"{reading[0]} {reading[1]:.2f} s")
        a1.set_xticks([])
        a1.set_ylabel("RT60 (s)")
        a1.legend(fontsize=6, loc="best")
        return fig

    def spectrogram_figure(self) -> Figure:
        """The clip's spectrogram with the prompt's times (as the run's ``figures/spec_*.png``)."""

        s = self.sample
        return clip_figure(
            self.audio if len(self.audio) else np.zeros(PLOT_SR, np.float32),
            PLOT_SR,
            title=f"{s.model} · {s.prompt_id} · repeat {s.repeat}",
            prompt=self.prompt,
        )

    def evidence_figure(self) -> Figure | None:
        """The explorer's evidence strip: lip offset over time, foley offsets on the timeline, RT60 vs the space.

        One row per kind of evidence the clip has; None when it has none.
        """
        lips, foley, rt = lip_windows(self.details), foley_rows(self.details), self.rt60_reading()
        rows = [k for k, have in (("lips", lips), ("foley", foley), ("rt60", rt)) if have is not None]
        if not rows:
            return None
        fig = Figure(figsize=(4.2, 0.95 * len(rows) + 0.35), layout="constrained")
        axes = fig.subplots(len(rows), 1, squeeze=False)
        dur = (self.info.duration_s if self.info else 0) or (self.prompt.duration_s if self.prompt else 1.0)
        for ax, kind in zip(axes[:, 0], rows, strict=True):
            ax.tick_params(labelsize=6)
            if kind == "lips":
                w = lips[1]
                ax.axhspan(*BT1359_MS, color="#2ecc71", alpha=0.15, lw=0)
                ax.axhline(0, color="#888", lw=0.6)
                ax.plot(w["t"], w["offset_ms"], "o-", ms=2.5, color=DETECTED_COLOR, lw=1)
                ax.set_xlim(0, dur)
                ax.set_ylabel("lip ms", fontsize=6)
            elif kind == "foley":
                f = foley[1]
                for r in f.itertuples():
                    if r.at_s is not None and not pd.isna(r.at_s):
                        ax.axvline(float(r.at_s), color=FOLEY_COLOR, ls="--", lw=1)
                    if r.audio_s is not None and not pd.isna(r.audio_s):
                        ax.axvline(float(r.audio_s), color=DETECTED_COLOR, lw=1.4)
                        if r.offset_ms is not None and not pd.isna(r.offset_ms):
                            ax.text(float(r.audio_s), 0.5, f" {float(r.offset_ms):+.0f} ms", fontsize=6, va="center")
                ax.set_xlim(0, dur)
                ax.set_yticks([])
                ax.set_ylabel("foley", fontsize=6)
            else:
                lo, hi = self.prompt.acoustics.expected_rt60_s() if self.prompt else (float("nan"),) * 2
                ax.axvspan(lo, hi, color="#2ecc71", alpha=0.25, lw=0)
                ax.axvline(rt[1], color="#c0392b", lw=2)
                top = max(hi if np.isfinite(hi) else 0, rt[1]) * 1.3 + 0.05
                ax.set_xlim(0, top)
                ax.set_yticks([])
                ax.set_ylabel("RT60 s", fontsize=6)
                ax.set_title(f"measured {rt[1]:.2f} s; prompt's space {lo:g}-{hi:g} s (green)", fontsize=6, loc="left")
        return fig

    def verdicts(self) -> pd.DataFrame:
        """The creator's checks on this clip: ``check``, ``outcome`` (pass, fail, cant_tell) and ``reason``."""
        from workbench.outputs.checks import run_verdicts

        v = self.run.verdicts() if self.run.verdicts_path.is_file() else run_verdicts(self.run)
        return v[v["sample_id"] == self.sample_id][["check", "outcome", "reason"]].reset_index(drop=True)

    def checks_html(self) -> str:
        """The clip's checks as coloured lines: pass, fail or can't tell, each with its reason in words."""
        from workbench.outputs.checks import SPECS

        colour = {"pass": "#cdeed9", "fail": "#f8d3cf", "cant_tell": "#e9e9e9"}
        mark = {"pass": "✓", "fail": "✗", "cant_tell": "?"}
        rows = []
        for r in self.verdicts().itertuples():
            title = SPECS[r.check].title if r.check in SPECS else str(r.check).replace("_", " ").capitalize()
            rows.append(
                f'<div style="background:{colour.get(r.outcome, "#eee")};padding:1px 4px;margin:1px 0;border-radius:3px;'
                f'font-size:11px;line-height:1.25">{mark.get(r.outcome, "")} <b>{html.escape(title)}</b>: '
                f"{html.escape(str(r.reason))}</div>"
            )
        return "".join(rows) or "<i>no checks</i>"

    def readings_html(self) -> str:
        """A compact metric table for the explorer: readings, then the unscored metrics folded with their reasons."""
        scored, unscored = [], []
        cell = 'style="padding:0 6px;line-height:1.25"'
        for r in self.scores.itertuples():
            spec = self.specs.get(r.metric)
            tip = html.escape(spec.description if spec else "", quote=True)
            if pd.isna(r.value):
                unscored.append(
                    f'<tr><td {cell} title="{tip}">{html.escape(r.metric)}</td><td {cell}><i>{html.escape(str(r.reason))}</i></td></tr>'
                )
            else:
                unit = f" {r.unit}" if isinstance(r.unit, str) and r.unit else ""
                scored.append(
                    f'<tr><td {cell} title="{tip}">{html.escape(r.metric)}</td><td {cell}>{r.value:.3g}{html.escape(unit)}</td></tr>'
                )
        if not scored and not unscored:
            return "<i>no scores</i>"
        out = f'<table style="font-size:11px;border-collapse:collapse">{"".join(scored)}</table>'
        if unscored:
            out += (
                f'<details style="font-size:11px"><summary>{len(unscored)} unscored</summary>'
                f'<table style="border-collapse:collapse">{"".join(unscored)}</table></details>'
            )
        return out

    def foley_frame(self) -> pd.DataFrame | None:
        """Per-event foley rows (None when no analyzer stored them)."""
        got = foley_rows(self.details)
        return None if got is None else got[1]


def missing_note(what: str) -> str:
    """The sentence shown when an analyzer did not store a piece of evidence."""
    return (
        f"<p><i>No {html.escape(what)} in this clip's details: the analyzer that measures it did not run, "
        "could not measure this clip (see the reasons in the metric table), or does not store it.</i></p>"
    )
