"""Built-in local reference models: ``local/<variant>``, offline and deterministic.

Each renders a structured prompt into a real MP4 (H.264 + AAC) with
:func:`workbench.providers.local.synth.render_clip`, with a documented defect per variant and the clip's
ground truth recorded, so every metric can be checked against known answers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, ClassVar

from workbench._util import clean_process_context
from workbench.errors import UnknownModel
from workbench.prompt import Prompt
from workbench.providers.base import Capabilities, GenerationRequest, JobStatus, Provider


def _render(prompt_json: dict[str, Any], variant: str, seed: int) -> tuple[bytes, dict[str, Any]]:
    # Top-level so it can run in a worker process.
    from workbench.providers.local.synth.render import render_clip

    clip = render_clip(Prompt.model_validate(prompt_json), variant, seed=seed)
    return clip.data, clip.ground_truth


_POOL: Executor | None = None


def _pool() -> Executor:
    global _POOL
    if _POOL is None:
        # started clean, not forked from a process whose threads (MediaPipe, OpenCV) may hold locks
        _POOL = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=clean_process_context(["workbench.providers.local.synth.render"]),
        )
    return _POOL


def shutdown_pool() -> None:
    """Stop the render worker processes (called at the end of a run)."""
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(cancel_futures=True)
        _POOL = None


class LocalProvider(Provider):
    """A local reference model; the variant selects its known defect."""

    capabilities: ClassVar[Capabilities] = Capabilities(durations_s=(1.0, 30.0))
    resumable: ClassVar[bool] = False  # re-rendering is free and deterministic
    #: Bump when a change to the renderer (``synth/``) changes the clips it renders.
    version: ClassVar[str] = "1"
    max_concurrency: ClassVar[int] = os.cpu_count() or 1

    def __init__(self, variant: str) -> None:
        from workbench.providers.local.synth.variants import VARIANTS

        if variant not in VARIANTS:
            raise UnknownModel(variant)
        self.variant = variant
        self.id = f"local/{variant}"  # type: ignore[misc]
        self.description = VARIANTS[variant]  # type: ignore[misc]
        self._jobs: dict[str, asyncio.Future[tuple[bytes, dict[str, Any]]]] = {}

    def key_inputs(self, prompt: Prompt) -> dict[str, str]:
        """The renderer reads the whole structured prompt (foley kinds, rooms, and the title, which seeds its noise)."""
        return {"prompt": prompt.content_hash()}

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        loop = asyncio.get_running_loop()
        job_id = f"{self.variant}-{request.key()}"
        seed = request.seed if request.seed is not None else request.repeat
        self._jobs[job_id] = loop.run_in_executor(_pool(), _render, prompt.model_dump(mode="json"), self.variant, seed)
        return job_id

    async def poll(self, job_id: str) -> JobStatus:
        fut = self._jobs.get(job_id)
        if fut is None:
            return JobStatus("failed", reason="unknown job (local jobs do not survive a restart)", kind="not_found")
        if not fut.done():
            await asyncio.wait({fut}, timeout=0.5)
        if not fut.done():
            return JobStatus("pending")
        exc = fut.exception()
        if exc is not None:
            return JobStatus("failed", reason=f"render failed: {type(exc).__name__}: {exc}", kind="fatal")
        return JobStatus("done")

    async def download(self, job_id: str) -> bytes:
        return self._jobs[job_id].result()[0]

    def ground_truth(self, job_id: str) -> dict[str, Any] | None:
        fut = self._jobs.get(job_id)
        return fut.result()[1] if fut is not None and fut.done() and fut.exception() is None else None


def make_local(variant: str, params: Mapping[str, Any]) -> LocalProvider:
    """Factory for ``local/<variant>`` (the local models take no params)."""
    return LocalProvider(variant)
