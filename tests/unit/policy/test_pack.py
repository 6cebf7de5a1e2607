"""The shipped policy pack loads, compiles, and passes its own tests with full rule coverage."""

from __future__ import annotations

from pathlib import Path

from interceptor.manifests import load_manifest_dir
from interceptor.policy import check_manifest_vocabulary, load_bundle, run_policy_tests

REPO = Path(__file__).resolve().parents[3]
PACK = REPO / "policies"


def test_the_pack_loads_and_compiles() -> None:
    bundle = load_bundle(PACK)
    assert bundle.rules, "the pack has no rules"
    assert all(rule.id in bundle.compiled.rules for rule in bundle.rules)


def test_the_pack_passes_its_tests_with_full_coverage() -> None:
    report = run_policy_tests(PACK)
    assert report.ok, "\n".join(report.lines())
    assert report.passed > 0


def test_example_manifests_use_only_the_pack_vocabulary() -> None:
    vocabulary = load_bundle(PACK).vocabulary
    problems = [
        problem
        for manifest in load_manifest_dir(REPO / "examples" / "transformations")
        for problem in check_manifest_vocabulary(manifest, vocabulary)
    ]
    assert problems == []
