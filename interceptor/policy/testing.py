"""``interceptor policy test``: run policy test cases and demand that every rule is exercised.

Each case is decided through the compiled batch path. Like ``opa test`` coverage, the run fails
when a rule of the bundle has no positive case (named in some ``expect.rules``) or no negative
case (named in some ``expect.not_rules``): a rule nobody has seen fire, or seen stay quiet, is a
rule nobody has tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from interceptor.policy.batch import ActionCode
from interceptor.policy.errors import PolicyError
from interceptor.policy.loader import PolicyBundle, load_bundle
from interceptor.policy.oneshot import apply_edits, batch_of_one
from interceptor.policy.testfile import PolicyCase, load_cases
from interceptor.scalars import Scalar

__all__ = ["CaseResult", "TestReport", "check_case", "find_test_files", "run_policy_tests"]


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome; ``problems`` says how the decision differed from the expectation."""

    name: str
    location: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class TestReport:
    """Everything a policy test run found; ``ok`` is the exit status."""

    __test__: ClassVar[bool] = False  # a report, not a pytest test class

    results: list[CaseResult] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    missing_positive: tuple[str, ...] = ()
    missing_negative: tuple[str, ...] = ()

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not (
            self.diagnostics or self.failed or self.missing_positive or self.missing_negative
        )

    def lines(self, *, verbose: bool = False) -> list[str]:
        """The report as printed: problems, failures with their differences, then the counts."""
        out = list(self.diagnostics)
        for result in self.results:
            if result.passed:
                if verbose:
                    out.append(f"PASS {result.location}: {result.name}")
                continue
            out.append(f"FAIL {result.location}: {result.name}")
            out.extend(f"    {problem}" for problem in result.problems)
        if self.missing_positive:
            ids = ", ".join(self.missing_positive)
            out.append(f"rules without a positive case (name them in some expect.rules): {ids}")
        if self.missing_negative:
            ids = ", ".join(self.missing_negative)
            out.append(f"rules without a negative case (name them in some expect.not_rules): {ids}")
        out.append(f"{self.passed} passed, {self.failed} failed")
        return out


def _same(expected: Scalar, actual: Scalar) -> bool:
    if isinstance(expected, float) and isinstance(actual, int | float):
        return not isinstance(actual, bool) and math.isclose(expected, actual, rel_tol=1e-12)
    return type(expected) is type(actual) and expected == actual


def check_case(bundle: PolicyBundle, case: PolicyCase) -> CaseResult:
    """Decide one case and compare with its expectation."""
    batch = batch_of_one(case.manifest, case.record, case.consent, now=case.now, proxy=case.proxy)
    decision = bundle.compiled.decide(batch)
    label = ActionCode(int(decision.action[0])).label
    hits = decision.hits[0]
    hit_ids = {hit.rule_id for hit in hits}
    shown = ", ".join(h.rule_id + (f"[{h.feature}]" if h.feature else "") for h in hits) or "none"
    expect = case.expect
    problems = []
    if label != expect.decision:
        problems.append(f"decision: expected {expect.decision}, got {label} (hits: {shown})")
    missing = [rule for rule in expect.rules if rule not in hit_ids]
    if missing:
        problems.append(f"rules: expected {', '.join(missing)} among the hits ({shown})")
    unwanted = [rule for rule in expect.not_rules if rule in hit_ids]
    if unwanted:
        problems.append(f"not_rules: {', '.join(unwanted)} hit but must not ({shown})")
    features = apply_edits(case.record.features, decision.edits[0])
    for name, value in (expect.features or {}).items():
        if name not in features:
            problems.append(f"features.{name}: expected {value!r}, but it was redacted or absent")
        elif not _same(value, features[name]):
            problems.append(f"features.{name}: expected {value!r}, got {features[name]!r}")
    for name in expect.redacted:
        if name in features:
            problems.append(f"redacted: {name} is still present ({features[name]!r})")
    return CaseResult(case.name, case.location, tuple(problems))


def find_test_files(policy_dir: Path, paths: Sequence[Path] = ()) -> list[Path]:
    """The test files to run: ``paths`` (files or directories), else ``<policy_dir>/tests``."""
    roots = list(paths) or [policy_dir / "tests"]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found.extend(sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            found.append(root)
    return found


def run_policy_tests(policy_dir: Path, test_paths: Sequence[Path] = ()) -> TestReport:
    """Load the bundle and every case, run them, and check rule coverage."""
    report = TestReport()
    try:
        bundle = load_bundle(policy_dir)
    except PolicyError as exc:
        report.diagnostics.extend(exc.diagnostics)
        return report
    files = find_test_files(policy_dir, test_paths)
    if not files:
        report.diagnostics.append(f"{policy_dir / 'tests'}:1:1: no policy test files found")
    cases: list[PolicyCase] = []
    for file in files:
        loaded, problems = load_cases(file, policy_dir)
        cases.extend(loaded)
        report.diagnostics.extend(problems)
    for case in cases:
        for key in ("rules", "not_rules"):
            ids = case.expect.rules if key == "rules" else case.expect.not_rules
            for rule_id, mark in zip(ids, case.expect_marks[key], strict=True):
                if rule_id not in bundle.compiled.rules:
                    report.diagnostics.append(f"{mark}: unknown rule {rule_id!r} in expect.{key}")
    report.results = [check_case(bundle, case) for case in cases]
    positive = {rule for case in cases for rule in case.expect.rules}
    negative = {rule for case in cases for rule in case.expect.not_rules}
    report.missing_positive = tuple(r for r in bundle.compiled.rules if r not in positive)
    report.missing_negative = tuple(r for r in bundle.compiled.rules if r not in negative)
    return report
