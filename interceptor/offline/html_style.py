"""Look of the HTML audit report: inline stylesheet, heatmap colour scale, number formats."""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "SCALE",
    "STYLESHEET",
    "cell_colour",
    "format_p",
    "format_percent",
    "format_score",
]

#: (upper edge of the score bin, background, text colour); the last bin is open-ended.
SCALE: Final[tuple[tuple[float, str, str], ...]] = (
    (0.005, "#f7f7f7", "#222"),
    (0.01, "#fde0c5", "#222"),
    (0.02, "#facba6", "#222"),
    (0.05, "#f59e72", "#222"),
    (0.10, "#e5604b", "#fff"),
    (0.20, "#c1272d", "#fff"),
    (math.inf, "#7f0000", "#fff"),
)
NO_SCORE_COLOUR: Final = ("#e3e3e3", "#555")

STYLESHEET: Final = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
  max-width: 1100px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
.meta { color: #666; font-size: 0.9em; }
.verdict { padding: 0.8em 1em; border-radius: 6px; margin: 1em 0; font-size: 1.05em; }
.verdict.bad { background: #fdecea; border-left: 5px solid #c1272d; }
.verdict.ok { background: #eaf6ec; border-left: 5px solid #2e7d32; }
table { border-collapse: collapse; margin: 0.6em 0 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #d6d6d6; padding: 0.3em 0.55em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.heatmap td { text-align: center; min-width: 6.5em; }
table.heatmap td.name, table.heatmap th.name { text-align: left; }
table.heatmap .value { font-weight: 600; display: block; }
table.heatmap .status { font-size: 0.8em; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3em; align-items: center; font-size: 0.85em; }
.legend span.swatch { display: inline-block; padding: 0.15em 0.5em; border-radius: 3px; }
.badge { display: inline-block; padding: 0.05em 0.45em; border-radius: 3px; font-size: 0.85em;
  font-weight: 600; }
.badge.proxy { background: #c1272d; color: #fff; }
.badge.review { background: #f59e72; color: #222; }
.badge.clear { background: #e6f0e6; color: #2e5e2e; }
.badge.insufficient_support { background: #e3e3e3; color: #444; }
.finding { border: 1px solid #e0e0e0; border-radius: 6px; padding: 0.2em 1em 0.6em 1em;
  margin: 1em 0; }
.explain { color: #333; }
.small { font-size: 0.88em; color: #555; }
ul.limits li { margin-bottom: 0.35em; }
"""


def cell_colour(score: float | None) -> tuple[str, str]:
    """Background and text colour of a heatmap cell."""
    if score is None or not math.isfinite(score):
        return NO_SCORE_COLOUR
    for upper, background, text in SCALE:
        if score < upper:
            return background, text
    return SCALE[-1][1], SCALE[-1][2]


def format_score(score: float | None) -> str:
    if score is None or not math.isfinite(score):
        return "–"
    if abs(score) < 0.0005:
        return "0.000"
    return f"{score:.3f}"


def format_percent(score: float | None) -> str:
    """A share as a percentage with sensible precision (0.1423 -> 14.2%, 0.0031 -> 0.31%)."""
    if score is None or not math.isfinite(score):
        return "–"
    value = max(score, 0.0) * 100
    return f"{value:.1f}%" if value >= 1 else f"{value:.2f}%"


def format_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    if p < 1e-12:
        return "< 1e-12"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}"
