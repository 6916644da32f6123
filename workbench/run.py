"""The runner: prompts x models x repeats -> clips in the store -> scores -> run folder.

Generation is async (one task per cell, a semaphore per provider). Before polling, every
submitted job id is appended to ``journal.jsonl`` in the run folder (flushed and fsynced),
so a run restarted with ``--resume`` polls the same jobs instead of submitting again.
A generation is keyed by its whole canonical request: a cache hit generates nothing.
A failed cell is recorded with its reason and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench import __version__
from workbench.analysis import ClipContext, analyze_batch, analyze_clip, batch_features, select_analyzers
from workbench.config import ComparisonConfig, load_config_suite
from workbench.errors import MediaError
from workbench.executor import AnalysisExecutor, make_executor, single_threaded_math
from workbench.media import probe
from workbench.metrics.registry import Analyzer, Score
from workbench.prompt import TEMPLATE_VERSION, Prompt
from workbench.providers import GenerationRequest, Provider, ProviderError, get_provider, prompt_rewrite_note
from workbench.store import ClipStore, atomic_write_json

log = logging.getLogger(__name__)

RUN_FORMAT = 1

#: Failure kinds of a submission that may have been billed: never sent again without params.resend_lost.
UNRESOLVED_KINDS = frozenset({"submit_uncertain", "lost_in_transit"})


def results_root() -> Path:
    """Root of all outputs: ``$WORKBENCH_RESULTS_DIR`` or ``./results``."""
    return Path(os.environ.get("WORKBENCH_RESULTS_DIR", "results"))


def new_run_dir(name: str, root: Path | None = None) -> Path:
    """A fresh, sortable run folder ``runs/<UTC time>_<name>_<random>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = (root or results_root()) / "runs" / f"{stamp}_{name}_{secrets.token_hex(2)}"
    path.mkdir(parents=True)
    return path


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in s).strip("-")


@dataclass
class Sample:
    """One cell of the matrix: a prompt, a model, a repeat, and what became of it."""

    sample_id: str
    prompt_id: str
    model: str
    provider: str
    repeat: int
    request_key: str
    status: str = "pending"
    reason: str | None = None
    kind: str | None = None
    clip_sha256: str | None = None
    clip: str | None = None
    """Clip path relative to the run folder."""
    cache_hit: bool = False
    latency_s: float | None = None
    cost_usd: float = 0.0
    has_audio: bool | None = None
    notes: list[str] = field(default_factory=list)
    """Capability problems the provider reported for this request (e.g. a duration it cannot do), and
    ``prompt rewritten by the vendor: …`` for a model that rewrites prompts with no off switch."""


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
        return f"{self.prompt.id}__{_slug(self.model)}__r{self.repeat}"


@dataclass
class RunResult:
    """What a run produced."""

    run_dir: Path
    samples: list[Sample]
    stats: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None


class Journal:
    """Append-only record of submitted and finished jobs (fsynced per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, **event: Any) -> None:
        line = json.dumps({"t": time.time(), **event}, sort_keys=True)
        with open(self.path, "a+b") as f:
            # A line torn by a kill must not swallow the next event.
            torn = f.tell() > 0 and (f.seek(-1, os.SEEK_END) or f.read(1) != b"\n")
            f.write((("\n" if torn else "") + line + "\n").encode())
            f.flush()
            os.fsync(f.fileno())

    def events(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a kill
        return out

    def pending_jobs(self) -> dict[str, dict[str, Any]]:
        """Jobs with no terminal event, by request key: submitted, or being sent (``submitting`` for
        paid async providers, ``sending`` for synchronous ones) when the run stopped.

        A submission that ended ``submit_uncertain`` or ``lost_in_transit`` stays here too: a
        resumed run looks it up again instead of paying for it a second time.
        """
        pending: dict[str, dict[str, Any]] = {}
        for ev in self.events():
            if ev.get("event") in ("submitted", "sending", "submitting"):
                pending[ev["key"]] = ev
            elif ev.get("event") in ("done", "failed"):
                prior = pending.pop(ev.get("key"), None)
                if prior is not None and ev.get("event") == "failed" and ev.get("kind") in UNRESOLVED_KINDS:
                    pending[ev["key"]] = prior
        return pending


def plan_cells(cfg: ComparisonConfig) -> list[Cell]:
    """Every (prompt, model, repeat) cell of a comparison, with its canonical request."""
    suite = load_config_suite(cfg)
    cells = []
    for prompt in suite.prompts:
        text = prompt.canonical_text()
        for entry in cfg.providers:
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
                )
                cells.append(Cell(prompt, entry.id, entry.name, r, req))
    return cells


def _progress(total: int, desc: str, quiet: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="clip", disable=quiet, file=sys.stderr, dynamic_ncols=True)


class Generator:
    """Runs the generation phase of one run."""

    def __init__(self, cfg: ComparisonConfig, store: ClipStore, run_dir: Path, *, quiet: bool) -> None:
        self.cfg = cfg
        self.store = store
        self.run_dir = run_dir
        self.journal = Journal(run_dir / "journal.jsonl")
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

    async def call(self, fn, *args, also_retry: frozenset[str] = frozenset()):
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
        dst = self.run_dir / "clips" / f"{sample.sample_id}{src.suffix}"
        dst.parent.mkdir(exist_ok=True)
        if not dst.exists():
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        sample.clip = str(dst.relative_to(self.run_dir))

    async def cell(self, cell: Cell, bar: tqdm) -> Sample:
        key = cell.request.key()
        s = Sample(cell.sample_id, cell.prompt.id, cell.model, cell.provider_id, cell.repeat, key)
        rewrite = prompt_rewrite_note(cell.provider_id)
        if rewrite:
            s.notes.append(f"prompt rewritten by the vendor: {rewrite}")
        try:
            hit = self.store.lookup(key)
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
                self.spent += cost
                s.cost_usd = cost
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
                    if exc.kind != "submit_uncertain" or submitting is None:
                        raise
                    found = await self._reconcile(prov, cell, s, submitting, exc.reason)
                    if found is None:
                        return
                    job_id = found
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
            for attempt in range(3):
                try:
                    job_id = await self.call(prov.find_submitted, cell.request, ref, sent, frozenset(self.job_ids))
                except ProviderError as exc:
                    checked = f"lookup: {exc.reason}"
                    break
                if job_id:
                    log.info("%s: the lost submission was found: job %s", s.sample_id, job_id)
                    s.notes.append(f"{why}; the job it created was found in {prov.lookup}: {job_id}")
                    return job_id
                if attempt < 2:
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

    async def run(self, cells: Sequence[Cell]) -> list[Sample]:
        with _progress(len(cells), "generate", self.quiet) as bar:
            try:
                return list(await asyncio.gather(*(self.cell(c, bar) for c in cells)))
            finally:
                for p in self.providers.values():
                    await p.aclose()


# -- analysis ----------------------------------------------------------------------------------


def _context_key(prompt: Prompt | None) -> str:
    return prompt.content_hash() if prompt is not None else "noprompt"


def _score_to_json(sc: Score) -> dict[str, Any]:
    return {"value": sc.value, "reason": sc.reason, "details": sc.details}


def _score_from_json(d: dict[str, Any]) -> Score:
    return Score(value=d.get("value"), reason=d.get("reason"), details=d.get("details") or {})


def analyze_task(clip_path: str, prompt_json: dict | None, analyzer_names: Sequence[str]) -> tuple[dict, dict]:
    """Analyse one clip: per-clip scores and batch features (picklable in and out)."""
    prompt = Prompt.model_validate(prompt_json) if prompt_json else None
    analyzers = select_analyzers(analyzer_names)
    ctx = ClipContext(path=Path(clip_path), prompt=prompt)
    scores = analyze_clip(ctx, analyzers)
    feats = batch_features(ctx, analyzers)
    return {k: _score_to_json(v) for k, v in scores.items()}, feats


def score_samples(
    samples: Sequence[Sample],
    prompts: dict[str, Prompt],
    store: ClipStore,
    run_dir: Path,
    analyzers: Sequence[Analyzer],
    *,
    jobs: int | None = None,
    quiet: bool = False,
    executor: AnalysisExecutor | None = None,
) -> dict[str, dict[str, Score]]:
    """Scores per sample id; per-clip results are cached in the store by clip and prompt."""
    results: dict[str, dict[str, Score]] = {}
    feats: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Sample, list[Analyzer]]] = []
    ok = [s for s in samples if s.status == "ok" and s.clip_sha256]
    for s in ok:
        ck = _context_key(prompts.get(s.prompt_id))
        got: dict[str, Score] = {}
        missing: list[Analyzer] = []
        f: dict[str, Any] = {}
        for an in analyzers:
            cached = store.load_scores(s.clip_sha256, an.name, an.version, ck)
            fpath = store.root / "scores" / s.clip_sha256 / f"{an.name}@v{an.version}-{ck}.features.pkl"
            if an.is_batch:
                if fpath.is_file():
                    f[an.name] = pickle.loads(fpath.read_bytes())
                else:
                    missing.append(an)
            elif cached is not None:
                got.update({k: _score_from_json(v) for k, v in cached.items()})
            else:
                missing.append(an)
        results[s.sample_id], feats[s.sample_id] = got, f
        if missing:
            todo.append((s, missing))

    def absorb(s: Sample, missing: list[Analyzer], out: tuple[dict, dict]) -> None:
        scores_json, fts = out
        ck = _context_key(prompts.get(s.prompt_id))
        for an in missing:
            if an.is_batch:
                fpath = store.root / "scores" / s.clip_sha256 / f"{an.name}@v{an.version}-{ck}.features.pkl"
                fpath.parent.mkdir(parents=True, exist_ok=True)
                tmp = fpath.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(fts.get(an.name)))
                os.replace(tmp, fpath)
                feats[s.sample_id][an.name] = fts.get(an.name)
            else:
                part = {m.name: scores_json[m.name] for m in an.outputs if m.name in scores_json}
                store.save_scores(s.clip_sha256, an.name, an.version, ck, part)
                results[s.sample_id].update({k: _score_from_json(v) for k, v in part.items()})

    with _progress(len(ok), "analyze", quiet) as bar:
        bar.update(len(ok) - len(todo))
        owns = executor is None
        executor = executor or make_executor("auto", workers=jobs, n_tasks=len(todo))
        if executor.dashboard_link:
            bar.write(f"analysis dashboard: {executor.dashboard_link}")
        try:
            pj = {pid: p.model_dump(mode="json") for pid, p in prompts.items()}  # one dict per prompt, not per clip
            args = [(str(run_dir / s.clip), pj.get(s.prompt_id), [a.name for a in m]) for s, m in todo]
            for i, out in executor.map_unordered(analyze_task, args):
                absorb(*todo[i], out)  # written to the store at once: a crash keeps what was scored
                bar.update(1)
        finally:
            if owns:
                executor.close()

    # Cross-clip step, once per model: a model's clips are swapped among its own shots.
    batch_an = [a for a in analyzers if a.is_batch]
    if batch_an:
        by_model: dict[str, list[Sample]] = {}
        for s in ok:
            by_model.setdefault(s.model, []).append(s)
        for group in by_model.values():
            group = sorted(group, key=lambda s: s.sample_id)
            ctxs = [ClipContext(path=run_dir / s.clip, prompt=prompts.get(s.prompt_id)) for s in group]
            with single_threaded_math():  # like the per-clip tasks: numbers independent of the core count
                outs = analyze_batch(ctxs, [feats[s.sample_id] for s in group], batch_an)
            for s, o in zip(group, outs, strict=True):
                results[s.sample_id].update(o)
    return results


# -- outputs -------------------------------------------------------------------------------------


def write_samples(run_dir: Path, samples: Sequence[Sample]) -> None:
    """``samples.jsonl``: one line per cell."""
    lines = "".join(json.dumps(asdict(s), sort_keys=True) + "\n" for s in samples)
    from workbench.store import atomic_write_bytes

    atomic_write_bytes(run_dir / "samples.jsonl", lines.encode())


def load_samples(run_dir: Path) -> list[Sample]:
    """Read ``samples.jsonl`` back."""
    path = Path(run_dir) / "samples.jsonl"
    return [Sample(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def run_comparison(
    cfg: ComparisonConfig,
    *,
    run_dir: Path | None = None,
    store: ClipStore | None = None,
    jobs: int | None = None,
    quiet: bool = False,
    report: bool | None = None,
    executor: AnalysisExecutor | None = None,
) -> RunResult:
    """Generate, store, score and report a comparison; resumable with ``run_dir``.

    Parameters
    ----------
    cfg : ComparisonConfig
    run_dir : Path, optional
        An existing run folder to resume (its journal is honoured); a new one otherwise.
    store : ClipStore, optional
        Defaults to ``<results>/store``.
    jobs : int, optional
        Analysis worker processes (default: CPU count).
    executor : AnalysisExecutor, optional
        Where per-clip analysis runs (default: local processes when worth it).
    """
    from workbench.leaderboard import write_leaderboard, write_scores
    from workbench.plots import write_figures

    t_start = time.monotonic()
    store = store or ClipStore(results_root() / "store")
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(cfg.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    suite = load_config_suite(cfg)
    prompts = {p.id: p for p in suite.prompts}
    cells = plan_cells(cfg)
    atomic_write_json(
        run_dir / "run.json",
        {
            "format": RUN_FORMAT,
            "status": "running",
            "config": cfg.model_dump(mode="json"),
            "suite": suite.model_dump(mode="json"),
            "template_version": TEMPLATE_VERSION,
            "workbench_version": __version__,
            "started": datetime.now(UTC).isoformat(),
        },
    )
    gen = Generator(cfg, store, run_dir, quiet=quiet)
    try:
        samples = asyncio.run(gen.run(cells))
    finally:
        from workbench.providers.local import shutdown_pool

        shutdown_pool()
    write_samples(run_dir, samples)
    analyzers = select_analyzers(list(cfg.metrics) if cfg.metrics else None)
    scores = score_samples(samples, prompts, store, run_dir, analyzers, jobs=jobs, quiet=quiet, executor=executor)
    write_scores(run_dir, samples, scores, analyzers)
    write_leaderboard(run_dir)
    write_figures(run_dir, samples, prompts, quiet=quiet)
    n_ok = sum(s.status == "ok" for s in samples)
    stats = {
        "cells": len(samples),
        "ok": n_ok,
        "failed": len(samples) - n_ok,
        "cache_hits": sum(s.cache_hit for s in samples),
        "generated": sum(s.status == "ok" and not s.cache_hit for s in samples),
        "cost_usd": round(sum(s.cost_usd for s in samples), 4),
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    result = RunResult(run_dir=run_dir, samples=samples, stats=stats)
    info = json.loads((run_dir / "run.json").read_text())
    info.update(status="scored", stats=stats)
    atomic_write_json(run_dir / "run.json", info)  # the report reads the stats
    if cfg.report if report is None else report:
        from workbench.report import render_report

        try:
            result.report = render_report(run_dir)
        except Exception as exc:  # the results stand without the report; say why
            stats["report_error"] = f"{type(exc).__name__}: {exc}"
    stats["wall_s"] = round(time.monotonic() - t_start, 1)
    info = json.loads((run_dir / "run.json").read_text())
    info.update(status="done", stats=stats, finished=datetime.now(UTC).isoformat())
    atomic_write_json(run_dir / "run.json", info)
    return result


def latest_run_dir(root: Path | None = None) -> Path:
    """The newest run folder under ``<results>/runs``."""
    runs = sorted(p for p in ((root or results_root()) / "runs").glob("*") if (p / "run.json").is_file())
    if not runs:
        raise FileNotFoundError("no runs yet: run `workbench run` first")
    return runs[-1]
