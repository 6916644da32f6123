"""The creator's working copies of the notebooks, and the guard that keeps the tracked ones output-free.

The notebooks shipped in ``notebooks/`` (``workbench.notebooks``) are templates: papermill runs
them, the tests read them, git tracks them. A creator works on copies under
``<results>/notebooks/`` (git-ignored, beside the runs), which ``workbench explore`` makes and
opens in JupyterLab at the results root:

- :func:`working_copy` copies a template there once (a creator's edits and outputs are kept on
  the next call; ``fresh`` makes it again), with parameters set in an ``injected-parameters``
  cell after the ``parameters`` cell, as papermill does;
- :func:`open_explorer` makes the explorer's copy for one run (``explore_<run id>.ipynb``, the run
  preselected) and the copies of the clip view and the run-over-run notebooks;
- :func:`workbench.ui.savehook.pre_save_hook` is JupyterLab's ``ContentsManager.pre_save_hook`` (set by ``workbench
  explore``, and for any JupyterLab of the environment by the Jupyter config the package
  installs): a template opened directly and saved keeps its outputs out of the file and its
  metadata as it was, so the repository stays clean whatever a creator does; a working copy is
  saved without widget views, whose models die with the kernel (reopened, they would read "Error
  displaying widget: model not found").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench._util import atomic_write_bytes
from workbench.report.render import notebook_path
from workbench.rundir import RunDir, working_notebooks_dir
from workbench.ui.savehook import META
from workbench.version import __version__

#: The notebooks a creator opens by hand (the others are run by papermill).
INTERACTIVE = ("explore.ipynb", "clip_detail.ipynb", "compare_runs.ipynb")
INJECTED_TAG = "injected-parameters"


def working_copy(
    name: str,
    *,
    root: Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    stem: str | None = None,
    fresh: bool = False,
) -> Path:
    """``<results>/notebooks/<stem>.ipynb``: a working copy of the bundled notebook ``name``.

    Made once: an existing copy (with the creator's edits and outputs) is returned as it is unless
    ``fresh``. ``parameters`` are set in a cell tagged ``injected-parameters`` right after the
    ``parameters`` cell (values written with ``repr``).
    """
    import nbformat

    dst = working_notebooks_dir(root) / f"{stem or Path(name).stem}.ipynb"
    if dst.is_file() and not fresh:
        return dst
    nb = nbformat.read(notebook_path(name), as_version=4)
    if parameters:
        lines = ["# Parameters set by `workbench explore` (they override the cell above)"]
        lines += [f"{k} = {v!r}" for k, v in parameters.items()]
        cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
        at = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0)
        nb.cells.insert(at, cell)
    nb.metadata[META] = {"working_copy": True, "template": name, "workbench_version": __version__}
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dst, (nbformat.writes(nb) + "\n").encode())
    os.chmod(dst, 0o644)
    return dst


def open_explorer(run: RunDir, *, root: Path | None = None, fresh: bool = False) -> Path:
    """The explorer's working copy for ``run`` (preselected), beside copies of the other interactive notebooks.

    The run's folder is written as an absolute path, so the copy finds it from any working
    directory; with a results root other than the default, ``results_dir`` is set too.
    """
    from workbench.rundir import results_root

    run_dir = str(run.path.resolve())
    params: dict[str, Any] = {"run_dir": run_dir}
    elsewhere = root is not None and Path(root).resolve() != results_root().resolve()
    if elsewhere:  # the other notebooks' defaults read the default results root: point them here
        params["results_dir"] = str(Path(root).resolve())
    working_copy("clip_detail.ipynb", root=root, parameters={"run_dir": run_dir} if elsewhere else None)
    working_copy("compare_runs.ipynb", root=root, parameters={"results_dir": params["results_dir"]} if elsewhere else None)
    return working_copy("explore.ipynb", root=root, parameters=params, stem=f"explore_{run.name}", fresh=fresh)
