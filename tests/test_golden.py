"""Golden output: the built-in suite x three local models, scored in process, against a stored snapshot.

The snapshot (``tests/golden/``) guards every refactoring: the same comparison must give the same
``scores.csv`` and ``leaderboard.csv``. Numbers are compared to 1e-9 relative (the same maths on
another x86 CPU may round the last bit differently); everything else (rows, metrics, reasons, units,
column order) must be identical. After a change that alters results on purpose, regenerate with
``WORKBENCH_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the commit.

The same run checks that a normal run has no analyzer error: analyzers run in strict mode
(``WORKBENCH_STRICT=1``), where an analyzer exception fails the run instead of becoming a reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).parent / "golden"
MODELS = ("local/synced", "local/dubbed", "local/drift")
#: Columns that identify a clip's bytes or time its generation rather than measure it: not compared.
VOLATILE = {"clip_sha256", "latency_s"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.config import default_config
    from workbench.store import ClipStore

    try:
        from workbench.analysis.executor import InProcessExecutor
        from workbench.pipeline import run_comparison
    except ImportError:  # before the split of run.py
        from workbench.executor import InProcessExecutor

        from workbench.pipeline import run_comparison

    tmp = tmp_path_factory.mktemp("golden")
    cfg = default_config(name="golden", providers=list(MODELS))
    old = os.environ.get("WORKBENCH_STRICT")
    os.environ["WORKBENCH_STRICT"] = "1"
    try:
        run_comparison(
            cfg, run_dir=tmp / "run", store=ClipStore(tmp / "store"), quiet=True, report=False,
            executor=InProcessExecutor(),
        )  # fmt: skip
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_STRICT", None)
        else:
            os.environ["WORKBENCH_STRICT"] = old
    return tmp / "run"


def _compare(name: str, got: pd.DataFrame) -> None:
    path = GOLDEN / name
    if os.environ.get("WORKBENCH_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        got.to_csv(path, index=False)
        pytest.skip(f"golden {name} rewritten")
    want = pd.read_csv(path)
    got = pd.read_csv(__import__("io").StringIO(got.to_csv(index=False)))  # same parsing as the snapshot
    assert list(got.columns) == list(want.columns), f"{name}: columns changed"
    assert len(got) == len(want), f"{name}: {len(got)} rows, golden has {len(want)}"
    for col in want.columns:
        if col in VOLATILE:
            continue
        a, b = got[col], want[col]
        if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=f"{name}: {col}")
        else:
            bad = ~((a.astype("string") == b.astype("string")).fillna(False) | (a.isna() & b.isna()))
            assert not bad.any(), f"{name}: column {col} differs:\n{pd.DataFrame({'got': a[bad], 'golden': b[bad]})}"


def test_scores_match_the_golden_snapshot(golden_run: Path) -> None:
    _compare("scores.csv", pd.read_csv(golden_run / "scores.csv"))


def test_leaderboard_matches_the_golden_snapshot(golden_run: Path) -> None:
    _compare("leaderboard.csv", pd.read_csv(golden_run / "leaderboard.csv"))


def test_a_normal_run_has_no_analyzer_error(golden_run: Path) -> None:
    scores = pd.read_csv(golden_run / "scores.csv", dtype={"reason": "string"})
    errors = scores[scores["reason"].fillna("").str.startswith("analyzer error")]
    assert errors.empty, errors[["sample_id", "metric", "reason"]].to_string()
