"""Shared test helpers: tiny real MP4s made with PyAV, and a scriptable fake provider."""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
import pytest

from workbench.errors import ProviderError
from workbench.prompt import Prompt
from workbench.providers.base import GenerationRequest, JobStatus, Provider
from workbench.providers.registry import register_provider

SHARED_REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


def make_mp4(
    *,
    duration_s: float = 2.0,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    audio: bool = True,
    video: bool = True,
    sr: int = 16000,
    clicks_at: tuple[float, ...] = (),
    tone_hz: float = 440.0,
) -> bytes:
    """A small H.264/AAC MP4 with a moving bar and a tone plus clicks."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        vs = as_ = None
        if video:
            vs = c.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
            vs.options = {"preset": "ultrafast"}
        if audio:
            as_ = c.add_stream("aac", rate=sr)
            as_.layout = "mono"
        if vs is not None:
            for i in range(int(duration_s * fps)):
                img = np.zeros((size[1], size[0], 3), np.uint8)
                img[:, (i * 3) % size[0] : (i * 3) % size[0] + 8] = 255
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = i
                fr.time_base = Fraction(1, fps)
                for p in vs.encode(fr):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if as_ is not None:
            t = np.arange(int(duration_s * sr)) / sr
            y = 0.1 * np.sin(2 * np.pi * tone_hz * t)
            for at in clicks_at:
                i = int(at * sr)
                n = min(800, len(y) - i)
                y[i : i + n] += 0.8 * np.exp(-np.arange(n) / 80) * np.random.default_rng(0).standard_normal(n)
            y = np.clip(y, -1, 1).astype(np.float32)
            n = 1024
            for k in range(0, len(y), n):
                chunk = y[k : k + n]
                fr = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = sr, k, Fraction(1, sr)
                for p in as_.encode(fr):
                    c.mux(p)
            for p in as_.encode():
                c.mux(p)
    return buf.getvalue()


class FakeProvider(Provider):
    """``test/<behaviour>``: ok, fail, corrupt, noaudio, slow; ``refuse`` (the submission is refused
    before a job exists, as a 401 would be); ``needskey`` (like ok, but its prerequisite is the
    variable ``TEST_PROVIDER_KEY``). Counts submissions per class."""

    submissions: ClassVar[list[str]] = []

    def __init__(self, behaviour: str, params: dict | None = None) -> None:
        self.behaviour = behaviour
        self.id = f"test/{behaviour}"  # type: ignore[misc]
        self.price_per_second_usd = 0.1  # type: ignore[misc]

    def prerequisites(self) -> list[str]:
        if self.behaviour == "needskey" and not os.environ.get("TEST_PROVIDER_KEY"):
            return ["no API key: set TEST_PROVIDER_KEY"]
        return []

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        if self.behaviour == "refuse":
            raise ProviderError("auth", "401: the key was refused")
        FakeProvider.submissions.append(f"{self.behaviour}:{request.prompt_id}:{request.repeat}")
        return f"{self.behaviour}-{request.key()}"

    async def poll(self, job_id: str) -> JobStatus:
        if self.behaviour == "fail":
            return JobStatus("failed", reason="content rejected by the provider", kind="content_policy")
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        if self.behaviour == "corrupt":
            return b"this is not an mp4" * 10
        # Distinct bytes per job so clips do not dedupe across prompts.
        tone = 200.0 + (int(job_id.split("-")[-1][:4], 16) % 500)
        return make_mp4(audio=self.behaviour != "noaudio", duration_s=1.5, tone_hz=tone)

    def ground_truth(self, job_id: str) -> dict[str, Any] | None:
        return None


register_provider("test", FakeProvider)


@pytest.fixture
def fake_provider() -> type[FakeProvider]:
    FakeProvider.submissions.clear()
    return FakeProvider


@pytest.fixture
def shared_real() -> Path:
    if not SHARED_REAL.is_dir():
        pytest.skip("../shared/data/real not present (fresh clone): real-data test skipped")
    return SHARED_REAL
