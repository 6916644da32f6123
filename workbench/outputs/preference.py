"""Creator judgements: blind A/B votes and mute-test answers, and the per-model score they give.

Votes are appended to ``<run>/preferences/votes.jsonl``, one JSON object per line. Each
append takes an exclusive ``flock`` on the file, repairs a line torn by an earlier kill,
writes the whole line with one ``write`` on an ``O_APPEND`` descriptor and ``fsync``s it, so
concurrent writers (two notebooks on one run) never interleave and a crash loses at most
the line being written. Nothing is ever rewritten.

The per-model score is the Bradley-Terry model, P(i beats j) = p_i / (p_i + p_j), fitted by
the minorization-maximization (MM) iteration of Hunter (2004):

    p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j)

where W_i counts i's wins and n_ij the comparisons of i and j. A tie counts half a win to
each side. A prior of ``prior`` virtual ties between every pair of judged models keeps
the estimate finite when a model never (or always) wins and connects the comparison graph.

References
----------
- R. A. Bradley and M. E. Terry, "Rank analysis of incomplete block designs: I. The method
  of paired comparisons", Biometrika 39(3/4), 1952.
- D. R. Hunter, "MM algorithms for generalized Bradley-Terry models", Annals of
  Statistics 32(1), 2004.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench._util import append_jsonl, read_jsonl
from workbench.metrics.spec import MetricSpec
from workbench.rundir import RunDir, as_run

TAGS = ("lips", "room", "foley", "voice", "music")
"""Reasons a creator may tick when choosing a clip."""

MIN_VOTES = 20
"""Decisive A/B votes below which a metric's agreement with them is flagged as too few to judge."""
MIN_MODELS = 5
"""Models below which a rank correlation over models is flagged (with 3, |rho| = 1 one time in 3 by chance)."""

AbChoice = Literal["left", "right", "tie"]
MuteChoice = Literal["own", "other", "unsure"]


def votes_path(run_dir: str | Path | RunDir) -> Path:
    """Where a run's votes are stored."""
    return as_run(run_dir).votes_path


def append_vote(run_dir: str | Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append one vote record (a JSON line) to the run's vote log; return it with id and time.

    Raises
    ------
    ValueError
        If the record has no ``kind``.
    """
    if record.get("kind") not in ("ab", "mute"):
        raise ValueError("a vote needs kind 'ab' or 'mute'")
    rec = {"v": 1, "id": secrets.token_hex(6), "t": datetime.now(UTC).isoformat(timespec="seconds"), **record}
    append_jsonl(votes_path(run_dir), rec)
    return rec


def ab_vote(
    run_dir: str | Path,
    *,
    prompt_id: str,
    left: tuple[str, str],
    right: tuple[str, str],
    winner: AbChoice,
    tags: Sequence[str] = (),
    note: str = "",
    rater: str = "",
) -> dict[str, Any]:
    """Record a blind A/B choice; ``left``/``right`` are ``(sample_id, model)`` as shown."""
    if winner not in ("left", "right", "tie"):
        raise ValueError(f"winner must be left, right or tie, not {winner!r}")
    bad = [t for t in tags if t not in TAGS]
    if bad:
        raise ValueError(f"unknown tags {bad}; known: {', '.join(TAGS)}")
    return append_vote(
        run_dir,
        {
            "kind": "ab", "prompt_id": prompt_id, "left_sample": left[0], "left_model": left[1],
            "right_sample": right[0], "right_model": right[1], "winner": winner, "tags": list(tags),
            "note": note, "rater": rater,
        },
    )  # fmt: skip


def mute_vote(
    run_dir: str | Path,
    *,
    prompt_id: str,
    sample_id: str,
    model: str,
    other_sample: str,
    choice: MuteChoice,
    first: Literal["own", "other"],
    tags: Sequence[str] = (),
    note: str = "",
    rater: str = "",
    other_model: str = "",
    other_prompt: str = "",
    source: str = "",
) -> dict[str, Any]:
    """Record a mute-test answer: which sound fits the picture (``first`` = which was played first).

    ``other_model`` and ``other_prompt`` say where the other sound came from (hidden from the
    creator until the answer); ``source`` how it was drawn (``same-prompt``: another model's take
    of the same shot; ``same-model``: the same model, another prompt; ``any``).
    """
    if choice not in ("own", "other", "unsure"):
        raise ValueError(f"choice must be own, other or unsure, not {choice!r}")
    return append_vote(
        run_dir,
        {
            "kind": "mute", "prompt_id": prompt_id, "sample_id": sample_id, "model": model,
            "other_sample": other_sample, "other_model": other_model, "other_prompt": other_prompt,
            "source": source, "choice": choice, "first": first, "tags": list(tags), "note": note, "rater": rater,
        },
    )  # fmt: skip


def load_votes(run_dir: str | Path, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every readable vote of a run (a line cut by a kill is skipped), optionally of one kind."""
    votes = read_jsonl(votes_path(run_dir))
    return [v for v in votes if kind is None or v.get("kind") == kind]


# -- Bradley-Terry ----------------------------------------------------------------------------


def bradley_terry(
    *,
    wins: np.ndarray,
    prior: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, int, bool]:
    """Bradley-Terry strengths from a win matrix by Hunter's MM iteration.

    Parameters
    ----------
    wins : np.ndarray, shape (n, n)
        ``wins[i, j]`` = times i was preferred to j (ties entered as 0.5 to each side).
    prior : float
        Virtual ties added between every pair (0 = plain maximum likelihood, which diverges
        when a model never wins).
    tol : float
        Stop when no log-strength moves more than this.
    max_iter : int

    Returns
    -------
    strength : np.ndarray, shape (n,)
        p_i normalised to geometric mean 1.
    iterations : int
    converged : bool
    """
    w = np.asarray(wins, dtype=float)
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"wins must be square, got {w.shape}")
    if n == 0:
        return np.zeros(0), 0, True
    w = w + (prior / 2.0) * (1.0 - np.eye(n))
    games = w + w.T
    total = w.sum(axis=1)
    p = np.ones(n)
    for it in range(1, max_iter + 1):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = np.where(denom > 0, total / np.where(denom > 0, denom, 1.0), p)
        new = np.maximum(new, 1e-300)
        new /= np.exp(np.mean(np.log(new)))
        step = np.max(np.abs(np.log(new) - np.log(p)))
        p = new
        if step < tol:
            return p, it, True
    return p, max_iter, False


def ab_outcomes(votes: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, float]]:
    """A/B votes as ``(model_a, model_b, score of a)``: 1 win, 0 loss, 0.5 tie."""
    out = []
    for v in votes:
        if v.get("kind") != "ab" or v.get("left_model") == v.get("right_model"):
            continue
        s = {"left": 1.0, "right": 0.0, "tie": 0.5}.get(v.get("winner", ""))
        if s is not None:
            out.append((v["left_model"], v["right_model"], s))
    return out


def preference_table(votes: Iterable[Mapping[str, Any]], *, prior: float = 1.0) -> pd.DataFrame:
    """Per-model Bradley-Terry score from A/B votes.

    Columns: ``model``, ``bt_score`` (ln p, mean 0 over models), ``win_prob`` (chance to
    beat a model of average strength, p/(p+1)), ``wins``, ``losses``, ``ties``, ``votes``,
    ``rank`` (1 = preferred). Sorted best first; empty when there are no votes.
    """
    cols = ["model", "bt_score", "win_prob", "wins", "losses", "ties", "votes", "rank"]
    outcomes = ab_outcomes(votes)
    if not outcomes:
        return pd.DataFrame(columns=cols)
    models = sorted({m for a, b, _ in outcomes for m in (a, b)})
    idx = {m: i for i, m in enumerate(models)}
    w = np.zeros((len(models), len(models)))
    counts = {m: [0, 0, 0] for m in models}
    for a, b, s in outcomes:
        w[idx[a], idx[b]] += s
        w[idx[b], idx[a]] += 1.0 - s
        k = 0 if s == 1.0 else (1 if s == 0.0 else 2)
        counts[a][k] += 1
        counts[b][{0: 1, 1: 0, 2: 2}[k]] += 1
    p, _, _ = bradley_terry(wins=w, prior=prior)
    df = pd.DataFrame({
        "model": models,
        "bt_score": np.round(np.log(p), 4),
        "win_prob": np.round(p / (p + 1.0), 4),
        "wins": [counts[m][0] for m in models],
        "losses": [counts[m][1] for m in models],
        "ties": [counts[m][2] for m in models],
    })  # fmt: skip
    df["votes"] = df["wins"] + df["losses"] + df["ties"]
    df = df.sort_values("bt_score", ascending=False, kind="stable").reset_index(drop=True)
    df["rank"] = df["bt_score"].rank(ascending=False, method="min").astype(int)
    return df[cols]


def mute_table(votes: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per model: mute tests answered and the share where the clip's own sound was picked."""
    rows = [v for v in votes if v.get("kind") == "mute"]
    cols = ["model", "tests", "own", "other", "unsure", "own_share"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    t = df.groupby("model")["choice"].value_counts().unstack(fill_value=0)
    for c in ("own", "other", "unsure"):
        if c not in t:
            t[c] = 0
    t["tests"] = t[["own", "other", "unsure"]].sum(axis=1)
    decided = t["own"] + t["other"]
    t["own_share"] = (t["own"] / decided.where(decided > 0)).round(3)
    t.columns.name = None
    return t.reset_index()[cols]


# -- agreement with the automatic metrics -------------------------------------------------------


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (Pearson correlation of average ranks); NaN when undefined."""
    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def spearman_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p-value of Spearman's rho under independence: the share of orderings of ``y`` whose
    |rho| is at least the observed one (every ordering up to 8 models, ties kept; Student's t above)."""
    n = len(x)
    rho = _spearman(x, y)
    if math.isnan(rho):
        return float("nan")
    if n <= 8:
        import itertools

        rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
        perms = ry[np.array(list(itertools.permutations(range(n))))]
        cx = rx - rx.mean()
        cp = perms - perms.mean(axis=1, keepdims=True)
        rhos = (cp @ cx) / (np.sqrt((cp**2).sum(axis=1)) * np.sqrt((cx**2).sum()))
        return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
    from scipy import stats

    t = rho * math.sqrt((n - 2) / max(1e-12, 1 - rho**2))
    return float(2 * stats.t.sf(abs(t), n - 2))


def wilson_interval(k: int, n: int, *, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a proportion k/n; (nan, nan) when n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z**2 / n
    mid = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def caution(n_votes: int, n_models: int, p: float) -> str:
    """Why an agreement row cannot be trusted yet ("" when it has enough votes and models)."""
    out = []
    if n_votes < MIN_VOTES:
        out.append(f"only {n_votes} decisive vote{'s' if n_votes != 1 else ''} (want {MIN_VOTES}+)")
    if n_models < MIN_MODELS and not math.isnan(p):
        out.append(f"{n_models} models: a rank correlation this strong arises by chance with p = {p:.2f}")
    elif n_models < 3:
        out.append(f"{n_models} models: no rank correlation")
    return "; ".join(out)


def agreement(
    votes: Sequence[Mapping[str, Any]],
    scores: pd.DataFrame,
    specs: Mapping[str, MetricSpec],
    *,
    prior: float = 1.0,
) -> pd.DataFrame:
    """How far each metric agrees with the creator's judgements.

    ``spearman``: Spearman rank correlation, over models, between the Bradley-Terry score
    and the metric's per-model aggregate turned so that larger is better (NaN with fewer
    than 3 models or constant ranks), with ``n_models`` and ``spearman_p``, its two-sided
    p-value under independence (:func:`spearman_p`). ``vote_agreement``: share of decisive A/B
    votes in which the metric also prefers the chosen clip (clips the metric cannot tell apart
    or did not score are left out; ``n_votes`` counts the rest), with its 95 % Wilson interval
    ``agreement_ci95``. ``caution`` says why a row cannot be trusted yet: fewer than
    :data:`MIN_VOTES` decisive votes, or fewer than :data:`MIN_MODELS` models.

    Parameters
    ----------
    votes : sequence of vote records
    scores : pd.DataFrame
        Long scores (``scores.csv``): sample_id, model, metric, value.
    specs : mapping of metric name to MetricSpec
    """
    cols = ["metric", "spearman", "n_models", "spearman_p", "vote_agreement", "agreement_ci95", "n_votes", "caution"]
    prefs = preference_table(votes, prior=prior)
    if prefs.empty or scores.empty:
        return pd.DataFrame(columns=cols)
    bt = prefs.set_index("model")["bt_score"]
    decisive = [v for v in votes if v.get("kind") == "ab" and v.get("winner") in ("left", "right")]
    rows = []
    for name, sub in scores[scores["value"].notna()].groupby("metric", sort=False):
        spec = specs.get(name)
        per_clip = spec.oriented(sub.set_index("sample_id")["value"].astype(float)) if spec else None
        if per_clip is None:
            continue
        agg = "mean" if spec is not None and spec.aggregate == "mean" else "median"
        per_model = spec.oriented(sub.groupby("model")["value"].agg(agg).astype(float))
        common = [m for m in bt.index if m in per_model.index]
        x, y = bt[common].to_numpy(), per_model[common].to_numpy()
        rho = _spearman(x, y) if common else float("nan")
        p = spearman_p(x, y) if common else float("nan")
        agree = n = 0
        for v in decisive:
            a, b = v["left_sample"], v["right_sample"]
            if a not in per_clip.index or b not in per_clip.index:
                continue
            va, vb = float(per_clip[a]), float(per_clip[b])
            if math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-12):
                continue
            n += 1
            agree += (va > vb) == (v["winner"] == "left")
        lo, hi = wilson_interval(agree, n)
        rows.append({
            "metric": name, "spearman": round(rho, 3) if not math.isnan(rho) else float("nan"),
            "n_models": len(common), "spearman_p": round(p, 3) if not math.isnan(p) else float("nan"),
            "vote_agreement": round(agree / n, 3) if n else float("nan"),
            "agreement_ci95": f"{lo:.2f}–{hi:.2f}" if n else "", "n_votes": n, "caution": caution(n, len(common), p),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def usable_agreement(prefs: pd.DataFrame, usable: pd.DataFrame) -> tuple[float, int]:
    """Spearman's rho, over models, of the Bradley-Terry score and the share of usable takes, and n models.

    ``prefs`` is :func:`preference_table`'s output; ``usable`` has ``model`` and ``usable_share``.
    """
    both = prefs[["model", "bt_score"]].merge(usable[["model", "usable_share"]], on="model").dropna()
    n = len(both)
    rho = _spearman(both["bt_score"].to_numpy(float), both["usable_share"].to_numpy(float)) if n >= 3 else float("nan")
    return rho, n
