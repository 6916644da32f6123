"""Exception hierarchy and the failure kinds recorded for cells.

Errors are data per clip (recorded with a reason) and exceptions per config: only
problems that must stop a run before it starts are raised as these exceptions. A provider
call that fails raises :class:`ProviderError`, which the runner turns into a recorded
failure of that one cell.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Why a cell failed (``Sample.kind``; ``ProviderError.kind``).
ErrorKind = Literal[
    "auth",  # the key is missing, wrong or lacks a permission
    "quota",  # out of credit or over a hard quota
    "rate_limit",  # too many requests now (retried)
    "content_policy",  # the prompt was refused
    "safety_filtered",  # the output was withheld by a safety filter
    "not_found",  # unknown or retired model, missing job or file
    "expired",  # the result's download link is gone
    "invalid_request",  # the provider rejected the request's parameters
    "timeout",  # no answer in time (retried for calls; a job past the run's timeout_s is recorded)
    "transient",  # a server or network fault (retried)
    "fatal",  # anything else
    "lost_in_transit",  # accepted, probably billed, and its result never arrived: never resent on its own
    "submit_uncertain",  # sent, its answer lost, and the vendor's lookup did not find the job: never resent on its own
    "corrupt",  # the downloaded file is not valid media
    "no_video",  # the downloaded file has no video stream
    "budget",  # not sent: the run's budget would be exceeded
]
ERROR_KINDS: frozenset[str] = frozenset(get_args(ErrorKind))

#: Failure kinds the runner retries (with backoff, honouring Retry-After).
RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limit", "transient", "timeout"})
#: Failure kinds of a submission that may have been billed: never sent again without ``params.resend_lost``,
#: looked up again by ``--resume``.
UNRESOLVED_KINDS: frozenset[str] = frozenset({"submit_uncertain", "lost_in_transit"})


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """A suite or comparison config is invalid; names the file and the key.

    ``message`` is the bare message; ``str(error)`` prefixes it with ``path: key: ``.
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.message = message
        self.path = path
        self.key = key
        where = ""
        if path:
            where = f"{path}"
            if key:
                where += f": {key}"
            where += ": "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}")

    def rekey(self, *, path: str | None = None, key: str | None = None) -> ConfigError:
        """The same message, located at another file and key (e.g. a config entry that caused it)."""
        return ConfigError(self.message, path=path, key=key)


class ConfigProblems(ConfigError):
    """Several problems found in one pass over a config or suite; ``problems`` holds each one.

    ``str(error)`` lists them one per line, each naming its file and key.
    """

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.message, path=first.path, key=first.key)
        if len(self.problems) > 1:
            where = f"{first.path}: " if first.path and all(p.path == first.path for p in self.problems) else ""
            lines = [str(p) for p in self.problems]
            self.args = (f"{where}{len(lines)} problems:\n  " + "\n  ".join(lines),)


def raise_problems(problems: list[ConfigError]) -> None:
    """Raise the one problem, or every problem at once (:class:`ConfigProblems`); nothing when there is none."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)


class PrerequisiteError(WorkbenchError):
    """Something a run needs before it may start is missing (an API key, a project): nothing ran, nothing was paid.

    ``problems`` lists every one (each naming the model and the environment variable to set).
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n  ".join(self.problems)
        super().__init__(
            f"{len(self.problems)} prerequisite(s) missing; nothing was run or paid for:\n  {lines}"
        )


class MediaError(WorkbenchError):
    """A media file cannot be decoded or lacks a required stream."""


class ParameterError(WorkbenchError):
    """A kernel received input it cannot work with (shape, rate, length)."""


class StoreError(WorkbenchError):
    """The clip store is inconsistent or cannot be written."""


class UnknownModel(WorkbenchError, KeyError):
    """An adapter factory does not know this model id (the registry turns it into a ConfigError with hints)."""


class ProviderError(WorkbenchError):
    """A provider call failed; ``kind`` (an :data:`ErrorKind`) classifies it for the runner.

    ``retry_after`` is the provider's ``Retry-After`` in seconds, ``status`` the HTTP status.
    """

    def __init__(self, kind: ErrorKind, reason: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether the runner should try the same call again."""
        return self.kind in RETRYABLE_KINDS
