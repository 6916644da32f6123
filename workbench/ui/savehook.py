"""JupyterLab's save guard: tracked notebooks stay output-free, working copies lose dead widget views.

:func:`pre_save_hook` is set as ``ContentsManager.pre_save_hook`` by ``workbench explore``; for any
JupyterLab started from the same environment, this module is also a Jupyter server extension,
enabled by the config the package installs (``etc/jupyter/jupyter_server_config.d/av-workbench.json``,
``make install`` for a checkout), that registers the hook. The server imports it at start-up, so
this module imports nothing heavy.

- A template (a notebook of the package's ``notebooks`` folder, tracked by git) opened directly and
  saved keeps no output: unchanged cells and the notebook's metadata are written exactly as they
  are on disk, edited cells without outputs, so saving an unedited template changes no byte.
- A working copy (``metadata.workbench.working_copy``, made by :mod:`workbench.ui.workspace`) is
  saved without widget views, whose models die with the kernel (reopened, they would read "Error
  displaying widget: model not found"); a one-line note says how to show them again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

#: Notebook metadata key of a working copy: ``{"working_copy": true, "template": NAME, ...}``.
META = "workbench"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(The explorer's widgets live only while its kernel runs: Run > Run All Cells shows them again.)\n"
#: Cell metadata JupyterLab adds while a notebook is used (left out of a saved template).
_SESSION_CELL_META = ("execution", "scrolled", "collapsed", "jupyter", "trusted")


def is_template(path: str | Path) -> bool:
    """True for a notebook of the package's ``notebooks`` folder (this one's, or another checkout's)."""
    p = Path(path).resolve()
    if p.parent == Path(str(resources.files("workbench.notebooks"))).resolve():
        return True
    folder = p.parent
    return folder.name == "notebooks" and (folder / "__init__.py").is_file() and (folder.parent / "workbench").is_dir()


def _clean_cell(cell: dict[str, Any]) -> dict[str, Any]:
    out = dict(cell)
    if out.get("cell_type") == "code":
        out["outputs"] = []
        out["execution_count"] = None
    out["metadata"] = {k: v for k, v in (out.get("metadata") or {}).items() if k not in _SESSION_CELL_META}
    return out


def clean_template(incoming: Mapping[str, Any], on_disk: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a template is saved as: the incoming cells without outputs; unchanged cells and the
    notebook's metadata exactly as on disk (so saving an unedited template changes no byte)."""
    nb = dict(incoming)
    disk_cells = {c.get("id"): c for c in (on_disk or {}).get("cells", [])}
    cells = []
    for cell in incoming.get("cells", []):
        old = disk_cells.get(cell.get("id"))
        same = old is not None and old.get("cell_type") == cell.get("cell_type") and _source(old) == _source(cell)
        cells.append(old if same else _clean_cell(cell))
    nb["cells"] = cells
    if on_disk is not None:
        for k in ("metadata", "nbformat", "nbformat_minor"):
            if k in on_disk:
                nb[k] = on_disk[k]
    else:
        nb["metadata"] = {k: v for k, v in (incoming.get("metadata") or {}).items() if k != "widgets"}
    return nb


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def drop_widget_views(nb: dict[str, Any]) -> dict[str, Any]:
    """A working copy as saved: widget views (dead once the kernel stops) become a one-line note."""
    for cell in nb.get("cells", []):
        outs = cell.get("outputs")
        if not outs:
            continue
        kept, dropped = [], False
        for o in outs:
            if isinstance(o, dict) and WIDGET_VIEW in (o.get("data") or {}):
                dropped = True
                continue
            kept.append(o)
        if dropped:
            kept.append({"output_type": "stream", "name": "stdout", "text": WIDGET_NOTE})
        cell["outputs"] = kept
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def pre_save_hook(model: dict[str, Any], path: str = "", contents_manager: Any = None, **_: Any) -> None:
    """JupyterLab's ``ContentsManager.pre_save_hook``: templates stay output-free, working copies lose dead widgets.

    Set with ``--ContentsManager.pre_save_hook=workbench.ui.savehook.pre_save_hook`` (``workbench
    explore`` does) or by the package's Jupyter config (``etc/jupyter/jupyter_server_config.d``).
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    os_path = None
    getter = getattr(contents_manager, "_get_os_path", None)
    if getter is not None:
        try:
            os_path = getter(path)
        except Exception:  # not a file-backed contents manager: nothing to compare with
            os_path = None
    nb = model["content"]
    if os_path is not None and is_template(os_path):
        try:
            on_disk = json.loads(Path(os_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            on_disk = None
        model["content"] = clean_template(nb, on_disk)
    elif isinstance(nb.get("metadata"), dict) and (nb["metadata"].get(META) or {}).get("working_copy"):
        drop_widget_views(nb)


# -- as a Jupyter server extension ---------------------------------------------------------------


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.ui.savehook"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register :func:`pre_save_hook` on the server's contents manager (once)."""
    cm = serverapp.contents_manager
    if cm.pre_save_hook is pre_save_hook or pre_save_hook in getattr(cm, "_pre_save_hooks", []):
        return
    cm.register_pre_save_hook(pre_save_hook)
    serverapp.log.info("workbench: tracked notebooks are saved without outputs (workbench.ui.savehook)")
