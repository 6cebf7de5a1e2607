from __future__ import annotations

import numpy as np

from interceptor.offline.sample import RowSample


def _feed(sample: RowSample, rows: int, batch: int) -> None:
    for start in range(0, rows, batch):
        index = np.arange(start, min(start + batch, rows))
        sample.add(
            {"i": index, "text": np.array([f"r{i}" for i in index], dtype=object)},
            index.astype(np.int64) % 7,
            index.astype(np.int64) % 2,
        )


def test_fewer_rows_than_capacity_are_all_kept_in_order() -> None:
    sample = RowSample(["i", "text"], 100, seed=1)
    _feed(sample, 60, 25)
    assert len(sample) == 60 and sample.seen == 60
    assert sample.columns(["i"])["i"].tolist() == list(range(60))
    assert sample.columns(["text"])["text"][:2].tolist() == ["r0", "r1"]


def test_a_large_file_leaves_a_uniform_sample_of_capacity_rows() -> None:
    sample = RowSample(["i", "text"], 200, seed=3)
    _feed(sample, 20_000, 37)
    kept = sample.columns(["i", "text"])
    assert len(sample) == 200 and sample.seen == 20_000
    index = kept["i"]
    assert len(set(index.tolist())) == 200
    # The rows' columns, joint codes and folds stay aligned.
    assert kept["text"].tolist() == [f"r{i}" for i in index]
    assert (sample.joint == index % 7).all() and (sample.folds == index % 2).all()
    # Uniform over the file: the mean row number is within 4 standard errors of the middle.
    assert abs(index.mean() - 10_000) < 4 * 20_000 / np.sqrt(12 * 200)
    assert (index >= 10_000).mean() > 0.35


def test_columns_not_asked_for_are_not_kept() -> None:
    sample = RowSample(["i"], 10)
    _feed(sample, 5, 5)
    assert set(sample.columns(["i", "text"])) == {"i"}
