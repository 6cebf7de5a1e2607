"""What the rules already know about a manifest before its records arrive.

For each manifest the engine asks every rule's static question once (three-valued: holds, cannot
hold, depends on the record) for the transformation and for each declared output, and keeps the
answer. Per batch it then evaluates only the rules that can still hold, and only over the records
they can hold on. The same answers are the transformation's static verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from interceptor.manifests import Manifest
from interceptor.policy.batch import ActionCode, RuleHit
from interceptor.policy.compiled import CompiledRule
from interceptor.policy.facts import UNKNOWN, FeatureFacts, TransformationFacts
from interceptor.policy.models import ACTION_LABELS, ActionLabel
from interceptor.policy.vocabulary import Vocabulary

__all__ = ["FeaturePlan", "ManifestPlan", "StaticVerdict"]

_MAX_UNDECLARED: Final = 1024


@dataclass(frozen=True, slots=True)
class FeaturePlan:
    """The feature-scope rules that can hold for one feature; ``certain`` ones hold outright."""

    facts: FeatureFacts
    rules: tuple[tuple[CompiledRule, bool], ...]


@dataclass(frozen=True, slots=True)
class StaticVerdict:
    """The decision every record of a transformation gets from its manifest alone.

    ``hits`` are rules that hold whatever the record (after exemptions that also hold outright);
    ``conditional`` are rules whose outcome depends on the record, so they are not in ``decision``.
    """

    decision: ActionLabel
    hits: tuple[RuleHit, ...]
    conditional: tuple[str, ...]
    exempted: tuple[str, ...]


def _feature_plan(
    facts: TransformationFacts, feature: FeatureFacts, rules: Sequence[CompiledRule]
) -> FeaturePlan:
    possible = []
    for rule in rules:
        answer = rule.node.static(facts, feature)
        if answer is not False:
            possible.append((rule, answer is True))
    return FeaturePlan(feature, tuple(possible))


class ManifestPlan:
    """Static answers of every rule for one manifest and its declared outputs."""

    def __init__(
        self,
        manifest: Manifest,
        vocabulary: Vocabulary,
        record_rules: Sequence[CompiledRule],
        feature_rules: Sequence[CompiledRule],
    ) -> None:
        self.manifest = manifest
        self.facts = TransformationFacts.of(manifest, vocabulary)
        self.record_rules = tuple(record_rules)
        self.record_status = tuple(rule.node.static(self.facts, None) for rule in record_rules)
        self._feature_rules = tuple(feature_rules)
        self.declared_names = frozenset(manifest.output_by_name)
        self.features = {
            name: _feature_plan(self.facts, FeatureFacts.of(manifest, name), feature_rules)
            for name in sorted(self.declared_names)
        }
        self.declared = {name: plan for name, plan in self.features.items() if plan.rules}
        anonymous = FeatureFacts(UNKNOWN, None, frozenset(), False)
        self.undeclared_matters = bool(_feature_plan(self.facts, anonymous, feature_rules).rules)
        self._undeclared: dict[str, FeaturePlan] = {}

    def undeclared(self, name: str) -> FeaturePlan:
        """The plan for a feature a record carries but the manifest does not declare."""
        plan = self._undeclared.get(name)
        if plan is None:
            facts = FeatureFacts(name, None, frozenset(), False)
            plan = _feature_plan(self.facts, facts, self._feature_rules)
            if len(self._undeclared) < _MAX_UNDECLARED:  # names come from records: bound it
                self._undeclared[name] = plan
        return plan

    def verdict(self) -> StaticVerdict:
        """Rules that hold for every record, with exemptions that hold for every record applied."""
        certain: list[tuple[CompiledRule, str | None]] = []
        conditional: set[str] = set()
        for rule, status in zip(self.record_rules, self.record_status, strict=True):
            if status is True:
                certain.append((rule, None))
            elif status is None:
                conditional.add(rule.id)
        for name, plan in self.features.items():
            for rule, sure in plan.rules:
                if sure:
                    certain.append((rule, name))
                else:
                    conditional.add(rule.id)
        exempt = {target for rule, _ in certain for target in rule.rule.exempts}
        kept = sorted(
            ((rule, name) for rule, name in certain if rule.id not in exempt),
            key=lambda item: (item[0].id, item[1] or ""),
        )
        code = max((rule.code for rule, _ in kept), default=ActionCode.ALLOW)
        sure_ids = {rule.id for rule, _ in certain}
        return StaticVerdict(
            decision=ACTION_LABELS[code],
            hits=tuple(rule.hit(name) for rule, name in kept),
            conditional=tuple(sorted(conditional)),
            exempted=tuple(sorted(exempt & sure_ids)),
        )
