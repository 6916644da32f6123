"""Exception hierarchy.

Errors are data per clip (recorded with a reason) and exceptions per config: only
problems that must stop a run before it starts are raised as these exceptions.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """A suite or comparison config is invalid; names the file and the key."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
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


class MediaError(WorkbenchError):
    """A media file cannot be decoded or lacks a required stream."""


class ParameterError(WorkbenchError):
    """A kernel received input it cannot work with (shape, rate, length)."""


class StoreError(WorkbenchError):
    """The clip store is inconsistent or cannot be written."""
