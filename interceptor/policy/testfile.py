"""Policy test files: cases of (manifest, record, consent) with the decision they must get.

```yaml
manifests:                      # named manifests: inline, or {file: path}
  geo: {file: examples/transformations/geo_features.yaml}
defaults:                       # deep-merged under every case
  now: "2026-12-01T12:00:00Z"
  record: {entity_id: u-1, event_time: "2026-12-01T11:00:00Z"}
cases:
  - name: opted-out consumer is blocked
    manifest: geo               # a name from manifests, or an inline manifest
    record: {features: {lat: 37.77493}}
    consent: {opt_out_sale_share: true}    # null or absent: no consent state (unknown entity)
    proxy: {zip3: {score: 0.4, flagged: true, status: proxy}}
    expect: {decision: block, rules: [CCPA-07], not_rules: [CCPA-13],
             features: {lat: 37.8}, redacted: [ssn_last4]}
```

Loading resolves every case into ready inputs, reporting problems as ``file:line:col: message``.
A manifest ``file`` is looked up relative to the working directory, then the test file's
directory, then the repository root (the nearest parent with ``pyproject.toml`` or ``.git``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interceptor.consent import ConsentState
from interceptor.errors import ManifestError
from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy.batch import ProxyReading
from interceptor.policy.conditions import parse_time
from interceptor.policy.models import ActionLabel
from interceptor.records import FeatureRecord
from interceptor.scalars import Scalar
from interceptor.yamlsource import Located, format_validation_error, load_yaml

__all__ = ["Expectation", "PolicyCase", "load_cases"]

_FORBID = ConfigDict(extra="forbid", frozen=True)


class ManifestFile(BaseModel):
    model_config = _FORBID

    file: Annotated[str, Field(min_length=1)]


class ProxySpec(BaseModel):
    model_config = _FORBID

    score: float
    flagged: bool = False
    status: str = "clear"


class Expectation(BaseModel):
    """What a case must get: ``rules`` must be among the hits, ``not_rules`` must not."""

    model_config = _FORBID

    decision: ActionLabel
    rules: tuple[str, ...] = ()
    not_rules: tuple[str, ...] = ()
    features: dict[str, Scalar] | None = None
    redacted: tuple[str, ...] = ()


class CaseModel(BaseModel):
    model_config = _FORBID

    name: Annotated[str, Field(min_length=1)]
    manifest: str | dict[str, Any]
    record: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, Any] | None = None
    proxy: dict[str, ProxySpec] = Field(default_factory=dict)
    now: str | None = None
    expect: Expectation


class Defaults(BaseModel):
    model_config = _FORBID

    manifest: str | dict[str, Any] | None = None
    record: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, Any] | None = None
    proxy: dict[str, Any] = Field(default_factory=dict)
    now: str | None = None


class CaseFileModel(BaseModel):
    model_config = _FORBID

    manifests: dict[str, ManifestFile | dict[str, Any]] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    cases: Annotated[list[dict[str, Any]], Field(min_length=1)]


@dataclass(frozen=True)
class PolicyCase:
    """One case, resolved into the inputs of a decision."""

    name: str
    location: str
    manifest: Manifest
    record: FeatureRecord
    consent: ConsentState | None
    proxy: Mapping[str, ProxyReading]
    now: float
    expect: Expectation
    expect_marks: Mapping[str, Sequence[str]]  # rule id lists → mark of each entry


def _merged(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merged(base.get(key), value) if key in base else value
        return out
    return override


def _repo_root(start: Path) -> Path | None:
    for parent in [start, *start.parents]:
        if (parent / "pyproject.toml").is_file() or (parent / ".git").exists():
            return parent
    return None


class _Loader:
    """Resolves one test file's cases, collecting problems instead of stopping at the first."""

    def __init__(self, located: Located, path: Path, policy_dir: Path) -> None:
        self.located = located
        self.path = path
        self.bases = [Path.cwd(), path.parent]
        root = _repo_root(policy_dir.resolve())
        if root is not None:
            self.bases.append(root)
        self.problems: list[str] = []
        self.manifests: dict[str, Manifest | None] = {}

    def validate(self, model: type[BaseModel], data: Any, where: tuple[str | int, ...]) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.problems.extend(format_validation_error(exc, self.located, where))
            return None

    def manifest_file(self, file: str, where: tuple[str | int, ...]) -> Manifest | None:
        candidates = [base / file for base in self.bases] if not Path(file).is_absolute() else []
        for candidate in candidates or [Path(file)]:
            if candidate.is_file():
                try:
                    return parse_manifest(candidate.read_text(encoding="utf-8"), str(candidate))
                except ManifestError as exc:
                    self.problems.extend(exc.diagnostics)
                    return None
        self.problems.append(self.located.error(where, f"manifest file {file!r} not found"))
        return None

    def named(self, spec: ManifestFile | dict[str, Any], name: str) -> Manifest | None:
        where = ("manifests", name)
        if isinstance(spec, ManifestFile):
            return self.manifest_file(spec.file, (*where, "file"))
        manifest: Manifest | None = self.validate(Manifest, spec, where)
        return manifest

    def case(self, index: int, raw: Any, defaults: Defaults) -> PolicyCase | None:
        where: tuple[str | int, ...] = ("cases", index)
        if not isinstance(raw, dict):
            self.problems.append(self.located.error(where, "a case must be a mapping"))
            return None
        base = defaults.model_dump(exclude_none=True)
        parsed: CaseModel | None = self.validate(CaseModel, _merged(base, raw), where)
        if parsed is None:
            return None
        if isinstance(parsed.manifest, str):
            manifest = self.manifests.get(parsed.manifest)
            if parsed.manifest not in self.manifests:
                self.problems.append(
                    self.located.error(
                        (*where, "manifest"), f"unknown manifest {parsed.manifest!r}"
                    )
                )
        else:
            manifest = self.validate(Manifest, parsed.manifest, (*where, "manifest"))
        record_data = {"transformation": None, "version": None, **parsed.record}
        if manifest is not None:
            record_data["transformation"] = record_data["transformation"] or manifest.id
            record_data["version"] = record_data["version"] or manifest.version
        record: FeatureRecord | None = self.validate(FeatureRecord, record_data, (*where, "record"))
        consent: ConsentState | None = None
        if parsed.consent is not None:
            consent = self.validate(ConsentState, parsed.consent, (*where, "consent"))
        now = record.event_epoch() if record is not None else 0.0
        if parsed.now is not None:
            seconds = parse_time(parsed.now)
            if seconds is None:
                self.problems.append(self.located.error((*where, "now"), "now is not RFC 3339"))
                return None
            now = seconds
        if manifest is None or record is None or (parsed.consent is not None and consent is None):
            return None
        proxy = {
            name: ProxyReading(spec.score, spec.flagged, spec.status)
            for name, spec in parsed.proxy.items()
        }
        marks = {
            key: [str(self.located.mark((*where, "expect", key, i))) for i in range(len(ids))]
            for key, ids in (("rules", parsed.expect.rules), ("not_rules", parsed.expect.not_rules))
        }
        location = str(self.located.mark(where))
        return PolicyCase(
            parsed.name, location, manifest, record, consent, proxy, now, parsed.expect, marks
        )


def load_cases(path: Path, policy_dir: Path) -> tuple[list[PolicyCase], list[str]]:
    """Every case of one test file, and every problem found (``file:line:col: message``)."""
    located, problems = load_yaml(path)
    if located is None:
        return [], problems
    if not isinstance(located.data, dict):
        return [], [located.error((), "a policy test file must be a mapping with cases")]
    loader = _Loader(located, path, policy_dir)
    model: CaseFileModel | None = loader.validate(CaseFileModel, located.data, ())
    if model is None:
        return [], loader.problems
    for name, spec in model.manifests.items():
        loader.manifests[name] = loader.named(spec, name)
    cases = [loader.case(i, raw, model.defaults) for i, raw in enumerate(model.cases)]
    return [case for case in cases if case is not None], loader.problems
