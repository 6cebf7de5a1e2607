"""Ground-truth designs of the acceptance tests (reference/proxy-detection.md, section 5)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from interceptor.detectors.estimators import summarize

#: The attribute marginal of the skewed designs (also the continuous-vs-categorical truth's).
P_S = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
#: 50 skewed feature levels: p ~ 1/(k + 4), so the smallest expected cell at N=2,000 is 1.1.
P_X = 1.0 / (np.arange(50) + 4.0)
P_X /= P_X.sum()

#: Mutual information of the known discrete 50x5 table.
DISCRETE_MI = 0.043793
#: Bivariate Gaussian, rho = 0.5: the truth and the 16-bin population value.
GAUSS_MI = -0.5 * math.log(1 - 0.25)
GAUSS_16_BINS = 0.136941
#: X | S ~ N(0.5 s, 1) with S ~ P_S.
MIXTURE_MI = 0.175268


def independent_table() -> npt.NDArray[np.float64]:
    """Population table of the H0 design: the skewed marginals, independent."""
    return np.outer(P_X, P_S)


def dependent_table(mi: float = DISCRETE_MI) -> npt.NDArray[np.float64]:
    """A 50x5 population table with the skewed X marginal and mutual information ``mi``.

    p(s|x) = (1 - t) P_S + t * [s == x mod 5]; t is found by bisection.
    """
    pointer = np.eye(5)[np.arange(50) % 5]

    def table(t: float) -> npt.NDArray[np.float64]:
        return P_X[:, None] * ((1 - t) * P_S[None, :] + t * pointer)

    low, high = 0.0, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if summarize(table(middle)).plugin < mi:
            low = middle
        else:
            high = middle
    return table((low + high) / 2)


def draw_tables(
    population: npt.NDArray[np.float64], n: int, draws: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """``draws`` multinomial samples of ``n`` rows from a population table."""
    flat = rng.multinomial(n, population.ravel() / population.sum(), size=draws)
    return flat.reshape(draws, *population.shape)
