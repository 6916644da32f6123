"""The creators' explorer: watch clips side by side, run mute tests, vote blind A/B.

:class:`Explorer` builds the ipywidgets UI of ``notebooks/explore.ipynb``; everything the
buttons do is a method, so the explorer can be driven (and tested) from Python without a
browser. Votes go to the run folder through :mod:`workbench.preference`; mute-test media
are remuxed by :mod:`workbench.mutetest`.

Blindness: in the A/B panel the two clips are sent to the browser as bytes (no file name),
labelled only A and B, and their order is drawn at random; the models are named after the
vote. In the mute test the clip's own sound and the other shot's sound are likewise played
as "sound A" and "sound B" in random order.
"""

from __future__ import annotations

import html
import itertools
import random
from pathlib import Path
from typing import Any, Literal

import ipywidgets as widgets
import pandas as pd

from workbench.metrics.registry import metric_specs
from workbench.outputs.leaderboard import leaderboard
from workbench.outputs.preference import TAGS, ab_vote, agreement, load_votes, mute_table, mute_vote, preference_table
from workbench.report.data import ReportData
from workbench.rundir import RunDir, Sample, list_runs, results_root
from workbench.ui.clipdetail import ClipDetail, fig_png
from workbench.ui.mutetest import muted_clip, swapped_clip

CARD_WIDTH = "320px"
MUTE_TAB = 1


def _video(path: Path | None = None, *, width: str = CARD_WIDTH) -> widgets.Video:
    v = widgets.Video(format="mp4", autoplay=False, loop=False, controls=True, layout=widgets.Layout(width=width))
    if path is not None:
        v.value = path.read_bytes()
    return v


def _tag_row() -> tuple[widgets.HBox, dict[str, widgets.ToggleButton]]:
    toggles = {t: widgets.ToggleButton(description=t, value=False, layout=widgets.Layout(width="70px")) for t in TAGS}
    return widgets.HBox([widgets.Label("why:"), *toggles.values()]), toggles


def _take_tags(toggles: dict[str, widgets.ToggleButton]) -> list[str]:
    tags = [t for t, b in toggles.items() if b.value]
    for b in toggles.values():
        b.value = False
    return tags


class Explorer:
    """Pick a run, a prompt and models; play, mute-test and vote.

    Parameters
    ----------
    results_dir : str or Path, optional
        Results root holding ``runs/`` (default: ``$WORKBENCH_RESULTS_DIR`` or ``./results``).
    run_dir : str or Path, optional
        The run to open (default: the newest under the results root).
    prompt_id : str, optional
        The prompt to open (default: the run's first).
    models : sequence of str, optional
        Models to show (default: all of the run's).
    seed : int, optional
        Seed of the A/B and mute-test draws (default: random).
    rater : str
        Stored with each vote.
    """

    def __init__(
        self,
        *,
        results_dir: str | Path | None = None,
        run_dir: str | Path | None = None,
        prompt_id: str | None = None,
        models: list[str] | tuple[str, ...] | None = None,
        seed: int | None = None,
        rater: str = "",
    ) -> None:
        self.root = Path(results_dir) if results_dir else results_root()
        self.rng = random.Random(seed)
        self.rater = rater
        self.data: ReportData | None = None
        self._details: dict[str, ClipDetail] = {}
        self._png: dict[str, list[bytes]] = {}
        self.play_count = 0
        self.pair: tuple[Sample, Sample] | None = None
        self.last_reveal = ""
        self.mute: dict[str, Any] = {}
        self.mute_stage: str | None = None

        runs = [r.path for r in reversed(list_runs(self.root))]  # newest first
        first = runs[0] if runs else None
        if run_dir is not None:
            first = next((r for r in runs if r.resolve() == Path(run_dir).resolve()), None)
            if first is None:
                first = RunDir.open(run_dir, key="run_dir").path
                runs.insert(0, first)
        self.run_select = widgets.Dropdown(
            description="run", options=[(p.name, str(p)) for p in runs], layout=widgets.Layout(width="480px")
        )
        self.prompt_select = widgets.Dropdown(description="prompt", layout=widgets.Layout(width="320px"))
        self.model_select = widgets.SelectMultiple(description="models", rows=4, layout=widgets.Layout(width="360px"))
        self.show_button = widgets.Button(description="Show", button_style="primary", icon="refresh")
        self.play_button = widgets.Button(description="Play all", icon="play")
        self.summary = widgets.HTML()
        self.prompt_html = widgets.HTML()
        self.clips_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._build_mute()
        self._build_ab()
        self._build_prefs()
        clips_tab = widgets.VBox([widgets.HBox([self.play_button]), self.prompt_html, self.clips_box])
        self.tabs = widgets.Tab(children=[clips_tab, self.mute_panel, self.ab_panel, self.prefs_panel])
        for i, title in enumerate(["Clips", "Mute test", "Blind A/B", "Preferences"]):
            self.tabs.set_title(i, title)
        self.tabs.observe(
            lambda ch: self.mute_play("muted") if ch["new"] == MUTE_TAB and self.mute_stage is None else None,
            "selected_index",
        )
        controls = widgets.HBox(
            [widgets.VBox([self.run_select, self.prompt_select]), self.model_select, self.show_button]
        )
        self.widget = widgets.VBox([controls, self.summary, self.tabs])

        self._quiet = False
        if runs:
            self.run_select.value = str(first)
        self.show_button.on_click(lambda _: self.refresh())
        self.play_button.on_click(lambda _: self.play_all())
        self.run_select.observe(lambda _: None if self._quiet else self._load_run(), "value")
        self.prompt_select.observe(lambda _: self.refresh(), "value")
        self.model_select.observe(lambda _: self.refresh(), "value")
        if runs:
            self._load_run(prompt_id=prompt_id, models=models)
        else:
            self.summary.value = (
                f"<b>No runs under {html.escape(str(self.root))}/runs yet: run <code>workbench run</code> first.</b>"
            )

    # -- selection ----------------------------------------------------------------------------

    def _load_run(self, *, prompt_id: str | None = None, models: list[str] | tuple[str, ...] | None = None) -> None:
        self._quiet = True
        try:
            self.data = ReportData(self.run_select.value)
            self._details.clear()
            self._png.clear()
            ids = [p.id for p in self.data.prompts]
            self.prompt_select.options = ids
            if prompt_id is not None and prompt_id not in ids:
                raise KeyError(f"prompt {prompt_id!r} not in run; known: {', '.join(ids)}")
            self.prompt_select.value = prompt_id or (ids[0] if ids else None)
            all_models = list(dict.fromkeys(s.model for s in self.data.samples))
            self.model_select.options = all_models
            unknown = [m for m in models or () if m not in all_models]
            if unknown:
                raise KeyError(f"models {unknown} not in run; known: {', '.join(all_models)}")
            self.model_select.value = tuple(models) if models else tuple(all_models)
        finally:
            self._quiet = False
        self.refresh()

    def select(
        self,
        *,
        prompt: str | None = None,
        models: list[str] | tuple[str, ...] | None = None,
        run: str | Path | None = None,
    ) -> None:
        """Change the run, prompt and/or models, as the dropdowns would."""
        if run is not None and str(run) != self.run_select.value:
            opts = [v for _, v in self.run_select.options]
            if str(run) not in opts:
                self.run_select.options = [*self.run_select.options, (Path(run).name, str(run))]
            self._quiet = True
            self.run_select.value = str(run)
            self._load_run(prompt_id=prompt, models=models)
            return
        self._quiet = True
        try:
            if prompt is not None:
                self.prompt_select.value = prompt
            if models is not None:
                self.model_select.value = tuple(models)
        finally:
            self._quiet = False
        self.refresh()

    @property
    def run_dir(self) -> Path:
        assert self.data is not None, "no run loaded"
        return self.data.run_dir

    def clips(self, *, prompt_id: str | None = None, models: tuple[str, ...] | None = None) -> list[Sample]:
        """Generated clips of the current prompt and models (with audio or not)."""
        if self.data is None:
            return []
        pid = prompt_id or self.prompt_select.value
        ms = models if models is not None else tuple(self.model_select.value)
        return [s for s in self.data.samples if s.prompt_id == pid and s.model in ms and s.status == "ok" and s.clip]

    def detail(self, sample_id: str) -> ClipDetail:
        """The (cached) :class:`ClipDetail` of a sample."""
        if sample_id not in self._details:
            self._details[sample_id] = ClipDetail(self.run_dir, sample_id)
        return self._details[sample_id]

    # -- clips panel --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild every panel for the current selection."""
        if self._quiet or self.data is None:
            return
        d = self.data
        prompt = next((p for p in d.prompts if p.id == self.prompt_select.value), None)
        n_ok = sum(s.status == "ok" for s in d.samples)
        self.summary.value = (
            f"<b>{html.escape(d.run_dir.name)}</b>: {len(d.prompts)} prompts, "
            f"{len(set(s.model for s in d.samples))} models, {n_ok} clips. Votes so far: {len(load_votes(d.run_dir))}."
        )
        if prompt is not None:
            lo, hi = prompt.acoustics.expected_rt60_s()
            self.prompt_html.value = (
                f"<p><b>{html.escape(prompt.id)}</b> ({html.escape(prompt.acoustics.space_class())}, expected RT60 {lo:g}-{hi:g} s). "
                "Red dashed: prompted foley; green: prompted dialogue; blue: detected foley.</p>"
                f'<details><summary>prompt text</summary><pre style="white-space:pre-wrap;font-size:11px">'
                f"{html.escape(prompt.canonical_text())}</pre></details>"
            )
        self.cards = [self._card(s) for s in self.clips()]
        failed = [
            s
            for s in d.samples
            if s.prompt_id == self.prompt_select.value and s.model in self.model_select.value and s.status != "ok"
        ]
        extra = [
            widgets.HTML(f"<p><b>{html.escape(s.model)}</b> r{s.repeat}: failed: {html.escape(s.reason or '')}</p>")
            for s in failed
        ]
        self.clips_box.children = [c["box"] for c in self.cards] + extra
        self._reset_mute()
        self.draw_pair()
        self.refresh_prefs()

    def _card(self, s: Sample) -> dict[str, Any]:
        det = self.detail(s.sample_id)
        if s.sample_id not in self._png:
            self._png[s.sample_id] = self._images(det)
        video = _video(self.run_dir / str(s.clip))
        title = widgets.HTML(
            f"<b>{html.escape(s.model)}</b> · r{s.repeat}{'' if s.has_audio is not False else ' (no audio)'}"
        )
        imgs = [
            widgets.Image(value=png, format="png", layout=widgets.Layout(width=CARD_WIDTH))
            for png in self._png[s.sample_id]
        ]
        readings = widgets.HTML(det.checks_html() + det.readings_html())
        box = widgets.VBox([title, video, *imgs, readings], layout=widgets.Layout(width="330px", margin="0 8px 8px 0"))
        return {"sample": s, "video": video, "box": box}

    def _images(self, det: ClipDetail) -> list[bytes]:
        """The card's pictures: the run's spectrogram (drawn now if missing) and the evidence strip, if any."""
        spec = RunDir(self.run_dir).figure_path("spec", det.sample_id)
        pngs = [spec.read_bytes() if spec.is_file() else fig_png(det.spectrogram_figure(), dpi=72)]
        ev = det.evidence_figure()
        if ev is not None:
            pngs.append(fig_png(ev, dpi=90))
        return pngs

    def play_all(self) -> None:
        """Start every shown clip (reloads each player with autoplay on)."""
        for c in getattr(self, "cards", []):
            c["video"].autoplay = True
            data = c["video"].value
            c["video"].value = b""
            c["video"].value = data
        self.play_count += 1

    # -- mute test ----------------------------------------------------------------------------

    def _build_mute(self) -> None:
        self.mute_clip = widgets.Dropdown(description="picture", layout=widgets.Layout(width="420px"))
        self.mute_other = widgets.Dropdown(description="other sound", layout=widgets.Layout(width="420px"))
        self.mute_player = _video(width="480px")
        self.mute_buttons = {
            "muted": widgets.Button(description="1 · muted", icon="volume-off"),
            "A": widgets.Button(description="2 · sound A", icon="volume-up"),
            "B": widgets.Button(description="3 · sound B", icon="volume-up"),
        }
        self.mute_answers = {
            "A": widgets.Button(description="A fits", button_style="success"),
            "B": widgets.Button(description="B fits", button_style="success"),
            "unsure": widgets.Button(description="can't tell"),
        }
        tag_row, self.mute_tags = _tag_row()
        self.mute_note = widgets.Text(placeholder="note (optional)", layout=widgets.Layout(width="420px"))
        self.mute_status = widgets.HTML()
        for k, b in self.mute_buttons.items():
            b.on_click(lambda _, k=k: self.mute_play(k))
        for k, b in self.mute_answers.items():
            b.on_click(lambda _, k=k: self.mute_answer(k))
        self.mute_clip.observe(lambda _: self._new_mute_test(), "value")
        self.mute_other.observe(lambda _: self._new_mute_test(keep_other=True), "value")
        help_ = widgets.HTML(
            "<p>Watch the picture <b>muted</b> first, then with <b>sound A</b> and <b>sound B</b>: one is the clip's own "
            "sound, the other another shot's (order drawn at random). Which one fits the picture?</p>"
        )
        self.mute_panel = widgets.VBox([
            help_, self.mute_clip, self.mute_other, widgets.HBox(list(self.mute_buttons.values())), self.mute_player,
            widgets.HBox(list(self.mute_answers.values())), tag_row, self.mute_note, self.mute_status,
        ])  # fmt: skip

    def _reset_mute(self) -> None:
        shown = self.clips()
        self._quiet_mute = True
        self.mute_clip.options = [(f"{s.model} · r{s.repeat}", s.sample_id) for s in shown]
        self.mute_clip.value = shown[0].sample_id if shown else None
        self._quiet_mute = False
        self._new_mute_test()

    def _new_mute_test(self, *, keep_other: bool = False) -> None:
        if getattr(self, "_quiet_mute", False) or self.data is None:
            return
        by_id = {s.sample_id: s for s in self.data.samples}
        pic = by_id.get(self.mute_clip.value)
        if pic is None:
            self.mute = {}
            self.mute_player.value = b""
            return
        others = [
            s
            for s in self.data.samples
            if s.status == "ok" and s.clip and s.has_audio is not False and s.sample_id != pic.sample_id
        ]
        if not keep_other or self.mute_other.value not in {s.sample_id for s in others}:
            same_model = [s for s in others if s.model == pic.model and s.prompt_id != pic.prompt_id]
            pool = same_model or [s for s in others if s.prompt_id != pic.prompt_id] or others
            choice = self.rng.choice(pool) if pool else None
            self._quiet_mute = True
            self.mute_other.options = [(f"{s.prompt_id} · {s.model} · r{s.repeat}", s.sample_id) for s in others]
            self.mute_other.value = choice.sample_id if choice else None
            self._quiet_mute = False
        other = by_id.get(self.mute_other.value)
        order = ["own", "other"]
        self.rng.shuffle(order)
        self.mute = {"picture": pic, "other": other, "A": order[0], "B": order[1]}
        self.mute_status.value = ""
        self.mute_stage = None
        self.mute_player.value = b""
        if self.tabs.selected_index == MUTE_TAB:  # media are made when the test is looked at, not before
            self.mute_play("muted")

    def mute_file(self, stage: str) -> Path:
        """The file played at a mute-test stage: ``muted``, ``A`` or ``B``."""
        pic, other = self.mute["picture"], self.mute["other"]
        if stage == "muted":
            return muted_clip(self.run_dir, pic.clip)
        which = self.mute[stage]
        if which == "own":
            return self.run_dir / pic.clip
        if other is None:
            raise ValueError("no other clip with sound in this run")
        return swapped_clip(self.run_dir, pic.clip, other.clip)

    def mute_play(self, stage: Literal["muted", "A", "B"]) -> None:
        """Load the mute-test player with the picture muted, or with sound A or B, and play it."""
        if not self.mute:
            return
        self.mute_player.autoplay = True
        self.mute_player.value = self.mute_file(stage).read_bytes()
        self.mute_stage = stage

    def mute_answer(self, answer: Literal["A", "B", "unsure"]) -> dict[str, Any] | None:
        """Record which sound fits the picture, reveal it, and set up the next test."""
        if not self.mute or self.mute.get("other") is None:
            return None
        choice = "unsure" if answer == "unsure" else self.mute[answer]
        pic, other = self.mute["picture"], self.mute["other"]
        rec = mute_vote(
            self.run_dir, prompt_id=pic.prompt_id, sample_id=pic.sample_id, model=pic.model, other_sample=other.sample_id,
            choice=choice, first=self.mute["A"], tags=_take_tags(self.mute_tags), note=self.mute_note.value, rater=self.rater,
        )  # fmt: skip
        self.mute_note.value = ""
        verdict = {"own": "its own sound ✓", "other": "the other shot's sound ✗", "unsure": "no answer"}[choice]
        own_label = "A" if self.mute["A"] == "own" else "B"
        msg = f"Sound {own_label} was the clip's own; the other was {html.escape(other.prompt_id)} · {html.escape(other.model)}. You picked {verdict}."
        self._new_mute_test()
        self.mute_status.value = f"<p>{msg}</p>"
        self.refresh_prefs()
        return rec

    # -- blind A/B ----------------------------------------------------------------------------

    def _build_ab(self) -> None:
        self.ab_any_prompt = widgets.Checkbox(description="draw from every prompt", value=False)
        self.ab_players = {"A": _video(width="420px"), "B": _video(width="420px")}
        self.ab_buttons = {
            "A": widgets.Button(description="A is better", button_style="success"),
            "tie": widgets.Button(description="tie"),
            "B": widgets.Button(description="B is better", button_style="success"),
        }
        self.ab_skip = widgets.Button(description="skip pair", icon="forward")
        tag_row, self.ab_tags = _tag_row()
        self.ab_note = widgets.Text(placeholder="note (optional)", layout=widgets.Layout(width="420px"))
        self.ab_status = widgets.HTML()
        self.ab_prompt = widgets.HTML()
        for k, b in self.ab_buttons.items():
            b.on_click(lambda _, k=k: self.ab_vote(k))
        self.ab_skip.on_click(lambda _: self.draw_pair())
        self.ab_any_prompt.observe(lambda _: self.draw_pair(), "value")
        cols = [widgets.VBox([widgets.HTML(f"<h3>{k}</h3>"), p]) for k, p in self.ab_players.items()]
        help_ = widgets.HTML(
            "<p>Two models' clips for the same prompt; names hidden, order random. Pick the better one (or a tie) "
            "and tick why. The models are named after your vote.</p>"
        )
        self.ab_panel = widgets.VBox([
            help_, self.ab_any_prompt, self.ab_prompt, widgets.HBox(cols), widgets.HBox([*self.ab_buttons.values(), self.ab_skip]),
            tag_row, self.ab_note, self.ab_status,
        ])  # fmt: skip

    def candidate_pairs(self) -> list[tuple[Sample, Sample]]:
        """Pairs of clips of different selected models for the same prompt."""
        if self.data is None:
            return []
        prompts = [p.id for p in self.data.prompts] if self.ab_any_prompt.value else [self.prompt_select.value]
        pairs = []
        for pid in prompts:
            shown = self.clips(prompt_id=pid)
            pairs += [(a, b) for a, b in itertools.combinations(shown, 2) if a.model != b.model]
        return pairs

    def draw_pair(self) -> tuple[Sample, Sample] | None:
        """Draw the next blind pair at random (random left/right) and load the players."""
        pairs = self.candidate_pairs()
        if not pairs:
            self.pair = None
            for p in self.ab_players.values():
                p.value = b""
            self.ab_prompt.value = "<p><i>Select at least two models with clips for this prompt.</i></p>"
            return None
        a, b = self.rng.choice(pairs)
        if self.rng.random() < 0.5:
            a, b = b, a
        self.pair = (a, b)
        self.ab_players["A"].value = (self.run_dir / a.clip).read_bytes()
        self.ab_players["B"].value = (self.run_dir / b.clip).read_bytes()
        self.ab_prompt.value = f"<p>prompt <b>{html.escape(a.prompt_id)}</b></p>"
        return self.pair

    def ab_vote(self, choice: Literal["A", "B", "tie"]) -> dict[str, Any] | None:
        """Record the vote on the shown pair, reveal the models, draw the next pair."""
        if self.pair is None:
            return None
        a, b = self.pair
        winner = {"A": "left", "B": "right", "tie": "tie"}[choice]
        rec = ab_vote(
            self.run_dir, prompt_id=a.prompt_id, left=(a.sample_id, a.model), right=(b.sample_id, b.model), winner=winner,
            tags=_take_tags(self.ab_tags), note=self.ab_note.value, rater=self.rater,
        )  # fmt: skip
        self.ab_note.value = ""
        self.last_reveal = f"A was {a.model} (r{a.repeat}), B was {b.model} (r{b.repeat}); you chose {choice}."
        self.ab_status.value = (
            f"<p>{html.escape(self.last_reveal)} {len(load_votes(self.run_dir, kind='ab'))} A/B votes in this run.</p>"
        )
        self.draw_pair()
        self.refresh_prefs()
        return rec

    # -- preferences --------------------------------------------------------------------------

    def _build_prefs(self) -> None:
        self.prefs_refresh = widgets.Button(description="Refresh", icon="refresh")
        self.prefs_html = widgets.HTML()
        self.prefs_refresh.on_click(lambda _: self.refresh_prefs())
        self.prefs_panel = widgets.VBox([self.prefs_refresh, self.prefs_html])

    def preference_frames(self) -> dict[str, pd.DataFrame]:
        """Bradley-Terry table, usable takes per model (the checks), agreement and mute-test tables of the run."""
        votes = load_votes(self.run_dir)
        lb = leaderboard(self.run_dir)[["model", "usable", "takes", "usable_share"]]
        return {
            "preference": preference_table(votes),
            "leaderboard": lb,
            "agreement": agreement(votes, RunDir(self.run_dir).scores(), metric_specs()),
            "mute": mute_table(votes),
        }

    def refresh_prefs(self) -> None:
        """Re-fit the creator's preference and redraw the comparison with the metrics."""
        if self.data is None:
            return
        f = self.preference_frames()

        def table(df: pd.DataFrame, empty: str) -> str:
            return df.to_html(index=False, border=0, na_rep="–", classes="wb") if len(df) else f"<p><i>{empty}</i></p>"

        lb = f["leaderboard"]
        self.prefs_html.value = (
            "<style>table.wb{border-collapse:collapse;font-size:12px}table.wb td,table.wb th{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
            '<div style="display:flex;gap:24px;flex-wrap:wrap">'
            f"<div><h4>Creator preference (Bradley-Terry)</h4>{table(f['preference'], 'No A/B votes yet.')}</div>"
            f"<div><h4>Usable takes (the checks)</h4>{table(lb, 'No scores.')}</div></div>"
            "<h4>Agreement of each metric with the votes</h4><p>spearman: rank correlation over models between the "
            "Bradley-Terry score and the metric (oriented so larger is better); vote_agreement: share of decisive votes "
            f"where the metric prefers the chosen clip.</p>{table(f['agreement'], 'Needs A/B votes and scores.')}"
            f"<h4>Mute test</h4>{table(f['mute'], 'No mute tests yet.')}"
        )

    def show(self) -> widgets.VBox:
        """Display the explorer (in a notebook) and return its root widget."""
        from IPython.display import display

        display(self.widget)
        return self.widget
