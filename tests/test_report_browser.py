"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

Opened from file:// exactly as a recipient would open it: the usable-takes table has a row per
model and sorts; the shots x models matrix has one cell per shot and model, every take coloured
with its reasons in words, and clicking a take plays its clip; every image decodes, every video
has a playable source whose metadata loads, no request leaves the page's folder; then the same
from a copy unzipped elsewhere. Screenshots (``report.png``, ``matrix.png``) are saved under the
test's tmp folder and copied to ``results/test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import shutil
import zipfile
from pathlib import Path

import pytest

pytest_plugins = ["nbfixtures"]  # local_run, reported_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "results" / "test-artifacts"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file://", "data:")) else None)
    page.goto(url, wait_until="load")
    return page, outside


def _media_state(page) -> dict:
    # wait until every video has loaded its metadata (or failed)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('video:not(#wb-player)')).every(v => v.readyState >= 1 || v.error)",
        timeout=20000,
    )
    return page.evaluate(
        """() => ({
        images: Array.from(document.images).map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt})),
        videos: Array.from(document.querySelectorAll('video:not(#wb-player)')).map(v => ({
            src: v.getAttribute('src').slice(0, 80), can: v.canPlayType('video/mp4; codecs="avc1.64001F, mp4a.40.2"'),
            ready: v.readyState, duration: v.duration, width: v.videoWidth, error: v.error ? v.error.code : null})),
    })"""
    )


def _column(page, col: int, table: int = 0) -> list[str]:
    return page.eval_on_selector_all(
        "table[data-sortable]",
        f"""ts => Array.from(ts[{table}].tBodies[0].rows).map(
            r => r.cells[{col}].getAttribute('data-v') ?? r.cells[{col}].textContent)""",
    )


def test_report_in_a_browser(browser, reported_run, nb, tmp_path):
    html = (reported_run / "report.html").read_text()
    assert str(reported_run.parent) not in html and "file://" not in html  # no absolute local path
    page, outside = _open(browser, (reported_run / "report.html").as_uri())
    # the usable takes: one row per model, sorted by usable share
    board = page.locator("table[data-sortable]").first
    models = board.locator("tbody tr td:first-child").all_text_contents()
    assert sorted(models) == sorted(nb.MODELS)
    assert board.locator("thead th").all_text_contents()[:2] == ["model", "usable"]
    state = _media_state(page)
    assert len(state["images"]) == len(nb.PROMPTS) and all(i["ok"] for i in state["images"]), state["images"]
    assert len(state["videos"]) == len(nb.PROMPTS) * len(nb.MODELS)
    for v in state["videos"]:
        assert v["src"].startswith("assets/clips/") and v["can"] in ("probably", "maybe"), v
        assert v["error"] is None and v["ready"] >= 1 and v["duration"] > 1 and v["width"] > 0, v
    # sorting: click "model" (text), then again (descending); a numeric column of the details table
    board.locator("thead th", has_text="model").first.click()
    assert _column(page, 0) == sorted(nb.MODELS)
    board.locator("thead th", has_text="model").first.click()
    assert _column(page, 0) == sorted(nb.MODELS, reverse=True)
    details = page.locator("table[data-sortable]").nth(1)
    col = details.locator("thead th").all_text_contents().index("latency_s")
    details.locator("thead th").nth(col).click()
    lat = [float(x) for x in _column(page, col, table=1)]
    assert lat == sorted(lat) and details.locator("thead th").nth(col).get_attribute("aria-sort") == "ascending"
    # the shots x models matrix: a row per shot, a cell per model, each take coloured with its reasons
    matrix = page.locator("table.wb-matrix")
    assert matrix.locator("thead th").all_text_contents() == ["shot", *nb.MODELS_IN_RUN_ORDER]
    assert matrix.locator("tbody tr").count() == len(nb.PROMPTS)
    assert matrix.locator("tbody td").count() == len(nb.PROMPTS) * len(nb.MODELS)
    takes = matrix.locator(".wb-take")
    assert takes.count() == len(nb.PROMPTS) * len(nb.MODELS)
    titles = [takes.nth(i).get_attribute("title") for i in range(takes.count())]
    assert all(":" in t and ("pass" in t or "fail" in t or "can't tell" in t) for t in titles), titles
    colours = set(page.eval_on_selector_all(".wb-take", "ts => ts.map(t => t.className.split(' ')[1])"))
    assert colours <= {"wb-green", "wb-amber", "wb-red", "wb-grey"} and "wb-red" in colours
    # clicking a take plays its clip in the shared player
    take = matrix.locator(".wb-take[data-clip]").nth(1)
    clip = take.get_attribute("data-clip")
    take.click()
    page.wait_for_function("() => document.getElementById('wb-player').readyState >= 1", timeout=20000)
    player = page.evaluate(
        "() => { const p = document.getElementById('wb-player'); return {src: p.currentSrc, paused: p.paused, "
        "error: p.error ? p.error.code : null, caption: document.getElementById('wb-player-caption').textContent}; }"
    )
    assert player["src"].endswith(clip) and player["error"] is None and player["caption"], player
    assert "wb-playing" in (take.get_attribute("class") or "")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    matrix.screenshot(path=str(tmp_path / "matrix.png"))
    shutil.copyfile(tmp_path / "matrix.png", ARTIFACTS / "matrix.png")
    assert outside == [], f"the report fetched from outside its folder: {outside}"
    with contextlib.suppress(Exception):  # let the players show a first frame for the screenshot (not needed to pass)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 2)", timeout=5000
        )
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "report.png")
    page.close()


def test_report_zip_opens_elsewhere_and_index_links_it(browser, reported_run, tmp_path):
    from workbench.report.render import bundle_report

    z = bundle_report(reported_run, tmp_path / "report.zip")
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
        f.extractall(tmp_path / "elsewhere")
    assert f"{reported_run.name}/report.html" in names and any("/assets/clips/" in n for n in names)
    page, outside = _open(browser, (tmp_path / "elsewhere" / reported_run.name / "report.html").as_uri())
    state = _media_state(page)
    assert state["videos"] and all(v["error"] is None and v["ready"] >= 1 for v in state["videos"])
    assert outside == []
    page.close()
    # the results index lists the run and links its report
    index = reported_run.parents[1] / "index.html"
    page, _ = _open(browser, index.as_uri())
    link = page.locator(f"a[href='runs/{reported_run.name}/report.html']")
    assert link.count() == 1
    link.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"{reported_run.name}/report.html") and "AV Workbench report" in page.title()
    page.close()
