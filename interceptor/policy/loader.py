"""Load a policy directory into a bundle: every file, every check, all problems at once.

A bundle is every ``*.yaml``/``*.yml`` under the directory except ``vocabulary.yaml``, the
``tests/`` folder and hidden files (editor and atomic-write temporaries). Loading is all or
nothing: any problem anywhere raises :class:`PolicyError` listing every ``file:line:col: message``,
so a running interceptor never swaps in half a policy. Each file is read once, and the bundle hash
covers exactly the bytes that were parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from interceptor.manifests import Manifest
from interceptor.policy.conditions import Leaf, parse_condition
from interceptor.policy.engine import CompiledPolicy
from interceptor.policy.errors import PolicyError
from interceptor.policy.lint import LocatedRule, lint_exemptions, lint_rule
from interceptor.policy.models import PolicyFile, Rule
from interceptor.policy.plan import StaticVerdict
from interceptor.policy.vocabulary import VOCABULARY_FILE, Vocabulary, parse_vocabulary
from interceptor.yamlsource import Located, format_validation_error, parse_yaml

__all__ = ["PolicyBundle", "bundle_hash", "load_bundle", "policy_files"]

_SUFFIXES: Final = (".yaml", ".yml")
_TESTS_DIR: Final = "tests"
_HASH_CHARS: Final = 16
# Stands in for a ``when`` that already failed to parse (and was reported), so that pydantic
# still reports the rule's other problems without repeating the condition's.
_REPORTED: Final = Leaf("transformation.id", "exists", True)


@dataclass(frozen=True)
class PolicyBundle:
    """A loaded, linted and compiled policy directory."""

    root: Path
    rules: tuple[Rule, ...]  # sorted by id
    vocabulary: Vocabulary
    hash: str
    source_files: tuple[Path, ...]
    compiled: CompiledPolicy

    def rule(self, rule_id: str) -> Rule:
        return self.compiled.rules[rule_id].rule

    def judge_transformation(self, manifest: Manifest) -> StaticVerdict:
        return self.compiled.judge_transformation(manifest)


def policy_files(root: Path) -> list[Path]:
    """The rule files of a policy directory, sorted by relative path."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.suffix not in _SUFFIXES or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.parts[0] == _TESTS_DIR or rel.as_posix() == VOCABULARY_FILE or not path.is_file():
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def bundle_hash(blobs: Iterable[tuple[str, bytes]]) -> str:
    """First 16 hex chars of sha256 over (relative path, bytes), sorted by path."""
    digest = hashlib.sha256()
    for rel, data in sorted(blobs):
        digest.update(rel.encode("utf-8") + b"\0")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:_HASH_CHARS]


def _layout(path: Path) -> tuple[Path, list[Path]]:
    """(root holding the vocabulary, rule files): a directory, or one file of a directory."""
    if path.is_dir():
        return path, policy_files(path)
    for parent in path.parents:
        if (parent / VOCABULARY_FILE).is_file():
            return parent, [path]
    return path.parent, [path]


def _read(path: Path, problems: list[str]) -> tuple[bytes, str] | None:
    try:
        data = path.read_bytes()
        return data, data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:1:1: cannot read file: {exc}")
        return None


def _prepared(located: Located, problems: list[str]) -> Any:
    """The document with each rule's ``when`` parsed, so condition errors carry exact marks."""
    data = located.data
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        return data
    prepared = []
    for i, raw in enumerate(rules):
        if isinstance(raw, dict) and "when" in raw:
            condition, found = parse_condition(raw["when"])
            problems.extend(located.error(("rules", i, "when", *rel), msg) for rel, msg in found)
            raw = {**raw, "when": condition if condition is not None else _REPORTED}
        prepared.append(raw)
    return {**data, "rules": prepared}


def _parse_rules(text: str, file: str, problems: list[str]) -> list[LocatedRule]:
    located, syntax = parse_yaml(text, file)
    if located is None:
        problems.extend(syntax)
        return []
    if not isinstance(located.data, dict):
        problems.append(located.error((), "a policy file must be a mapping with name and rules"))
        return []
    before = len(problems)
    data = _prepared(located, problems)
    try:
        policy = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(format_validation_error(exc, located))
        return []
    if len(problems) > before:
        return []
    return [LocatedRule(rule, located, ("rules", i)) for i, rule in enumerate(policy.rules)]


def load_bundle(path: Path) -> PolicyBundle:
    """Load, lint and compile a policy directory; raise :class:`PolicyError` with every problem."""
    root, files = _layout(path)
    problems: list[str] = []
    blobs: list[tuple[str, bytes]] = []
    vocabulary: Vocabulary | None = None
    vocabulary_path = root / VOCABULARY_FILE
    if not vocabulary_path.is_file():
        problems.append(f"{vocabulary_path}:1:1: vocabulary file is missing")
    elif (read := _read(vocabulary_path, problems)) is not None:
        blobs.append((VOCABULARY_FILE, read[0]))
        vocabulary, found = parse_vocabulary(read[1], str(vocabulary_path))
        problems.extend(found)
    if not files:
        problems.append(f"{root}:1:1: no policy files (*.yaml) found")
    by_id: dict[str, LocatedRule] = {}
    for file in files:
        if (read := _read(file, problems)) is None:
            continue
        blobs.append((file.relative_to(root).as_posix(), read[0]))
        for item in _parse_rules(read[1], str(file), problems):
            first = by_id.setdefault(item.rule.id, item)
            if first is not item:
                origin = first.source.mark((*first.path, "id"))
                problems.append(
                    item.error(("id",), f"duplicate rule id (first defined at {origin})")
                )
                continue
            problems.extend(lint_rule(item, vocabulary))
    if not problems:  # with files missing, "unknown rule" would only be noise
        problems.extend(lint_exemptions(by_id))
    if problems or vocabulary is None:
        raise PolicyError(problems)
    digest = bundle_hash(blobs)
    rules = tuple(sorted((item.rule for item in by_id.values()), key=lambda r: r.id))
    return PolicyBundle(
        root=root,
        rules=rules,
        vocabulary=vocabulary,
        hash=digest,
        source_files=tuple(files),
        compiled=CompiledPolicy(rules, vocabulary, digest),
    )
