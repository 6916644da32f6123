"""The creators' explorer: watch clips side by side, run mute tests, vote blind A/B.

:class:`Explorer` builds the ipywidgets UI of ``notebooks/explore.ipynb``; everything the
Python buttons do is a method, so the explorer can be driven (and tested) from Python without a
browser. Votes go to the run folder through :mod:`workbench.outputs.preference`; mute-test media
are remuxed by :mod:`workbench.ui.mutetest`.

Listening that a researcher would accept:

- **Play all** is a small in-page player bar (the browser does the timing): "in step" starts every
  clip at 0 with all but one muted and keeps the others within 80 ms of the one you hear ("sound
  from" switches which); "one at a time" plays them in turn.
- **Mute test**: the other sound is by default another model's take of the *same* prompt (the
  same shot, so picture and sound are plausible together and the question does not answer
  itself); its source is not shown until the answer is given, and is recorded with it.
- **Blind A/B**: the clips are sent to the browser as bytes (no file name), labelled only A and
  B, under the prompt they were made from. The pair shown least so far comes next, never the
  pair just voted on (unless it is the only one); each pair alternates which clip is on the
  left. Every vote records the rater's name (a vote without one is refused), and the counts
  update as votes come in.
"""

from __future__ import annotations

import html
import itertools
import random
import secrets
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import ipywidgets as widgets
import pandas as pd

from workbench.metrics.registry import metric_specs
from workbench.outputs.leaderboard import leaderboard
from workbench.outputs.preference import (
    MIN_MODELS,
    MIN_VOTES,
    TAGS,
    ab_vote,
    agreement,
    load_votes,
    mute_table,
    mute_vote,
    preference_table,
)
from workbench.report.data import ReportData
from workbench.rundir import RunDir, Sample, list_runs, results_root
from workbench.ui.clipdetail import ClipDetail, fig_png
from workbench.ui.mutetest import muted_clip, swapped_clip

CARD_WIDTH = "320px"
MUTE_TAB = 1
#: Where the mute test draws the other sound from: key, label (the first is the default).
MUTE_SOURCES = (
    ("same-prompt", "another model, same prompt"),
    ("same-model", "the same model, another prompt"),
    ("any", "any other clip of the run"),
)
#: Largest offset (s) a clip may drift from the one heard before "in step" pulls it back.
SYNC_TOLERANCE_S = 0.08

# The player bar's script (run from its buttons' handlers: a widget's HTML runs no <script>).
# u: the bar's id; m: sync | one | pause | listen.
_PLAYER_JS = """
var bar = document.getElementById('wb-play-' + u); if (!bar) return;
var vs = Array.prototype.slice.call(document.querySelectorAll('video.wb-v-' + u));
var sel = bar.querySelector('select'); var say = function (t) { bar.querySelector('.wb-state').textContent = t; };
var S = (window.wbPlayers = window.wbPlayers || {}); var s = (S[u] = S[u] || {});
var k = Math.min(parseInt(sel.value || '0', 10) || 0, vs.length - 1);
function stop() { if (s.timer) { clearInterval(s.timer); s.timer = null; }
  vs.forEach(function (v) { v.onended = null; v.pause(); }); }
if (!vs.length) { say('no clips'); return; }
if (m === 'pause') { stop(); s.mode = null; say('paused'); return; }
if (m === 'listen') { if (s.mode === 'sync') { vs.forEach(function (v, i) { v.muted = i !== k; });
  say('in step; sound from ' + sel.options[k].text); } return; }
stop(); s.mode = m;
if (m === 'sync') {
  vs.forEach(function (v, i) { v.muted = i !== k; v.currentTime = 0; });
  vs.forEach(function (v) { var p = v.play(); if (p && p.catch) p.catch(function () {}); });
  s.timer = setInterval(function () {
    var lead = vs[Math.min(parseInt(sel.value || '0', 10) || 0, vs.length - 1)];
    if (lead.paused || lead.ended) { vs.forEach(function (v) { if (v !== lead) v.pause(); });
      if (lead.ended) { clearInterval(s.timer); s.timer = null; s.mode = null; say('done'); } return; }
    vs.forEach(function (v) { if (v === lead || v.ended) return;
      if (v.duration && lead.currentTime >= v.duration) return;
      if (Math.abs(v.currentTime - lead.currentTime) > TOL) v.currentTime = lead.currentTime;
      if (v.paused) { var p = v.play(); if (p && p.catch) p.catch(function () {}); } });
  }, 200);
  say('in step; sound from ' + sel.options[k].text);
} else if (m === 'one') {
  var i = 0;
  var next = function () {
    if (s.mode !== 'one') return;
    if (i >= vs.length) { s.mode = null; say('done'); return; }
    var v = vs[i]; vs.forEach(function (w) { w.muted = w !== v; if (w !== v) w.pause(); });
    v.currentTime = 0; v.onended = function () { v.onended = null; i += 1; next(); };
    var p = v.play(); if (p && p.catch) p.catch(function () {});
    say('one at a time: ' + (i + 1) + ' of ' + vs.length + ' (' + sel.options[i].text + ')');
  };
  next();
}
""".replace("TOL", str(SYNC_TOLERANCE_S))


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
        Results root holding ``runs/`` (default: :func:`~workbench.rundir.results_root`, the same from any folder).
    run_dir : str or Path, optional
        The run to open (default: the newest under the results root).
    prompt_id : str, optional
        The prompt to open (default: the run's first).
    models : sequence of str, optional
        Models to show (default: all of the run's).
    seed : int, optional
        Seed of the A/B and mute-test draws (default: random).
    rater : str
        The rater's name, recorded with each vote (editable in the ``rater`` box; votes need one).
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
        self.uid = secrets.token_hex(4)
        self.rater_box = widgets.Text(
            value=rater, description="rater", placeholder="your name (recorded with each vote)",
            layout=widgets.Layout(width="320px"),
        )  # fmt: skip
        self.data: ReportData | None = None
        self._details: dict[str, ClipDetail] = {}
        self._png: dict[str, list[bytes]] = {}
        self.cards: list[dict[str, Any]] = []
        self.pair: tuple[Sample, Sample] | None = None
        self.pair_note = ""
        self._ab_shown: Counter[frozenset[str]] = Counter()
        self._ab_left: Counter[tuple[frozenset[str], str]] = Counter()
        self._last_pair: frozenset[str] | None = None
        self.last_reveal = ""
        self.last_mute_reveal = ""
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
        self.play_bar = widgets.HTML()
        self.summary = widgets.HTML()
        self.prompt_html = widgets.HTML()
        self.clips_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._build_mute()
        self._build_ab()
        self._build_prefs()
        clips_tab = widgets.VBox([self.play_bar, self.prompt_html, self.clips_box])
        self.tabs = widgets.Tab(children=[clips_tab, self.mute_panel, self.ab_panel, self.prefs_panel])
        for i, title in enumerate(["Clips", "Mute test", "Blind A/B", "Preferences"]):
            self.tabs.set_title(i, title)
        self.tabs.observe(
            lambda ch: self.mute_play("muted") if ch["new"] == MUTE_TAB and self.mute_stage is None else None,
            "selected_index",
        )
        controls = widgets.HBox(
            [widgets.VBox([self.run_select, self.prompt_select, self.rater_box]), self.model_select, self.show_button]
        )
        self.widget = widgets.VBox([controls, self.summary, self.tabs])

        self._quiet = False
        if runs:
            self.run_select.value = str(first)
        self.show_button.on_click(lambda _: self.refresh())
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

    @property
    def rater(self) -> str:
        """The name recorded with each vote (the ``rater`` box)."""
        return self.rater_box.value.strip()

    def _load_run(self, *, prompt_id: str | None = None, models: list[str] | tuple[str, ...] | None = None) -> None:
        self._quiet = True
        try:
            self.data = ReportData(self.run_select.value)
            self._details.clear()
            self._png.clear()
            self._seed_pair_counts()
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
        self._update_summary()
        if prompt is not None:
            lo, hi = prompt.acoustics.expected_rt60_s()
            self.prompt_html.value = (
                f"<p><b>{html.escape(prompt.id)}</b> ({html.escape(prompt.acoustics.space_class())}, expected RT60 {lo:g}-{hi:g} s). "
                "Red dashed: prompted foley; green: prompted dialogue; blue: detected foley.</p>"
                f'<details><summary>prompt text</summary><pre style="white-space:pre-wrap;font-size:11px">'
                f"{html.escape(prompt.canonical_text())}</pre></details>"
            )
        self.cards = [self._card(i, s) for i, s in enumerate(self.clips())]
        self.play_bar.value = self.player_html()
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

    def _update_summary(self) -> None:
        """The line above the tabs: the run, its size, and the votes so far (updated after each vote)."""
        if self.data is None:
            return
        d = self.data
        votes = load_votes(d.run_dir)
        n_ab = sum(v.get("kind") == "ab" for v in votes)
        mine = sum(1 for v in votes if self.rater and v.get("rater") == self.rater)
        by_me = f"; {mine} by {html.escape(self.rater)}" if self.rater else ""
        n_ok = sum(s.status == "ok" for s in d.samples)
        self.summary.value = (
            f"<b>{html.escape(d.run_dir.name)}</b>: {len(d.prompts)} prompts, "
            f"{len(set(s.model for s in d.samples))} models, {n_ok} clips. "
            f"Votes so far: {len(votes)} ({n_ab} blind A/B, {len(votes) - n_ab} mute tests){by_me}."
        )

    def _card(self, index: int, s: Sample) -> dict[str, Any]:
        det = self.detail(s.sample_id)
        if s.sample_id not in self._png:
            self._png[s.sample_id] = self._images(det)
        video = _video(self.run_dir / str(s.clip))
        video.add_class(f"wb-v-{self.uid}")  # the player bar finds the card players by this class
        title = widgets.HTML(
            f"<b>{index + 1} · {html.escape(s.model)}</b> · r{s.repeat}{'' if s.has_audio is not False else ' (no audio)'}"
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

    def player_html(self) -> str:
        """The player bar above the cards: play every clip in step (all muted but the one chosen in
        "sound from", kept within :data:`SYNC_TOLERANCE_S` of it) or one at a time; pause all.

        The browser does the timing: the buttons run :data:`_PLAYER_JS` on the card players (their
        class is ``wb-v-<id>``); a widget's HTML runs no ``<script>``, only its handlers.
        """
        u = self.uid
        if not self.cards:
            return "<p><i>No clips for this prompt and these models.</i></p>"
        call = "(window['wbPlay'+'{u}']||(window['wbPlay'+'{u}']=new Function('u','m',this.closest('.wb-play').dataset.js)))('{u}','{m}')"
        btn = '<button class="wb-{m}" style="margin-right:6px" onclick="{call}">{label}</button>'
        buttons = "".join(
            btn.format(m=m, label=label, call=html.escape(call.format(u=u, m=m), quote=True))
            for m, label in (("sync", "▶ Play all in step"), ("one", "▶ One at a time"), ("pause", "⏸ Pause all"))
        )
        options = "".join(
            f'<option value="{i}">{i + 1} · {html.escape(c["sample"].model)}</option>' for i, c in enumerate(self.cards)
        )
        listen = html.escape(call.format(u=u, m="listen"), quote=True)
        return (
            f'<div class="wb-play" id="wb-play-{u}" data-js="{html.escape(_PLAYER_JS, quote=True)}" '
            'style="display:flex;align-items:center;gap:4px;margin:4px 0">'
            f'{buttons}<label style="margin-left:8px">sound from <select onchange="{listen}">{options}</select></label>'
            '<span class="wb-state" style="margin-left:10px;color:#555;font-size:12px"></span></div>'
        )

    # -- mute test ----------------------------------------------------------------------------

    def _build_mute(self) -> None:
        self.mute_clip = widgets.Dropdown(description="picture", layout=widgets.Layout(width="420px"))
        self.mute_source = widgets.Dropdown(
            description="other sound", options=[(label, key) for key, label in MUTE_SOURCES], value=MUTE_SOURCES[0][0],
            layout=widgets.Layout(width="420px"), style={"description_width": "initial"},
        )  # fmt: skip
        self.mute_player = _video(width="480px")
        self.mute_player.add_class("wb-mute-player")
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
        self.mute_source.observe(lambda _: self._new_mute_test(), "value")
        help_ = widgets.HTML(
            "<p>Watch the picture <b>muted</b> first, then with <b>sound A</b> and <b>sound B</b>: one is the clip's own "
            "sound, the other is drawn from another clip (by default another model's take of the same prompt, so both "
            "are plausible). Order drawn at random; which clip the other sound comes from is shown after you answer. "
            "Which one fits the picture?</p>"
        )
        self.mute_panel = widgets.VBox([
            help_, self.mute_clip, self.mute_source, widgets.HBox(list(self.mute_buttons.values())), self.mute_player,
            widgets.HBox(list(self.mute_answers.values())), tag_row, self.mute_note, self.mute_status,
        ])  # fmt: skip

    def _reset_mute(self) -> None:
        shown = self.clips()
        self._quiet_mute = True
        self.mute_clip.options = [(f"{s.model} · r{s.repeat}", s.sample_id) for s in shown]
        self.mute_clip.value = shown[0].sample_id if shown else None
        self._quiet_mute = False
        self._new_mute_test()

    def mute_candidates(self, picture: Sample, source: str) -> list[Sample]:
        """Clips whose sound may be played against ``picture`` when drawing from ``source``.

        ``same-prompt``: another model's clip of the same prompt (the same shot, so picture and
        sound are plausible together); ``same-model``: the same model's clip of another prompt
        (what the automatic mute-test metric swaps); ``any``: any other clip with sound.
        """
        if self.data is None:
            return []
        others = [
            s
            for s in self.data.samples
            if s.status == "ok" and s.clip and s.has_audio is not False and s.sample_id != picture.sample_id
        ]
        if source == "same-prompt":
            return [s for s in others if s.prompt_id == picture.prompt_id and s.model != picture.model]
        if source == "same-model":
            return [s for s in others if s.model == picture.model and s.prompt_id != picture.prompt_id]
        return others

    def _new_mute_test(self) -> None:
        if getattr(self, "_quiet_mute", False) or self.data is None:
            return
        by_id = {s.sample_id: s for s in self.data.samples}
        pic = by_id.get(self.mute_clip.value)
        if pic is None:
            self.mute = {}
            self.mute_player.value = b""
            return
        wanted = self.mute_source.value
        # the chosen source first; when it has no clip (a one-model run has no other take of the prompt), the next
        source, pool = wanted, self.mute_candidates(pic, wanted)
        for key, _ in MUTE_SOURCES:
            if pool:
                break
            source, pool = key, self.mute_candidates(pic, key)
        other = self.rng.choice(pool) if pool else None
        order = ["own", "other"]
        self.rng.shuffle(order)
        self.mute = {"picture": pic, "other": other, "A": order[0], "B": order[1], "source": source}
        fallback = dict(MUTE_SOURCES)[source] if source != wanted and other is not None else ""
        self.mute_status.value = (
            f"<p><i>No clip for “{html.escape(dict(MUTE_SOURCES)[wanted])}” in this run: the other sound comes from "
            f"{html.escape(fallback)}.</i></p>"
            if fallback
            else ""
        )
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
        if not self.rater:
            self.mute_status.value = "<p><b>Type your name in <i>rater</i> first</b>: every answer is recorded with it.</p>"
            return None
        choice = "unsure" if answer == "unsure" else self.mute[answer]
        pic, other = self.mute["picture"], self.mute["other"]
        rec = mute_vote(
            self.run_dir, prompt_id=pic.prompt_id, sample_id=pic.sample_id, model=pic.model, other_sample=other.sample_id,
            choice=choice, first=self.mute["A"], tags=_take_tags(self.mute_tags), note=self.mute_note.value, rater=self.rater,
            other_model=other.model, other_prompt=other.prompt_id, source=self.mute["source"],
        )  # fmt: skip
        self.mute_note.value = ""
        verdict = {"own": "its own sound ✓", "other": "the other clip's sound ✗", "unsure": "no answer"}[choice]
        own_label = "A" if self.mute["A"] == "own" else "B"
        self.last_mute_reveal = (
            f"Sound {own_label} was the clip's own; the other was {other.model} · {other.prompt_id} · r{other.repeat}. "
            f"You picked {verdict}."
        )
        self._new_mute_test()
        self.mute_status.value = f"<p>{html.escape(self.last_mute_reveal)}</p>" + self.mute_status.value
        self._update_summary()
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
            "<p>Two models' clips for the prompt below; names hidden. The pair shown least so far comes next (never the "
            "one you just judged), each pair alternating sides. Pick the better one (or a tie) and tick why; your vote "
            "is recorded with your name (<i>rater</i>, above). The models are named after your vote.</p>"
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

    def _seed_pair_counts(self) -> None:
        """Start the A/B schedule from the run's recorded votes: pairs already judged come later, and each
        pair's next showing puts on the left the clip that was there less often."""
        self._ab_shown.clear()
        self._ab_left.clear()
        self._last_pair = None
        if self.data is None:
            return
        for v in load_votes(self.data.run_dir, kind="ab"):
            a, b = v.get("left_sample"), v.get("right_sample")
            if a and b:
                key = frozenset((a, b))
                self._ab_shown[key] += 1
                self._ab_left[(key, a)] += 1

    def draw_pair(self) -> tuple[Sample, Sample] | None:
        """The next blind pair: of the pairs shown least so far, one at random, never the pair just shown
        (unless it is the only one); its clips on the sides where each was shown less often."""
        pairs = self.candidate_pairs()
        if not pairs:
            self.pair = None
            for p in self.ab_players.values():
                p.value = b""
            self.ab_prompt.value = "<p><i>Select at least two models with clips for this prompt.</i></p>"
            return None
        keyed = {frozenset((a.sample_id, b.sample_id)): (a, b) for a, b in pairs}
        choices = [k for k in keyed if k != self._last_pair] or list(keyed)
        fewest = min(self._ab_shown[k] for k in choices)
        key = self.rng.choice(sorted((k for k in choices if self._ab_shown[k] == fewest), key=sorted))
        a, b = keyed[key]
        la, lb = self._ab_left[(key, a.sample_id)], self._ab_left[(key, b.sample_id)]
        if lb < la or (la == lb and self.rng.random() < 0.5):
            a, b = b, a
        self._ab_shown[key] += 1
        self._ab_left[(key, a.sample_id)] += 1
        self._last_pair = key
        self.pair = (a, b)
        self.pair_note = (
            "Only one pair for this selection, so it comes back each time: select more models or tick "
            "“draw from every prompt”."
            if len(keyed) == 1
            else ""
        )
        self.ab_players["A"].value = (self.run_dir / a.clip).read_bytes()
        self.ab_players["B"].value = (self.run_dir / b.clip).read_bytes()
        self.ab_prompt.value = self._prompt_box(a.prompt_id) + (
            f"<p><i>{html.escape(self.pair_note)}</i></p>" if self.pair_note else ""
        )
        return self.pair

    def _prompt_box(self, prompt_id: str) -> str:
        """The prompt both clips were made from: its id, title and the canonical text every model received."""
        prompt = next((p for p in self.data.prompts if p.id == prompt_id), None) if self.data else None
        if prompt is None:
            return f"<p>prompt <b>{html.escape(prompt_id)}</b></p>"
        return (
            f'<div class="wb-ab-prompt"><p style="margin:2px 0">prompt <b>{html.escape(prompt.id)}</b>: '
            f"{html.escape(prompt.title)}</p>"
            '<pre style="white-space:pre-wrap;font-size:11px;max-height:140px;overflow:auto;background:#f6f6f6;'
            f'padding:6px;margin:2px 0">{html.escape(prompt.canonical_text())}</pre></div>'
        )

    def ab_vote(self, choice: Literal["A", "B", "tie"]) -> dict[str, Any] | None:
        """Record the vote on the shown pair with the rater's name, reveal the models, draw the next pair.

        Refused (None, and a note in the panel) while the rater's name is empty.
        """
        if self.pair is None:
            return None
        if not self.rater:
            self.ab_status.value = "<p><b>Type your name in <i>rater</i> first</b>: every vote is recorded with it.</p>"
            return None
        a, b = self.pair
        winner = {"A": "left", "B": "right", "tie": "tie"}[choice]
        rec = ab_vote(
            self.run_dir, prompt_id=a.prompt_id, left=(a.sample_id, a.model), right=(b.sample_id, b.model), winner=winner,
            tags=_take_tags(self.ab_tags), note=self.ab_note.value, rater=self.rater,
        )  # fmt: skip
        self.ab_note.value = ""
        self.last_reveal = f"A was {a.model} (r{a.repeat}), B was {b.model} (r{b.repeat}); you chose {choice}."
        votes = load_votes(self.run_dir, kind="ab")
        mine = sum(v.get("rater") == self.rater for v in votes)
        self.ab_status.value = (
            f"<p>{html.escape(self.last_reveal)} <span class=\"wb-ab-count\">{len(votes)} A/B votes in this run, "
            f"{mine} by {html.escape(self.rater)}.</span></p>"
        )
        self.draw_pair()
        self._update_summary()
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
        votes = load_votes(self.run_dir, kind="ab")
        decisive = sum(v.get("winner") in ("left", "right") for v in votes)
        n_models = len(f["preference"])
        warn = ""
        if decisive < MIN_VOTES or n_models < MIN_MODELS:
            warn = (
                f'<p class="wb-caution" style="background:#fcf3cf;padding:4px 8px"><b>Too few votes to judge the '
                f"metrics yet</b>: {decisive} decisive A/B vote{'s' if decisive != 1 else ''} over {n_models} models "
                f"(the agreement needs about {MIN_VOTES} votes and {MIN_MODELS} models before it means much). Each row "
                "gives its n, the 95 % interval of vote_agreement and the chance p of a rank correlation at least this "
                "strong with no relation at all.</p>"
            )
        self.prefs_html.value = (
            "<style>table.wb{border-collapse:collapse;font-size:12px}table.wb td,table.wb th{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
            '<div style="display:flex;gap:24px;flex-wrap:wrap">'
            f"<div><h4>Creator preference (Bradley-Terry)</h4>{table(f['preference'], 'No A/B votes yet.')}</div>"
            f"<div><h4>Usable takes (the checks)</h4>{table(lb, 'No scores.')}</div></div>"
            "<h4>Agreement of each metric with the votes</h4>" + warn + "<p>spearman: rank correlation over n_models "
            "models between the Bradley-Terry score and the metric (oriented so larger is better), spearman_p its chance "
            "level; vote_agreement: share of the n_votes decisive votes where the metric prefers the chosen clip, with "
            f"its 95 % interval.</p>{table(f['agreement'], 'Needs A/B votes and scores.')}"
            f"<h4>Mute test</h4>{table(f['mute'], 'No mute tests yet.')}"
        )

    def show(self) -> widgets.VBox:
        """Display the explorer (in a notebook) and return its root widget."""
        from IPython.display import display

        display(self.widget)
        return self.widget
