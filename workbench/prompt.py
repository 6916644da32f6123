"""Structured audiovisual prompts, the canonical text template, and prompt suites.

A :class:`Prompt` is data: the picture, the shot size, the acoustic space, ambience,
dialogue lines, foley events and music. :func:`render_prompt` turns it into the one
canonical text (template ``TEMPLATE_VERSION``) that is sent identically to every model.
The structure is also what gives the metrics their targets (expected RT60 range, foley
times, spoken lines).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench._util import did_you_mean
from workbench.errors import ConfigError, raise_problems

TEMPLATE_VERSION = "av-prompt/v1"

Shot = Literal["extreme_close_up", "close_up", "medium_close_up", "medium", "wide", "extreme_wide"]
Reverb = Literal["dead", "short", "medium", "long", "very_long"]
SpaceClass = Literal["dry", "room", "large_hall", "outdoor"]

#: Expected mid-frequency RT60 range (seconds) per reverb class.
#: Sources: metric-methods.md section 5 (isb.ac.th, HyperPhysics, Larson Davis rules of thumb).
RT60_RANGES: dict[str, tuple[float, float]] = {
    "dead": (0.1, 0.3),  # vocal booth, car, heavily treated room
    "short": (0.3, 0.6),  # small furnished living room / bedroom
    "medium": (0.6, 1.2),  # tiled kitchen or bathroom, bare office, classroom
    "long": (1.2, 2.5),  # auditorium, concert hall, large hall
    "very_long": (2.5, 8.0),  # stone church, cathedral
    "outdoor": (0.0, 0.3),  # no diffuse field, only discrete echoes
}

HARD_MATERIALS = ("tile", "stone", "marble", "concrete", "glass", "metal", "brick", "plaster", "ceramic")
SOFT_MATERIALS = ("carpet", "fabric", "curtain", "upholster", "sofa", "book", "cushion", "rug", "foam", "bed")

_SHOT_WORDS = {
    "extreme_close_up": "extreme close-up",
    "close_up": "close-up",
    "medium_close_up": "medium close-up",
    "medium": "medium shot",
    "wide": "wide shot",
    "extreme_wide": "extreme wide shot",
}
_REVERB_WORDS = {
    "dead": "acoustically dead, almost no reverberation",
    "short": "short, soft reverberation",
    "medium": "noticeable reverberation from hard surfaces",
    "long": "long reverberation",
    "very_long": "very long, cavernous reverberation",
}
_LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "ja": "Japanese"}


_M = TypeVar("_M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Acoustics(_Model):
    """The acoustic space the sound should come from."""

    setting: Literal["interior", "exterior"]
    size: Literal["tiny", "small", "medium", "large", "huge"] = "medium"
    materials: tuple[str, ...] = ()
    reverb: Reverb | None = None
    """Explicit reverberation class; derived from size and materials when absent."""
    description: str = ""

    def reverb_class(self) -> str:
        """Reverb class (a key of :data:`RT60_RANGES`), explicit or derived."""
        if self.setting == "exterior":
            return "outdoor"
        if self.reverb is not None:
            return self.reverb
        mats = " ".join(self.materials).lower()
        hard = sum(m in mats for m in HARD_MATERIALS)
        soft = sum(m in mats for m in SOFT_MATERIALS)
        hardness = 1 if hard > soft else (-1 if soft > hard else 0)
        table = {
            "tiny": ("dead", "dead", "short"),
            "small": ("short", "short", "medium"),
            "medium": ("short", "medium", "medium"),
            "large": ("medium", "long", "long"),
            "huge": ("long", "long", "very_long"),
        }
        return table[self.size][hardness + 1]

    def expected_rt60_s(self) -> tuple[float, float]:
        """Expected RT60 range in seconds for this space."""
        return RT60_RANGES[self.reverb_class()]

    def space_class(self) -> SpaceClass:
        """Coarse space class: dry, room, large_hall or outdoor."""
        rc = self.reverb_class()
        if rc == "outdoor":
            return "outdoor"
        if rc == "dead":
            return "dry"
        if rc in ("short", "medium"):
            return "room"
        return "large_hall"


class DialogueLine(_Model):
    """One spoken line."""

    text: str = Field(min_length=1)
    speaker: str = "A"
    language: str = "en"
    delivery: str = ""
    """Delivery or intention, e.g. "whispered", "angry"."""
    start_s: float = Field(default=0.5, ge=0)


Position = Literal["left", "centre", "right"]


class Speaker(_Model):
    """A person who speaks on screen, and where in the frame (a two-shot names both)."""

    name: str = Field(min_length=1)
    """As in the dialogue lines' ``speaker``."""
    position: Position = "centre"
    """Which part of the frame the speaker is in, across."""
    description: str = ""
    """What the speaker looks like, e.g. "a man in a grey jumper"."""


class FoleyEvent(_Model):
    """A sound event with a visible cause at a stated time."""

    action: str = Field(min_length=1)
    """What is seen, e.g. "a glass is set down on a wooden table"."""
    sound: str = Field(min_length=1)
    """What is heard, e.g. "a light glassy knock"."""
    at_s: float = Field(ge=0)
    kind: Literal["impact", "footsteps", "slam", "other"] = "impact"


class Music(_Model):
    """Music in the shot."""

    mode: Literal["none", "under_dialogue", "featured"] = "none"
    description: str = ""


#: The creator's checks (:mod:`workbench.outputs.checks`), in the order tables show them.
CheckName = Literal[
    "lip_sync", "lip_sync_acceptable", "speaking_face", "spoken_line", "foley_timing", "acoustic_match", "mute_test",
    "mix_balance",
]


class LipSyncExpect(_Model):
    """Lip-sync window (ms; audio early / late). Unset: ITU-R BT.1359 detectability (45 / 125)."""

    early_ms: float | None = Field(default=None, gt=0, le=1000)
    late_ms: float | None = Field(default=None, gt=0, le=1000)


class LipSyncAcceptableExpect(_Model):
    """The looser lip-sync window (ms). Unset: ITU-R BT.1359 acceptability (90 / 185)."""

    early_ms: float | None = Field(default=None, gt=0, le=1000)
    late_ms: float | None = Field(default=None, gt=0, le=1000)


class SpeakingFaceExpect(_Model):
    """Whether a face is seen speaking the lines. Unset: the lip-sync metric's confidence threshold
    (z 2.5) and at most a quarter of the speech left to no face before "only one face speaks" fails."""

    min_confidence: float | None = Field(default=None, gt=0, le=20)
    """z of the mouth-speech correlation a face must reach to count as speaking."""
    max_undecided: float | None = Field(default=None, ge=0, le=1)
    """Share of the speech that may go to no face when fewer faces speak than the prompt has speakers."""


class SpokenLineExpect(_Model):
    """The spoken line: how far the words may stray and when the line may start.

    Unset: word error rate 0.75, a quarter of the words missing, the start within 0.5 s of the
    prompt's (the sources are in ``workbench.outputs.checks``).
    """

    max_wer: float | None = Field(default=None, ge=0, le=5)
    max_missing_share: float | None = Field(default=None, ge=0, le=1)
    start_tolerance_s: float | None = Field(default=None, gt=0, le=30)


class FoleyExpect(_Model):
    """Foley window (ms; sound early / late against the visible contact). Unset: 45 / 125."""

    early_ms: float | None = Field(default=None, gt=0, le=2000)
    late_ms: float | None = Field(default=None, gt=0, le=2000)


class AcousticExpect(_Model):
    """The space a clip must sound like. Unset: the prompt's acoustics (class and RT60 range)."""

    rt60_s: tuple[float, float] | None = None
    """Expected RT60 range (s), instead of the one the prompt's reverb class implies."""
    space: SpaceClass | None = None
    """Expected space class, instead of the prompt's."""
    rt60_tolerance: float | None = Field(default=None, ge=0, le=2)
    """Relative margin outside the range before a clip fails (unset: the metric's validated p90 error)."""

    @model_validator(mode="after")
    def _range(self) -> AcousticExpect:
        if self.rt60_s is not None and not 0 <= self.rt60_s[0] < self.rt60_s[1]:
            raise ValueError(f"rt60_s must be [low, high] seconds with 0 <= low < high, got {list(self.rt60_s)}")
        return self


class MuteExpect(_Model):
    """How clearly a clip's own sound must fit its picture: the share of the batch's other sounds it must beat."""

    min_share: float | None = Field(default=None, ge=0, le=1)


class MixExpect(_Model):
    """How far the dialogue must sit over music and ambience (dB)."""

    min_db: float | None = Field(default=None, ge=-20, le=60)


class Expect(_Model):
    """Thresholds of the creator's checks, per comparison or per prompt (``expect:``); unset keeps the default.

    A prompt's ``expect`` wins over the comparison's, field by field. ``skip`` turns checks off.
    """

    lip_sync: LipSyncExpect = LipSyncExpect()
    lip_sync_acceptable: LipSyncAcceptableExpect = LipSyncAcceptableExpect()
    speaking_face: SpeakingFaceExpect = SpeakingFaceExpect()
    spoken_line: SpokenLineExpect = SpokenLineExpect()
    foley_timing: FoleyExpect = FoleyExpect()
    acoustic_match: AcousticExpect = AcousticExpect()
    mute_test: MuteExpect = MuteExpect()
    mix_balance: MixExpect = MixExpect()
    skip: tuple[CheckName, ...] = ()

    def over(self, base: Expect) -> Expect:
        """These expectations laid over ``base``: every field set here wins."""
        merged: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name == "skip":
                merged[name] = tuple(dict.fromkeys((*base.skip, *self.skip)))
                continue
            mine, theirs = getattr(self, name), getattr(base, name)
            merged[name] = theirs.model_copy(update=mine.model_dump(exclude_none=True))
        return Expect.model_validate(merged)


class Prompt(_Model):
    """A structured audiovisual prompt."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    scene: str = ""
    """What is seen."""
    text: str | None = None
    """Free-text prompt; when set it is sent as is (structure still gives the targets)."""
    shot: Shot = "medium"
    acoustics: Acoustics = Acoustics(setting="interior")
    ambience: str = ""
    dialogue: tuple[DialogueLine, ...] = ()
    speakers: tuple[Speaker, ...] = ()
    """The people who speak on screen and where (a two-shot: left and right). Unset: each speaker of
    the dialogue is on screen, the first on the left, the last on the right (one speaker: centre)."""
    foley: tuple[FoleyEvent, ...] = ()
    music: Music = Music()
    duration_s: float = Field(default=8.0, ge=1.0, le=60.0)
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    tags: tuple[str, ...] = ()
    expect: Expect = Expect()
    """Thresholds of the creator's checks for this shot (over the comparison's ``expect``)."""

    @model_validator(mode="after")
    def _check(self) -> Prompt:
        if not self.scene and not self.text:
            raise ValueError("a prompt needs a 'scene' (structured) or a 'text' (free text)")
        for i, line in enumerate(self.dialogue):
            if line.start_s >= self.duration_s:
                raise ValueError(f"dialogue[{i}].start_s={line.start_s} is past duration_s={self.duration_s}")
        for i, ev in enumerate(self.foley):
            if ev.at_s >= self.duration_s:
                raise ValueError(f"foley[{i}].at_s={ev.at_s} is past duration_s={self.duration_s}")
        if self.speakers:
            names = [sp.name for sp in self.speakers]
            if len(set(names)) != len(names):
                raise ValueError(f"speakers: a name is listed twice ({', '.join(names)})")
            places = [sp.position for sp in self.speakers]
            if len(set(places)) != len(places):
                raise ValueError(f"speakers: two speakers in one place ({', '.join(places)})")
            for i, line in enumerate(self.dialogue):
                if line.speaker not in names:
                    raise ValueError(f"dialogue[{i}].speaker={line.speaker!r} is not one of speakers ({', '.join(names)})")
        return self

    def on_screen(self) -> tuple[Speaker, ...]:
        """The speakers with a face on screen, left to right: :attr:`speakers`, or the dialogue's speakers in
        order of their first line (one: centre; two: left and right; three or more: the first three, left,
        centre and right; the others are heard off screen)."""
        order = {"left": 0, "centre": 1, "right": 2}
        if self.speakers:
            return tuple(sorted(self.speakers, key=lambda sp: order[sp.position]))
        names = list(dict.fromkeys(line.speaker for line in self.dialogue))[:3]
        places: dict[int, tuple[Position, ...]] = {1: ("centre",), 2: ("left", "right"), 3: ("left", "centre", "right")}
        return tuple(Speaker(name=n, position=p) for n, p in zip(names, places.get(len(names), ()), strict=True))

    def canonical_text(self) -> str:
        """The canonical text sent to every model (see :func:`render_prompt`)."""
        return render_prompt(self)

    def content_hash(self) -> str:
        """Stable hash of the prompt's data (not its ``expect``: thresholds change no clip and no reading).

        An empty ``speakers`` is left out, so prompts written before it existed keep their hash.
        """
        skip = {"expect"} | (set() if self.speakers else {"speakers"})
        blob = json.dumps(self.model_dump(mode="json", exclude=skip), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fmt_s(t: float) -> str:
    return f"{t:g}s"


def render_prompt(prompt: Prompt, *, template: str = TEMPLATE_VERSION) -> str:
    """Render a prompt to its canonical text with the versioned template.

    The same prompt always gives the same text, whatever model it is sent to.
    """
    if template != TEMPLATE_VERSION:
        raise ConfigError(f"unknown prompt template {template!r}; known: {TEMPLATE_VERSION}", key="template")
    if prompt.text:
        return prompt.text.strip()
    ac = prompt.acoustics
    parts = [f"{prompt.scene.strip().rstrip('.')}.", f"Camera: {_SHOT_WORDS[prompt.shot]}."]
    where = "Exterior" if ac.setting == "exterior" else f"Interior, {ac.size} space"
    if ac.materials:
        where += " with " + ", ".join(ac.materials)
    rc = ac.reverb_class()
    acoustic = where + (f"; {_REVERB_WORDS[rc]}" if rc != "outdoor" else "; open air, no room reverberation")
    if ac.description:
        acoustic += f"; {ac.description.strip().rstrip('.')}"
    parts.append(f"Acoustics: {acoustic}.")
    if prompt.ambience:
        parts.append(f"Ambience: {prompt.ambience.strip().rstrip('.')}.")
    if prompt.speakers:
        place = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
        who = [
            f"{sp.name} {place[sp.position]}" + (f" ({sp.description.strip().rstrip('.')})" if sp.description.strip() else "")
            for sp in prompt.speakers
        ]
        parts.append(f"On screen: {'; '.join(who)}.")
    for line in prompt.dialogue:
        how = ", ".join(x for x in (line.delivery, _LANGUAGES.get(line.language, line.language)) if x)
        parts.append(f'Dialogue at {_fmt_s(line.start_s)}, {line.speaker} ({how}): "{line.text.strip()}"')
    for ev in prompt.foley:
        parts.append(f"Sound effect at {_fmt_s(ev.at_s)}: {ev.action.strip().rstrip('.')}, {ev.sound.strip().rstrip('.')}.")
    if prompt.music.mode == "none":
        parts.append("Music: none.")
    else:
        where_m = "quietly under the dialogue" if prompt.music.mode == "under_dialogue" else "featured"
        desc = f", {prompt.music.description.strip().rstrip('.')}" if prompt.music.description else ""
        parts.append(f"Music: {where_m}{desc}.")
    parts.append(f"Duration: {_fmt_s(prompt.duration_s)}, aspect ratio {prompt.aspect_ratio}. Picture and sound together.")
    return "\n".join(parts)


class PromptSuite(_Model):
    """A named, versioned list of prompts (a YAML file)."""

    name: str
    version: str = "1"
    description: str = ""
    prompts: tuple[Prompt, ...] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)

    def get(self, prompt_id: str) -> Prompt:
        """The prompt with this id."""
        for p in self.prompts:
            if p.id == prompt_id:
                return p
        raise ConfigError(
            f"no prompt {prompt_id!r} in suite {self.name!r}{did_you_mean(prompt_id, [p.id for p in self.prompts])}",
            path=self.source,
        )


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    """Turn a pydantic error location into a readable key, naming prompt ids."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            ident = ""
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict) and "id" in node[part]:
                ident = f" (id={node[part]['id']})"
            out += f"[{part}]{ident}"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def validation_to_config_error(exc: ValidationError, *, path: str, data: Any) -> ConfigError:
    """Turn a pydantic error into a :class:`ConfigError` naming the file and every bad key."""
    lines = []
    for err in exc.errors():
        key = _loc(tuple(err["loc"]), data)
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {key or '<top>'}: {msg}")
    first = exc.errors()[0]
    error = ConfigError("invalid:\n  " + "\n  ".join(lines), path=path, key=_loc(tuple(first["loc"]), data))
    error.args = ("\n".join(lines),)
    return error


def validate_mapping(model: type[_M], data: Any, *, source: str, what: str) -> _M:
    """Validate YAML data against ``model`` (with ``source`` set), as a :class:`ConfigError` naming file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a mapping", path=source)
    try:
        return model.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise validation_to_config_error(exc, path=source, data=data) from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader, as a :class:`ConfigError` on failure."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("file not found", path=str(p))
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(p)) from None


def parse_suite(data: Any, *, source: str) -> PromptSuite:
    """Validate suite data (already parsed YAML)."""
    try:
        suite = validate_mapping(PromptSuite, data, source=source, what="a suite (with 'name' and 'prompts')")
    except ConfigError as exc:  # report the duplicate ids too, in the same pass
        raw = data.get("prompts") if isinstance(data, dict) else None
        ids = [p.get("id") if isinstance(p, dict) else None for p in raw] if isinstance(raw, list) else []
        raise_problems([exc, *_duplicate_ids(ids, source)])
        raise
    raise_problems(_duplicate_ids([p.id for p in suite.prompts], source))
    return suite


def _duplicate_ids(ids: list[Any], source: str) -> list[ConfigError]:
    seen: set[Any] = set()
    out = []
    for i, pid in enumerate(ids):
        if pid is not None and pid in seen:
            out.append(ConfigError(f"duplicate prompt id {pid!r}", path=source, key=f"prompts[{i}].id"))
        seen.add(pid)
    return out


def load_suite(path: str | Path) -> PromptSuite:
    """Load and validate a prompt suite YAML file.

    Raises
    ------
    ConfigError
        Naming the file and the key for every problem found.
    """
    return parse_suite(read_yaml(path), source=str(path))


BUILTIN_SUITE = "builtin"


def builtin_suite_path() -> Path:
    """Path of the built-in suite shipped with the package."""
    return Path(str(resources.files("workbench") / "suites" / "builtin.yaml"))


def resolve_suite(ref: str | Path) -> PromptSuite:
    """Load a suite by path, or the built-in one by the name ``builtin``."""
    if str(ref) == BUILTIN_SUITE:
        return load_suite(builtin_suite_path())
    return load_suite(ref)
