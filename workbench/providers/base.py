"""What a provider adapter is: submit, poll, download, capability check, cost estimate.

Adapters only speak their protocol. Caching, retries, concurrency, budget, journaling and
storing live once, in the runner (:mod:`workbench.generate`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from workbench._util import canonical_json, sha256_hex
from workbench.errors import ErrorKind
from workbench.prompt import TEMPLATE_VERSION, Prompt

#: Params that do not change the output and so stay out of the cache key.
NON_OUTPUT_FIELDS = frozenset(
    {
        "timeout_s",
        "submit_timeout_s",
        "poll_interval_s",
        "max_retries",
        "max_concurrency",
        "base_url",
        "api_base_url",
        "resend_lost",
    }
)
#: Version of the cache key itself. 2: the key covers the adapter's version and what it reads besides
#: the text (the local renderer's structured prompt, the folder importer's file bytes); every binding
#: made under format 1 misses once.
REQUEST_KEY_FORMAT = 2


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a generated clip; :meth:`key` is the generation cache key."""

    provider: str
    prompt_id: str
    text: str
    """The canonical prompt text, identical for every provider."""
    template_version: str = TEMPLATE_VERSION
    duration_s: float = 8.0
    aspect_ratio: str = "16:9"
    seed: int | None = None
    repeat: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    provider_version: str = "1"
    """The adapter's :attr:`Provider.version` (bumped when the adapter changes what it returns)."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Hashes of what the adapter reads besides the text (:meth:`Provider.key_inputs`)."""

    def key(self) -> str:
        """Cache key over the whole request (minus the params in :data:`NON_OUTPUT_FIELDS`)."""
        d = dict(self.__dict__)
        d["params"] = {k: v for k, v in self.params.items() if k not in NON_OUTPUT_FIELDS}
        d["key_format"] = REQUEST_KEY_FORMAT
        return sha256_hex(canonical_json(d).encode())[:32]

    def legacy_key(self) -> str | None:
        """The key format 1 gave this request, when that key still identifies the same clip, else None.

        Format 1 covered the text and params but neither the adapter's version nor its other inputs;
        a request with no other inputs, from an adapter still at version 1, returns the same clip, so
        a clip bound under its old key (perhaps paid for) is still good.
        """
        if self.inputs or self.provider_version != "1":
            return None
        d = {k: v for k, v in self.__dict__.items() if k != "inputs"}
        d["params"] = {k: v for k, v in self.params.items() if k not in NON_OUTPUT_FIELDS}
        return sha256_hex(canonical_json(d).encode())[:32]

    def record(self) -> dict[str, Any]:
        """JSON-able form for provenance."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class JobStatus:
    """The state of a submitted job."""

    state: Literal["pending", "done", "failed"]
    reason: str | None = None
    kind: ErrorKind | None = None
    """Failure class (see :data:`workbench.errors.ErrorKind`)."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts."""

    durations_s: tuple[float, float] = (1.0, 60.0)
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16", "1:1")
    native_audio: bool = True
    seed: bool = True


class Provider(abc.ABC):
    """One model behind one protocol."""

    id: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    price_per_second_usd: ClassVar[float] = 0.0
    #: True when a journaled job id can be polled again after a restart.
    resumable: ClassVar[bool] = True
    #: A synchronous call that is billed once accepted and whose result cannot be fetched again
    #: (LTX): the runner journals each attempt and never sends a lost one again on its own.
    billed_when_lost: ClassVar[bool] = False
    #: Jobs this provider may run at once (the runner enforces it).
    max_concurrency: ClassVar[int] = 2
    #: The adapter's version, part of the cache key: bump it whenever a change to the adapter changes
    #: the clips it returns for the same request (what it sends included), so clips cached before are
    #: not reused.
    version: ClassVar[str] = "1"
    #: A submission may cost money: the runner journals it before sending, and a submission whose
    #: answer was lost is looked up (or recorded as ``submit_uncertain``), never sent again on its own.
    paid: ClassVar[bool] = False
    #: How a lost submission is found again ("" when the vendor offers no way; see :meth:`find_submitted`).
    lookup: ClassVar[str] = ""
    #: Non-empty when the model rewrites or expands the prompt and the vendor offers no off switch.
    prompt_rewrite_note: str = ""

    def key_inputs(self, prompt: Prompt) -> dict[str, str]:
        """Hashes of what the clip depends on besides the request's text and params (part of the cache key).

        Remote models receive only the canonical text, so by default nothing. An adapter that reads
        more (the structured prompt, a file) returns a hash of it.
        """
        return {}

    def validate(self, request: GenerationRequest) -> list[str]:
        """Capability violations for this request (checked before anything is paid)."""
        cap = self.capabilities
        out = []
        lo, hi = cap.durations_s
        if not lo <= request.duration_s <= hi:
            out.append(f"duration {request.duration_s:g}s outside {lo:g}-{hi:g}s")
        if request.aspect_ratio not in cap.aspect_ratios:
            out.append(f"aspect ratio {request.aspect_ratio} not in {', '.join(cap.aspect_ratios)}")
        if not cap.native_audio:
            out.append("model does not generate audio")
        return out

    def prerequisites(self) -> list[str]:
        """What must be in place before a request may be sent (an API key, a project), offline.

        Each problem names what to set (the environment variables, never a value); [] when ready.
        The pre-flight (:func:`workbench.validate.preflight`) asks every model that has clips to
        generate, before anything is sent or paid for.
        """
        return []

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Estimated price in USD."""
        return round(self.price_per_second_usd * request.duration_s, 4)

    @abc.abstractmethod
    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        """Start a job; return its id."""

    @abc.abstractmethod
    async def poll(self, job_id: str) -> JobStatus:
        """The job's current state."""

    @abc.abstractmethod
    async def download(self, job_id: str) -> bytes:
        """The finished clip's bytes."""

    def new_submit_ref(self, request: GenerationRequest) -> str | None:
        """A fresh client reference for the next submission of ``request`` (None: the vendor takes none).

        The runner journals it before sending; an adapter that sends one (Kling's
        ``external_task_id``) finds a submission whose answer was lost by it.
        """
        return None

    async def find_submitted(
        self, request: GenerationRequest, ref: str | None, since: float, exclude: frozenset[str] = frozenset()
    ) -> str | None:
        """The job id a submission sent at ``since`` (epoch seconds) created, if the vendor can tell.

        Called after a submission's answer was lost. Returns None when the vendor's lookup shows
        no such job (yet); raises :class:`ProviderError` when the lookup itself fails or cannot
        tell candidates apart. ``exclude`` lists job ids already known to belong to other cells.
        Only called when :attr:`lookup` is set.
        """
        return None

    def ground_truth(self, job_id: str) -> dict[str, Any] | None:
        """Known ground truth for a clip (local reference models only)."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
