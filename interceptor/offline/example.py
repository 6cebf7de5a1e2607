"""A synthetic audit panel with planted proxies and decoys, for the example and the tests.

Planted (the audit must flag them):

- ``zip3``: three-digit ZIP prefix; most people live in a ZIP where their race group is the
  majority, so the ZIP stands in for race.
- ``first_name_cluster``: a cluster of first names; most clusters are typical of one sex.
- ``household_income_k``: numeric, rises with age band.
- ``night_owl`` and ``weekend_heavy``: two fair coins whose parity (XOR) is female versus male,
  10% flipped. Neither says anything about sex alone; together they do (the combination
  detector's job: scanned with only these and the decoys, no single feature is flagged, the
  combination is).

Decoys (the audit must not flag them): ``device_id`` (one value per row: ID-like),
``page_category``, ``device_os`` and ``sessions_per_week`` (independent of everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = ["DECOYS", "PLANTED", "PROTECTED", "XOR_PAIR", "make_panel", "write_panel"]

PROTECTED: Final = ("race", "sex", "age_band")
PLANTED: Final = {"zip3": "race", "first_name_cluster": "sex", "household_income_k": "age_band"}
XOR_PAIR: Final = ("night_owl", "weekend_heavy")
DECOYS: Final = ("device_id", "page_category", "device_os", "sessions_per_week")

RACES: Final = ("white", "black", "hispanic", "asian", "native", "other")
RACE_P: Final = (0.55, 0.13, 0.18, 0.07, 0.02, 0.05)
SEXES: Final = ("female", "male", "nonbinary")
SEX_P: Final = (0.49, 0.49, 0.02)
AGE_BANDS: Final = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
PAGES: Final = ("news", "sports", "autos", "travel", "finance", "cooking", "gaming")
OSES: Final = ("ios", "android", "windows", "macos")

Array = npt.NDArray[np.object_]


def _pick(
    rng: np.random.Generator, options: tuple[str, ...], n: int, p: Sequence[float] | None = None
) -> Array:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def _with_missing(rng: np.random.Generator, values: Array, share: float) -> Array:
    out = values.copy()
    out[rng.random(len(out)) < share] = None
    return out


def _zip3(rng: np.random.Generator, race_codes: npt.NDArray[np.int64]) -> Array:
    # 36 ZIP prefixes, six per race group; 75% of people live in one of their group's ZIPs.
    n = len(race_codes)
    home = race_codes * 6 + rng.integers(0, 6, size=n)
    anywhere = rng.integers(0, 36, size=n)
    codes = np.where(rng.random(n) < 0.75, home, anywhere)
    return np.array([f"{10 + 27 * int(c):03d}" for c in codes], dtype=object)


def _name_cluster(rng: np.random.Generator, sex_codes: npt.NDArray[np.int64]) -> Array:
    # Clusters 0-9 are typical of women, 10-19 of men, 20-23 neutral.
    n = len(sex_codes)
    roll = rng.random(n)
    typical = np.where(sex_codes == 0, 0, 10) + rng.integers(0, 10, size=n)
    opposite = np.where(sex_codes == 0, 10, 0) + rng.integers(0, 10, size=n)
    neutral = 20 + rng.integers(0, 4, size=n)
    codes = np.where(roll < 0.8, typical, np.where(roll < 0.9, neutral, opposite))
    codes = np.where(sex_codes == 2, rng.integers(0, 24, size=n), codes)
    return np.array([f"names-{int(c):02d}" for c in codes], dtype=object)


def make_panel(rows: int, *, seed: int = 11) -> dict[str, list[object]]:
    """Columns of a synthetic panel of ``rows`` people, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    race_codes = rng.choice(len(RACES), size=rows, p=RACE_P)
    sex_codes = rng.choice(len(SEXES), size=rows, p=SEX_P)
    night_owl = rng.integers(0, 2, size=rows)
    parity = (sex_codes == 1) ^ (rng.random(rows) < 0.1)
    weekend_heavy = np.where(sex_codes == 2, rng.integers(0, 2, size=rows), night_owl ^ parity)
    band = rng.integers(0, len(AGE_BANDS), size=rows)
    income = 35 + 9 * band + rng.normal(0, 9, size=rows)
    columns: dict[str, Array | npt.NDArray[np.float64]] = {
        "user_id": np.array([f"u-{i:07d}" for i in range(rows)], dtype=object),
        "race": _with_missing(rng, np.asarray(RACES, dtype=object)[race_codes], 0.02),
        "sex": _with_missing(rng, np.asarray(SEXES, dtype=object)[sex_codes], 0.01),
        "age_band": _with_missing(rng, np.asarray(AGE_BANDS, dtype=object)[band], 0.01),
        "zip3": _zip3(rng, race_codes),
        "first_name_cluster": _name_cluster(rng, sex_codes),
        "household_income_k": np.round(income, 1),
        "night_owl": night_owl.astype(object),
        "weekend_heavy": weekend_heavy.astype(np.int64).astype(object),
        "device_id": np.array(
            [f"{v:016x}" for v in rng.integers(0, 2**62, size=rows)], dtype=object
        ),
        "page_category": _pick(rng, PAGES, rows),
        "device_os": _pick(rng, OSES, rows, p=(0.45, 0.40, 0.10, 0.05)),
        "sessions_per_week": np.round(rng.lognormal(1.5, 0.6, size=rows), 2),
    }
    return {name: values.tolist() for name, values in columns.items()}


def write_panel(path: Path, rows: int, *, seed: int = 11) -> Path:
    """Write :func:`make_panel` as CSV, or as Parquet when ``path`` ends in ``.parquet``."""
    table = pa.table(make_panel(rows, seed=seed))
    if path.suffix == ".parquet":
        pq.write_table(table, str(path))
    else:
        pa_csv.write_csv(table, str(path))
    return path
