"""Cost of the proxy-detector engine (``interceptor.detectors``), without a broker.

    .venv/bin/python bench/detectors.py [--repeats 5] [--features 200] [--rows 100000]

1. Mutual information of two integer columns (50 x 5 levels) against
   ``sklearn.metrics.mutual_info_score`` on 1e5 and 1e6 rows: the values must agree within
   1e-9; prints both times and the speed-up (goal: at least 25x at 1e6). The engine path is one
   ``bincount`` table plus the plug-in estimate; the mergeable FeatureTable path (sorted int64
   cells, two folds) is shown beside it.
2. 200 features x 1e5 panel rows against the 126-cell joint protected code (race x sex x age
   band, all known): table updates, then scoring (key grouping + MI, Miller-Madow and U for the
   three attributes and the joint code; goal: update + scoring within 250 ms), and the full
   ``assess`` (adds the independence tests, intervals, guard and Holm).

Figures are the minimum over ``--repeats`` runs (the machine is shared; single runs vary).
End-to-end stream throughput with the detectors on, against plain consume→produce, needs the
broker: ``bench/throughput.py`` measures it (its "detectors" line).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sklearn.metrics import mutual_info_score  # noqa: E402

from interceptor.detectors.assess import assess, grouped_table  # noqa: E402
from interceptor.detectors.encoding import categorical_key, numeric_keys  # noqa: E402
from interceptor.detectors.estimators import contingency, plugin_mi, summarize  # noqa: E402
from interceptor.detectors.protected import DEFAULT_SCHEMA  # noqa: E402
from interceptor.detectors.table import FeatureTable  # noqa: E402

MI_GOAL_SPEEDUP = 25.0
BATCH_GOAL_MS = 250.0


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Minimum wall time of ``repeats`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def mutual_information(repeats: int) -> bool:
    print("1. MI of a 50 x 5 pair: engine vs sklearn.metrics.mutual_info_score")
    header = ("rows", "sklearn", "bincount", "speed-up", "table", "|dMI|")
    print("   {:>9} {:>10} {:>10} {:>9} {:>10} {:>9}".format(*header))
    rng = np.random.default_rng(0)
    ok = True
    for n in (100_000, 1_000_000):
        progress(f"MI on {n:,} rows")
        x = rng.integers(0, 50, n)
        s = (x % 5 + rng.integers(0, 3, n)) % 5
        folds = rng.integers(0, 2, n)
        t_sk, reference = best_of(repeats, lambda: mutual_info_score(x, s))  # noqa: B023
        t_np, engine = best_of(repeats, lambda: plugin_mi(contingency(x, s, (50, 5))))  # noqa: B023

        def through_table() -> float:
            table = FeatureTable("categorical", 5)
            table.add(x, s, folds)  # noqa: B023
            keys, _ = table.key_totals()
            w, _ = table.grouped(keys, 50)
            return plugin_mi(w.sum(axis=1))

        t_table, tabled = best_of(repeats, through_table)
        error = max(abs(engine - reference), abs(tabled - reference))
        ok &= error <= 1e-9
        print(
            f"   {n:>9,} {t_sk * 1e3:>8.2f}ms {t_np * 1e3:>8.2f}ms {t_sk / t_np:>8.1f}x"
            f" {t_table * 1e3:>8.2f}ms {error:>9.1e}"
        )
        if n == 1_000_000:
            ok &= t_sk / t_np >= MI_GOAL_SPEEDUP
    print(
        f"   goal: |dMI| <= 1e-9 and >= {MI_GOAL_SPEEDUP:.0f}x at 1e6 ('table' = FeatureTable path)"
    )
    return ok


def batch_of_features(repeats: int, features: int, rows: int) -> bool:
    print(f"2. {features} features x {rows:,} rows against the 126-cell joint protected code")
    rng = np.random.default_rng(1)
    schema = DEFAULT_SCHEMA
    known = np.flatnonzero(schema.known(np.arange(schema.joint_size)[None, :])[0] >= 0)
    cells = schema.known(np.arange(schema.joint_size)[None, :])[0].astype(np.int64)
    joint = cells[rng.integers(0, len(known), rows)]
    folds = rng.integers(0, 2, rows)
    levels = np.array([categorical_key(f"level-{i}") for i in range(50)], dtype=np.int64)
    progress("encoding feature values")
    keys: list[tuple[str, np.ndarray]] = []
    for f in range(features):
        if f % 2:
            keys.append(("categorical", levels[rng.integers(0, 50, rows)]))
        else:
            keys.append(("numeric", numeric_keys(rng.lognormal(size=rows))))

    def update() -> dict[tuple[str, str], FeatureTable]:
        tables = {}
        for f, (kind, k) in enumerate(keys):
            table = FeatureTable(kind, schema.joint_size)  # type: ignore[arg-type]
            table.add(k, joint, folds)
            tables[("bench", f"f{f:03d}")] = table
        return tables

    def score(tables: dict[tuple[str, str], FeatureTable]) -> int:
        count = 0
        for table in tables.values():
            w, _ = grouped_table(table)
            views = [schema.marginal(w, i) for i in range(len(schema.attributes))]
            for view in [*views, schema.known(w)]:
                summary = summarize(view.sum(axis=1))
                count += summary.score >= 0 or summary.miller_madow < 0
        return count

    progress("table updates")
    t_update, tables = best_of(repeats, update)
    progress("scoring")
    t_score, _ = best_of(repeats, lambda: score(tables))
    progress("full assess")
    t_assess, findings = best_of(repeats, lambda: assess(tables, schema))
    total = t_update + t_score
    values = features * rows
    rate = values / t_update / 1e6
    print(f"   update            {t_update * 1e3:8.1f} ms   {rate:6.0f} M values/s")
    print(f"   scoring           {t_score * 1e3:8.1f} ms   (3 attributes + joint per feature)")
    print(f"   update + scoring  {total * 1e3:8.1f} ms   goal <= {BATCH_GOAL_MS:.0f} ms")
    print(
        f"   full assess       {t_assess * 1e3:8.1f} ms   ({len(findings)} findings, tests + Holm)"
    )
    one = tables[("bench", "f001")]
    per_table, _ = best_of(50, lambda: summarize(schema.marginal(grouped_table(one)[0], 0).sum(1)))
    print(f"   one 50 x 6 evaluation (grouping + summary) {per_table * 1e3:.3f} ms")
    return total * 1e3 <= BATCH_GOAL_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress interleaves
    print(f"detector engine benchmark (min of {args.repeats} runs)")
    mi_ok = mutual_information(args.repeats)
    batch_ok = batch_of_features(args.repeats, args.features, args.rows)
    print("3. end-to-end throughput with the detectors on: bench/throughput.py (needs the broker)")
    verdict = {True: "met", False: "MISSED"}
    print(f"goals: MI parity and speed-up {verdict[mi_ok]}, batch budget {verdict[batch_ok]}")


if __name__ == "__main__":
    main()
