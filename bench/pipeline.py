"""Cost per record of the pure pipeline (no broker), and where it goes.

    .venv/bin/python bench/pipeline.py [--records 50000] [--batch-size 5000]

Decides the demo's synthetic traffic (consent state for 2,000 entities, planted violations and
bad records) with the default pack, in batches, and prints microseconds per record for the whole
``Pipeline.process`` and for its parts: decoding alone, and the compiled policy's ``decide``.
The baseline is decoding alone (what any JSON-validating consumer pays).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from interceptor.demo.synthetic import Population, SyntheticTraffic  # noqa: E402
from interceptor.envelope import SourceRecord  # noqa: E402
from interceptor.pipeline import Pipeline  # noqa: E402
from interceptor.records import decode_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    args = parser.parse_args()
    pipeline = Pipeline.from_directories(
        policies=REPO / "policies",
        manifests=REPO / "examples" / "transformations",
        entity_salt=b"bench-salt-0123456789",
        reload=False,
    )
    population = Population(2_000)
    for message in population.consent_messages():
        pipeline.consent.apply(message.key, message.value)
    messages = list(SyntheticTraffic(population).messages(args.records))
    batches = [
        [
            SourceRecord("features.raw", 0, start + i, m.key, m.value, m.headers)
            for i, m in enumerate(messages[start : start + args.batch_size])
        ]
        for start in range(0, args.records, args.batch_size)
    ]
    gc.freeze()  # as the runner does after loading state
    compiled = pipeline.bundle.compiled
    original = compiled.decide
    spent = [0.0]

    def timed_decide(*a: object, **k: object) -> object:
        started = time.perf_counter()
        try:
            return original(*a, **k)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - started

    compiled.decide = timed_decide  # type: ignore[method-assign]
    best = float("inf")
    for _ in range(3):
        spent[0] = 0.0
        started = time.perf_counter()
        for batch in batches:
            pipeline.process(batch, now=time.time())
        total = time.perf_counter() - started
        if total < best:
            best, decide = total, spent[0]
    started = time.perf_counter()
    for batch in batches:
        for record in batch:
            decode_record(record.value)
    decode = time.perf_counter() - started
    per = 1e6 / args.records
    n = args.records
    print(f"{args.records} records in batches of {args.batch_size} (best of 3)")
    print(f"  Pipeline.process   {best * per:6.1f} us/record   {n / best:10,.0f} records/s")
    print(f"  of which decide    {decide * per:6.1f} us/record")
    print(f"  decode alone       {decode * per:6.1f} us/record   {n / decode:10,.0f} records/s")
    print(f"  ratio process/decode-only throughput = {decode / best:.2f}")


if __name__ == "__main__":
    main()
