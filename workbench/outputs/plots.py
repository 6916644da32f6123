"""Spectrogram plots: one per clip, and per prompt a grid of every model on a shared time axis.

librosa.display conventions: functions take ``ax=None``, return the Axes or Figure, and
never call ``plt.show()``. Figures are :class:`matplotlib.figure.Figure` objects made without
pyplot, so drawing them never touches the global backend (a live notebook keeps its own).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workbench._util import atomic_write_bytes, progress
from workbench.errors import MediaError
from workbench.media import load_audio
from workbench.prompt import Prompt
from workbench.rundir import RunDir, Sample, as_run

PLOT_SR = 16000
FOLEY_COLOR = "#e4572e"
DIALOGUE_COLOR = "#29a35a"


def mel_db(*, y: np.ndarray, sr: int, n_mels: int = 96, hop_length: int = 160) -> np.ndarray:
    """Log-mel power spectrogram in dB (ref = max), shape (n_mels, n_frames)."""
    import librosa

    if len(y) < 2048:
        y = np.pad(y, (0, 2048 - len(y)))
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=hop_length, n_mels=n_mels, fmax=sr / 2)
    return librosa.power_to_db(S, ref=np.max(S) if S.max() > 0 else 1.0, top_db=80)


def spectrogram(*, y: np.ndarray, sr: int, ax: Axes | None = None, hop_length: int = 160) -> Axes:
    """Draw a log-mel spectrogram of ``y`` on ``ax`` (default: pyplot's current axes) with time in seconds."""
    import librosa.display

    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    librosa.display.specshow(
        mel_db(y=y, sr=sr, hop_length=hop_length), sr=sr, hop_length=hop_length, x_axis="time", y_axis="mel",
        fmax=sr / 2, ax=ax, cmap="magma",
    )  # fmt: skip
    return ax


def mark_prompt(ax: Axes, prompt: Prompt | None) -> None:
    """Mark the prompt's foley times (dashed) and dialogue starts (solid) on ``ax``."""
    if prompt is None:
        return
    for ev in prompt.foley:
        ax.axvline(ev.at_s, color=FOLEY_COLOR, ls="--", lw=1.2, alpha=0.9)
    for line in prompt.dialogue:
        ax.axvline(line.start_s, color=DIALOGUE_COLOR, ls="-", lw=1.2, alpha=0.9)


def clip_figure(y: np.ndarray, sr: int, *, title: str, prompt: Prompt | None = None) -> Figure:
    """A single clip's spectrogram with the prompt's times marked."""
    fig = Figure(figsize=(8, 2.6), layout="constrained")
    ax = fig.subplots()
    spectrogram(y=y, sr=sr, ax=ax)
    mark_prompt(ax, prompt)
    ax.set_title(title, fontsize=9)
    return fig


def grid_figure(
    rows: Sequence[tuple[str, np.ndarray | None, str | None]], sr: int, *, prompt: Prompt | None, title: str
) -> Figure:
    """Spectrograms of several models for one prompt, stacked on a shared time axis.

    ``rows`` holds ``(model, audio or None, reason when None)``.
    """
    n = max(1, len(rows))
    t_max = max([len(y) / sr for _, y, _ in rows if y is not None] + [prompt.duration_s if prompt else 1.0])
    fig = Figure(figsize=(9, 1.55 * n + 0.9), layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)
    for ax, (model, y, reason) in zip(axes[:, 0], rows, strict=True):
        if y is None or len(y) == 0:
            ax.text(0.5, 0.5, f"{model}: {reason or 'no audio'}", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        else:
            spectrogram(y=y, sr=sr, ax=ax)
            ax.set_ylabel("Hz", fontsize=7)
        mark_prompt(ax, prompt)
        ax.set_xlim(0, t_max)
        ax.set_title(model, fontsize=8, loc="left", pad=2)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel("time (s)   dashed red: prompted foley   solid green: prompted dialogue start", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def write_figures(
    run_dir: Path | RunDir, samples: Sequence[Sample], prompts: dict[str, Prompt], *, quiet: bool = True
) -> None:
    """Write ``figures/spec_<sample>.png`` and ``figures/grid_<prompt>.png`` for a run."""
    run = as_run(run_dir)
    audio: dict[str, np.ndarray | None] = {}
    reasons: dict[str, str] = {}
    bar = progress(len(samples), "figures", quiet)
    for s in samples:
        bar.update(1)
        clip = run.clip_path(s)
        if s.status != "ok" or clip is None:
            audio[s.sample_id], reasons[s.sample_id] = None, s.reason or "failed"
            continue
        try:
            y = load_audio(clip, sr=PLOT_SR)
        except MediaError as exc:
            audio[s.sample_id], reasons[s.sample_id] = None, str(exc)
            continue
        audio[s.sample_id] = y
        fig = clip_figure(y, PLOT_SR, title=f"{s.model} · {s.prompt_id} · repeat {s.repeat}", prompt=prompts.get(s.prompt_id))
        _save(fig, run.figure_path("spec", s.sample_id))
    bar.close()
    for pid, prompt in prompts.items():
        group = [s for s in samples if s.prompt_id == pid and s.repeat == 0]
        if not group:
            continue
        rows = [(s.model, audio.get(s.sample_id), reasons.get(s.sample_id)) for s in group]
        fig = grid_figure(rows, PLOT_SR, prompt=prompt, title=f"{pid}: {prompt.title or prompt.scene[:60]}")
        with warnings.catch_warnings():  # constrained layout may give up on text-only rows; the figure is fine
            warnings.simplefilter("ignore", UserWarning)
            _save(fig, run.figure_path("grid", pid))


def _save(fig: Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    atomic_write_bytes(path, buf.getvalue())
