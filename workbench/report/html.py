"""HTML for the report and the results index: page shell, CSS, a sortable table, secret scrubbing.

The page stands alone: no CDN, no external script, no widget that needs a kernel. A table
sorts by clicking a column header (a few lines of inline JavaScript). No absolute local path
and no value of a secret-looking environment variable (``*KEY*``, ``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*``) is left in a page (:func:`scrub`).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pandas as pd

CSS = """
<style>
table.leaderboard { border-collapse: collapse; font-size: 12px; }
table.leaderboard th, table.leaderboard td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
table.leaderboard td:first-child, table.leaderboard th:first-child { text-align: left; }
table[data-sortable] th { cursor: pointer; user-select: none; white-space: nowrap; }
table[data-sortable] th[aria-sort=ascending]::after { content: " ▲"; }
table[data-sortable] th[aria-sort=descending]::after { content: " ▼"; }
.wb-prompt { font-family: ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6; padding: 6px; font-size: 12px; }
.wb-clips { display: flex; flex-wrap: wrap; gap: 8px; }
.wb-clip { width: 300px; font-size: 11px; }
.wb-clip video { width: 300px; }
.wb-side { display: flex; flex-wrap: wrap; gap: 32px; }
table.wb-matrix { border-collapse: separate; border-spacing: 3px; font-size: 12px; }
table.wb-matrix th { text-align: left; font-weight: 600; padding: 3px 6px; vertical-align: bottom; }
table.wb-matrix td { padding: 4px 6px; vertical-align: top; min-width: 90px; max-width: 220px; border-radius: 4px; }
.wb-take { display: block; margin: 1px 0; padding: 2px 4px; border-radius: 3px; cursor: pointer; line-height: 1.25; }
.wb-take small { display: block; color: #444; font-size: 10.5px; }
.wb-green { background: #cdeed9; } .wb-amber { background: #fbeebb; } .wb-red { background: #f8d3cf; } .wb-grey { background: #e9e9e9; }
.wb-take.wb-playing { outline: 2px solid #1f6fd1; }
.wb-player { position: sticky; top: 0; background: #fff; padding: 4px 0; z-index: 2; }
.wb-player video { width: 360px; max-width: 100%; }
.wb-legend span { padding: 1px 6px; border-radius: 3px; margin-right: 6px; font-size: 11px; }
</style>
"""

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #eee; } h3 { font-size: 15px; }
img { max-width: 100%; }
.anchor-link { display: none; }
footer { color: #777; font-size: 11px; margin-top: 32px; }
"""

# Click a header to sort; numbers by data-v (raw value), text otherwise; blanks stay last.
_SORTER_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute("data-v");
    if (v === null) v = td.textContent.trim();
    var n = parseFloat(v);
    return (v === "" || isNaN(n)) ? {num: false, s: v.toLowerCase(), blank: v === "" || v === "–"} : {num: true, x: n};
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col]), kb = key(b.cells[col]);
      if (ka.blank !== kb.blank) return ka.blank ? 1 : -1;
      if (ka.num && kb.num) return asc ? ka.x - kb.x : kb.x - ka.x;
      if (ka.num !== kb.num) return ka.num ? -1 : 1;
      return asc ? ka.s.localeCompare(kb.s) : kb.s.localeCompare(ka.s);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  document.querySelectorAll("table[data-sortable] thead th").forEach(function (th) {
    th.title = th.title || "click to sort";
    th.addEventListener("click", function () { sortBy(th); });
  });
})();
"""

# Click a take in the shots x models matrix: the shared player plays its clip (relative link or data URI).
_PLAYER_JS = """
(function () {
  var player = document.getElementById("wb-player");
  if (!player) return;
  var caption = document.getElementById("wb-player-caption");
  document.querySelectorAll("[data-clip]").forEach(function (el) {
    el.title = el.title || "click to play";
    el.addEventListener("click", function () {
      document.querySelectorAll(".wb-playing").forEach(function (p) { p.classList.remove("wb-playing"); });
      el.classList.add("wb-playing");
      player.src = el.getAttribute("data-clip");
      if (caption) caption.textContent = el.getAttribute("data-label") || "";
      var p = player.play();
      if (p && p.catch) p.catch(function () {});
    });
  });
})();
"""

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def sortable_table(
    df: pd.DataFrame, *, sort_values: pd.DataFrame | None = None, titles: dict[str, str] | None = None
) -> str:
    """An HTML table (class ``dataframe leaderboard``) that the page's inline script can sort.

    ``sort_values`` (same shape and columns as ``df``) gives each cell's ``data-v`` sort key.
    """
    titles = titles or {}
    head = "".join(
        f'<th title="{html.escape(titles.get(c, ""))}">{html.escape(str(c))}</th>'
        if titles.get(c)
        else f"<th>{html.escape(str(c))}</th>"
        for c in df.columns
    )
    body = []
    for i in range(len(df)):
        cells = []
        for j, _c in enumerate(df.columns):
            v = df.iat[i, j]
            text = (
                "–"
                if v is None or (isinstance(v, float) and pd.isna(v))
                else (f"{v:.4g}" if isinstance(v, float) else str(v))
            )
            attr = ""
            if sort_values is not None:
                k = sort_values.iat[i, j]
                attr = f' data-v="{"" if k is None or (isinstance(k, float) and pd.isna(k)) else html.escape(str(k))}"'
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="dataframe leaderboard" data-sortable="1"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )



def _secret_values() -> list[str]:
    return sorted(
        {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8 and not v.startswith("/")},
        key=len,
        reverse=True,
    )


def scrub(text: str, *, paths: list[Path] | tuple[Path, ...] = ()) -> str:
    """Remove secret-looking environment values and the given absolute paths from ``text``."""
    for v in _secret_values():
        text = text.replace(v, "[redacted]")
    for p in sorted({str(p) for p in paths if len(str(p)) > 1}, key=len, reverse=True):
        text = text.replace(p + "/", "").replace(p, ".")
    home = str(Path.home())
    if len(home) > 1:
        text = re.sub(re.escape(home) + r"(?=/)", "~", text)
    return text


def page(title: str, body: str) -> str:
    """A complete standalone HTML page with the report CSS and the table sorter."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style>{CSS}</head>"
        f"<body><main>{body}</main><script>{_SORTER_JS}{_PLAYER_JS}</script></body></html>\n"
    )
