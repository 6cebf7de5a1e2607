"""The offline scan: a data file's columns through the detector bank the stream uses.

Two passes over the file, one record batch at a time, so memory is bounded by the batch, the
bank's contingency tables and its row reservoir, never by the file:

1. the protected columns alone, to learn each attribute's levels (the protected schema);
2. every feature with the protected columns: each batch gets joint protected codes and
   cross-fitting folds (a bit of a stable hash of the entity id, or of the row number) and goes
   to :meth:`DetectorBank.observe_columns`, exactly as a stream batch of panel rows would.

The bank then evaluates: score, interval, test, Holm, sparsity guard and status for every
(feature, attribute). The combination probe is fitted by a second bank fed with a uniform sample
of the rows, minus the features the guard found ID-like: an identifier cannot generalise from one
fold to the other, and as a many-category input it multiplies the probe's fitting time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from rich.console import Console

from interceptor.detectors.assess import ProxyFinding, Thresholds
from interceptor.detectors.bank import DetectorBank
from interceptor.detectors.combination import CombinationResult
from interceptor.detectors.encoding import encode_values, mix64
from interceptor.offline.columns import feature_columns, infer_schema
from interceptor.offline.defaults import DEFAULT_MAX_LEVELS, SAMPLE_ROWS
from interceptor.offline.reader import (
    LARGE_FILE_BYTES,
    ColumnBatch,
    DataSource,
    ReadStats,
    open_source,
    progress_bar,
    read_batches,
)
from interceptor.offline.result import AuditResult, CombinationRow, ProxyRow
from interceptor.offline.result import Thresholds as ResultThresholds
from interceptor.offline.sample import RowSample

__all__ = ["DEFAULT_MAX_LEVELS", "SAMPLE_ROWS", "AuditOptions", "scan_file", "scan_source"]

#: The transformation name the file's features are filed under in the bank.
TRANSFORMATION: Final = "file"


@dataclass(frozen=True)
class AuditOptions:
    """What to scan and how; the command line's arguments."""

    path: Path
    protected: tuple[str, ...]
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    entity: str | None = None
    max_levels: int = DEFAULT_MAX_LEVELS
    combination: bool = True
    progress: bool = True
    seed: int = 0
    thresholds: Thresholds = Thresholds()
    sample_rows: int = SAMPLE_ROWS


def _folds(batch: ColumnBatch, entity: str | None) -> npt.NDArray[np.int64]:
    """One bit of a stable hash: of the entity id when there is one, else of the row number."""
    if entity is not None:
        keys = encode_values(batch.columns[entity].tolist(), "categorical")
    else:
        keys = np.arange(batch.offset, batch.offset + batch.rows, dtype=np.int64)
    return (mix64(keys) & np.uint64(1)).astype(np.int64)


def _row(finding: ProxyFinding, kind: str) -> ProxyRow:
    return ProxyRow(
        feature=finding.feature,
        attribute=finding.attribute,
        score=finding.score,
        ci_low=finding.ci_low,
        ci_high=finding.ci_high,
        p_value=finding.p_value,
        n=finding.n,
        status=finding.status,
        flagged=finding.flagged,
        p_raw=finding.p_raw,
        mi=finding.mi,
        nmi=finding.nmi,
        method=finding.method,
        predictive_information=finding.predictive_information,
        feature_kind=kind,
        reasons=tuple(finding.reasons),
    )


def _combination(result: CombinationResult) -> CombinationRow:
    return CombinationRow(
        attribute=result.attribute,
        n=result.n,
        ber=result.ber,
        auc=result.auc,
        predictive_information=result.predictive_information,
        flagged=result.flagged,
        features=result.features,
    )


def _run_combination(
    bank: DetectorBank, sample: RowSample, findings: Sequence[ProxyFinding]
) -> list[CombinationResult]:
    """The probe on the sampled rows of every feature the sparsity guard did not call ID-like."""
    id_like = {f.feature for f in findings if "id_like" in f.reasons}
    names = [name for name in sample.names if name not in id_like]
    if not names or not len(sample):
        return []
    probe = DetectorBank(bank.schema, bank.thresholds, reservoir_rows=len(sample), seed=bank.seed)
    probe.observe_columns(
        TRANSFORMATION, dict(sample.columns(names)), sample.joint, sample.folds, 0.0
    )
    return probe.run_combination(0.0)


def _notes(
    stats: ReadStats,
    kinds: Mapping[str, str],
    findings: Sequence[ProxyFinding],
    combinations: Sequence[CombinationResult],
    options: AuditOptions,
) -> list[str]:
    notes = [
        f'column "{column}": {count:,} values were not numbers and were counted as missing'
        for column, count in sorted(stats.unparsed.items())
        if count
    ]
    scored = {f.feature for f in findings}
    empty = [f for f in kinds if f not in scored]
    if empty:
        notes.append("features with no values, not scored: " + ", ".join(empty))
    numeric = [f for f, kind in kinds.items() if kind == "numeric" and f in scored]
    if numeric:
        notes.append("numeric features, binned into equal-frequency bins: " + ", ".join(numeric))
    if options.combination:
        probed = {c.attribute for c in combinations}
        floor = options.thresholds.min_samples
        notes.extend(
            f"combination classifier not run for {attribute}: fewer than {floor:,} sampled "
            "rows with it known"
            for attribute in options.protected
            if attribute not in probed
        )
    return notes


def scan_source(
    source: DataSource, options: AuditOptions, *, progress_console: Console | None = None
) -> AuditResult:
    """Scan an opened data file; raises :class:`AuditInputError` for unusable columns."""
    started = time.monotonic()
    features = feature_columns(
        source, options.protected, options.features, options.exclude, options.entity
    )
    source.require(options.categorical)
    entity = [options.entity] if options.entity else []
    text = {*options.protected, *options.categorical, *entity}
    kinds = {f: "categorical" if f in text else source.kinds[f] for f in features}
    console = progress_console or Console(stderr=True)
    # A large file takes a while to read; the classifier takes seconds on any file.
    show = options.progress and (source.size_bytes >= LARGE_FILE_BYTES or options.combination)
    stats = ReadStats()
    with progress_bar(console, show=show) as progress:
        schema, attributes = infer_schema(
            source, options.protected, max_levels=options.max_levels, progress=progress
        )
        bank = DetectorBank(schema, options.thresholds, reservoir_rows=0, seed=options.seed)
        sample = RowSample(features, options.sample_rows, seed=options.seed)
        for batch in read_batches(
            source,
            list(dict.fromkeys([*features, *options.protected, *entity])),
            text_columns=text,
            stats=stats,
            progress=progress,
            description="scanning features",
        ):
            joint = schema.encode({a: batch.columns[a].tolist() for a in options.protected})
            folds = _folds(batch, options.entity)
            columns: dict[str, Sequence[object] | npt.NDArray[Any]] = {
                f: batch.columns[f] for f in features
            }
            bank.observe_columns(TRANSFORMATION, columns, joint, folds, 0.0)
            if options.combination:
                sample.add(batch.columns, joint, folds)
        assessment = bank.evaluate(0.0)
        combinations: list[CombinationResult] = []
        if options.combination:
            progress.add_task("combination classifier", total=None)
            combinations = _run_combination(bank, sample, assessment.findings)
    t = options.thresholds
    return AuditResult(
        file=str(source.path),
        format=source.format,
        rows=stats.rows,
        features=features,
        attributes=attributes,
        thresholds=ResultThresholds(review=t.review, proxy=t.proxy, alpha=t.alpha),
        proxies=[_row(f, kinds[f.feature]) for f in assessment.findings],
        combinations=[_combination(c) for c in combinations],
        entity=options.entity,
        notes=_notes(stats, kinds, assessment.findings, combinations, options),
        seconds=time.monotonic() - started,
    )


def scan_file(options: AuditOptions, *, progress_console: Console | None = None) -> AuditResult:
    """Open ``options.path`` and scan it."""
    return scan_source(open_source(options.path), options, progress_console=progress_console)
