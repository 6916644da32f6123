"""Small helpers that keep the notebooks thin.

- :func:`run_comparison_from_params` runs a whole comparison from notebook parameters. A
  Jupyter kernel runs cells inside an asyncio loop, where the runner's ``asyncio.run``
  is not allowed, so it runs in a worker thread.
- :func:`record_outputs` tags an executed notebook with the paths it produced (a display
  output of type :data:`OUTPUTS_MIME`); :func:`read_outputs` finds them again, which is how
  ``workbench batch`` lists each notebook's outputs in its manifest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

OUTPUTS_MIME = "application/vnd.workbench.outputs+json"


def call_in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn`` in a fresh thread (no running event loop there) and return or raise its result."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, name="workbench-call", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_comparison_from_params(
    *,
    name: str,
    suite: str = "builtin",
    prompts: Sequence[str] = (),
    models: Sequence[str] = (),
    repeats: int = 1,
    metrics: Sequence[str] = (),
    seed: int = 0,
    write_report: bool = True,
    results_dir: str = "",
    executor: str = "auto",
    scheduler: str = "",
    workers: int | None = None,
    config: str = "",
) -> Any:
    """Validate the parameters as a comparison config and run it (see :func:`workbench.pipeline.run_comparison`).

    Empty ``prompts``/``metrics`` mean every prompt of the suite / every default analyzer;
    ``executor``, ``scheduler`` and ``workers`` choose where analysis runs, as in a config. With
    ``config`` (a comparison YAML) the file gives everything, its ``executor``, ``scheduler`` and
    ``workers`` included, and only ``write_report`` and ``results_dir`` are taken from here.
    Returns the :class:`~workbench.pipeline.RunResult`.
    """
    from workbench.config import load_config, parse_config
    from workbench.pipeline import run_comparison
    from workbench.rundir import results_root
    from workbench.store import ClipStore

    if config:
        cfg = load_config(config)
    else:
        data: dict[str, Any] = {
            "name": name, "suite": suite, "providers": list(models), "repeats": repeats, "seed": seed,
            "executor": executor, "scheduler": scheduler or None, "workers": workers or None,
        }  # fmt: skip
        if prompts:
            data["prompts"] = list(prompts)
        if metrics:
            data["metrics"] = list(metrics)
        cfg = parse_config(data, source="<notebook parameters>")
    root = Path(results_dir) if results_dir else results_root()
    return call_in_thread(
        run_comparison, cfg, root=root, store=ClipStore(root / "store"), quiet=True, report=write_report
    )


def runs_to_compare(run_dirs: Sequence[str | Path] = (), results_dir: str | Path = "", *, n: int = 2) -> list | None:
    """The runs ``compare_runs.ipynb`` compares: ``run_dirs`` when given, else the ``n`` newest scored runs.

    With fewer than two, shows a note saying what to do (make a second run) and returns None, so
    the notebook ends with that note instead of a traceback.
    """
    from IPython.display import HTML, display

    from workbench.rundir import RUNS, list_runs, results_root

    if run_dirs:
        return list(run_dirs)
    root = Path(results_dir) if results_dir else results_root()
    runs = list_runs(root, scored=True)
    if len(runs) >= n:
        return runs[-n:]
    have = f"one run ({runs[0].name})" if len(runs) == 1 else "no scored run yet"
    display(HTML(
        f"<p><b>Nothing to compare yet</b>: {root / RUNS} has {have}; comparing needs two runs of the same models and "
        "prompts. Make a second one, for example <code>workbench run --repeats 2</code> (a second take of every clip; "
        "the first takes are cache hits), or run again after changing a model, a metric or the suite, then run this "
        "notebook again. To compare particular runs, set <code>run_dirs</code> in the parameters cell.</p>"
    ))  # fmt: skip
    return None


def record_outputs(**paths: str | Path | None) -> None:
    """Display the paths this notebook produced as a machine-readable output (shown as text too)."""
    from IPython.display import display

    data = {k: str(v) for k, v in paths.items() if v is not None}
    text = "\n".join(f"{k}: {v}" for k, v in data.items())
    display({OUTPUTS_MIME: data, "text/plain": text}, raw=True)


def read_outputs(executed: str | Path) -> dict[str, str]:
    """Every path recorded by :func:`record_outputs` in an executed notebook (later ones win)."""
    try:
        nb = json.loads(Path(executed).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []) or []:
            data = o.get("data", {}) if isinstance(o, dict) else {}
            if OUTPUTS_MIME in data and isinstance(data[OUTPUTS_MIME], dict):
                out.update({str(k): str(v) for k, v in data[OUTPUTS_MIME].items()})
    return out
