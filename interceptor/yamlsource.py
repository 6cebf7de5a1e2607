"""YAML documents that remember where every value came from.

Policy authors and feature engineers fix their files from the error message alone, so every problem
is reported as ``file:line:col: message``. PyYAML's node graph carries the marks; this module keeps
them beside the plain data, keyed by the path of keys and indices that leads to each value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["Located", "Mark", "format_validation_error", "load_yaml", "parse_yaml"]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Located:
    """Plain data parsed from YAML plus the mark of every mapping key and value."""

    data: Any
    file: str
    marks: Mapping[PathKey, Mark] = field(default_factory=dict)

    def mark(self, path: Sequence[str | int]) -> Mark:
        """The mark of the deepest known prefix of ``path`` (the document start at worst)."""
        key = tuple(path)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), Mark(self.file, 1, 1))

    def error(self, path: Sequence[str | int], message: str) -> str:
        return f"{self.mark(path)}: {message}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys: a silently shadowed rule is a policy bug."""


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(
    loader: _UniqueKeyLoader,
    node: yaml.Node,
    path: PathKey,
    file: str,
    marks: dict[PathKey, Mark],
    problems: list[str],
) -> Any:
    marks.setdefault(path, _mark(file, node))  # mapping values keep their key's mark
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                problems.append(f"{_mark(file, key_node)}: mapping keys must be plain scalars")
                continue
            if key in out:
                problems.append(f"{_mark(file, key_node)}: duplicate key {key!r}")
                continue
            child = (*path, key if isinstance(key, str | int) else str(key))
            marks[child] = _mark(file, key_node)
            out[key] = _walk(loader, value_node, child, file, marks, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _walk(loader, item, (*path, index), file, marks, problems)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> tuple[Located | None, list[str]]:
    """Parse one YAML document; return it with marks, or ``None`` and the problems found."""
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else f"{file}:1:1"
        return None, [f"{where}: YAML syntax error: {exc.problem or exc.context}"]
    except yaml.YAMLError as exc:
        return None, [f"{file}:1:1: YAML error: {exc}"]
    finally:
        loader.dispose()
    if root is None:
        return Located({}, file, {(): Mark(file, 1, 1)}), []
    marks: dict[PathKey, Mark] = {}
    problems: list[str] = []
    try:
        data = _walk(loader, root, (), file, marks, problems)
    except yaml.YAMLError as exc:
        return None, [f"{file}:1:1: YAML error: {exc}"]
    if problems:
        return None, problems
    return Located(data, file, marks), []


def load_yaml(path: Path) -> tuple[Located | None, list[str]]:
    """Read and parse a YAML file; unreadable or non-UTF-8 files are problems, not crashes."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1:1: cannot read file: {exc}"]
    return parse_yaml(text, str(path))


def format_validation_error(
    exc: ValidationError, source: Located, prefix: Iterable[str | int] = ()
) -> list[str]:
    """Turn pydantic's errors into ``file:line:col: message`` lines, one per problem."""
    base = tuple(prefix)
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if isinstance(part, str | int))
        dotted = ".".join(str(part) for part in loc)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        elif dotted:
            message = f"{dotted}: {message}"
        lines.append(source.error(base + loc, message))
    return lines
