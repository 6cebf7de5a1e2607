"""policy test: cases pass or fail with a diff, and every rule needs a positive and a negative."""

from __future__ import annotations

import textwrap
from pathlib import Path

from interceptor.policy import run_policy_tests
from tests.unit.policy.conftest import BundleFactory
from tests.unit.policy.helpers import GEO, OPT_OUT_RULE, rules_yaml

RULES = rules_yaml(
    OPT_OUT_RULE
    + """
- id: GEO
  title: coarsen precise geo
  cite: c
  severity: high
  scope: feature
  when:
    all:
      - feature.type: {eq: geo}
      - feature.geo_cell_km2: {le: 1}
  action: {transform: coarsen_geo}
- id: ZIP
  title: redact zip3 for flagged proxies
  cite: c
  severity: medium
  scope: feature
  when:
    all:
      - feature.name: {eq: zip3}
      - feature.proxy.flagged: {eq: true}
  action: redact
"""
)

HEADER = f"""\
manifests:
  geo: {{file: ../../geo.yaml}}
  inline:
{textwrap.indent(GEO, "    ")}
defaults:
  now: "2026-12-01T12:00:00Z"
  record: {{entity_id: u-1, event_time: "2026-12-01T11:00:00Z", context: {{session_only: false}}}}
"""

PASSING = (
    HEADER
    + """\
cases:
  - name: opted-out consumer is blocked
    manifest: geo
    record: {features: {lat: 37.77493, zip3: "941"}}
    consent: {opt_out_sale_share: true}
    expect: {decision: block, rules: [OPT-OUT, GEO], not_rules: [ZIP]}
  - name: precise latitude is coarsened, flagged proxy redacted
    manifest: inline
    record: {features: {lat: 37.77493, zip3: "941"}}
    proxy: {zip3: {score: 0.4, flagged: true, status: proxy}}
    expect:
      decision: redact
      rules: [GEO, ZIP]
      not_rules: [OPT-OUT]
      features: {lat: 37.8}
      redacted: [zip3]
  - name: coarse latitude passes
    manifest: geo
    record: {features: {lat: 37.8}}
    consent: null
    expect: {decision: allow, not_rules: [GEO, OPT-OUT], features: {lat: 37.8}}
"""
)


def layout(write_bundle: BundleFactory, cases: dict[str, str], rules: str = RULES) -> Path:
    """A policy directory with ``tests/<name>`` files, and the geo manifest two levels up."""
    root = write_bundle({"rules.yaml": rules, **{f"tests/{k}": v for k, v in cases.items()}})
    (root.parent / "geo.yaml").write_text(GEO)
    return root


def where(text: str, token: str, *, after: str) -> str:
    """``line:col`` of ``token`` on the first line containing it, at or after ``after``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    number = next(i for i in range(start, len(lines)) if token in lines[i])
    return f"{number + 1}:{lines[number].index(token) + 1}"


def test_passing_cases_with_full_coverage(write_bundle: BundleFactory) -> None:
    root = layout(write_bundle, {"cases.yaml": PASSING})
    report = run_policy_tests(root, [root / "tests" / "cases.yaml"])
    assert report.diagnostics == []
    assert (report.passed, report.failed) == (3, 0)
    assert report.missing_positive == () and report.missing_negative == ()
    assert report.ok
    assert report.lines()[-1] == "3 passed, 0 failed"


def test_failures_show_what_differed(write_bundle: BundleFactory) -> None:
    wrong = PASSING.replace("decision: allow", "decision: flag").replace(
        "features: {lat: 37.8}\n      redacted", "features: {lat: 37.7}\n      redacted"
    )
    root = layout(write_bundle, {"cases.yaml": wrong})
    report = run_policy_tests(root)
    assert (report.passed, report.failed) == (1, 2)
    assert not report.ok
    lines = report.lines()
    assert lines[-1] == "1 passed, 2 failed"
    case_file = root / "tests" / "cases.yaml"
    at = where(wrong, "name:", after="precise latitude")
    assert f"FAIL {case_file}:{at}: precise latitude is coarsened, flagged proxy redacted" in lines
    assert "    features.lat: expected 37.7, got 37.8" in lines
    assert "    decision: expected flag, got allow (hits: none)" in lines


def test_rules_without_positive_or_negative_cases_fail_the_run(
    write_bundle: BundleFactory,
) -> None:
    only_one = (
        HEADER
        + """\
cases:
  - name: opted-out consumer is blocked
    manifest: geo
    record: {features: {lat: 37.8}}
    consent: {opt_out_sale_share: true}
    expect: {decision: block, rules: [OPT-OUT], not_rules: [GEO]}
"""
    )
    root = layout(write_bundle, {"only.yaml": only_one})
    report = run_policy_tests(root)
    assert (report.passed, report.failed) == (1, 0)
    assert report.missing_positive == ("GEO", "ZIP")
    assert report.missing_negative == ("OPT-OUT", "ZIP")
    assert not report.ok
    text = "\n".join(report.lines())
    assert "rules without a positive case (name them in some expect.rules): GEO, ZIP" in text
    assert (
        "rules without a negative case (name them in some expect.not_rules): OPT-OUT, ZIP" in text
    )


def test_test_file_problems_are_located(write_bundle: BundleFactory) -> None:
    broken = (
        HEADER
        + """\
cases:
  - name: typo in expect
    manifest: geo
    record: {features: {lat: 37.8}}
    expect: {decision: allow, not_rule: [GEO]}
  - name: unknown rule and manifest
    manifest: nowhere
    record: {features: {lat: 37.8}}
    expect: {decision: allow}
  - name: unknown rule id would pass silently
    manifest: geo
    record: {features: {lat: 37.8}}
    expect: {decision: allow, not_rules: [GOE]}
"""
    )
    root = layout(write_bundle, {"broken.yaml": broken})
    report = run_policy_tests(root)
    file = root / "tests" / "broken.yaml"
    assert report.diagnostics == [
        f"{file}:{where(broken, 'not_rule', after='cases:')}: unknown key 'not_rule'",
        f"{file}:{where(broken, 'manifest: nowhere', after='cases:')}: unknown manifest 'nowhere'",
        f"{file}:{where(broken, 'GOE', after='cases:')}: unknown rule 'GOE' in expect.not_rules",
    ]
    assert not report.ok


def test_a_broken_bundle_is_reported_not_run(write_bundle: BundleFactory) -> None:
    root = layout(write_bundle, {"x.yaml": PASSING}, RULES.replace("medium", "dire"))
    report = run_policy_tests(root)
    assert report.results == []
    assert len(report.diagnostics) == 1 and "severity" in report.diagnostics[0]
    assert not report.ok
