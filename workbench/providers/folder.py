"""Bring your own clips: ``folder/<name>`` with ``params: {path: DIR, manifest: FILE}``.

The manifest (YAML, default ``manifest.yaml`` in the folder) maps prompt ids to files,
one per repeat when a list is given::

    model: "My exported model v2"      # shown as the description
    clips:
      kitchen-footsteps: kitchen.mp4
      door-slam: [door_r0.mp4, door_r1.mp4]

"Submitting" looks the clip up, "downloading" reads it. Nothing is paid and no network is
used. The job id is the clip's path relative to the folder. A clip missing from the
manifest fails its cell as ``not_found``. The cache key covers the file's contents: a clip
replaced under the same name (downloaded again) is read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workbench._util import sha256_file
from workbench.errors import ConfigError, ProviderError
from workbench.prompt import Prompt, read_yaml
from workbench.providers.base import Capabilities, GenerationRequest, JobStatus, Provider


class FolderProvider(Provider):
    """Pre-generated clips in a folder, described by a manifest."""

    capabilities: ClassVar[Capabilities] = Capabilities(durations_s=(0.5, 600.0), aspect_ratios=("16:9", "9:16", "1:1"))
    price_per_second_usd: ClassVar[float] = 0.0
    resumable: ClassVar[bool] = True
    max_concurrency: ClassVar[int] = 8

    def __init__(self, name: str, params: Mapping[str, Any]) -> None:
        self.id = f"folder/{name}"  # type: ignore[misc]
        where = f"providers: {self.id}: params"
        unknown = set(params) - {"path", "manifest", "version", "base_url", "timeout_s", "max_concurrency"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: path, manifest, version")
        if not params.get("path"):
            raise ConfigError(f"{where}.path: the clip folder is required")
        self.root = Path(str(params["path"])).expanduser()
        if not self.root.is_dir():
            raise ConfigError(f"{where}.path: folder not found: {self.root}")
        mpath = Path(str(params.get("manifest") or "manifest.yaml")).expanduser()
        self.manifest_path = mpath if mpath.is_absolute() else self.root / mpath
        data = read_yaml(self.manifest_path)
        if not isinstance(data, dict) or not isinstance(data.get("clips"), dict):
            raise ConfigError(
                "a folder manifest needs a 'clips' mapping of prompt id -> file", path=str(self.manifest_path)
            )
        self.clips: dict[str, list[str]] = {}
        for pid, v in data["clips"].items():
            files = [v] if isinstance(v, str) else v
            if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
                raise ConfigError(f"clips.{pid}: a file name or a list of them", path=str(self.manifest_path))
            for f in files:
                p = self.root / f
                if not p.resolve().is_relative_to(self.root.resolve()):
                    raise ConfigError(f"clips.{pid}: {f} is outside the folder", path=str(self.manifest_path))
            self.clips[str(pid)] = files
        self.description = str(data.get("model") or f"clips from {self.root}")  # type: ignore[misc]

    def key_inputs(self, prompt: Prompt) -> dict[str, str]:
        """The SHA-256 of every file listed for the prompt (all repeats), so a replaced clip is read again."""
        out = {}
        for i, f in enumerate(self.clips.get(prompt.id, [])):
            p = self.root / f
            out[f"file{i}"] = sha256_file(p) if p.is_file() else "missing"
        return out

    def _file(self, request: GenerationRequest) -> str:
        files = self.clips.get(request.prompt_id)
        if not files:
            raise ProviderError("not_found", f"no clip for prompt {request.prompt_id!r} in {self.manifest_path.name}")
        if request.repeat >= len(files):
            raise ProviderError("not_found", f"no clip for repeat {request.repeat} of prompt {request.prompt_id!r}")
        return files[request.repeat]

    async def submit(self, request: GenerationRequest, prompt: Prompt) -> str:
        return self._file(request)

    async def poll(self, job_id: str) -> JobStatus:
        if (self.root / job_id).is_file():
            return JobStatus("done")
        return JobStatus("failed", reason=f"clip file missing: {job_id}", kind="not_found")

    async def download(self, job_id: str) -> bytes:
        try:
            return (self.root / job_id).read_bytes()
        except OSError as exc:
            raise ProviderError("not_found", f"cannot read {job_id}: {exc.strerror}") from None


def make_folder(name: str, params: Mapping[str, Any]) -> FolderProvider:
    """Factory for ``folder/<name>``."""
    return FolderProvider(name, params)
