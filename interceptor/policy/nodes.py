"""Compiled condition trees: each rule's ``when`` becomes a tree of small evaluators.

Every node answers three questions:

- ``evaluate(view)``: over all rows of a view at once, with numpy. A leaf whose subject is fixed for
  the view (transformation, static feature, proxy reading) answers with one ``bool``; the others
  answer with a boolean array. ``all``/``any`` stop as soon as the answer is settled, and evaluate
  their cheapest children first, so a rule guarded by ``transformation.purpose`` costs next to
  nothing on records of other purposes.
- ``static(transformation, feature)``: three-valued (``True``/``False``/``None`` = depends on the
  record), from facts known before any record arrives. The engine uses it to skip rules per
  manifest and feature, and it is the transformation's static verdict.
- ``why(view, i)``: the slow per-record walk behind ``explain``: the truth and the leaves behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from interceptor.policy.conditions import AllOf, Condition, Leaf, NotOf, SetRef
from interceptor.policy.facts import UNKNOWN, FeatureFacts, TransformationFacts, static_value
from interceptor.policy.frame import Truth, View
from interceptor.policy.predicates import LeafCheck, compile_leaf
from interceptor.policy.subjects import Source
from interceptor.policy.vocabulary import Vocabulary

__all__ = [
    "AllNode",
    "AnyNode",
    "LeafNode",
    "Node",
    "NotNode",
    "Reason",
    "compile_condition",
    "jsonable",
]

Reason = dict[str, Any]


class Node(Protocol):
    cost: int

    def evaluate(self, view: View) -> Truth: ...

    def static(
        self, transformation: TransformationFacts, feature: FeatureFacts | None
    ) -> bool | None: ...

    def why(self, view: View, i: int) -> tuple[bool, list[Reason]]: ...


def jsonable(value: object) -> object:
    """A subject value as JSON: sets become sorted lists, NaN and unknowns become null."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and value != value:
        return None
    return None if value is UNKNOWN else value


class LeafNode:
    """One test; how it reads its value depends on when the value is known."""

    def __init__(self, check: LeafCheck) -> None:
        self.check = check
        source = check.subject.source
        self.cost = int(source)
        self.evaluate: Callable[[View], Truth]
        if source.is_static:
            self.evaluate = lambda view: view.static_truth(check)
        elif source is Source.PROXY:
            self.evaluate = lambda view: view.proxy_truth(check)
        else:
            self.evaluate = lambda view: view.record_truth(check)

    def static(
        self, transformation: TransformationFacts, feature: FeatureFacts | None
    ) -> bool | None:
        if not self.check.subject.source.is_static:
            return None
        value = static_value(self.check.subject, transformation, feature)
        return None if value is UNKNOWN else self.check.test(value)

    def why(self, view: View, i: int) -> tuple[bool, list[Reason]]:
        leaf: Leaf = self.check.leaf
        actual = view.value(self.check.subject, i)
        holds = self.check.test(actual)
        reason: Reason = {
            "subject": leaf.subject,
            "op": leaf.op,
            "expected": jsonable(str(leaf.value) if isinstance(leaf.value, SetRef) else leaf.value),
            "actual": jsonable(actual),
            "holds": holds,
        }
        if isinstance(leaf.value, SetRef):
            reason["set"] = (
                list(self.check.expected) if isinstance(self.check.expected, tuple) else []
            )
        return holds, [reason]


class AllNode:
    def __init__(self, children: Sequence[Node]) -> None:
        self.children = sorted(children, key=lambda child: child.cost)
        self.cost = max(child.cost for child in self.children)

    def evaluate(self, view: View) -> Truth:
        acc: Truth = True
        for child in self.children:
            result = child.evaluate(view)
            if isinstance(result, bool):
                if not result:
                    return False
                continue
            acc = result if isinstance(acc, bool) else acc & result
            if not acc.any():
                return False
        return acc

    def static(
        self, transformation: TransformationFacts, feature: FeatureFacts | None
    ) -> bool | None:
        answers = [child.static(transformation, feature) for child in self.children]
        if False in answers:
            return False
        return True if all(answers) else None

    def why(self, view: View, i: int) -> tuple[bool, list[Reason]]:
        results = [child.why(view, i) for child in self.children]
        holds = all(truth for truth, _ in results)
        return holds, [r for truth, reasons in results if truth == holds for r in reasons]


class AnyNode:
    def __init__(self, children: Sequence[Node]) -> None:
        self.children = sorted(children, key=lambda child: child.cost)
        self.cost = max(child.cost for child in self.children)

    def evaluate(self, view: View) -> Truth:
        acc: Truth = False
        for child in self.children:
            result = child.evaluate(view)
            if isinstance(result, bool):
                if result:
                    return True
                continue
            acc = result if isinstance(acc, bool) else acc | result
            if acc.all():
                return True
        return acc

    def static(
        self, transformation: TransformationFacts, feature: FeatureFacts | None
    ) -> bool | None:
        answers = [child.static(transformation, feature) for child in self.children]
        if True in answers:
            return True
        return False if all(answer is False for answer in answers) else None

    def why(self, view: View, i: int) -> tuple[bool, list[Reason]]:
        results = [child.why(view, i) for child in self.children]
        holds = any(truth for truth, _ in results)
        return holds, [r for truth, reasons in results if truth == holds for r in reasons]


class NotNode:
    def __init__(self, child: Node) -> None:
        self.child = child
        self.cost = child.cost

    def evaluate(self, view: View) -> Truth:
        result = self.child.evaluate(view)
        return (not result) if isinstance(result, bool) else np.logical_not(result)

    def static(
        self, transformation: TransformationFacts, feature: FeatureFacts | None
    ) -> bool | None:
        answer = self.child.static(transformation, feature)
        return None if answer is None else not answer

    def why(self, view: View, i: int) -> tuple[bool, list[Reason]]:
        truth, reasons = self.child.why(view, i)
        return not truth, reasons


def compile_condition(
    condition: Condition, vocabulary: Vocabulary, shared: dict[Leaf, LeafCheck] | None = None
) -> Node:
    """Compile a parsed, linted condition tree once; the result is reused for every batch.

    Equal leaves of different rules share one :class:`LeafCheck` through ``shared``, so a batch
    evaluates e.g. ``context.campaign_category: {in: $hec_campaigns}`` once, not once per rule.
    """
    shared = {} if shared is None else shared
    if isinstance(condition, Leaf):
        check = shared.get(condition)
        if check is None:
            check = shared[condition] = compile_leaf(condition, vocabulary)
        return LeafNode(check)
    if isinstance(condition, NotOf):
        return NotNode(compile_condition(condition.child, vocabulary, shared))
    children = [compile_condition(child, vocabulary, shared) for child in condition.children]
    return AllNode(children) if isinstance(condition, AllOf) else AnyNode(children)
