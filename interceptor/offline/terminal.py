"""The audit's findings as rich tables on the terminal: flagged first, strongest first.

By default every flagged finding is shown, and each other feature once, with its strongest
attribute, so a wide file still fits on a screen; ``show_all`` lists every (feature, attribute).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from interceptor.offline.html_style import format_p, format_score
from interceptor.offline.result import AuditResult, ProxyRow

__all__ = ["render_findings", "shown_rows"]

_TEST_NAMES = {"g": "G-test", "pearson": "Pearson X²", "permutation": "permutation"}
_STATUS_STYLE = {
    "proxy": "bold red",
    "review": "yellow",
    "clear": "green",
    "insufficient_support": "dim",
}


def shown_rows(result: AuditResult, *, show_all: bool = False) -> list[ProxyRow]:
    """Flagged rows, then the strongest row of every feature that has none (or every row)."""
    ordered = result.sorted_proxies()
    if show_all:
        return ordered
    shown = [row for row in ordered if row.flagged]
    covered = {row.feature for row in shown}
    for row in ordered:
        if row.feature not in covered:
            shown.append(row)
            covered.add(row.feature)
    return shown


def _findings_table(result: AuditResult, rows: list[ProxyRow]) -> Table:
    table = Table(title=f"Proxy scan of {escape(result.file)} ({result.rows:,} rows)")
    table.add_column("feature", no_wrap=True)
    table.add_column("attribute", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("p (Holm)", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("test")
    for row in rows:
        style = _STATUS_STYLE.get(row.status, "")
        status = escape(row.status)
        table.add_row(
            escape(row.feature),
            escape(row.attribute),
            f"[{style}]{status}[/{style}]" if style else status,
            format_score(row.score),
            f"{format_score(row.ci_low)}–{format_score(row.ci_high)}",
            "–" if row.held_out else format_p(row.p_value),
            f"{row.n:,}",
            "held-out" if row.held_out else escape(_TEST_NAMES.get(row.method, row.method)),
        )
    return table


def _combinations_table(result: AuditResult) -> Table:
    table = Table(title="All features together (cross-fitted classifier)")
    table.add_column("attribute")
    table.add_column("flagged")
    for name in ("BER", "AUC", "pred. info", "n"):
        table.add_column(name, justify="right")
    for combo in result.combinations:
        table.add_row(
            escape(combo.attribute),
            "[bold red]yes[/bold red]" if combo.flagged else "no",
            format_score(combo.ber),
            format_score(combo.auc),
            format_score(combo.predictive_information),
            f"{combo.n:,}",
        )
    return table


def render_findings(console: Console, result: AuditResult, *, show_all: bool = False) -> None:
    """Print the findings, the combination detector's result and a one-line verdict."""
    rows = shown_rows(result, show_all=show_all)
    console.print(_findings_table(result, rows))
    hidden = len(result.proxies) - len(rows)
    if hidden:
        console.print(
            f"[dim]{hidden} weaker findings of features already listed are not shown "
            "(--all lists them; the JSON and HTML reports have every one)[/dim]"
        )
    if result.combinations:
        console.print(_combinations_table(result))
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/dim]")
    flagged = result.flagged_features
    combos = [c.attribute for c in result.combinations if c.flagged]
    parts = []
    if flagged:
        parts.append(f"{len(flagged)} feature(s) flagged: {', '.join(flagged)}")
    if combos:
        parts.append(f"features together flagged for: {', '.join(combos)}")
    if parts:
        console.print(f"[bold red]{escape('; '.join(parts))}[/bold red]")
    else:
        console.print("[green]no feature flagged[/green]")
