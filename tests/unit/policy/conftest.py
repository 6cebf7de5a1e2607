"""Fixtures: policy directories written to tmp_path, and the test manifests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy import PolicyBundle, load_bundle
from tests.unit.policy.helpers import CONTEXTUAL, FRAUD, GEO, RULE_FILE, VOCABULARY, rules_yaml

BundleFactory = Callable[..., Path]


@pytest.fixture
def write_bundle(tmp_path: Path) -> BundleFactory:
    """Write a policy directory: ``files`` maps relative paths to text (vocabulary added)."""

    def write(files: Mapping[str, str], *, vocabulary: str | None = VOCABULARY) -> Path:
        root = tmp_path / "policies"
        root.mkdir(exist_ok=True)
        if vocabulary is not None:
            (root / "vocabulary.yaml").write_text(vocabulary, encoding="utf-8")
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return write


@pytest.fixture
def bundle_of(write_bundle: BundleFactory) -> Callable[[str], PolicyBundle]:
    """Load a bundle made of one rules file, given the YAML of its rules list."""

    def load(body: str) -> PolicyBundle:
        return load_bundle(write_bundle({RULE_FILE: rules_yaml(body)}))

    return load


@pytest.fixture(scope="session")
def geo() -> Manifest:
    return parse_manifest(GEO, "geo.yaml")


@pytest.fixture(scope="session")
def contextual() -> Manifest:
    return parse_manifest(CONTEXTUAL, "contextual.yaml")


@pytest.fixture(scope="session")
def fraud() -> Manifest:
    return parse_manifest(FRAUD, "fraud.yaml")
