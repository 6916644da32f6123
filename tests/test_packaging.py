"""A normal (wheel) install has everything a run needs: every package, the built-in suite, the notebooks.

The notebooks used to live outside the package, so after ``pip install av-workbench`` (not
editable) the report silently failed (``report_error``). The slow test builds the wheel, installs
it into a fresh virtual environment (the dependencies come from this one, without its editable
``workbench``), and runs a tiny comparison with its report from a folder outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _declared_packages() -> set[str]:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    return set(cfg["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_declared() -> None:
    found = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "workbench").rglob("*.py") if "__pycache__" not in p.parts
    }
    assert found - {"workbench.notebooks"} <= _declared_packages(), f"add to pyproject packages: {found - _declared_packages()}"
    assert "workbench.notebooks" in _declared_packages()


@pytest.mark.slow
def test_a_wheel_install_runs_a_comparison_and_writes_its_report(tmp_path: Path) -> None:
    src = tmp_path / "src"  # built from a copy: setuptools writes build/ beside the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "results", "build", "*.egg-info", "__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("av_workbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "workbench/notebooks/compare.ipynb" in names and "workbench/suites/builtin.yaml" in names
    guard = "etc/jupyter/jupyter_server_config.d/av-workbench.json"  # JupyterLab's save guard
    assert f"av_workbench-0.1.0.data/data/{guard}" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # the dependencies: this environment's site-packages as a plain path (its .pth files, the editable
    # hook for this checkout among them, are not processed), after the fresh venv's own
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_") and k != "PYTHONPATH"}
    env.update(WORKBENCH_RESULTS_DIR=str(work / "results"), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")  # nbconvert's templates, with the dependencies
    where = subprocess.run(
        [str(py), "-c", "import workbench, workbench.report.render as r; print(workbench.__file__); print(r.notebooks_dir())"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(w.startswith(str(venv)) for w in where), where  # the installed copy, not this checkout
    assert (venv / guard).is_file()
    # an installed wheel is no checkout: without WORKBENCH_RESULTS_DIR, results go to ~/av-workbench/results
    home_env = {k: v for k, v in env.items() if k != "WORKBENCH_RESULTS_DIR"} | {"HOME": str(tmp_path / "home")}
    root = subprocess.run(
        [str(py), "-c", "import workbench; print(workbench.results_root())"], cwd=work, env=home_env,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert root == str(tmp_path / "home" / "av-workbench" / "results")
    run = subprocess.run(
        [str(venv / "bin" / "workbench"), "run", "--models", "local/synced", "--prompts", "glass-on-table", "-q"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Report failed" not in run.stderr
    (report,) = (work / "results" / "runs").glob("*/report.html")
    assert "local/synced" in report.read_text()
