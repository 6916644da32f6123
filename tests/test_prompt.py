"""Prompt rendering and suite validation."""

from __future__ import annotations

import pytest

from workbench.config import default_config
from workbench.errors import ConfigError
from workbench.generate import plan_cells
from workbench.prompt import TEMPLATE_VERSION, Prompt, load_suite, render_prompt, resolve_suite


def test_builtin_suite_covers_the_creator_shots():
    suite = resolve_suite("builtin")
    assert len(suite.prompts) >= 8
    ids = {p.id for p in suite.prompts}
    assert {"kitchen-footsteps", "whisper-closeup", "quiet-street", "glass-on-table", "door-slam"} <= ids
    assert {"office-short-line", "office-long-monologue", "french-line", "dialogue-over-music", "stone-church"} <= ids
    by = {p.id: p for p in suite.prompts}
    assert by["stone-church"].acoustics.space_class() == "large_hall"
    assert by["stone-church"].acoustics.expected_rt60_s()[0] >= 2.0
    assert by["quiet-street"].acoustics.space_class() == "outdoor"
    assert by["kitchen-footsteps"].acoustics.reverb_class() == "medium"  # small but tiled
    assert by["whisper-closeup"].acoustics.reverb_class() == "short"  # small and furnished
    assert by["french-line"].dialogue[0].language == "fr"
    assert by["dialogue-over-music"].music.mode == "under_dialogue"
    long_line = by["office-long-monologue"].dialogue[0].text
    assert len(long_line) > 4 * len(by["office-short-line"].dialogue[0].text)


def test_same_canonical_text_for_every_model():
    cfg = default_config(prompts=["glass-on-table", "french-line"])
    cells = plan_cells(cfg)
    by_prompt: dict[str, set[str]] = {}
    for c in cells:
        by_prompt.setdefault(c.prompt.id, set()).add(c.request.text)
        assert c.request.template_version == TEMPLATE_VERSION
    assert all(len(texts) == 1 for texts in by_prompt.values())
    # ...but every model gets its own cache key
    assert len({c.request.key() for c in cells}) == len(cells)


def test_render_is_stable_and_carries_the_structure():
    p = resolve_suite("builtin").get("glass-on-table")
    text = render_prompt(p)
    assert text == render_prompt(Prompt.model_validate(p.model_dump()))
    assert "Sound effect at 2.5s" in text and "wooden table" in text
    assert "Camera: close-up." in text
    assert "Music: none." in text
    with pytest.raises(ConfigError, match="unknown prompt template"):
        render_prompt(p, template="av-prompt/v0")


def test_free_text_prompt_is_sent_as_is():
    p = Prompt(id="free", text="  A dog barks twice in a garden.  ")
    assert p.canonical_text() == "A dog barks twice in a garden."


def _write(tmp_path, body: str):
    f = tmp_path / "suite.yaml"
    f.write_text(body)
    return f


def test_suite_errors_name_file_and_key(tmp_path):
    f = _write(
        tmp_path,
        "name: s\nprompts:\n  - id: ok-one\n    scene: a room\n  - id: bad-one\n    scene: x\n"
        "    acoustics: {setting: inside}\n",
    )
    with pytest.raises(ConfigError) as ei:
        load_suite(f)
    msg = str(ei.value)
    assert str(f) in msg and "prompts[1] (id=bad-one).acoustics.setting" in msg


def test_suite_typo_and_times_are_caught(tmp_path):
    f = _write(tmp_path, "name: s\nprompts:\n  - id: a\n    scene: x\n    foly: []\n")
    with pytest.raises(ConfigError, match=r"prompts\[0\] \(id=a\)\.foly: Extra inputs are not permitted"):
        load_suite(f)
    f = _write(
        tmp_path,
        "name: s\nprompts:\n  - id: a\n    scene: x\n    duration_s: 4\n"
        "    foley: [{action: a door, sound: slam, at_s: 9}]\n",
    )
    with pytest.raises(ConfigError, match=r"foley\[0\]\.at_s=9.0 is past duration_s=4.0"):
        load_suite(f)
    f = _write(tmp_path, "name: s\nprompts:\n  - {id: a, scene: x}\n  - {id: a, scene: y}\n")
    with pytest.raises(ConfigError, match="duplicate prompt id 'a'"):
        load_suite(f)
    f = _write(tmp_path, "name: s\nprompts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suite(f)
    with pytest.raises(ConfigError, match="file not found"):
        load_suite(tmp_path / "missing.yaml")
