"""The policy vocabulary: known data categories and uses, named sets, and the notice inventory.

Taxonomy keys are dotted and hierarchical (Fides style): a key ``a.b`` *covers* ``a.b`` and every
descendant ``a.b.*``. Rules compare taxonomy subjects by coverage, so ``$ads_cross_context`` listing
``marketing.advertising.third_party`` matches a transformation whose purpose is
``marketing.advertising.third_party.targeted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interceptor.manifests import Manifest
from interceptor.yamlsource import Located, format_validation_error, load_yaml, parse_yaml

__all__ = [
    "VOCABULARY_FILE",
    "Vocabulary",
    "check_manifest_vocabulary",
    "covered",
    "covers",
    "load_vocabulary",
    "parse_vocabulary",
    "undisclosed_categories",
]

VOCABULARY_FILE: Final = "vocabulary.yaml"

DottedKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
SetName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def covers(parent: str, key: str) -> bool:
    """Whether taxonomy key ``parent`` is ``key`` or one of its ancestors."""
    return key == parent or (key.startswith(parent) and key[len(parent) : len(parent) + 1] == ".")


def covered(key: str, parents: Iterable[str]) -> bool:
    """Whether any of ``parents`` covers ``key``."""
    return any(covers(parent, key) for parent in parents)


class Vocabulary(BaseModel):
    """Everything a rule may name: taxonomy keys, named sets, and what each notice disclosed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[DottedKey, ...]
    uses: tuple[DottedKey, ...]
    sets: dict[SetName, tuple[str, ...]] = Field(default_factory=dict)
    notice_inventory: dict[DottedKey, tuple[DottedKey, ...]] = Field(default_factory=dict)

    def problems(self, source: Located) -> list[str]:
        """Inventory entries that name unknown keys, located in ``source``."""
        found: list[str] = []
        categories, uses = set(self.categories), set(self.uses)
        for category, purposes in self.notice_inventory.items():
            where = ("notice_inventory", category)
            if category not in categories:
                found.append(source.error(where, f"unknown data category {category!r}"))
            for i, purpose in enumerate(purposes):
                if purpose not in uses:
                    found.append(source.error((*where, i), f"unknown data use {purpose!r}"))
        return found

    def disclosed(self, category: str, purpose: str) -> bool:
        """Whether some notice entry covering ``category`` discloses a use covering ``purpose``."""
        return any(
            covers(entry, category) and covered(purpose, purposes)
            for entry, purposes in self.notice_inventory.items()
        )


def undisclosed_categories(manifest: Manifest, vocabulary: Vocabulary) -> frozenset[str]:
    """Input categories whose notice entry does not cover the purpose, or that have no entry."""
    return frozenset(
        category
        for category in manifest.input_categories
        if not vocabulary.disclosed(category, manifest.purpose)
    )


def load_vocabulary(path: Path) -> tuple[Vocabulary | None, list[str]]:
    """Load ``vocabulary.yaml``; return it, or ``None`` and every problem as file:line:col."""
    located, problems = load_yaml(path)
    return _validate(located, problems)


def parse_vocabulary(text: str, file: str) -> tuple[Vocabulary | None, list[str]]:
    """Like :func:`load_vocabulary`, from text already read."""
    return _validate(*parse_yaml(text, file))


def _validate(located: Located | None, problems: list[str]) -> tuple[Vocabulary | None, list[str]]:
    if located is None:
        return None, problems
    if not isinstance(located.data, dict):
        return None, [located.error((), "the vocabulary must be a mapping")]
    try:
        vocabulary = Vocabulary.model_validate(located.data)
    except ValidationError as exc:
        return None, format_validation_error(exc, located)
    problems = vocabulary.problems(located)
    return (None, problems) if problems else (vocabulary, [])


def check_manifest_vocabulary(manifest: Manifest, vocabulary: Vocabulary) -> list[str]:
    """A manifest's purpose and categories that the vocabulary does not know, as messages."""
    label = f"{manifest.id}@{manifest.version}"
    categories, uses = set(vocabulary.categories), set(vocabulary.uses)
    found: list[str] = []
    if manifest.purpose not in uses:
        found.append(f"{label}: purpose {manifest.purpose!r} is not a known data use")
    for item in manifest.inputs:
        if item.category not in categories:
            found.append(
                f"{label}: input {item.field!r} has unknown data category {item.category!r}"
            )
    for out in manifest.outputs:
        if out.category is not None and out.category not in categories:
            found.append(f"{label}: output {out.name!r} has unknown data category {out.category!r}")
    return found
