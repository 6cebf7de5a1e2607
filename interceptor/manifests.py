"""Transformation manifests: what each feature transformation reads, writes and is for.

Rules judge a transformation by its manifest once per version, so a manifest is immutable and keyed
by ``(id, version)``. Manifests come from a directory of YAML files and from the compacted registry
topic; both paths go through :func:`parse_manifest` so they fail the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interceptor.errors import ManifestError
from interceptor.yamlsource import format_validation_error, parse_yaml

__all__ = [
    "FeatureType",
    "InputField",
    "Manifest",
    "ManifestRegistry",
    "OutputFeature",
    "load_manifest_dir",
    "parse_manifest",
]

FeatureType = Literal["numeric", "categorical", "boolean", "geo", "text", "identifier"]
DottedKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]


class InputField(BaseModel):
    """One field the transformation reads, with the data category it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Annotated[str, Field(min_length=1)]
    category: DottedKey


class OutputFeature(BaseModel):
    """One feature the transformation emits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    type: FeatureType
    derived_from: tuple[str, ...] = ()
    category: DottedKey | None = None


class Manifest(BaseModel):
    """A registered transformation version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    owner: str
    purpose: DottedKey
    description: str = ""
    inputs: tuple[InputField, ...] = ()
    outputs: tuple[OutputFeature, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # Authors write `version: 3` as often as `version: "3"`; both mean the same version.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    @cached_property
    def input_categories(self) -> frozenset[str]:
        return frozenset(item.category for item in self.inputs)

    @cached_property
    def output_by_name(self) -> dict[str, OutputFeature]:
        return {out.name: out for out in self.outputs}

    def feature_categories(self, name: str) -> frozenset[str]:
        """An output's categories: its declared category, else the union of its inputs'."""
        out = self.output_by_name.get(name)
        if out is None:
            return frozenset()
        if out.category is not None:
            return frozenset({out.category})
        by_field = {item.field: item.category for item in self.inputs}
        return frozenset(by_field[f] for f in out.derived_from if f in by_field)

    @cached_property
    def output_categories(self) -> frozenset[str]:
        result: set[str] = set()
        for out in self.outputs:
            result |= self.feature_categories(out.name)
        return frozenset(result)

    def problems(self) -> list[str]:
        """Consistency problems pydantic cannot see: undeclared inputs, duplicate outputs."""
        found = []
        fields = {item.field for item in self.inputs}
        seen: set[str] = set()
        for out in self.outputs:
            if out.name in seen:
                found.append(f"output {out.name!r} is declared twice")
            seen.add(out.name)
            missing = [f for f in out.derived_from if f not in fields]
            if missing:
                found.append(f"output {out.name!r} is derived from undeclared inputs {missing}")
        return found


def parse_manifest(text: str, source: str) -> Manifest:
    """Parse one manifest document (YAML or JSON); raise :class:`ManifestError` with locations."""
    located, problems = parse_yaml(text, source)
    if located is None:
        raise ManifestError(problems)
    if not isinstance(located.data, dict):
        raise ManifestError([located.error((), "a manifest must be a mapping")])
    try:
        manifest = Manifest.model_validate(located.data)
    except ValidationError as exc:
        raise ManifestError(format_validation_error(exc, located)) from exc
    consistency = manifest.problems()
    if consistency:
        raise ManifestError([located.error(("outputs",), msg) for msg in consistency])
    return manifest


def load_manifest_dir(path: Path) -> list[Manifest]:
    """Every ``*.yaml``/``*.yml``/``*.json`` manifest under ``path``; all problems at once."""
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    )
    manifests: list[Manifest] = []
    problems: list[str] = []
    for file in files:
        try:
            manifests.append(parse_manifest(file.read_text(encoding="utf-8"), str(file)))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}:1:1: cannot read file: {exc}")
        except ManifestError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise ManifestError(problems)
    return manifests


def _version_order(version: str) -> tuple[int, ...] | tuple[float, str]:
    parts = version.split(".")
    if all(part.isdigit() for part in parts):
        return tuple(int(part) for part in parts)
    return (float("inf"), version)


class ManifestRegistry:
    """The registered manifests, by id and version. Not thread-safe: the stream loop owns it."""

    def __init__(self, manifests: Iterable[Manifest] = ()) -> None:
        self._by_key: dict[tuple[str, str], Manifest] = {}
        self._latest: dict[str, Manifest] = {}
        for manifest in manifests:
            self.register(manifest)

    def register(self, manifest: Manifest) -> bool:
        """Add or replace a version; return whether anything changed."""
        if self._by_key.get(manifest.key) == manifest:
            return False
        self._by_key[manifest.key] = manifest
        latest = self._latest.get(manifest.id)
        if latest is None or _version_order(manifest.version) >= _version_order(latest.version):
            self._latest[manifest.id] = manifest
        return True

    def unregister(self, transformation: str, version: str) -> bool:
        """Drop a version (a tombstone on the registry topic); return whether it was known."""
        if self._by_key.pop((transformation, version), None) is None:
            return False
        remaining = [m for m in self._by_key.values() if m.id == transformation]
        if remaining:
            self._latest[transformation] = max(remaining, key=lambda m: _version_order(m.version))
        else:
            self._latest.pop(transformation, None)
        return True

    def resolve(self, transformation: str, version: str | None) -> Manifest | None:
        """The named version, or the latest registered one when the record names none."""
        if version is None:
            return self._latest.get(transformation)
        return self._by_key.get((transformation, version))

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Manifest]:
        return iter(list(self._by_key.values()))
