"""A compiled rule, and a match: the rows of a batch where one rule (on one feature) held."""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.policy.batch import ActionCode, RuleHit
from interceptor.policy.columns import IntArray
from interceptor.policy.conditions import Leaf
from interceptor.policy.models import Rule
from interceptor.policy.nodes import Node, compile_condition
from interceptor.policy.predicates import LeafCheck
from interceptor.policy.vocabulary import Vocabulary

__all__ = ["CompiledRule", "Match"]


class CompiledRule:
    """A rule with its condition compiled and its hit records prebuilt (shared by every record)."""

    def __init__(
        self, rule: Rule, vocabulary: Vocabulary, shared: dict[Leaf, LeafCheck] | None = None
    ) -> None:
        self.rule = rule
        self.id = rule.id
        self.node: Node = compile_condition(rule.when, vocabulary, shared)
        self.code: ActionCode = rule.action_code
        self._hits: dict[str | None, RuleHit] = {}

    def hit(self, feature: str | None) -> RuleHit:
        hit = self._hits.get(feature)
        if hit is None:
            rule = self.rule
            hit = RuleHit(rule.id, rule.action_label, rule.severity, rule.cite, feature)
            if len(self._hits) < 4096:  # feature names come from records: bound the cache
                self._hits[feature] = hit
        return hit

    def __repr__(self) -> str:
        return f"CompiledRule({self.id!r})"


@dataclass(frozen=True, slots=True)
class Match:
    """``rule`` held on batch rows ``rows`` (for a feature-scope rule, on feature ``feature``)."""

    rule: CompiledRule
    rows: IntArray
    feature: str | None = None

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.rule.id, self.feature or "")
