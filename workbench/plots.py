"""Spectrogram plots: one per clip, and per prompt a grid of every model on a shared time axis.

librosa.display conventions: functions take ``ax=None``, return the Axes or Figure, and
never call ``plt.show()``. Figures are written to files and closed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from workbench.errors import MediaError
from workbench.media import load_audio
from workbench.prompt import Prompt

if TYPE_CHECKING:
    from workbench.run import Sample

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


def spectrogram(*, y: np.ndarray, sr: int, ax: plt.Axes | None = None, hop_length: int = 160) -> plt.Axes:
    """Draw a log-mel spectrogram of ``y`` on ``ax`` with time in seconds."""
    import librosa.display

    ax = ax or plt.gca()
    librosa.display.specshow(
        mel_db(y=y, sr=sr, hop_length=hop_length), sr=sr, hop_length=hop_length, x_axis="time", y_axis="mel",
        fmax=sr / 2, ax=ax, cmap="magma",
    )  # fmt: skip
    return ax


def mark_prompt(ax: plt.Axes, prompt: Prompt | None) -> None:
    """Mark the prompt's foley times (dashed) and dialogue starts (solid) on ``ax``."""
    if prompt is None:
        return
    for ev in prompt.foley:
        ax.axvline(ev.at_s, color=FOLEY_COLOR, ls="--", lw=1.2, alpha=0.9)
    for line in prompt.dialogue:
        ax.axvline(line.start_s, color=DIALOGUE_COLOR, ls="-", lw=1.2, alpha=0.9)


def clip_figure(y: np.ndarray, sr: int, *, title: str, prompt: Prompt | None = None) -> plt.Figure:
    """A single clip's spectrogram with the prompt's times marked."""
    fig, ax = plt.subplots(figsize=(8, 2.6), constrained_layout=True)
    spectrogram(y=y, sr=sr, ax=ax)
    mark_prompt(ax, prompt)
    ax.set_title(title, fontsize=9)
    return fig


def grid_figure(
    rows: Sequence[tuple[str, np.ndarray | None, str | None]], sr: int, *, prompt: Prompt | None, title: str
) -> plt.Figure:
    """Spectrograms of several models for one prompt, stacked on a shared time axis.

    ``rows`` holds ``(model, audio or None, reason when None)``.
    """
    n = max(1, len(rows))
    t_max = max([len(y) / sr for _, y, _ in rows if y is not None] + [prompt.duration_s if prompt else 1.0])
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.55 * n + 0.9), sharex=True, squeeze=False, constrained_layout=True)
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


def write_figures(run_dir: Path, samples: Sequence[Sample], prompts: dict[str, Prompt], *, quiet: bool = True) -> None:
    """Write ``figures/spec_<sample>.png`` and ``figures/grid_<prompt>.png`` for a run."""
    from tqdm.auto import tqdm

    out = Path(run_dir) / "figures"
    out.mkdir(exist_ok=True)
    audio: dict[str, np.ndarray | None] = {}
    reasons: dict[str, str] = {}
    for s in tqdm(samples, desc="figures", unit="clip", disable=quiet):
        if s.status != "ok" or not s.clip:
            audio[s.sample_id], reasons[s.sample_id] = None, s.reason or "failed"
            continue
        try:
            y = load_audio(Path(run_dir) / s.clip, sr=PLOT_SR)
        except MediaError as exc:
            audio[s.sample_id], reasons[s.sample_id] = None, str(exc)
            continue
        audio[s.sample_id] = y
        fig = clip_figure(y, PLOT_SR, title=f"{s.model} · {s.prompt_id} · repeat {s.repeat}", prompt=prompts.get(s.prompt_id))
        fig.savefig(out / f"spec_{s.sample_id}.png", dpi=80)
        plt.close(fig)
    for pid, prompt in prompts.items():
        group = [s for s in samples if s.prompt_id == pid and s.repeat == 0]
        if not group:
            continue
        rows = [(s.model, audio.get(s.sample_id), reasons.get(s.sample_id)) for s in group]
        fig = grid_figure(rows, PLOT_SR, prompt=prompt, title=f"{pid}: {prompt.title or prompt.scene[:60]}")
        with warnings.catch_warnings():  # constrained layout may give up on text-only rows; the figure is fine
            warnings.simplefilter("ignore", UserWarning)
            fig.savefig(out / f"grid_{pid}.png", dpi=80)
        plt.close(fig)
