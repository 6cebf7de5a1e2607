"""Run-time configuration: one YAML file, overridden key by key from ``INTERCEPTOR_*`` variables.

Every section forbids unknown keys, so a typo in a deployment file stops the interceptor at start-up
instead of silently running with a default. Environment variables win over the file, which lets a
container image ship one file and the orchestrator change the broker address or a secret.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from interceptor.errors import ConfigError
from interceptor.records import DEFAULT_MAX_RECORD_BYTES

__all__ = [
    "DEV_ENTITY_SALT",
    "AuditSettings",
    "Guarantee",
    "KafkaSettings",
    "ManifestSettings",
    "MetricsSettings",
    "OnEvaluationError",
    "OnUnregistered",
    "PolicySettings",
    "ProcessingSettings",
    "Settings",
    "TopicSettings",
    "load_settings",
]

log = logging.getLogger(__name__)

Guarantee = Literal["at-least-once", "exactly-once"]
OnUnregistered = Literal["block", "deadletter"]
#: What to do with records whose evaluation raised: quarantine them (fail closed, the default) or
#: forward them flagged (fail open; only by explicit choice, and loudly logged).
OnEvaluationError = Literal["quarantine", "forward"]

#: The salt used when a deployment sets none; fine for the demo, never for production.
DEV_ENTITY_SALT: Final = "interceptor-dev-salt-change-me!!"

_SECURITY_PREFIXES: Final = ("security.", "sasl.", "ssl.")
#: librdkafka settings the runtime owns: overriding them would break the delivery guarantee.
_RESERVED_CLIENT_KEYS: Final = frozenset(
    {
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "transactional.id",
        "isolation.level",
        "enable.idempotence",
        "acks",
    }
)
_SECTION = ConfigDict(extra="forbid", frozen=True)


def _split_csv(value: object) -> object:
    """Accept ``a,b`` or a JSON list as well as a list: list keys are easy to set from the env."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


TopicList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv), Field(min_length=1)]


class KafkaSettings(BaseModel):
    """How to reach the cluster; ``security`` values are secrets and never printed."""

    model_config = _SECTION

    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "interceptor"
    session_timeout_ms: Annotated[int, Field(ge=1000)] = 10_000
    security: dict[str, SecretStr] = Field(default_factory=dict)
    client: dict[str, str | int | bool] = Field(default_factory=dict)
    transactional_id: str | None = None

    @field_validator("security")
    @classmethod
    def _only_security_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = sorted(k for k in value if not k.startswith(_SECURITY_PREFIXES))
        if bad:
            raise ValueError(f"not a security.*/sasl.*/ssl.* setting: {', '.join(bad)}")
        return value

    @field_validator("client")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, str | int | bool]) -> dict[str, str | int | bool]:
        bad = sorted(
            k for k in value if k in _RESERVED_CLIENT_KEYS or k.startswith(_SECURITY_PREFIXES)
        )
        if bad:
            raise ValueError(
                f"set by the interceptor or under kafka.security, not here: {', '.join(bad)}"
            )
        return value


class TopicSettings(BaseModel):
    """Topic names, and how missing topics are created."""

    model_config = _SECTION

    inputs: TopicList = Field(default_factory=lambda: ["features.raw"])
    clean: str = "features.clean"
    quarantine: str = "features.quarantine"
    audit: str = "compliance.audit"
    deadletter: str = "features.deadletter"
    consent: str = "privacy.consent"
    audit_panel: str = "privacy.audit-panel"
    transformations: str = "interceptor.transformations"
    detector_state: str = "interceptor.detector-state"
    transformation_by_topic: dict[str, str] = Field(default_factory=dict)
    create_missing: bool = True
    partitions: Annotated[int, Field(ge=1)] = 3
    replication_factor: Annotated[int, Field(ge=-1)] = -1


class ProcessingSettings(BaseModel):
    """Batching and the delivery guarantee."""

    model_config = _SECTION

    guarantee: Guarantee = "at-least-once"
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    batch_timeout_ms: Annotated[int, Field(ge=0)] = 100
    on_unregistered: OnUnregistered = "block"
    on_evaluation_error: OnEvaluationError = "quarantine"
    max_record_bytes: Annotated[int, Field(ge=1)] = DEFAULT_MAX_RECORD_BYTES
    commit_interval_ms: Annotated[int, Field(ge=0)] = 0
    state_load_timeout_ms: Annotated[int, Field(ge=100)] = 120_000


class PolicySettings(BaseModel):
    """Where the policy bundle lives and whether changes are picked up while running."""

    model_config = _SECTION

    path: Path = Path("policies")
    reload: bool = True
    reload_interval_ms: Annotated[int, Field(ge=10)] = 1000


class ManifestSettings(BaseModel):
    """Manifests loaded at start-up, in addition to those on the registry topic."""

    model_config = _SECTION

    path: Path | None = Path("examples/transformations")


class MetricsSettings(BaseModel):
    """The HTTP endpoint for ``/metrics``, ``/healthz`` and ``/readyz``; port 0 picks any."""

    model_config = _SECTION

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 9108
    liveness_timeout_s: Annotated[float, Field(gt=0)] = 30.0


class AuditSettings(BaseModel):
    """Keys the audit trail; the salt turns entity ids into hashes only its holder can join."""

    model_config = _SECTION

    entity_salt: SecretStr = SecretStr(DEV_ENTITY_SALT)

    @field_validator("entity_salt")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode("utf-8")) < 16:
            raise ValueError("the entity salt must be at least 16 bytes")
        return value

    @property
    def uses_dev_salt(self) -> bool:
        return self.entity_salt.get_secret_value() == DEV_ENTITY_SALT


#: The default protected attributes and their levels (DESIGN section 3, audit panel).
DEFAULT_PROTECTED: Final[dict[str, list[str]]] = {
    "race": ["white", "black", "hispanic", "asian", "native", "other"],
    "sex": ["female", "male", "nonbinary"],
    "age_band": ["13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
}


class DetectorSettings(BaseModel):
    """The proxy detectors: which protected attributes, how often to judge, when to flag.

    ``instance_id`` keys this instance's snapshot on the detector-state topic; keep it stable
    across restarts (a StatefulSet name, say) so an instance restores its own tables. Every
    instance counts every other instance's latest snapshot, so flags are global either way.
    """

    model_config = _SECTION

    enabled: bool = True
    instance_id: str = ""  # empty: the host name
    protected: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_PROTECTED))
    panel_file: Path | None = None  # a CSV/Parquet panel instead of (or besides) the topic
    panel_entity_column: str = "entity_id"
    evaluate_interval_ms: Annotated[int, Field(ge=10)] = 5_000
    snapshot_interval_ms: Annotated[int, Field(ge=10)] = 10_000
    combination_interval_ms: Annotated[int, Field(ge=10)] = 60_000
    half_life_s: Annotated[float, Field(gt=0)] | None = 7 * 24 * 3600.0
    review_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.01
    proxy_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.05
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
    min_samples: Annotated[int, Field(ge=1)] = 500

    @field_validator("protected")
    @classmethod
    def _levels_present(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("name at least one protected attribute")
        for name, levels in value.items():
            if len(levels) < 2 or len(set(levels)) != len(levels):
                raise ValueError(f"{name}: list two or more distinct levels")
        return value

    @property
    def instance(self) -> str:
        """This instance's key on the detector-state topic."""
        return self.instance_id or socket.gethostname()

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> DetectorSettings:
        if self.review_threshold > self.proxy_threshold:
            raise ValueError("review_threshold must not exceed proxy_threshold")
        return self


class Settings(BaseSettings):
    """The whole configuration (DESIGN section 9)."""

    model_config = SettingsConfigDict(
        env_prefix="INTERCEPTOR_",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)
    policies: PolicySettings = Field(default_factory=PolicySettings)
    manifests: ManifestSettings = Field(default_factory=ManifestSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment first: it overrides the file contents passed as init arguments.
        return (env_settings, init_settings)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of sections")
    return data


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{origin}: {key}: {message}")
    return "\n".join(lines)


def load_settings(path: Path | None = None) -> Settings:
    """Settings from ``path`` (if given) and ``INTERCEPTOR_*`` variables; ConfigError if invalid."""
    data = _read_yaml(path) if path is not None else {}
    origin = f"{path} (or an INTERCEPTOR_* variable)" if path else "INTERCEPTOR_* variables"
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc
    except ValueError as exc:  # pydantic-settings: an environment value it cannot parse
        raise ConfigError(f"{origin}: {exc}") from exc
    if settings.processing.on_evaluation_error == "forward":
        log.warning(
            "processing.on_evaluation_error is 'forward': the interceptor FAILS OPEN. Records "
            "whose policy or detector evaluation raises an error go to the feature store "
            "undecided (flagged with rule evaluation-fault) instead of to quarantine."
        )
    if settings.audit.uses_dev_salt:
        log.warning(
            "audit.entity_salt is the built-in development salt: audit entity hashes are "
            "joinable by anyone. Set INTERCEPTOR_AUDIT__ENTITY_SALT in production."
        )
    return settings
