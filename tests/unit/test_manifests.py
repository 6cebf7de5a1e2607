"""Manifests load with located errors, and output categories follow their inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.errors import ManifestError
from interceptor.manifests import ManifestRegistry, load_manifest_dir, parse_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "transformations"

GEO = """\
id: geo_features
version: "3"
owner: ads-geo@example.com
purpose: marketing.advertising.third_party.targeted
inputs:
  - {field: event.geo.lat, category: user.location.precise}
  - {field: event.zip, category: user.contact.address.postal_code}
outputs:
  - {name: lat, type: geo, derived_from: [event.geo.lat]}
  - {name: zip3, type: categorical, derived_from: [event.zip]}
  - {name: label, type: categorical, category: user.behavior}
"""


def test_output_categories_are_declared_or_inherited() -> None:
    manifest = parse_manifest(GEO, "geo.yaml")
    assert manifest.feature_categories("lat") == {"user.location.precise"}
    assert manifest.feature_categories("label") == {"user.behavior"}
    assert manifest.feature_categories("missing") == frozenset()
    assert manifest.input_categories == {
        "user.location.precise",
        "user.contact.address.postal_code",
    }


def test_integer_versions_mean_the_same_version() -> None:
    manifest = parse_manifest(GEO.replace('version: "3"', "version: 3"), "geo.yaml")
    assert manifest.version == "3"


def test_a_typo_is_reported_with_file_line_and_column() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(GEO.replace("owner:", "ownr:"), "geo.yaml")
    assert "geo.yaml:3:1: unknown key 'ownr'" in caught.value.diagnostics
    assert any(
        d.startswith("geo.yaml:1:1: owner: Field required") for d in caught.value.diagnostics
    )


def test_an_output_from_an_undeclared_input_is_an_error() -> None:
    with pytest.raises(ManifestError, match=r"derived from undeclared inputs \['event.nope'\]"):
        parse_manifest(GEO.replace("[event.zip]", "[event.nope]"), "geo.yaml")


def test_yaml_syntax_errors_are_located() -> None:
    with pytest.raises(ManifestError, match=r"^geo.yaml:\d+:\d+: YAML syntax error"):
        parse_manifest(GEO + "outputs: [\n", "geo.yaml")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ManifestError, match=r"geo.yaml:5:1: duplicate key 'purpose'"):
        parse_manifest(GEO.replace("inputs:", "purpose: analytics\ninputs:", 1), "geo.yaml")


def test_the_examples_load() -> None:
    manifests = load_manifest_dir(EXAMPLES)
    assert {m.id for m in manifests} >= {"geo_features", "identity_signals", "contextual_page"}


def test_registry_resolves_named_and_latest_versions() -> None:
    v3 = parse_manifest(GEO, "a")
    v10 = parse_manifest(GEO.replace('version: "3"', 'version: "10"'), "b")
    registry = ManifestRegistry([v10, v3])
    assert registry.resolve("geo_features", "3") is v3
    assert registry.resolve("geo_features", None) is v10  # numeric order, not text order
    assert registry.resolve("geo_features", "4") is None
    assert registry.unregister("geo_features", "10")
    assert registry.resolve("geo_features", None) is v3
    assert not registry.register(v3)
    assert len(registry) == 1
