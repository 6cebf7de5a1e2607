"""Checks that need more than one rule's own shape: the vocabulary, the scope, the other rules.

The models catch typos and malformed conditions; lint catches rules that are well formed but mean
nothing or something unintended: an unknown ``$set``, a category the vocabulary does not know, a
feature subject outside ``scope: feature``, an exemption of a rule that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from interceptor.policy.conditions import Leaf, SetRef, iter_leaves
from interceptor.policy.models import Rule
from interceptor.policy.subjects import Kind, Source, resolve_subject
from interceptor.policy.vocabulary import Vocabulary
from interceptor.yamlsource import Located

__all__ = ["LocatedRule", "lint_exemptions", "lint_rule"]


@dataclass(frozen=True, slots=True)
class LocatedRule:
    """A validated rule with the document it came from and its key path there."""

    rule: Rule
    source: Located
    path: tuple[str | int, ...]

    def error(self, where: Sequence[str | int], message: str) -> str:
        return self.source.error((*self.path, *where), f"rule {self.rule.id}: {message}")


_TAXONOMY_OPS = frozenset({"eq", "ne", "in", "not_in", "intersects", "subset_of"})


def lint_rule(item: LocatedRule, vocabulary: Vocabulary | None) -> list[str]:
    """Scope, set and taxonomy problems of one rule (vocabulary checks only when it loaded)."""
    found: list[str] = []
    scope = item.rule.scope
    for leaf, rel in iter_leaves(item.rule.when):
        where = ("when", *rel)
        subject = resolve_subject(leaf.subject)
        assert subject is not None  # parsing rejected unknown subjects
        if subject.path.startswith("feature.") and scope != "feature":
            found.append(item.error(where, f"{leaf.subject} needs scope: feature"))
        if scope == "transformation" and subject.source is not Source.TRANSFORMATION:
            found.append(
                item.error(
                    where,
                    f"scope: transformation rules test only transformation.*, not {leaf.subject}",
                )
            )
        if vocabulary is not None:
            found.extend(
                item.error(where, msg)
                for msg in _vocabulary_problems(leaf, subject.kind, vocabulary)
            )
    return found


def _vocabulary_problems(leaf: Leaf, kind: Kind, vocabulary: Vocabulary) -> list[str]:
    value = leaf.value
    members: tuple[object, ...]
    if isinstance(value, SetRef):
        if value.name not in vocabulary.sets:
            names = ", ".join(f"${name}" for name in sorted(vocabulary.sets)) or "none"
            return [f"unknown set {value} (known: {names})"]
        members = vocabulary.sets[value.name]
        origin = f"set {value}: member"
    else:
        members = value if isinstance(value, tuple) else (value,)
        origin = "literal"
    if leaf.op not in _TAXONOMY_OPS or kind not in (Kind.USE, Kind.CATEGORIES):
        return []
    known: set[object] = set(vocabulary.uses if kind is Kind.USE else vocabulary.categories)
    what = "data use" if kind is Kind.USE else "data category"
    unknown = [repr(member) for member in members if member not in known]
    if not unknown:
        return []
    verb = "is" if len(unknown) == 1 else "are"
    return [f"{origin} {', '.join(unknown)} {verb} not a known {what} in the vocabulary"]


def lint_exemptions(rules: Mapping[str, LocatedRule]) -> list[str]:
    """Exemptions must name existing rules that restrict something (not other carve-outs)."""
    found: list[str] = []
    for item in rules.values():
        for i, target in enumerate(item.rule.exempts):
            other = rules.get(target)
            if other is None:
                found.append(item.error(("exempts", i), f"exempts unknown rule {target!r}"))
            elif other.rule.action == "allow":
                found.append(
                    item.error(
                        ("exempts", i),
                        f"exempts {target}, an allow rule: exempting a "
                        "carve-out has no defined meaning",
                    )
                )
    return found
