"""The run folder: one comparison's results on disk, as a typed object.

The runner writes a run; everything else (leaderboard, plots, report, comparisons across runs,
the explorer, the clip view, batches, the command line) reads it through :class:`RunDir`.
Every file name of the layout is named here and nowhere else::

    <results>/runs/<UTC time>_<name>_<hex4>/
        run.json                  RunInfo: format, status, config, suite, versions, stats
        samples.jsonl             one Sample per prompt x model x repeat
        journal.jsonl             every submitted job (resume without paying twice)
        clips/<sample>.mp4        hard links into the content-addressed store
        scores.csv                long format: one row per clip x metric
        verdicts.csv              one row per clip x creator's check: pass, fail or can't tell, and why
        details/<sample>.json     per-metric evidence
        leaderboard.csv|.md|.html
        figures/spec_<sample>.png, figures/grid_<prompt>.png
        report.html, assets/      the standalone report and its media
        preferences/votes.jsonl   the creator's blind votes

A folder is a run when it holds ``run.json``; a run is *scored* once ``scores.csv`` exists.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from workbench._util import append_jsonl, atomic_write_bytes, atomic_write_json, did_you_mean, read_jsonl
from workbench.errors import UNRESOLVED_KINDS, ConfigError, ErrorKind
from workbench.prompt import Prompt, validation_to_config_error

if TYPE_CHECKING:
    import pandas as pd

#: Version of the run folder layout (``run.json`` ``format``).
RUN_FORMAT = 1
RESULTS_ENV = "WORKBENCH_RESULTS_DIR"
#: Where results go when the package is not a checkout and ``$WORKBENCH_RESULTS_DIR`` is not set.
USER_RESULTS = "~/av-workbench/results"
#: The distribution name a checkout's ``pyproject.toml`` declares (how a checkout is recognised).
PROJECT_NAME = "av-workbench"

RUN_JSON = "run.json"
SAMPLES = "samples.jsonl"
JOURNAL = "journal.jsonl"
SCORES = "scores.csv"
VERDICTS = "verdicts.csv"
LEADERBOARD = "leaderboard"
REPORT = "report.html"
CLIPS = "clips"
DETAILS = "details"
FIGURES = "figures"
ASSETS = "assets"
VOTES = "preferences/votes.jsonl"
#: Under the results root: the run folders, and the creator's working copies of the notebooks.
RUNS = "runs"
WORK_NOTEBOOKS = "notebooks"

RunStatus = Literal["running", "scored", "done"]
SampleStatus = Literal["pending", "ok", "failed"]


def project_root() -> Path | None:
    """The checkout this package runs from, or None (an installed wheel).

    A checkout (or an editable install) is the folder holding the ``workbench`` package beside a
    ``pyproject.toml`` that declares ``av-workbench``; it does not depend on the working directory.
    """
    here = Path(__file__).resolve().parent.parent
    try:
        text = (here / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return here if f'name = "{PROJECT_NAME}"' in text else None


def results_root() -> Path:
    """Root of all outputs (runs, store, index, batches, working notebooks), the same from anywhere.

    1. ``$WORKBENCH_RESULTS_DIR`` when set (``~`` expanded; a relative path is taken from the
       working directory at the time of the call);
    2. else ``<checkout>/results`` when the package runs from a checkout or an editable install
       (``make demo``, the notebooks, papermill and the library all land there, whatever folder
       they were started in);
    3. else ``~/av-workbench/results`` (an installed wheel).
    """
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env).expanduser().absolute()
    project = project_root()
    if project is not None:
        return project / "results"
    return Path(USER_RESULTS).expanduser()


def working_notebooks_dir(root: Path | None = None) -> Path:
    """``<results>/notebooks``: the creator's working copies of the notebooks (never the tracked ones)."""
    return (root or results_root()) / WORK_NOTEBOOKS


class RunInfo(BaseModel):
    """``run.json``: what was run, with which versions, and how it went."""

    model_config = ConfigDict(extra="allow")
    format: int = RUN_FORMAT
    status: RunStatus = "running"
    config: dict[str, Any]
    suite: dict[str, Any]
    template_version: str
    workbench_version: str
    started: str
    finished: str | None = None
    stats: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """The comparison's name."""
        return str(self.config.get("name", ""))

    def prompts(self) -> list[Prompt]:
        """The prompts of the run's suite (as run: the config's subset)."""
        return [Prompt.model_validate(p) for p in self.suite.get("prompts", [])]


@dataclass
class Sample:
    """One cell of the matrix: a prompt, a model, a repeat, and what became of it."""

    sample_id: str
    prompt_id: str
    model: str
    provider: str
    repeat: int
    request_key: str
    status: SampleStatus = "pending"
    reason: str | None = None
    kind: ErrorKind | None = None
    clip_sha256: str | None = None
    clip: str | None = None
    """Clip path relative to the run folder."""
    cache_hit: bool = False
    latency_s: float | None = None
    cost_usd: float = 0.0
    has_audio: bool | None = None
    notes: list[str] = field(default_factory=list)
    """Capability problems the provider reported for this request (e.g. a duration it cannot do), and
    ``prompt rewritten by the vendor: ...`` for a model that rewrites prompts with no off switch."""

    @property
    def ok(self) -> bool:
        """True when the cell produced a clip."""
        return self.status == "ok" and self.clip is not None


class Journal:
    """Append-only record of submitted and finished jobs (one fsynced JSON line per event)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, **event: Any) -> None:
        """Record one event (``event``, ``key`` and what else it carries), with its time."""
        append_jsonl(self.path, {"t": datetime.now(UTC).timestamp(), **event})

    def events(self) -> list[dict[str, Any]]:
        """Every complete event, in order."""
        return read_jsonl(self.path)

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
                prior = pending.pop(ev.get("key", ""), None)
                if prior is not None and ev.get("event") == "failed" and ev.get("kind") in UNRESOLVED_KINDS:
                    pending[ev["key"]] = prior
        return pending


class RunDir:
    """A run folder and everything in it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())

    # -- making and opening ------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, root: Path | None = None) -> RunDir:
        """A fresh, sortable run folder ``<root>/runs/<UTC time>_<name>_<random>``."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = (root or results_root()) / RUNS / f"{stamp}_{name}_{secrets.token_hex(2)}"
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path, *, scored: bool = False, key: str | None = None) -> RunDir:
        """An existing run folder; a :class:`ConfigError` naming it when it is not one.

        With ``scored``, the run must also have its scores (a finished analysis).
        """
        run = cls(path)
        if not run.is_run:
            raise ConfigError(f"not a run folder (no {RUN_JSON})", path=str(path), key=key)
        if scored and not run.is_scored:
            raise ConfigError(f"the run has no {SCORES} yet (not scored)", path=str(path), key=key)
        return run

    @property
    def name(self) -> str:
        """The folder's name (the run id)."""
        return self.path.name

    @property
    def is_run(self) -> bool:
        """True when the folder holds ``run.json``."""
        return (self.path / RUN_JSON).is_file()

    @property
    def is_scored(self) -> bool:
        """True when the run's scores were written."""
        return self.scores_path.is_file()

    # -- run.json ----------------------------------------------------------------------------
    def info(self) -> RunInfo:
        """``run.json``.

        Raises
        ------
        ConfigError
            When it is missing or not a valid run description, naming the file and the keys.
        """
        path = self.path / RUN_JSON
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"not a run folder (no {RUN_JSON})", path=str(self.path)) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable: {exc}", path=str(path)) from None
        if not isinstance(data, dict):
            raise ConfigError("not a run description (a JSON object)", path=str(path))
        try:
            return RunInfo.model_validate(data)
        except ValidationError as exc:
            raise validation_to_config_error(exc, path=str(path), data=data) from None

    def write_info(self, info: RunInfo) -> None:
        """Write ``run.json`` atomically."""
        atomic_write_json(self.path / RUN_JSON, info.model_dump(mode="json"))

    def update_info(self, **changes: Any) -> RunInfo:
        """Read, change and write back ``run.json``; return the new info."""
        info = self.info().model_copy(update=changes)
        self.write_info(info)
        return info

    # -- samples and journal -------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        """``samples.jsonl`` (empty before generation finished)."""
        path = self.path / SAMPLES
        if not path.is_file():
            return []
        return [Sample(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def write_samples(self, samples: Sequence[Sample]) -> None:
        """Write ``samples.jsonl`` atomically (one line per cell)."""
        lines = "".join(json.dumps(asdict(s), sort_keys=True) + "\n" for s in samples)
        atomic_write_bytes(self.path / SAMPLES, lines.encode())

    @property
    def journal(self) -> Journal:
        """The run's journal of submitted jobs."""
        return Journal(self.path / JOURNAL)

    # -- files ---------------------------------------------------------------------------------
    def clip_path(self, sample: Sample) -> Path | None:
        """Absolute path of a sample's clip (None when it has none)."""
        return self.path / sample.clip if sample.clip else None

    def clip_link(self, sample_id: str, suffix: str) -> Path:
        """Where a sample's clip is linked into the run folder."""
        return self.path / CLIPS / f"{sample_id}{suffix}"

    @property
    def scores_path(self) -> Path:
        """``scores.csv``."""
        return self.path / SCORES

    def scores(self) -> pd.DataFrame:
        """The long-format scores (one row per clip x metric)."""
        import pandas as pd

        return pd.read_csv(self.scores_path, dtype={"reason": "string"})

    @property
    def verdicts_path(self) -> Path:
        """``verdicts.csv``."""
        return self.path / VERDICTS

    def verdicts(self) -> pd.DataFrame:
        """The creator's checks per clip (one row per clip x check)."""
        import pandas as pd

        return pd.read_csv(self.verdicts_path, dtype={"reason": "string"})

    def leaderboard_path(self, ext: Literal["csv", "md", "html"] = "csv") -> Path:
        """``leaderboard.<ext>``."""
        return self.path / f"{LEADERBOARD}.{ext}"

    def details_path(self, sample_id: str) -> Path:
        """``details/<sample_id>.json``: the per-metric evidence of one clip."""
        return self.path / DETAILS / f"{sample_id}.json"

    def details(self, sample_id: str) -> dict[str, Any]:
        """The per-metric evidence of one clip ({} when none was stored)."""
        p = self.details_path(sample_id)
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}

    def figure_path(self, kind: Literal["spec", "grid"], ident: str) -> Path:
        """``figures/spec_<sample_id>.png`` or ``figures/grid_<prompt_id>.png``."""
        return self.path / FIGURES / f"{kind}_{ident}.png"

    @property
    def report_path(self) -> Path:
        """``report.html``."""
        return self.path / REPORT

    @property
    def assets_dir(self) -> Path:
        """``assets/``: the report's media."""
        return self.path / ASSETS

    @property
    def votes_path(self) -> Path:
        """``preferences/votes.jsonl``."""
        return self.path / VOTES


def as_run(run: str | Path | RunDir) -> RunDir:
    """``run`` as a :class:`RunDir` (a path is wrapped, not checked)."""
    return run if isinstance(run, RunDir) else RunDir(run)


def list_runs(root: Path | None = None, *, scored: bool = False) -> list[RunDir]:
    """Run folders under ``<root>/runs``, oldest first (``scored``: only those with scores)."""
    runs_dir = (root or results_root()) / RUNS
    if not runs_dir.is_dir():
        return []
    runs = sorted((RunDir(p) for p in runs_dir.iterdir() if p.is_dir()), key=lambda r: r.name)
    return [r for r in runs if r.is_run and (r.is_scored or not scored)]


def latest_run(root: Path | None = None, *, scored: bool = False) -> RunDir:
    """The newest run under ``<root>/runs``; ``FileNotFoundError`` when there is none."""
    runs = list_runs(root, scored=scored)
    if not runs:
        where = (root or results_root()) / RUNS
        raise FileNotFoundError(f"no runs under {where} yet: run `workbench run` first")
    return runs[-1]


def find_run(ref: str | Path, root: Path | None = None, *, key: str = "RUN") -> RunDir:
    """A run named on the command line: a run folder's path, or a run id under ``<root>/runs`` (or a
    part of one that names a single run: its time, its name, its random suffix).

    Raises
    ------
    ConfigError
        When it is neither, with the closest run ids ("did you mean").
    """
    path = Path(ref).expanduser()
    if (path / RUN_JSON).is_file():
        return RunDir(path)
    runs = list_runs(root)
    names = [r.name for r in runs]
    text = str(ref)
    hits = (
        [r for r in runs if r.name == text]
        or [r for r in runs if r.name.startswith(text) or r.name.endswith(text)]
        or [r for r in runs if text in r.name]
    )
    if len(hits) == 1:
        return hits[0]
    where = (root or results_root()) / RUNS
    if len(hits) > 1:
        raise ConfigError(f"{text!r} matches {len(hits)} runs under {where}: {', '.join(r.name for r in hits)}", key=key)
    if not names:
        raise ConfigError(f"no run {text!r}: there are no runs under {where} yet (run `workbench run` first)", key=key)
    raise ConfigError(f"no run {text!r} under {where}{did_you_mean(text, names[::-1])}", key=key)
