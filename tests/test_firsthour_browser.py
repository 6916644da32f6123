"""A creator's first hour in a real JupyterLab, driven through Debian's chromium (issue 17).

A fresh clone (this checkout's files, committed into a new git repository in a temporary folder,
with this environment's packages and ``PYTHONPATH`` pointing at the clone) gets a small demo run
with ``workbench run`` started from an unrelated folder. No ``WORKBENCH_RESULTS_DIR`` is set
anywhere: the results root must be found from the package itself. Then, as the README says:

1. ``workbench explore`` starts JupyterLab on a working copy; Run All Cells; the run, its clip
   cards, "play all in step", the mute test (the other sound from the same prompt, named only
   after the answer) and a blind A/B vote make the round trip to ``votes.jsonl``; the notebook is
   saved; ``git status`` of the clone stays clean.
2. A creator who ignores the README opens the tracked ``notebooks/explore.ipynb`` directly,
   runs it and saves it: ``git status`` stays clean.
3. ``clip_detail`` and ``compare_runs`` run from ``notebooks/`` with their default parameters
   (compare_runs says how to make the second run it needs).
4. ``results/index.html`` links the HTML leaderboard, a page of its own.

Screenshots: ``results/test-artifacts/firsthour_*.png`` (git-ignored), and the test's tmp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest_plugins = ["nbfixtures"]  # local_run: its store makes the demo run's clips cache hits

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "results" / "test-artifacts"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
PROMPTS = ("glass-on-table", "office-short-line")
MODELS = ("local/synced", "local/dubbed", "local/generic")
RATER = "Ana Tester"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
    pytest.mark.slow,
]


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=clone, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def clone(tmp_path_factory, local_run) -> dict:
    """A fresh clone of this checkout with one demo run, made from another folder; its environment."""
    base = tmp_path_factory.mktemp("firsthour")
    clone = base / "av-workbench"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (clone / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / f)
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "a fresh clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(clone)  # this environment's packages, the clone's workbench
    # JupyterLab's own state (open tabs, settings) in the test's folder, not the developer's ~/.jupyter
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(base / "lab-workspaces")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(base / "lab-settings")
    where = subprocess.run(
        [sys.executable, "-c", "import workbench; print(workbench.__file__)"], cwd=base, env=env,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where == str(clone / "workbench" / "__init__.py")
    # the clips are those of the session's local run: copy its store so the demo generates nothing
    shutil.copytree(local_run.parents[1] / "store", clone / "results" / "store", copy_function=os.link)
    cfg = base / "demo.yaml"
    cfg.write_text(json.dumps({"name": "demo", "prompts": list(PROMPTS), "providers": list(MODELS), "metrics": ["basic", "lipsync"]}))
    elsewhere = base / "somewhere-else"
    elsewhere.mkdir()
    run = subprocess.run(
        [str(BIN / "workbench"), "run", str(cfg), "-q"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_dir,) = (clone / "results" / "runs").iterdir()
    assert not list(elsewhere.iterdir())  # nothing landed where the command was started
    assert (run_dir / "report.html").is_file()
    return {"clone": clone, "env": env, "run": run_dir, "base": base, "run_out": run.stdout, "run_err": run.stderr}


def test_the_demo_run_prints_a_table_that_fits_and_no_kernel_warning(clone):
    out, err = clone["run_out"], clone["run_err"]
    assert "without encryption" not in err and "IPKernelApp" not in err  # the report's kernel is quiet
    table = out.split("\n\n")[0].splitlines()
    assert table[0].startswith("Usable takes") and table[1].startswith("model")
    assert sorted(line.split()[0] for line in table[2 : 2 + len(MODELS)]) == sorted(MODELS)
    assert max(len(line) for line in table) <= 100, table


# -- JupyterLab -------------------------------------------------------------------------------------


class Lab:
    """A JupyterLab server process (its own process group) and the URL to open."""

    def __init__(self, argv: list[str], cwd: Path, env: dict, url: str | None = None) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        self.lines: list[str] = []
        self.url = url
        found = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"JupyterLab at .*?: (http://\S+)", line)
                if m and self.url is None:
                    self.url = m.group(1)
                if self.url:
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        assert found.wait(120) and self.url, "".join(self.lines)
        base, token = self.url.split("/lab/")[0], self.url.split("token=")[1]
        deadline = time.monotonic() + 180
        while True:  # the address is printed before the server listens: wait until it answers
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines[-40:])
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page, name: str, tmp_path: Path) -> Path:
    out = tmp_path / f"firsthour_{name}.png"
    page.screenshot(path=str(out))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, ARTIFACTS / out.name)
    print(f"screenshot: {ARTIFACTS / out.name}")
    return out


def _run_all(page) -> None:
    """Wait for the notebook and its kernel, and Run > Run All Cells (as a creator would)."""
    page.wait_for_selector(".jp-NotebookPanel", timeout=180_000)
    # the kernel is idle, or JupyterLab asks which kernel to start (then the preselected Python 3 is right)
    page.wait_for_function(
        "() => document.querySelector('.jp-Dialog') || /Idle/.test(document.querySelector('.jp-StatusBar-Widget, "
        "#jp-main-statusbar')?.innerText || '')",
        timeout=180_000,
    )
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.get_by_role("button", name="Select").click()
        page.wait_for_function("() => /Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')", timeout=180_000)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()


@contextlib.contextmanager
def _on_failure(page, lab: Lab, tmp_path: Path):
    """On a failure: a screenshot and the server's last lines, to see what the page showed."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            _shot(page, "FAILED", tmp_path)
        print("".join(lab.lines[-60:]))
        raise


def _save(page, path: Path) -> None:
    """File > Save Notebook, and wait until the file on disk changed and the tab is no longer dirty."""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-item", has_text="File").first.click()
    page.locator(".lm-Menu-item", has_text="Save Notebook").first.click()
    deadline = time.monotonic() + 60
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"{path} was not saved"
        time.sleep(0.2)
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=60_000)


def _videos(page, uid_class: str) -> dict:
    return page.evaluate(
        """(cls) => { const vs = Array.from(document.querySelectorAll('video.' + cls));
        return vs.map(v => ({paused: v.paused, muted: v.muted, t: v.currentTime, ended: v.ended, ready: v.readyState,
                             dur: v.duration})); }""",
        uid_class,
    )


def test_explore_as_the_readme_says_finds_the_run_plays_mute_tests_and_votes(clone, browser, tmp_path):
    c, env, run = clone["clone"], clone["env"], clone["run"]
    head = _git(c, "rev-parse", "HEAD")
    lab = Lab([str(BIN / "workbench"), "explore", "--no-browser"], cwd=c, env=env)
    try:
        assert f"Run: {run.name}" in "".join(lab.lines)
        copy_ = c / "results" / "notebooks" / f"explore_{run.name}.ipynb"
        assert lab.url.endswith(f"/lab/tree/notebooks/{copy_.name}?token={lab.url.split('token=')[1]}")
        page = browser.new_page(viewport={"width": 1400, "height": 1700})
        with _on_failure(page, lab, tmp_path):
            page.goto(lab.url)
            _run_all(page)
            summary = page.locator(".widget-html", has_text="Votes so far").first
            summary.wait_for(timeout=600_000)
            # the run (no environment variable: the clone's results/), and one card per model
            assert run.name in summary.inner_text()
            bar = page.locator(".wb-play").first
            bar.wait_for(timeout=60_000)
            uid = bar.get_attribute("id").removeprefix("wb-play-")
            page.wait_for_function(
                f"() => document.querySelectorAll('video.wb-v-{uid}').length === {len(MODELS)} && "
                f"Array.from(document.querySelectorAll('video.wb-v-{uid}')).every(v => v.readyState >= 1)",
                timeout=120_000,
            )
            for i, m in enumerate(MODELS):
                assert page.locator(".widget-html", has_text=f"{i + 1} · {m}").count() >= 1
            bar.scroll_into_view_if_needed()
            _shot(page, "1_explorer_clips", tmp_path)

            # play all in step: every clip plays, all muted but the one chosen, within the tolerance of it
            bar.locator("button.wb-sync").click()
            page.wait_for_function(
                f"""() => {{ const vs = Array.from(document.querySelectorAll('video.wb-v-{uid}'));
                    return vs.every(v => !v.paused || v.ended) && vs[0].currentTime > 1.0; }}""",
                timeout=60_000,
            )
            state = _videos(page, f"wb-v-{uid}")
            assert [v["muted"] for v in state] == [False] + [True] * (len(MODELS) - 1), state
            lead = state[0]["t"]
            spread = max(abs(v["t"] - lead) for v in state if not v["ended"] and v["t"] < v["dur"])
            assert spread < 0.3, state  # kept in step (the bar corrects drifts above 80 ms every 200 ms)
            bar.locator("select").select_option("1")  # listen to the second clip, the others keep playing muted
            page.wait_for_function(
                f"() => Array.from(document.querySelectorAll('video.wb-v-{uid}')).map(v => v.muted).join() === 'true,false,true'",
                timeout=10_000,
            )
            bar.locator("button.wb-pause").click()
            page.wait_for_function(
                f"() => Array.from(document.querySelectorAll('video.wb-v-{uid}')).every(v => v.paused)", timeout=10_000
            )
            print(f"play all in step: {len(state)} players, spread {spread * 1000:.0f} ms at t={lead:.2f} s")

            # the rater's name, then the mute test
            page.get_by_placeholder("your name (recorded with each vote)").fill(RATER)
            page.get_by_placeholder("your name (recorded with each vote)").press("Enter")
            page.locator(".lm-TabBar-tab", has_text="Mute test").first.click()
            panel = page.locator(".widget-vbox").filter(has_text="Which one fits").last  # the innermost: the panel
            panel.wait_for(timeout=60_000)
            page.wait_for_function(  # opening the tab loads the muted picture
                "() => { const v = document.querySelector('video.wb-mute-player'); return v && v.readyState >= 1 && v.videoWidth > 0; }",
                timeout=60_000,
            )
            text_without_selects = panel.evaluate(
                "el => { const c = el.cloneNode(true); c.querySelectorAll('select').forEach(s => s.remove()); return c.innerText; }"
            )
            assert not any(m in text_without_selects for m in MODELS), text_without_selects  # the other sound is not named
            assert "another model, same prompt" in panel.inner_text().replace("\xa0", " ")  # the default source
            for label in ("2 · sound A", "3 · sound B"):
                panel.get_by_role("button", name=label).click()
            panel.get_by_role("button", name="A fits").click()
            reveal = panel.locator(".widget-html", has_text="was the clip's own").first
            reveal.wait_for(timeout=60_000)
            _shot(page, "2_mute_test_answered", tmp_path)
            votes_file = run / "preferences" / "votes.jsonl"
            (mute,) = [json.loads(x) for x in votes_file.read_text().splitlines()]
            assert mute["kind"] == "mute" and mute["rater"] == RATER and mute["source"] == "same-prompt"
            assert mute["other_prompt"] == mute["prompt_id"] and mute["other_model"] != mute["model"]
            assert mute["other_model"] in reveal.inner_text()  # named once answered

            # blind A/B: the prompt is shown; a vote goes to the run folder and the counts update at once
            page.locator(".lm-TabBar-tab", has_text="Blind A/B").first.click()
            ab_prompt = page.locator(".wb-ab-prompt").first
            ab_prompt.wait_for(timeout=60_000)
            assert "Acoustics:" in ab_prompt.inner_text()  # the canonical text every model received
            page.get_by_role("button", name="A is better").click()
            count = page.locator(".wb-ab-count", has_text=f"1 A/B votes in this run, 1 by {RATER}")
            count.wait_for(timeout=60_000)
            count.scroll_into_view_if_needed()
            page.locator(".widget-html", has_text=f"Votes so far: 2 (1 blind A/B, 1 mute tests); 2 by {RATER}").first.wait_for(
                timeout=30_000
            )
            _shot(page, "3_blind_ab_voted", tmp_path)
            votes = [json.loads(x) for x in votes_file.read_text().splitlines()]
            (ab,) = [v for v in votes if v["kind"] == "ab"]
            assert ab["rater"] == RATER and ab["winner"] == "left" and {ab["left_model"], ab["right_model"]} <= set(MODELS)
            page.locator(".lm-TabBar-tab", has_text="Preferences").first.click()
            page.locator(".wb-caution", has_text="Too few votes").first.wait_for(timeout=30_000)
            assert page.locator("table.wb", has_text=ab["left_model"]).count() >= 1
            _shot(page, "4_preferences", tmp_path)

            # saved: the working copy keeps its outputs but no dead widget view; the repository is untouched
            _save(page, copy_)
            saved = json.loads(copy_.read_text())
            outs = [o for cell in saved["cells"] for o in cell.get("outputs", [])]
            assert outs and not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outs)
            assert any("Run All Cells shows them again" in str(o.get("text", "")) for o in outs)
        page.close()
    finally:
        lab.stop()
    assert _git(c, "status", "--porcelain") == "" and _git(c, "rev-parse", "HEAD") == head


def test_the_tracked_notebook_opened_directly_and_saved_stays_clean(clone, browser, tmp_path):
    """A creator who runs ``jupyter lab notebooks/explore.ipynb`` in the checkout (the old way): the
    environment's Jupyter config saves the template without outputs; git sees no change."""
    c, env = clone["clone"], clone["env"]
    template = c / "notebooks" / "explore.ipynb"
    raw = template.read_bytes()
    token = "firsthour-test-token"
    port = _free_port()
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}", *(["--allow-root"] if os.geteuid() == 0 else []), "notebooks/explore.ipynb",
    ]  # fmt: skip
    # given a file, JupyterLab serves the file's folder (notebooks/) and opens it
    lab = Lab(argv, cwd=c, env=env, url=f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}")
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        with _on_failure(page, lab, tmp_path):
            page.goto(lab.url)
            _run_all(page)
            summary = page.locator(".widget-html", has_text="Votes so far").first
            summary.wait_for(timeout=600_000)
            assert clone["run"].name in summary.inner_text()  # the template finds the run too (no env variable)
            _shot(page, "6_template_opened_directly", tmp_path)
            _save(page, template)
    finally:
        page.close()
        lab.stop()
    assert template.read_bytes() == raw
    assert _git(c, "status", "--porcelain") == ""  # .ipynb_checkpoints/ is ignored


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_clip_detail_and_compare_runs_run_from_notebooks_with_their_defaults(clone, tmp_path):
    c, env = clone["clone"], clone["env"]
    for name in ("clip_detail", "compare_runs"):
        out = tmp_path / f"{name}.ipynb"
        res = subprocess.run(
            [str(BIN / "papermill"), f"{name}.ipynb", str(out), "-k", "python3", "--no-progress-bar"],
            cwd=c / "notebooks", env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        text = out.read_text()
        outputs = [o for cell in json.loads(text)["cells"] for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"]
        if name == "clip_detail":
            first = next(s for s in map(json.loads, (clone["run"] / "samples.jsonl").read_text().splitlines()) if s["status"] == "ok")
            assert f"<h2>{first['sample_id']}</h2>" in text  # the newest run's first clip: the demo's
            assert text.count("image/png") >= 1  # the timeline, at least
        else:
            assert "Nothing to compare yet" in text and "workbench run --repeats 2" in text
    assert _git(c, "status", "--porcelain") == ""


def test_the_results_index_links_the_html_leaderboard(clone, browser, tmp_path):
    index = clone["clone"] / "results" / "index.html"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(index.as_uri())
    link = page.locator(f"a[href='runs/{clone['run'].name}/leaderboard.html']")
    assert link.count() == 1
    link.click()
    page.wait_for_load_state("load")
    assert page.title() == f"Leaderboard: {clone['run'].name}"
    assert page.evaluate("document.characterSet") == "UTF-8"
    rows = page.locator("table.leaderboard tbody tr")
    assert rows.count() == len(MODELS) and "±" in page.locator("table.leaderboard").inner_text()
    with contextlib.suppress(Exception):
        _shot(page, "5_leaderboard", tmp_path)
    page.close()
