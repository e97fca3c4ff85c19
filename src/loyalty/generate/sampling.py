"""Random draws: Bernoulli and bounded-integer helpers, Walker's alias method, 2**16-entry
lookup tables, and the samplers of the model's categorical distributions."""

from __future__ import annotations

import numpy as np

from .parameters import (
    ACQUISITION_P,
    CATEGORIES,
    CATEGORY_POPULARITY,
    COUNTRY_P,
    HOUR_WEIGHTS,
    MAX_QUANTITY,
    N_PREFERRED_P,
    QUANTITY_P,
    REFUND_DELAY_P,
    REFUND_MAX_DELAY_DAYS,
)


def seconds_of_day(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """Time of day in seconds, by channel (store opening hours, evening peaks online)."""
    return HOUR.draw(rng, len(channel), row=channel) * 3600 + rng.integers(0, 3600, len(channel))


def chance(rng: np.random.Generator, p: float, size: int) -> np.ndarray:
    """``size`` Bernoulli(p) draws (p rounded to a multiple of 2**-16)."""
    return rng.integers(0, 1 << 16, size, dtype=np.uint16) < round(p * (1 << 16))


def below(rng: np.random.Generator, n: np.ndarray) -> np.ndarray:
    """Uniform integers in ``[0, n)`` for each element of ``n`` (n < 2**16)."""
    return (rng.integers(0, 1 << 16, len(n), dtype=np.uint16).astype(np.int64) * n) >> 16


def _top4_orders() -> tuple[np.ndarray, np.ndarray]:
    """All ordered 4-tuples of distinct categories with their Plackett-Luce
    probabilities under the category popularity (sampling without replacement)."""
    from itertools import permutations

    w = CATEGORY_POPULARITY / CATEGORY_POPULARITY.sum()
    orders = np.array(list(permutations(range(len(CATEGORIES)), 4)), dtype=np.int64)
    p = np.ones(len(orders))
    left = np.ones(len(orders))
    for j in range(4):
        p *= w[orders[:, j]] / left
        left -= w[orders[:, j]]
    return orders, p / p.sum()


TOP4_ORDERS, TOP4_P = _top4_orders()


class Alias:
    """Categorical draws by Walker's alias method: O(1) per draw, one uniform each.

    ``weights`` is one distribution (1-d) or a stack of distributions over the
    same number of outcomes (2-d, one row each); ``sample(u, row)`` maps
    uniforms ``u`` in [0, 1) to outcomes of distribution ``row``.  Exact, and
    several times faster than ``searchsorted`` on a CDF for random queries.
    """

    def __init__(self, weights) -> None:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        n_rows, k = w.shape
        prob = np.ones((n_rows, k))
        alias = np.tile(np.arange(k), (n_rows, 1))
        for r in range(n_rows):
            scaled = w[r] / w[r].sum() * k
            small = [i for i in range(k) if scaled[i] < 1.0]
            large = [i for i in range(k) if scaled[i] >= 1.0]
            while small and large:
                lo, hi = small.pop(), large.pop()
                prob[r, lo], alias[r, lo] = scaled[lo], hi
                scaled[hi] -= 1.0 - scaled[lo]
                (small if scaled[hi] < 1.0 else large).append(hi)
        self.k = k
        self.prob = prob.ravel()
        self.alias = alias.ravel()

    def sample(self, u: np.ndarray, row: np.ndarray | int = 0) -> np.ndarray:
        x = u * self.k
        slot = np.minimum(x.astype(np.int64), self.k - 1)
        fraction = x - slot
        slot += row * self.k
        return np.where(fraction < self.prob[slot], slot - row * self.k, self.alias[slot])

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.sample(rng.random(size))


class Table:
    """Categorical draws through a lookup table of 2**16 entries: one 16-bit
    random integer and one gather per draw.

    Probabilities are rounded to multiples of 2**-16 (largest remainder, so an
    outcome of weight 0 is never drawn).  For small vocabularies; ``weights``
    may be a stack of distributions (2-d, one row each, picked per draw).
    """

    BITS = 16

    def __init__(self, weights) -> None:
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        size = 1 << self.BITS
        rows = []
        for row in w:
            exact = row / row.sum() * size
            counts = np.floor(exact).astype(np.int64)
            short = size - int(counts.sum())
            counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
            rows.append(np.repeat(np.arange(len(row), dtype=np.int32), counts))
        self.table = np.concatenate(rows)

    def draw(self, rng: np.random.Generator, size: int, row: np.ndarray | int = 0) -> np.ndarray:
        r = rng.integers(0, 1 << self.BITS, size, dtype=np.uint16)
        if isinstance(row, int) and row == 0:
            return self.table[r]
        return self.table[(np.asarray(row, dtype=np.int64) << self.BITS) + r]


COUNTRY = Table(COUNTRY_P)
ACQUISITION = Table(ACQUISITION_P)
CATEGORY = Table(CATEGORY_POPULARITY)
N_PREFERRED = Table(N_PREFERRED_P)
TOP4 = Alias(TOP4_P)  # 1680 outcomes: exact alias method
HOUR = Table(HOUR_WEIGHTS)  # one row per channel
# quantity 1.._MAX_QUANTITY ~ Geometric(QUANTITY_P), truncated
QUANTITY = Table(QUANTITY_P * (1 - QUANTITY_P) ** np.arange(MAX_QUANTITY))
# price endings: .99, .49, .95 or as calculated
ENDING_CENTS = np.array([99, 49, 95, -1])
ENDING = Table([0.55, 0.10, 0.07, 0.28])
# refund delay - 1 in days ~ Geometric(REFUND_DELAY_P), truncated at REFUND_MAX_DELAY_DAYS
REFUND_DELAY = Table(REFUND_DELAY_P * (1 - REFUND_DELAY_P) ** np.arange(REFUND_MAX_DELAY_DAYS))
