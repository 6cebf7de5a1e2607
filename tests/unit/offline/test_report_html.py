from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from interceptor.offline.report_html import render_html, write_html
from interceptor.offline.result import AuditResult
from tests.unit.offline.conftest import HOSTILE


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(document: str) -> _Collector:
    parser = _Collector()
    parser.feed(document)
    return parser


def _text(page: str) -> str:
    return " ".join("".join(_parse(page).text).split())


def _page(result: AuditResult) -> str:
    return render_html(result, generated=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))


def test_values_from_the_file_are_escaped(audit_result: AuditResult) -> None:
    page = _page(audit_result)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "panel &amp; friends.csv" in page
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert HOSTILE in "".join(parsed.text)  # shown as text, never run


def test_the_page_is_self_contained(audit_result: AuditResult) -> None:
    page = _page(audit_result)
    parsed = _parse(page)
    assert {"script", "link", "img", "iframe"}.isdisjoint(parsed.tags)
    assert "style" in parsed.tags
    assert not re.search(r"https?://", page)
    assert not any(
        name in ("src", "href") and value and "//" in value for name, value in parsed.attrs
    )


def test_summary_says_what_was_scanned_and_what_was_flagged(audit_result: AuditResult) -> None:
    text = _text(_page(audit_result))
    assert "4 features" in text and "10,000 rows" in text
    assert "1 feature flagged as a likely proxy: zip3" in text
    assert "1 feature flagged for review: name_cluster" in text
    assert "device_id" in text and "never flagged" in text


def test_flagged_feature_has_its_evidence(audit_result: AuditResult) -> None:
    page = _page(audit_result)
    section = page[page.index('id="feature-zip3"') :]
    section = section[: section.index("</div>")]
    text = _text(section)
    assert "reveals 42.0% of the uncertainty about race" in text
    assert "95% confidence interval 41.0% to 43.0%" in text
    assert "9,800 rows" in text
    assert "< 1e-12" in text and "Holm" in text
    assert "race and sex together" in text
    assert "G-test" in text


def test_heatmap_has_a_cell_per_feature_and_attribute_with_a_legend(
    audit_result: AuditResult,
) -> None:
    page = _page(audit_result)
    heatmap = page[page.index('<table class="heatmap">') :]
    heatmap = heatmap[: heatmap.index("</table>")]
    assert heatmap.count("<tr>") == 1 + len(audit_result.features)
    assert "0.420" in heatmap and "proxy" in heatmap and "too sparse" in heatmap
    assert 'class="legend"' in page and "not scored" in page


def test_combination_result_is_explained(audit_result: AuditResult) -> None:
    text = _text(_page(audit_result))
    assert "race: balanced error rate 23.0% (guessing among 2 groups: 50.0%), AUC 0.900" in text
    assert "a single feature flagged above already reveals it" in text
    assert "sex: balanced error rate 49.0%" in text and "Not flagged" in text
    assert "All features together predict race clearly better than chance" in text


def test_a_combination_no_single_feature_explains_is_called_out(
    audit_result: AuditResult,
) -> None:
    audit_result.proxies = [p for p in audit_result.proxies if p.attribute != "race"]
    text = _text(_page(audit_result))
    assert "Flagged, although no single feature is" in text
    assert "including race, which no single feature reveals" in text


def test_methods_and_limits_are_stated(audit_result: AuditResult) -> None:
    text = _text(_page(audit_result))
    for phrase in ("Miller-Madow", "delta-method", "G-test", "Holm", "not legal standards"):
        assert phrase in text


def test_no_row_level_protected_values(audit_result: AuditResult) -> None:
    # Levels appear only with their counts, in the "what was scanned" table.
    page = _page(audit_result)
    assert page.count("asian") == 1
    assert "asian (900)" in page


def test_a_clean_scan_says_so(audit_result: AuditResult, tmp_path: Path) -> None:
    audit_result.proxies = [p for p in audit_result.proxies if not p.flagged]
    audit_result.combinations = []
    path = tmp_path / "r.html"
    write_html(audit_result, path)
    page = path.read_text(encoding="utf-8")
    assert "No feature was flagged" in page
    assert "did not run" in page
