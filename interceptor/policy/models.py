"""Policy files as data: rules, their actions and transforms, validated on load.

Policy authors are not programmers, so every model forbids unknown keys (a typo is an error, never a
silently ignored setting) and is frozen (a compiled policy cannot drift from what was linted).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from interceptor.policy.batch import ActionCode
from interceptor.policy.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    NotOf,
    dump_condition,
    parse_condition,
)

__all__ = [
    "ACTION_LABELS",
    "Action",
    "ActionLabel",
    "CoarsenGeo",
    "ConditionField",
    "Generalize",
    "HashValue",
    "PolicyFile",
    "Rule",
    "Scope",
    "Severity",
    "Transform",
]

Severity = Literal["critical", "high", "medium", "low", "info"]
Scope = Literal["transformation", "record", "feature"]
ActionName = Literal["block", "redact", "flag", "allow"]

_FROZEN: Final = ConfigDict(extra="forbid", frozen=True)


class CoarsenGeo(BaseModel):
    """Round coordinates to ``decimals`` places, or cut a geohash to ``geohash`` characters."""

    model_config = _FROZEN

    transform: Literal["coarsen_geo"]
    geohash: Annotated[int, Field(ge=1, le=12)] = 5
    decimals: Annotated[int, Field(ge=0, le=10)] = 1


class Generalize(BaseModel):
    """Replace a number by its bin label (``bins``) or a string by its prefix (``keep_chars``)."""

    model_config = _FROZEN

    transform: Literal["generalize"]
    bins: tuple[int | float, ...] | None = None
    keep_chars: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_method(self) -> Generalize:
        if (self.bins is None) == (self.keep_chars is None):
            raise ValueError("generalize takes exactly one of bins or keep_chars")
        if self.bins is not None:
            if not self.bins:
                raise ValueError("bins must list at least one edge")
            if any(a >= b for a, b in zip(self.bins, self.bins[1:], strict=False)):
                raise ValueError("bins must be strictly increasing")
        return self


class HashValue(BaseModel):
    """Replace a value by a keyed BLAKE2b digest of its text, as hex."""

    model_config = _FROZEN

    transform: Literal["hash"]
    digest_bytes: Annotated[int, Field(ge=8, le=64)] = 16


Transform: TypeAlias = Annotated[
    CoarsenGeo | Generalize | HashValue, Field(discriminator="transform")
]
# Told apart up front, so a bad action gets one error from the branch the author meant.
Action: TypeAlias = Annotated[
    Annotated[ActionName, Tag("name")] | Annotated[Transform, Tag("transform")],
    Discriminator(lambda value: "name" if isinstance(value, str) else "transform"),
]


def _validate_condition(value: Any) -> Condition:
    if isinstance(value, AllOf | AnyOf | NotOf | Leaf):
        return value
    condition, problems = parse_condition(value)
    if condition is None:
        path, message = problems[0]
        where = ".".join(str(p) for p in path)
        raise ValueError(f"{where}: {message}" if where else message)
    return condition


ConditionField: TypeAlias = Annotated[
    Condition,
    PlainValidator(_validate_condition),
    PlainSerializer(dump_condition, return_type=dict[str, Any]),
]

ActionLabel = Literal["allow", "flag", "transform", "redact", "block"]
ACTION_LABELS: Final[dict[ActionCode, ActionLabel]] = {
    ActionCode.ALLOW: "allow",
    ActionCode.FLAG: "flag",
    ActionCode.TRANSFORM: "transform",
    ActionCode.REDACT: "redact",
    ActionCode.BLOCK: "block",
}
_ACTION_CODES: Final[dict[str, ActionCode]] = {
    "allow": ActionCode.ALLOW,
    "flag": ActionCode.FLAG,
    "redact": ActionCode.REDACT,
    "block": ActionCode.BLOCK,
}


class Rule(BaseModel):
    """One obligation: when ``when`` holds for a record (or feature), take ``action``."""

    model_config = _FROZEN

    id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
    title: Annotated[str, Field(min_length=1)]
    cite: Annotated[str, Field(min_length=1)]
    severity: Severity
    scope: Scope = "record"
    description: str = ""
    when: ConditionField
    action: Action
    exempts: tuple[str, ...] = ()

    @field_validator("action")
    @classmethod
    def _feature_actions(cls, action: Action, info: ValidationInfo) -> Action:
        per_feature = action == "redact" or not isinstance(action, str)
        if per_feature and info.data.get("scope", "record") != "feature":
            what = "redact" if action == "redact" else "transform"
            raise ValueError(f"{what} acts on one feature and needs scope: feature")
        return action

    @field_validator("exempts")
    @classmethod
    def _exempts_need_allow(cls, exempts: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if exempts and info.data.get("action") != "allow":
            raise ValueError("exempts is a carve-out and needs action: allow")
        if len(set(exempts)) != len(exempts):
            raise ValueError("exempts lists a rule twice")
        return exempts

    @property
    def action_code(self) -> ActionCode:
        """The action's place in the precedence order (block > redact > transform > flag)."""
        if isinstance(self.action, str):
            return _ACTION_CODES[self.action]
        return ActionCode.TRANSFORM

    @property
    def action_label(self) -> ActionLabel:
        return ACTION_LABELS[self.action_code]


class PolicyFile(BaseModel):
    """One ``policies/*.yaml`` file: a named group of rules."""

    model_config = _FROZEN

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    rules: tuple[Rule, ...]

    @field_validator("rules")
    @classmethod
    def _some_rules(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        # After the items: pydantic's min_length would also fire when an item merely failed.
        if not rules:
            raise ValueError("a policy file needs at least one rule")
        return rules
