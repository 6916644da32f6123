"""The explorer driven from Python: selection, play, mute test, blind A/B, and the Bradley-Terry fit."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import shutil
from collections import Counter
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
    # the player bar drives exactly the shown cards (in the browser: tests/test_firsthour_browser.py)
    bar = ex.play_bar.value
    assert all(f"wb-v-{ex.uid}" in c["video"]._dom_classes for c in ex.cards)
    assert bar.count("<option ") == len(ex.cards) and "Play all in step" in bar and "One at a time" in bar
    assert all(f"{i + 1} · {c['sample'].model}" in bar for i, c in enumerate(ex.cards))

    # mute test: muted picture, then the two sounds; answer which fits
    assert not (run_dir / "mute_test").exists()  # nothing is written before the test is looked at
    ex.tabs.selected_index = 1  # opening the tab loads the muted picture
    assert ex.mute_stage == "muted"
    ex.mute_buttons["muted"].click()
    muted = ex.mute_file("muted")
    assert ex.mute_stage == "muted" and ex.mute_player.value == muted.read_bytes()
    assert probe(muted).has_video and not probe(muted).has_audio
    pic, other = ex.mute["picture"], ex.mute["other"]
    assert other.prompt_id == pic.prompt_id and other.model != pic.model  # another model's take of the same shot
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

    ex = Explorer(results_dir=explorer_root, seed=3, rater="ana")
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


# -- listening tests a researcher would accept ---------------------------------------------------


def _panel_text(widget, skip=()) -> str:
    """Everything a panel shows or sends to the page: HTML, labels, descriptions, values, options (recursively)."""
    import ipywidgets as widgets

    if any(widget is w for w in skip):
        return ""
    out = []
    for attr in ("value", "description", "placeholder", "tooltip"):
        v = getattr(widget, attr, None)
        if isinstance(v, str):
            out.append(v)
    if isinstance(widget, widgets.Dropdown):
        out += [f"{label} {value}" for label, value in widget.options] if widget.options else []
    for child in getattr(widget, "children", ()):
        out.append(_panel_text(child, skip))
    return "\n".join(out)


def test_mute_test_draws_the_other_sound_from_the_same_prompt_hides_it_and_records_it(explorer_root, nb):
    from workbench.ui.explorer import Explorer

    ex = Explorer(results_dir=explorer_root, seed=11, prompt_id=nb.PROMPTS[1])
    ex.tabs.selected_index = 1
    for pic_id, _ in [(v, k) for k, v in ex.mute_clip.options]:
        ex.mute_clip.value = pic_id
        pic, other = ex.mute["picture"], ex.mute["other"]
        assert ex.mute["source"] == "same-prompt"
        assert other.prompt_id == pic.prompt_id and other.model != pic.model  # the same shot, another model's take
        # nothing on the panel names the other sound's clip or model before the answer (the picture
        # dropdown lists every shown clip as a picture to test, whichever sound is drawn against it)
        shown = _panel_text(ex.mute_panel, skip=[ex.mute_clip])
        assert other.sample_id not in shown and other.model not in shown, shown
        assert ex.mute_player.value == ex.mute_file("muted").read_bytes()  # the muted picture, no sound at all
    # a vote needs a rater; with one, the answer reveals the source and records it
    assert ex.mute_answer("A") is None and "rater" in ex.mute_status.value
    assert load_votes(ex.run_dir, kind="mute") == []
    ex.rater_box.value = "ana"
    pic, other = ex.mute["picture"], ex.mute["other"]
    rec = ex.mute_answer("A")
    assert rec["other_sample"] == other.sample_id and rec["other_model"] == other.model
    assert rec["other_prompt"] == pic.prompt_id and rec["source"] == "same-prompt" and rec["rater"] == "ana"
    assert other.model in ex.mute_status.value and "Votes so far: 1 " in ex.summary.value
    # the other sources stay available: the same model's other prompt
    ex.mute_source.value = "same-model"
    pic, other = ex.mute["picture"], ex.mute["other"]
    assert other.model == pic.model and other.prompt_id != pic.prompt_id


def test_mute_test_in_a_one_model_run_falls_back_and_says_so(explorer_root, nb):
    from workbench.rundir import list_runs
    from workbench.ui.explorer import Explorer

    run = list_runs(explorer_root)[0]
    run.write_samples([s for s in run.samples() if s.model == nb.MODELS[0]])  # a run of one model
    ex = Explorer(results_dir=explorer_root, seed=2)
    ex.tabs.selected_index = 1
    pic, other = ex.mute["picture"], ex.mute["other"]
    assert ex.mute["source"] == "same-model" and other.model == pic.model and other.prompt_id != pic.prompt_id
    assert "No clip for “another model, same prompt”" in ex.mute_status.value


def test_blind_ab_shows_the_prompt_never_repeats_a_pair_back_to_back_and_balances_sides(explorer_root, nb):
    from workbench.ui.explorer import Explorer

    ex = Explorer(results_dir=explorer_root, seed=5, prompt_id=nb.PROMPTS[1])
    prompt = next(p for p in ex.data.prompts if p.id == nb.PROMPTS[1])
    assert prompt.title in ex.ab_prompt.value and prompt.canonical_text().splitlines()[0] in ex.ab_prompt.value
    assert ex.ab_vote("A") is None and "rater" in ex.ab_status.value  # no name, no vote
    ex.rater_box.value = "ana"
    shown: list[tuple[str, str]] = []
    for k in range(30):
        a, b = ex.pair
        shown.append((a.sample_id, b.sample_id))
        before = ex.summary.value
        ex.ab_vote("A" if k % 2 else "B")
        assert f"{k + 1} A/B votes in this run, {k + 1} by ana" in ex.ab_status.value  # counts live
        assert before != ex.summary.value and f"Votes so far: {k + 1} " in ex.summary.value
    keys = [frozenset(p) for p in shown]
    assert all(x != y for x, y in itertools.pairwise(keys))  # never the same pair twice in a row
    per_pair = Counter(keys)
    assert len(per_pair) == 3 and max(per_pair.values()) - min(per_pair.values()) <= 1  # 3 models: 3 pairs, 10 each
    for key in per_pair:
        lefts = Counter(a for a, b in shown if frozenset((a, b)) == key)
        assert max(lefts.values()) - min(lefts.values()) <= 1 and len(lefts) == 2  # each clip on the left half the time
    votes = load_votes(ex.run_dir, kind="ab")
    assert len(votes) == 30 and {v["rater"] for v in votes} == {"ana"}
    # a new session on the same run continues the schedule from the recorded votes
    ex2 = Explorer(results_dir=explorer_root, seed=5, prompt_id=nb.PROMPTS[1], rater="bo")
    assert sum(ex2._ab_shown.values()) == 30 + 1  # the 30 votes, and the pair drawn now


def test_a_single_pair_comes_back_and_the_panel_says_why(explorer_root, nb):
    from workbench.ui.explorer import Explorer

    ex = Explorer(results_dir=explorer_root, seed=1, models=list(nb.MODELS[:2]), rater="ana")
    first = frozenset(c.sample_id for c in ex.pair)
    ex.ab_vote("tie")
    assert frozenset(c.sample_id for c in ex.pair) == first and "Only one pair" in ex.ab_prompt.value


def test_agreement_gives_its_n_an_interval_and_a_caution_until_there_are_enough_votes():
    from workbench.outputs.preference import MIN_VOTES, spearman_p, wilson_interval

    models = ["a", "b", "c"]
    scores = pd.DataFrame({
        "sample_id": [f"{m}1" for m in models], "model": models, "metric": ["good"] * 3, "value": [3.0, 2.0, 1.0],
    })  # fmt: skip
    specs = {"good": MetricSpec("good", "", True, "")}
    few = [
        {"kind": "ab", "left_model": x, "right_model": y, "left_sample": f"{x}1", "right_sample": f"{y}1", "winner": "left"}
        for x, y in [("a", "b"), ("b", "c"), ("a", "c")]
    ]
    row = agreement(few, scores, specs).set_index("metric").loc["good"]
    assert row["spearman"] == pytest.approx(1.0) and row["n_models"] == 3 and row["n_votes"] == 3
    assert row["spearman_p"] == pytest.approx(1 / 3, abs=1e-3)  # 2 of the 6 orderings of 3 models give |rho| = 1
    lo, hi = wilson_interval(3, 3)
    assert row["agreement_ci95"] == f"{lo:.2f}–{hi:.2f}" and lo < 0.5  # 3 of 3 says little
    assert "only 3 decisive votes" in row["caution"] and "3 models" in row["caution"]
    # enough votes over enough models: no caution
    models = list("abcdef")
    scores = pd.DataFrame({
        "sample_id": [f"{m}1" for m in models], "model": models, "metric": ["good"] * 6, "value": [6.0, 5, 4, 3, 2, 1],
    })  # fmt: skip
    many = [
        {"kind": "ab", "left_model": x, "right_model": y, "left_sample": f"{x}1", "right_sample": f"{y}1", "winner": "left"}
        for x, y in itertools.combinations(models, 2)
    ] * 2
    row = agreement(many, scores, specs).set_index("metric").loc["good"]
    assert row["n_votes"] == 30 >= MIN_VOTES and row["caution"] == "" and row["spearman_p"] < 0.01
    assert spearman_p(np.arange(6.0), np.arange(6.0)) == pytest.approx(2 / 720)
