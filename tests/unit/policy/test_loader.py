"""Policy directories load all or nothing, and every problem names its file, line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from interceptor.policy import PolicyError, load_bundle
from tests.unit.policy.conftest import BundleFactory
from tests.unit.policy.helpers import RULE_FILE, rules_yaml

GOOD_RULE = """
- id: R-1
  title: Opted-out consumers get no cross-context ads
  cite: "1798.120"
  severity: critical
  when:
    all:
      - transformation.purpose: {in: $ads_cross_context}
      - consent.opt_out_sale_share: {eq: true}
  action: block
"""


def located(text: str, token: str, *, after: str = "") -> tuple[int, int]:
    """1-based (line, column) of the first ``token`` at or after the line containing ``after``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    for number, line in enumerate(lines[start:], start=start + 1):
        if token in line:
            return number, line.index(token) + 1
    raise AssertionError(f"{token!r} not in text")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_bundle(root)
    return info.value.diagnostics


def only_problem(root: Path) -> str:
    problems = problems_of(root)
    assert len(problems) == 1, problems
    return problems[0]


def rule_with(when: str, **fields: str) -> str:
    """A rule with ``when`` and any field overridden; ``id`` comes first, ``when`` last."""
    values = {"title": "t", "cite": "c", "severity": "high", "scope": "record", "action": "block"}
    values.update(fields)
    return "\n".join(["- id: R-1", *(f"  {k}: {v}" for k, v in values.items()), f"  when: {when}"])


def test_a_good_bundle_loads_sorted_with_a_short_hash(write_bundle: BundleFactory) -> None:
    second = GOOD_RULE.replace("R-1", "A-0")
    root = write_bundle({"b.yaml": rules_yaml(GOOD_RULE), "a.yaml": rules_yaml(second)})
    bundle = load_bundle(root)
    assert [rule.id for rule in bundle.rules] == ["A-0", "R-1"]
    assert len(bundle.hash) == 16 and int(bundle.hash, 16) >= 0
    assert [path.name for path in bundle.source_files] == ["a.yaml", "b.yaml"]


def test_typo_in_a_rule_key_is_an_error_at_the_key(write_bundle: BundleFactory) -> None:
    text = rules_yaml(GOOD_RULE + "  severty: high\n")
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, "severty")
    assert only_problem(root) == f"{root / RULE_FILE}:{line}:{col}: unknown key 'severty'"


def test_unknown_operator_points_at_the_operator(write_bundle: BundleFactory) -> None:
    text = rules_yaml(rule_with("{consent.gpc: {eqq: true}}"))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, "eqq")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: unknown operator 'eqq'")


def test_unknown_subject_points_at_the_subject(write_bundle: BundleFactory) -> None:
    text = rules_yaml(rule_with("{all: [{consent.gpc: {eq: true}}, {consent.gpcc: {eq: true}}]}"))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, "consent.gpcc")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: unknown subject 'consent.gpcc'")


def test_unknown_set_is_located_and_lists_the_known_sets(write_bundle: BundleFactory) -> None:
    text = rules_yaml(rule_with("{transformation.purpose: {in: $ads_cross_contxt}}"))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, "in: $ads")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: rule R-1: unknown set")
    assert "$ads_cross_context" in problem


def test_bad_regular_expression_is_rejected_at_load(write_bundle: BundleFactory) -> None:
    text = rules_yaml(rule_with('{record.entity_id: {matches: "(unclosed"}}'))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, "matches")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: invalid regular expression")


def test_duplicate_rule_ids_across_files_name_both_places(write_bundle: BundleFactory) -> None:
    root = write_bundle({"a.yaml": rules_yaml(GOOD_RULE), "b.yaml": rules_yaml(GOOD_RULE)})
    text = rules_yaml(GOOD_RULE)
    line, col = located(text, "id: R-1")
    assert only_problem(root) == (
        f"{root / 'b.yaml'}:{line}:{col}: rule R-1: duplicate rule id "
        f"(first defined at {root / 'a.yaml'}:{line}:{col})"
    )


def test_yaml_syntax_errors_are_located(write_bundle: BundleFactory) -> None:
    root = write_bundle({RULE_FILE: "name: broken\nrules:\n  - id: [unclosed\n"})
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:4:1: YAML syntax error")


@pytest.mark.parametrize(
    ("when", "extra", "token", "message"),
    [
        ("{consent.age: {lt: young}}", {}, "lt:", "lt compares numbers, not 'young'"),
        ("{consent.gpc: {eq: 1}}", {}, "eq:", "1 does not fit a bool subject"),
        ("{consent.age: {eq: true}}", {}, "eq:", "True is a boolean"),
        ("{context.x: {in: housing}}", {}, "in:", "in takes a non-empty list or a $set"),
        ("{context.x: {eq: null}}", {}, "eq:", "null is not a value to compare with"),
        ("{consent.gpc: {lt: 3}}", {}, "lt:", "operator 'lt' does not apply to consent.gpc"),
        (
            "{transformation.input_categories: {in: [user]}}",
            {},
            "in:",
            "a set subject takes intersects or subset_of",
        ),
        ("{record.event_time: {lt: yesterday}}", {}, "lt:", "'yesterday' is not RFC 3339 time"),
        (
            "{consent.gpc: {eq: true, ne: false}}",
            {},
            "consent.gpc",
            "consent.gpc takes exactly one operator",
        ),
        ("{all: []}", {}, "all", "all takes a non-empty list of conditions"),
        (
            "{transformation.purpose: {eq: marketing.nope}}",
            {},
            "eq:",
            "literal 'marketing.nope' is not a known data use",
        ),
        (
            "{transformation.input_categories: {intersects: $hec}}",
            {},
            "intersects",
            "set $hec: member 'housing', 'employment', 'credit' are not a known data category",
        ),
        ("{feature.name: {eq: lat}}", {}, "eq:", "feature.name needs scope: feature"),
        (
            "{consent.gpc: {eq: true}}",
            {"scope": "transformation"},
            "eq:",
            "scope: transformation rules test only transformation.*",
        ),
    ],
)
def test_condition_problems_are_located(
    write_bundle: BundleFactory, when: str, extra: dict[str, str], token: str, message: str
) -> None:
    text = rules_yaml(rule_with(when, **extra))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, token, after="when:")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: "), problem
    assert message in problem


def test_empty_when_is_an_error(write_bundle: BundleFactory) -> None:
    root = write_bundle({RULE_FILE: rules_yaml(rule_with("{}"))})
    assert "empty condition" in only_problem(root)


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"action": "redact"}, "action", "redact acts on one feature and needs scope: feature"),
        ({"action": "{transform: hash}"}, "action", "transform acts on one feature"),
        ({"exempts": "[R-1]"}, "exempts", "exempts is a carve-out and needs action: allow"),
        ({"action": "{transform: blur}"}, "transform", "does not match any of the expected tags"),
        # inside a transform, problems sit at its `transform:` key (pydantic's union tag)
        ({"action": "{transform: hash, digest: 8}"}, "transform", "unknown key 'digest'"),
        ({"action": "blok"}, "action", "Input should be 'block', 'redact', 'flag' or 'allow'"),
        ({"severity": "urgent"}, "severity", "Input should be 'critical'"),
    ],
)
def test_action_problems_are_located(
    write_bundle: BundleFactory, fields: dict[str, str], key: str, message: str
) -> None:
    text = rules_yaml(rule_with("{consent.gpc: {eq: true}}", **fields))
    root = write_bundle({RULE_FILE: text})
    line, col = located(text, f"{key}:", after="- id")
    problem = only_problem(root)
    assert problem.startswith(f"{root / RULE_FILE}:{line}:{col}: "), problem
    assert message in problem


def test_exemptions_must_name_existing_restrictive_rules(write_bundle: BundleFactory) -> None:
    carve_out = textwrap.dedent(
        """
        - id: A-1
          title: a
          cite: c
          severity: info
          when: {context.session_only: {eq: true}}
          action: allow
          exempts: [R-1, R-9, A-2]
        - id: A-2
          title: b
          cite: c
          severity: info
          when: {context.session_only: {eq: true}}
          action: allow
        """
    )
    text = rules_yaml(GOOD_RULE + carve_out)
    root = write_bundle({RULE_FILE: text})
    problems = problems_of(root)
    line, _ = located(text, "exempts:")
    assert len(problems) == 2
    assert problems[0].startswith(f"{root / RULE_FILE}:{line}:")
    assert "exempts unknown rule 'R-9'" in problems[0]
    assert "exempts A-2, an allow rule" in problems[1]


def test_every_problem_of_every_file_is_reported_at_once(write_bundle: BundleFactory) -> None:
    root = write_bundle(
        {
            "a.yaml": rules_yaml(GOOD_RULE + "  colour: red\n"),
            "b.yaml": rules_yaml(rule_with("{consent.gpc: {eqq: true}}").replace("R-1", "R-2")),
            "c.yaml": "rules: [\n",
        }
    )
    problems = problems_of(root)
    assert [Path(p.split(":")[0]).name for p in problems] == ["a.yaml", "b.yaml", "c.yaml"]


def test_missing_vocabulary_and_missing_rules_are_errors(write_bundle: BundleFactory) -> None:
    root = write_bundle({}, vocabulary=None)
    problems = problems_of(root)
    assert problems == [
        f"{root / 'vocabulary.yaml'}:1:1: vocabulary file is missing",
        f"{root}:1:1: no policy files (*.yaml) found",
    ]


def test_vocabulary_problems_are_located(write_bundle: BundleFactory) -> None:
    vocabulary = "categories: [user]\nuses: [marketing]\nnotice_inventory:\n  user: [analytics]\n"
    root = write_bundle({RULE_FILE: rules_yaml(GOOD_RULE)}, vocabulary=vocabulary)
    problems = problems_of(root)
    assert f"{root / 'vocabulary.yaml'}:4:10: unknown data use 'analytics'" in problems


def test_tests_hidden_files_and_vocabulary_are_not_rules(write_bundle: BundleFactory) -> None:
    root = write_bundle({RULE_FILE: rules_yaml(GOOD_RULE)})
    before = load_bundle(root).hash
    (root / "tests").mkdir()
    (root / "tests" / "cases.yaml").write_text("cases: not rules\n")
    (root / ".rules.yaml.swp.yaml").write_text("half written")
    after = load_bundle(root)
    assert after.hash == before
    assert [p.name for p in after.source_files] == [RULE_FILE]


def test_hash_follows_content_not_listing_order(tmp_path: Path) -> None:
    a, b = rules_yaml(GOOD_RULE), rules_yaml(GOOD_RULE.replace("R-1", "R-2"))
    hashes = []
    for order, names in enumerate((["x.yaml", "y.yaml"], ["y.yaml", "x.yaml"])):
        root = tmp_path / f"p{order}"
        root.mkdir()
        for name in names:  # written (and listed by the filesystem) in a different order
            (root / name).write_text(a if name == "x.yaml" else b)
        (root / "vocabulary.yaml").write_text(
            (Path(__file__).parent / "helpers.py")
            .read_text()
            .split('VOCABULARY = """\\\n')[1]
            .split('"""')[0]
        )
        hashes.append(load_bundle(root).hash)
    assert hashes[0] == hashes[1]
    (tmp_path / "p1" / "y.yaml").write_text(b + "\n")
    assert load_bundle(tmp_path / "p1").hash != hashes[0]


def test_a_single_file_loads_with_the_vocabulary_of_its_directory(
    write_bundle: BundleFactory,
) -> None:
    root = write_bundle({"sub/one.yaml": rules_yaml(GOOD_RULE)})
    bundle = load_bundle(root / "sub" / "one.yaml")
    assert bundle.root == root
    assert [rule.id for rule in bundle.rules] == ["R-1"]
