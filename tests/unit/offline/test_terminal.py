from __future__ import annotations

import io

from rich.console import Console

from interceptor.offline.result import AuditResult, ProxyRow
from interceptor.offline.terminal import render_findings, shown_rows


def _render(result: AuditResult, **kwargs: bool) -> str:
    sink = io.StringIO()
    render_findings(Console(file=sink, width=200), result, **kwargs)
    return sink.getvalue()


def test_flagged_rows_first_then_one_row_per_other_feature(audit_result: AuditResult) -> None:
    rows = shown_rows(audit_result)
    assert [(r.feature, r.attribute) for r in rows[:3]] == [
        ("zip3", "race"),
        ("zip3", "joint"),
        ("name_cluster", "sex"),
    ]
    others = [r.feature for r in rows[3:]]
    assert sorted(others) == sorted(set(others)) and "zip3" not in others
    assert len(shown_rows(audit_result, show_all=True)) == len(audit_result.proxies)


def test_output_names_the_flags_and_what_is_hidden(audit_result: AuditResult) -> None:
    out = _render(audit_result)
    assert out.index("zip3") < out.index("device_id")
    assert "weaker findings" in out and "--all" in out
    assert "2 feature(s) flagged: zip3, name_cluster" in out
    assert "features together flagged for: race" in out
    assert "<script>" in out  # rich markup in names is printed literally
    assert "weaker findings" not in _render(audit_result, show_all=True)


def test_a_sparse_table_is_shown_as_judged_by_held_out_information(
    audit_result: AuditResult,
) -> None:
    audit_result.proxies = [
        ProxyRow(
            "zip9", "race", 0.2, 0.1, 0.3, 0.16, 900, "proxy", True, predictive_information=0.3
        ),
    ]
    line = next(line for line in _render(audit_result).splitlines() if "zip9" in line)
    assert "held-out" in line and "0.160" not in line


def test_rich_markup_in_column_names_is_not_interpreted(audit_result: AuditResult) -> None:
    audit_result.proxies = [
        ProxyRow("[red]x[/red]", "race", 0.0, 0.0, 0.0, 1.0, 10, "clear", False)
    ]
    assert "[red]x[/red]" in _render(audit_result)
