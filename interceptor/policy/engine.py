"""The compiled policy: decides whole batches with numpy, one rule at a time, never one record.

Per batch the work is: group records by manifest; for each record-scope rule, take the manifests
where the rule may hold (static plans, cached across batches) and evaluate its compiled condition
once over their records; for each feature a manifest's records carry that some feature-scope rule
may hold for, evaluate those rules over just the records carrying that feature. Then
:func:`~interceptor.policy.resolve.resolve` applies exemptions and precedence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from interceptor.manifests import Manifest
from interceptor.policy.batch import BatchDecision, BatchInput
from interceptor.policy.columns import IntArray
from interceptor.policy.compiled import CompiledRule, Match
from interceptor.policy.conditions import Leaf
from interceptor.policy.frame import Frame, View
from interceptor.policy.models import Rule
from interceptor.policy.plan import FeaturePlan, ManifestPlan, StaticVerdict
from interceptor.policy.predicates import LeafCheck
from interceptor.policy.resolve import resolve
from interceptor.policy.vocabulary import Vocabulary
from interceptor.scalars import Scalar

__all__ = ["CompiledPolicy"]

_MAX_PLANS: Final = 4096


def _group_rows(manifest_index: npt.NDArray[np.integer[Any]], count: int) -> list[IntArray]:
    """Row indices per manifest, each ascending."""
    index = np.asarray(manifest_index, dtype=np.intp)
    if count == 0:
        if index.size:
            raise ValueError("manifest_index points outside batch.manifests")
        return []
    if index.size and (index.min() < 0 or index.max() >= count):
        raise ValueError("manifest_index points outside batch.manifests")
    order = np.argsort(index, kind="stable")
    bounds = np.cumsum(np.bincount(index, minlength=count))[:-1]
    return list(np.split(order, bounds))


def _candidates(
    plan: ManifestPlan, rows: IntArray, features: Sequence[Mapping[str, Scalar]]
) -> list[tuple[str, FeaturePlan, IntArray]]:
    """(feature, plan, rows carrying it) for each feature some rule may hold for, by name.

    Most records carry exactly the declared features; one set comparison per record finds them,
    and only the others are looked at feature by feature.
    """
    row_list = rows.tolist()
    declared = plan.declared_names
    exact = np.fromiter((features[r].keys() == declared for r in row_list), np.bool_, len(row_list))
    regular = rows[exact]
    odd = rows[~exact].tolist()
    found: list[tuple[str, FeaturePlan, IntArray]] = []
    for name, feature_plan in plan.declared.items():
        carrying = regular
        more = [r for r in odd if name in features[r]]
        if more:
            carrying = np.sort(np.concatenate([regular, np.array(more, dtype=np.intp)]))
        if carrying.size:
            found.append((name, feature_plan, carrying))
    if plan.undeclared_matters and odd:
        extra: dict[str, list[int]] = {}
        for row in odd:
            for name in features[row].keys() - declared:
                extra.setdefault(name, []).append(row)
        for name, extra_rows in extra.items():
            feature_plan = plan.undeclared(name)
            if feature_plan.rules:
                found.append((name, feature_plan, np.array(extra_rows, dtype=np.intp)))
    return sorted(found, key=lambda item: item[0])


class CompiledPolicy:
    """Every rule of a bundle, compiled once; :meth:`decide` is the hot path."""

    def __init__(self, rules: Sequence[Rule], vocabulary: Vocabulary, policy_hash: str) -> None:
        shared: dict[Leaf, LeafCheck] = {}
        ordered = sorted(rules, key=lambda r: r.id)
        compiled = [CompiledRule(rule, vocabulary, shared) for rule in ordered]
        self.policy_hash = policy_hash
        self.vocabulary = vocabulary
        self.rules: Mapping[str, CompiledRule] = {rule.id: rule for rule in compiled}
        self.record_rules = tuple(rule for rule in compiled if rule.rule.scope != "feature")
        self.feature_rules = tuple(rule for rule in compiled if rule.rule.scope == "feature")
        self._plans: dict[tuple[str, str], ManifestPlan] = {}

    def plan(self, manifest: Manifest) -> ManifestPlan:
        """The static plan of ``manifest``, built on first sight and reused for every batch."""
        plan = self._plans.get(manifest.key)
        if plan is None or (plan.manifest is not manifest and plan.manifest != manifest):
            plan = ManifestPlan(manifest, self.vocabulary, self.record_rules, self.feature_rules)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[manifest.key] = plan
        return plan

    def judge_transformation(self, manifest: Manifest) -> StaticVerdict:
        """What the manifest alone decides for every one of its records."""
        return self.plan(manifest).verdict()

    def decide(self, batch: BatchInput, *, hash_key: bytes = b"") -> BatchDecision:
        """One action per record, with the surviving rule hits and the feature edits."""
        return resolve(self.match(batch), batch, hash_key=hash_key)

    def match(self, batch: BatchInput) -> list[Match]:
        """Every (rule, feature) and the rows it holds on, before exemptions."""
        plans = [self.plan(manifest) for manifest in batch.manifests]
        frame = Frame(batch, [plan.facts for plan in plans])
        groups = _group_rows(batch.manifest_index, len(plans))
        matches: list[Match] = []
        self._match_records(frame, plans, groups, matches)
        self._match_features(frame, plans, groups, matches)
        return matches

    def _match_records(
        self,
        frame: Frame,
        plans: Sequence[ManifestPlan],
        groups: Sequence[IntArray],
        out: list[Match],
    ) -> None:
        present = [i for i, rows in enumerate(groups) if rows.size]
        views: dict[tuple[int, ...], View] = {}
        for k, rule in enumerate(self.record_rules):
            parts: list[IntArray] = []
            maybe: list[int] = []
            for i in present:
                status = plans[i].record_status[k]
                if status:
                    parts.append(groups[i])
                elif status is None:
                    maybe.append(i)
            if maybe:
                key = tuple(maybe)
                view = views.get(key)
                if view is None:
                    view = views[key] = self._record_view(frame, plans, groups, key, present)
                result = rule.node.evaluate(view)
                if result is True:
                    parts.append(view.row_ids())
                elif result is not False:
                    parts.append(view.row_ids()[result])
            if parts:
                rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
                if rows.size:
                    out.append(Match(rule, rows))

    @staticmethod
    def _record_view(
        frame: Frame,
        plans: Sequence[ManifestPlan],
        groups: Sequence[IntArray],
        key: tuple[int, ...],
        present: Sequence[int],
    ) -> View:
        if len(key) == 1:
            return View(frame, groups[key[0]], facts=plans[key[0]].facts)
        if len(key) == len(present):
            return View(frame, None)
        return View(frame, np.sort(np.concatenate([groups[i] for i in key])))

    def _match_features(
        self,
        frame: Frame,
        plans: Sequence[ManifestPlan],
        groups: Sequence[IntArray],
        out: list[Match],
    ) -> None:
        batch = frame.batch
        for plan, rows in zip(plans, groups, strict=True):
            if not rows.size or not (plan.declared or plan.undeclared_matters):
                continue
            transformation = plan.manifest.id
            for name, feature_plan, carrying in _candidates(plan, rows, batch.features):
                view = View(
                    frame,
                    carrying,
                    facts=plan.facts,
                    feature=feature_plan.facts,
                    proxy=batch.proxy.get((transformation, name)),
                )
                for rule, certain in feature_plan.rules:
                    result = True if certain else rule.node.evaluate(view)
                    if result is True:
                        out.append(Match(rule, carrying, name))
                    elif result is not False and result.any():
                        out.append(Match(rule, carrying[result], name))
