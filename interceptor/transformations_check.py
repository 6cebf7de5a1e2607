"""``interceptor transformations check``: the static verdict of manifests, as a CI gate.

Feature engineers run it on their manifests before deploying a transformation: it fails when a
manifest would be blocked for every record, or uses a data category or purpose the policy
vocabulary does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from interceptor.errors import ManifestError, SourceError
from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy import PolicyBundle, check_manifest_vocabulary, load_bundle

__all__ = ["ManifestVerdict", "check_manifests", "run_check"]


@dataclass(frozen=True)
class ManifestVerdict:
    """One manifest's outcome: a verdict, the rules behind it, or the problems that stop it."""

    source: str
    manifest: Manifest | None
    decision: str
    rules: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def fails(self) -> bool:
        return self.decision in ("block", "invalid")


def _manifest_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
            )
        else:
            files.append(path)
    return files


def check_manifests(bundle: PolicyBundle, paths: list[Path]) -> list[ManifestVerdict]:
    """Judge every manifest file under ``paths`` against ``bundle``."""
    verdicts = []
    for file in _manifest_files(paths):
        try:
            manifest = parse_manifest(file.read_text(encoding="utf-8"), str(file))
        except (OSError, UnicodeDecodeError) as exc:
            verdicts.append(ManifestVerdict(str(file), None, "invalid", (), (f"{file}: {exc}",)))
            continue
        except ManifestError as exc:
            verdicts.append(ManifestVerdict(str(file), None, "invalid", (), tuple(exc.diagnostics)))
            continue
        problems = tuple(
            f"{file}: {p}" for p in check_manifest_vocabulary(manifest, bundle.vocabulary)
        )
        if problems:
            verdicts.append(ManifestVerdict(str(file), manifest, "invalid", (), problems))
            continue
        verdict = bundle.compiled.judge_transformation(manifest)
        rules = tuple(sorted({hit.rule_id for hit in verdict.hits}))
        verdicts.append(ManifestVerdict(str(file), manifest, verdict.decision, rules, ()))
    return verdicts


def run_check(policies: Path, paths: list[Path], console: Console | None = None) -> int:
    """Print a verdict table; exit status 1 if any manifest is blocked or invalid."""
    console = console or Console()
    try:
        bundle = load_bundle(policies)
    except SourceError as exc:
        for line in exc.diagnostics:
            console.print(line, markup=False, highlight=False)
        return 2
    verdicts = check_manifests(bundle, paths)
    table = Table(title=f"Static verdicts under policy {bundle.hash}")
    for column in ("transformation", "version", "verdict", "rules", "file"):
        table.add_column(column)
    styles = {"ok": "green", "allow": "green", "flag": "yellow", "block": "red", "invalid": "red"}
    for v in verdicts:
        style = styles.get(v.decision, "cyan")
        table.add_row(
            v.manifest.id if v.manifest else "?",
            v.manifest.version if v.manifest else "?",
            f"[{style}]{v.decision}[/{style}]",
            ", ".join(v.rules),
            Path(v.source).name,
        )
    console.print(table)
    for v in verdicts:
        for problem in v.problems:
            console.print(problem, markup=False, highlight=False)
    failing = [v for v in verdicts if v.fails]
    console.print(
        f"{len(verdicts)} manifests checked, {len(failing)} would be blocked or are invalid"
    )
    return 1 if failing else 0
