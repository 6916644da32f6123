"""Generation: prompts x models x repeats -> clips in the store, one recorded :class:`Sample` per cell.

Generation is async (one task per cell, a semaphore per provider). Before polling, every
submitted job id is appended to the run's journal (flushed and fsynced), so a run restarted
with ``--resume`` polls the same jobs instead of submitting again. A generation is keyed by
its whole request (:meth:`GenerationRequest.key`): a cache hit generates nothing. A failed
cell is recorded with its reason and the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from workbench._util import link_or_copy, progress, slug
from workbench.config import ComparisonConfig, load_config_suite
from workbench.errors import UNRESOLVED_KINDS, MediaError, ProviderError
from workbench.media import probe
from workbench.prompt import TEMPLATE_VERSION, Prompt, PromptSuite
from workbench.providers.base import GenerationRequest, Provider
from workbench.providers.registry import get_provider, prompt_rewrite_note
from workbench.rundir import Journal, RunDir, Sample
from workbench.store import ClipStore, StoredClip
from workbench.version import __version__

log = logging.getLogger(__name__)

#: Times the vendor's lookup is asked for a lost submission, a poll interval apart.
LOOKUP_ATTEMPTS = 3

T = TypeVar("T")


@dataclass
class Cell:
    """A planned generation."""

    prompt: Prompt
    provider_id: str
    model: str
    repeat: int
    request: GenerationRequest

    @property
    def sample_id(self) -> str:
        """``<prompt>__<model slug>__r<repeat>``: the cell's name in the run folder."""
        return f"{self.prompt.id}__{slug(self.model)}__r{self.repeat}"




def cached_clip(store: ClipStore, request: GenerationRequest) -> tuple[StoredClip, dict[str, Any]] | None:
    """The stored clip a request already produced, or None.

    A clip bound under the request's format-1 key (:meth:`GenerationRequest.legacy_key`) is found
    too and bound under the current key, so a clip paid for before the key format changed is not
    paid for again.
    """
    hit = store.lookup(request.key())
    legacy = request.legacy_key()
    if hit is None and legacy is not None:
        hit = store.lookup(legacy)
        if hit is not None:
            store.bind(request.key(), hit[0], {k: v for k, v in hit[1].items() if k not in ("clip_sha256", "size")})
    return hit


def plan_cells(cfg: ComparisonConfig, suite: PromptSuite | None = None) -> list[Cell]:
    """Every (prompt, model, repeat) cell of a comparison, with its canonical request.

    ``suite`` is the config's suite, already loaded (loaded from the config when None).
    """
    suite = suite if suite is not None else load_config_suite(cfg)
    adapters = {entry.name: get_provider(entry.id, entry.params) for entry in cfg.providers}
    cells = []
    for prompt in suite.prompts:
        text = prompt.canonical_text()
        for entry in cfg.providers:
            adapter = adapters[entry.name]
            inputs = adapter.key_inputs(prompt)
            for r in range(cfg.repeats):
                req = GenerationRequest(
                    provider=entry.id,
                    prompt_id=prompt.id,
                    text=text,
                    template_version=TEMPLATE_VERSION,
                    duration_s=prompt.duration_s,
                    aspect_ratio=prompt.aspect_ratio,
                    seed=cfg.seed + r,
                    repeat=r,
                    params=dict(entry.params),
                    provider_version=adapter.version,
                    inputs=inputs,
                )
                cells.append(Cell(prompt, entry.id, entry.name, r, req))
    return cells


class Generator:
    """Runs the generation phase of one run."""

    def __init__(self, cfg: ComparisonConfig, store: ClipStore, run: RunDir, *, quiet: bool) -> None:
        self.cfg = cfg
        self.store = store
        self.run = run
        self.journal: Journal = run.journal
        self.pending = self.journal.pending_jobs()
        self.quiet = quiet
        self.spent = 0.0
        self.providers: dict[str, Provider] = {}
        self.sems: dict[str, asyncio.Semaphore] = {}
        self.submitted: set[str] = set()
        self.job_ids: set[str] = {ev["job_id"] for ev in self.pending.values() if "job_id" in ev}
        """Job ids known to belong to cells (a lookup never adopts one of them for another cell)."""

    def provider(self, cell: Cell) -> Provider:
        """One adapter per config entry; one semaphore per provider id (its concurrency limit)."""
        if cell.model not in self.providers:
            self.providers[cell.model] = prov = get_provider(cell.provider_id, cell.request.params)
            self.sems.setdefault(cell.provider_id, asyncio.Semaphore(max(1, prov.max_concurrency)))
        return self.providers[cell.model]

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, also_retry: frozenset[str] = frozenset()) -> T:
        """Call an adapter method, retrying retryable failures with exponential backoff.

        ``Retry-After`` from the provider wins over the computed delay; ``max_retries: 0``
        disables retries. ``also_retry`` adds failure kinds retried for this call.
        """
        attempt = 0
        while True:
            try:
                return await fn(*args)
            except ProviderError as exc:
                if not (exc.retryable or exc.kind in also_retry) or attempt >= self.cfg.max_retries:
                    raise
                delay = exc.retry_after if exc.retry_after is not None else self.cfg.backoff_s * 2**attempt
                attempt += 1
                log.info("retry %d/%d after %.1fs: %s", attempt, self.cfg.max_retries, delay, exc.reason)
                await asyncio.sleep(min(delay, self.cfg.max_backoff_s))

    def _link_clip(self, sample: Sample, src: Path) -> None:
        dst = self.run.clip_link(sample.sample_id, src.suffix)
        link_or_copy(src, dst)
        sample.clip = dst.relative_to(self.run.path).as_posix()

    async def cell(self, cell: Cell, bar: Any) -> Sample:
        key = cell.request.key()
        s = Sample(cell.sample_id, cell.prompt.id, cell.model, cell.provider_id, cell.repeat, key)
        rewrite = prompt_rewrite_note(cell.provider_id)
        if rewrite:
            s.notes.append(f"prompt rewritten by the vendor: {rewrite}")
        try:
            hit = cached_clip(self.store, cell.request)
            if hit is not None:
                clip, rec = hit
                s.status, s.cache_hit, s.clip_sha256 = "ok", True, clip.sha256
                s.latency_s, s.cost_usd, s.has_audio = rec.get("latency_s"), 0.0, rec.get("has_audio")
                self._link_clip(s, clip.path)
                return s
            await self._generate(cell, s)
        except ProviderError as exc:
            s.status, s.reason, s.kind = "failed", exc.reason, exc.kind
            if s.request_key in self.submitted:
                self.journal.append(event="failed", key=s.request_key, reason=exc.reason, kind=exc.kind)
        except Exception as exc:  # one cell never stops the run
            s.status, s.reason, s.kind = "failed", f"{type(exc).__name__}: {exc}", "fatal"
            log.debug("cell %s failed", s.sample_id, exc_info=True)
        finally:
            bar.update(1)
            bar.set_postfix_str(f"{s.sample_id[:40]} {s.status}", refresh=False)
        return s

    async def _generate(self, cell: Cell, s: Sample) -> None:
        prov = self.provider(cell)
        req = cell.request
        s.notes = prov.validate(req) + s.notes
        if prov.prompt_rewrite_note and not any(n.startswith("prompt rewritten") for n in s.notes):
            s.notes.append(f"prompt rewritten by the vendor: {prov.prompt_rewrite_note}")
        async with self.sems[cell.provider_id]:
            t0 = time.monotonic()
            prior = self.pending.get(s.request_key)
            resend_lost = bool(req.params.get("resend_lost"))
            if prior is not None and prov.billed_when_lost and not resend_lost:
                # A synchronous call was in flight when the run stopped: it may have been billed and its
                # result died with that process. Sending it again would pay twice.
                s.status, s.kind = "failed", "lost_in_transit"
                s.reason = (
                    "the synchronous call was in flight when the previous run stopped; it may have been billed "
                    "and its result cannot be fetched again, so it is not sent again (a new run, or "
                    "params.resend_lost: true, generates it again)"
                )
                self.journal.append(event="failed", key=s.request_key, reason=s.reason, kind=s.kind)
                return
            if prior is not None and prov.resumable and "job_id" in prior:
                job_id = prior["job_id"]
            elif prior is not None and prior.get("event") == "submitting" and not resend_lost:
                # The previous run stopped while this submission was on its way (or its answer was lost):
                # it may have created a paid job. Look it up; never send it again blindly.
                found = await self._reconcile(prov, cell, s, prior, "the previous run stopped while it was sent")
                if found is None:
                    return
                job_id = found
                self.job_ids.add(job_id)
                self.journal.append(event="submitted", key=s.request_key, provider=cell.provider_id, job_id=job_id)
            else:
                cost = prov.estimate_cost(req)
                if self.cfg.budget_usd is not None and self.spent + cost > self.cfg.budget_usd:
                    s.status, s.kind = "failed", "budget"
                    s.reason = f"budget ${self.cfg.budget_usd:.2f} would be exceeded (spent ${self.spent:.2f}, next ${cost:.2f})"
                    return
                self.spent += cost  # reserved now; recorded as the cell's cost only once the request went out
                if prov.billed_when_lost:
                    # no job id comes back before the (billed) result: journal the attempt itself
                    self.journal.append(event="sending", key=s.request_key, provider=cell.provider_id)
                    self.submitted.add(s.request_key)
                    submitting = None
                elif prov.paid:
                    # journaled before it is sent: a run killed mid-submit, or a lost answer, is looked up later
                    submitting = {"ref": prov.new_submit_ref(req), "sent": time.time()}
                    self.journal.append(event="submitting", key=s.request_key, provider=cell.provider_id, **submitting)
                    self.submitted.add(s.request_key)
                else:
                    submitting = None
                retry_lost = UNRESOLVED_KINDS if resend_lost else frozenset()
                try:
                    job_id = await self.call(prov.submit, req, cell.prompt, also_retry=retry_lost)
                except ProviderError as exc:
                    if exc.kind in UNRESOLVED_KINDS:
                        s.cost_usd = cost  # it may have reached the vendor and been billed
                    else:
                        self.spent -= cost  # refused before a job existed (no key, 4xx, never sent): costs 0
                    if exc.kind != "submit_uncertain" or submitting is None:
                        raise
                    found = await self._reconcile(prov, cell, s, submitting, exc.reason)
                    if found is None:
                        return
                    job_id = found
                s.cost_usd = cost
                self.job_ids.add(job_id)
                self.journal.append(event="submitted", key=s.request_key, provider=cell.provider_id, job_id=job_id)
            self.submitted.add(s.request_key)
            deadline = t0 + self.cfg.timeout_s
            while True:
                st = await self.call(prov.poll, job_id)
                if st.state == "done":
                    break
                if st.state == "failed":
                    s.status, s.reason, s.kind = "failed", st.reason, st.kind
                    self.journal.append(event="failed", key=s.request_key, reason=st.reason, kind=st.kind)
                    return
                if time.monotonic() > deadline:
                    s.status, s.kind = "failed", "timeout"
                    s.reason = f"job {job_id} not finished after {self.cfg.timeout_s:g}s (still journaled)"
                    return
                await asyncio.sleep(self.cfg.poll_interval_s if prov.resumable else 0)
            data = await self.call(prov.download, job_id)
            s.latency_s = round(time.monotonic() - t0, 3)
        await self._store(cell, s, prov, job_id, data)

    async def _reconcile(self, prov: Provider, cell: Cell, s: Sample, sending: dict[str, Any], why: str) -> str | None:
        """A submission went out and its answer was lost: the job it created, or None (cell recorded uncertain).

        The vendor's lookup (:meth:`Provider.find_submitted`) is asked a few times, a poll interval
        apart; the job it finds is polled like any other. Otherwise the cell fails as
        ``submit_uncertain`` with what was checked and the client reference: nothing is sent again
        (``params.resend_lost: true`` opts in to paying again; ``--resume`` looks again).
        """
        ref, sent = sending.get("ref"), float(sending.get("sent") or sending.get("t") or time.time())
        when = datetime.fromtimestamp(sent, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        checked = f"{cell.provider_id} offers no way to look a lost submission up"
        if prov.lookup:
            checked = f"not found in {prov.lookup}"
            for attempt in range(LOOKUP_ATTEMPTS):
                try:
                    job_id = await self.call(prov.find_submitted, cell.request, ref, sent, frozenset(self.job_ids))
                except ProviderError as exc:
                    checked = f"lookup: {exc.reason}"
                    break
                if job_id:
                    log.info("%s: the lost submission was found: job %s", s.sample_id, job_id)
                    s.notes.append(f"{why}; the job it created was found in {prov.lookup}: {job_id}")
                    return job_id
                if attempt < LOOKUP_ATTEMPTS - 1:
                    await asyncio.sleep(self.cfg.poll_interval_s)
        s.status, s.kind = "failed", "submit_uncertain"
        s.reason = (
            f"{why}; the submission (sent {when}" + (f", client reference {ref}" if ref else "") + ") may have "
            f"created a paid job: {checked}; not sent again, so it is not paid twice (--resume looks again; "
            "params.resend_lost: true sends it again)"
        )
        self.journal.append(event="failed", key=s.request_key, reason=s.reason, kind=s.kind)
        return None

    async def _store(self, cell: Cell, s: Sample, prov: Provider, job_id: str, data: bytes) -> None:
        record = {
            "provider": cell.provider_id,
            "model": cell.model,
            "prompt_id": cell.prompt.id,
            "canonical_text": cell.request.text,
            "template_version": cell.request.template_version,
            "request": cell.request.record(),
            "job_id": job_id,
            "latency_s": s.latency_s,
            "cost_usd": s.cost_usd,
            "created": datetime.now(UTC).isoformat(),
            "workbench_version": __version__,
            "ground_truth": prov.ground_truth(job_id),
        }
        clip = self.store.put(data, ext="mp4", provenance=record)
        try:
            info = probe(clip.path)
        except MediaError as exc:
            s.status, s.kind, s.reason = "failed", "corrupt", f"downloaded file is not valid media: {exc}"
            self.journal.append(event="failed", key=s.request_key, reason=s.reason, kind="corrupt")
            return
        if not info.has_video:
            s.status, s.kind, s.reason = "failed", "no_video", "downloaded file has no video stream"
            self.journal.append(event="failed", key=s.request_key, reason=s.reason, kind="no_video")
            return
        s.has_audio = info.has_audio
        if not info.has_audio:
            s.reason = "no audio"
        self.store.bind(s.request_key, clip, {**record, "has_audio": info.has_audio})
        self.journal.append(event="done", key=s.request_key, clip_sha256=clip.sha256)
        s.status, s.clip_sha256 = "ok", clip.sha256
        self._link_clip(s, clip.path)

    async def generate(self, cells: Sequence[Cell]) -> list[Sample]:
        """Every cell's sample (cache hits, new clips, recorded failures), in the cells' order."""
        with progress(len(cells), "generate", self.quiet) as bar:
            try:
                return list(await asyncio.gather(*(self.cell(c, bar) for c in cells)))
            finally:
                for p in self.providers.values():
                    await p.aclose()
