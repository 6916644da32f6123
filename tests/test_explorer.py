"""The explorer driven from Python: selection, play, mute test, blind A/B, and the Bradley-Terry fit."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.media import load_audio, probe
from workbench.metrics.spec import MetricSpec
from workbench.outputs.preference import (
    agreement,
    append_vote,
    bradley_terry,
    load_votes,
    preference_table,
    votes_path,
)

pytest_plugins = ["nbfixtures"]  # local_run, reported_run


@pytest.fixture
def explorer_root(local_run, tmp_path) -> Path:
    """A private copy of the shared run (votes and mute-test files stay in this test)."""
    root = tmp_path / "results"
    shutil.copytree(local_run, root / "runs" / local_run.name, copy_function=shutil.copy)
    return root


# -- Bradley-Terry -------------------------------------------------------------------------------


def test_bradley_terry_two_models_matches_the_closed_form():
    p, _, ok = bradley_terry(wins=np.array([[0, 6.0], [2.0, 0]]), prior=0.0)
    assert ok and p[0] / p[1] == pytest.approx(3.0, rel=1e-8)  # MLE: p1/p2 = wins1/wins2
    assert np.exp(np.mean(np.log(p))) == pytest.approx(1.0)


def test_bradley_terry_solves_the_likelihood_equations():
    rng = np.random.default_rng(4)
    w = rng.integers(1, 9, size=(4, 4)).astype(float)
    np.fill_diagonal(w, 0)
    p, _, ok = bradley_terry(wins=w, prior=0.0, tol=1e-13)
    n = w + w.T
    expected_wins = (n * p[:, None] / (p[:, None] + p[None, :])).sum(axis=1)
    assert ok and np.allclose(expected_wins, w.sum(axis=1), rtol=1e-8)  # the MLE's score equations


def test_prior_keeps_an_unbeaten_model_finite():
    w = np.array([[0, 5.0, 5.0], [0, 0, 3.0], [0, 1.0, 0]])
    p, _, ok = bradley_terry(wins=w, prior=1.0)
    assert ok and np.all(np.isfinite(np.log(p))) and p[0] > p[1] > p[2]


def test_ties_count_half_and_order_follows_wins():
    votes = [
        {
            "kind": "ab",
            "left_model": "a",
            "right_model": "b",
            "winner": "left",
            "left_sample": "a1",
            "right_sample": "b1",
        },
        {
            "kind": "ab",
            "left_model": "b",
            "right_model": "c",
            "winner": "tie",
            "left_sample": "b1",
            "right_sample": "c1",
        },
        {
            "kind": "ab",
            "left_model": "c",
            "right_model": "a",
            "winner": "right",
            "left_sample": "c1",
            "right_sample": "a1",
        },
    ]
    t = preference_table(votes)
    assert t["model"].tolist()[0] == "a" and t.set_index("model").loc["b", "ties"] == 1
    assert t.set_index("model").loc["b", "bt_score"] == pytest.approx(t.set_index("model").loc["c", "bt_score"])


def test_agreement_of_a_metric_that_orders_clips_like_the_votes():
    scores = pd.DataFrame({
        "sample_id": ["a1", "b1", "c1", "a1", "b1", "c1"],
        "model": ["a", "b", "c"] * 2,
        "metric": ["good"] * 3 + ["bad"] * 3,
        "value": [3.0, 2.0, 1.0, 3.0, 2.0, 1.0],
    })  # fmt: skip
    specs = {"good": MetricSpec("good", "", True, ""), "bad": MetricSpec("bad", "", False, "")}
    pairs = [("a", "b"), ("b", "c"), ("a", "c")] * 3
    votes = [
        {
            "kind": "ab",
            "left_model": x,
            "right_model": y,
            "left_sample": f"{x}1",
            "right_sample": f"{y}1",
            "winner": "left",
        }
        for x, y in pairs
    ]
    ag = agreement(votes, scores, specs).set_index("metric")
    assert ag.loc["good", "spearman"] == pytest.approx(1.0) and ag.loc["bad", "spearman"] == pytest.approx(-1.0)
    assert ag.loc["good", "vote_agreement"] == 1.0 and ag.loc["bad", "vote_agreement"] == 0.0
    assert ag.loc["good", "n_votes"] == len(votes)


# -- the vote log --------------------------------------------------------------------------------


def _writer(run_dir: str, k: int) -> None:
    for i in range(40):
        append_vote(run_dir, {"kind": "mute", "writer": k, "i": i, "pad": "x" * 300})


def test_concurrent_appends_never_interleave_and_a_torn_line_is_repaired(tmp_path):
    path = votes_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"kind": "ab", "cut by a ki')  # a line torn by a kill
    procs = [mp.get_context("fork").Process(target=_writer, args=(str(tmp_path), k)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    votes = load_votes(tmp_path)
    assert len(votes) == 160 and {(v["writer"], v["i"]) for v in votes} == {(k, i) for k in range(4) for i in range(40)}
    assert len({v["id"] for v in votes}) == 160


# -- the explorer ----------------------------------------------------------------------------------


def test_explorer_selects_plays_and_mute_tests(explorer_root, nb):
    PROMPTS, MODELS = nb.PROMPTS, nb.MODELS
    from workbench.ui.explorer import Explorer

    ex = Explorer(results_dir=explorer_root, seed=7, rater="tester")
    run_dir = ex.run_dir
    assert ex.prompt_select.value == PROMPTS[0] and ex.model_select.value == MODELS
    assert len(ex.cards) == len(MODELS)
    # select the prompt and two models as the dropdowns would
    ex.prompt_select.value = PROMPTS[1]
    ex.model_select.value = MODELS[:2]
    assert [c["sample"].model for c in ex.cards] == list(MODELS[:2])
    assert all(c["sample"].prompt_id == PROMPTS[1] for c in ex.cards)
    first = ex.cards[0]
    assert first["video"].value == (run_dir / first["sample"].clip).read_bytes()
    ex.play_button.click()
    assert ex.play_count == 1 and all(c["video"].autoplay and c["video"].value for c in ex.cards)

    # mute test: muted picture, then the two sounds; answer which fits
    assert not (run_dir / "mute_test").exists()  # nothing is written before the test is looked at
    ex.tabs.selected_index = 1  # opening the tab loads the muted picture
    assert ex.mute_stage == "muted"
    ex.mute_buttons["muted"].click()
    muted = ex.mute_file("muted")
    assert ex.mute_stage == "muted" and ex.mute_player.value == muted.read_bytes()
    assert probe(muted).has_video and not probe(muted).has_audio
    pic, other = ex.mute["picture"], ex.mute["other"]
    assert other.model == pic.model and other.prompt_id != pic.prompt_id  # another shot of the same model
    for stage in ("A", "B"):
        ex.mute_buttons[stage].click()
        assert ex.mute_stage == stage and ex.mute_player.value == ex.mute_file(stage).read_bytes()
    swapped_stage = "A" if ex.mute["A"] == "other" else "B"
    swapped = ex.mute_file(swapped_stage)
    assert (
        swapped.parent.name == "mute_test"
        and swapped.name == f"{Path(pic.clip).stem}__with__{Path(other.clip).stem}.mp4"
    )
    y_swap, y_other = load_audio(swapped), load_audio(run_dir / other.clip)
    n = min(len(y_swap), len(y_other))
    assert np.abs(y_swap[:n] - y_other[:n]).max() < 1e-3  # the other shot's sound, copied
    assert abs(probe(swapped).duration_s - probe(run_dir / pic.clip).duration_s) < 0.1  # cut to the picture
    own_stage = "B" if swapped_stage == "A" else "A"
    ex.mute_tags["lips"].value = True
    ex.mute_answers[own_stage].click()
    (vote,) = load_votes(run_dir, kind="mute")
    assert vote["choice"] == "own" and vote["sample_id"] == pic.sample_id and vote["tags"] == ["lips"]
    assert vote["rater"] == "tester" and not ex.mute_tags["lips"].value  # tags reset for the next test
    assert "own" in ex.mute_status.value


def test_blind_ab_votes_give_the_scripted_bradley_terry_order(explorer_root, nb):
    MODELS = nb.MODELS
    from workbench.ui.explorer import Explorer

    ex = Explorer(results_dir=explorer_root, seed=3)
    ex.ab_any_prompt.value = True
    truth = {m: i for i, m in enumerate(MODELS)}  # the creator prefers them in this order
    seen_left, seen_right = set(), set()
    for k in range(30):
        a, b = ex.pair
        assert a.model != b.model and a.prompt_id == b.prompt_id
        assert ex.ab_players["A"].value == (ex.run_dir / a.clip).read_bytes()  # bytes only: no name reaches the page
        seen_left.add(a.model)
        seen_right.add(b.model)
        if k % 10 == 9:
            ex.ab_buttons["tie"].click()
            continue
        better = "A" if truth[a.model] < truth[b.model] else "B"
        if k % 7 == 6:  # the creator sometimes disagrees with themself
            better = "B" if better == "A" else "A"
        if k % 3 == 0:
            ex.ab_tags["voice"].value = True
        ex.ab_buttons[better].click()
        assert "A was" in ex.ab_status.value
    assert seen_left == seen_right == set(MODELS)  # every model shown on both sides: the order is drawn
    votes = load_votes(ex.run_dir, kind="ab")
    assert len(votes) == 30 and sum(v["winner"] == "tie" for v in votes) == 3
    assert any(v["tags"] == ["voice"] for v in votes)
    prefs = ex.preference_frames()["preference"]
    assert prefs["model"].tolist() == list(MODELS)
    assert prefs["bt_score"].is_monotonic_decreasing and prefs["votes"].sum() == 60
    assert "Bradley-Terry" in ex.prefs_html.value and MODELS[0] in ex.prefs_html.value
    # the run's report shows the votes beside the share of usable takes
    from workbench.report.data import ReportData

    html = ReportData(ex.run_dir).preferences_html()
    assert "Creator judgements" in html and "usable takes" in html
    assert json.loads(votes_path(ex.run_dir).read_text().splitlines()[0])["kind"] in ("ab", "mute")
