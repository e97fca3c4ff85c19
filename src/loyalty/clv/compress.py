"""Compression of customer-level sufficient statistics to unique rows with weights.

The BTYD likelihoods depend on a customer only through (frequency, recency, T) (and
the Gamma-Gamma one through (frequency, monetary value)), so identical rows can be
collapsed into one row with an integer weight: the log-likelihood is the weighted sum
over unique rows. This is what ``np.unique(rows, axis=0, return_inverse=True,
return_counts=True)`` does; here each column is first factorised with a hash table
(``pandas.factorize``) and the integer codes are combined into one mixed-radix key,
which gives the same unique rows (sorted lexicographically), the same inverse and the
same counts, an order of magnitude faster on millions of rows than sorting a
structured array (0.2-0.4 s instead of ~7 s for 2.3M rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Compressed:
    """Unique rows of several equal-length columns.

    ``columns[j][k]`` is column j of unique row k; ``weights[k]`` is the summed weight of
    the input rows equal to it; ``inverse[i]`` is the unique row of input row i, so
    ``columns[j][inverse] == input column j``.
    """

    columns: tuple[np.ndarray, ...]
    weights: np.ndarray
    inverse: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.weights.shape[0])


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and, for each input value, the index of its unique value."""
    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    return np.asarray(uniques), codes.astype(np.intp, copy=False)


_KEY_LIMIT = 2**62


def _rank(key: np.ndarray, cardinality: int) -> tuple[np.ndarray, int]:
    """Dense rank of each key among the distinct keys (0..n_unique-1, sorted order).

    When the key space is small relative to the data, a presence table and a lookup
    table (linear time) is used instead of sorting.
    """
    n = key.shape[0]
    if n and cardinality <= max(16 * n, 1 << 20):
        present = np.zeros(cardinality, dtype=bool)
        present[key] = True
        distinct = np.flatnonzero(present)
        lookup = np.empty(cardinality, dtype=np.intp)
        lookup[distinct] = np.arange(distinct.shape[0], dtype=np.intp)
        return lookup[key], int(distinct.shape[0])
    _, codes = np.unique(key, return_inverse=True)
    codes = codes.astype(np.intp, copy=False).ravel()
    return codes, (int(codes.max()) + 1 if codes.size else 0)


def group_codes(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Codes of the unique rows of ``columns`` (lexicographic order) and their values.

    Returns ``(codes, uniques)`` with ``uniques[j][codes] == columns[j]``. Each column is
    factorised (sorted codes), the codes are combined into one mixed-radix int64 key
    (re-compressed whenever the radix product would overflow), and the key is made
    unique with one sort.
    """
    if not columns:
        raise ValueError("need at least one column")
    arrays = [np.asarray(c) for c in columns]
    key = np.zeros(arrays[0].shape[0], dtype=np.int64)
    cardinality = 1
    for col in arrays:
        u, c = factorize(col)
        n_j = max(int(u.shape[0]), 1)
        if cardinality * n_j >= _KEY_LIMIT:
            _, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64, copy=False)
            cardinality = int(key.max()) + 1 if key.size else 1
        key = key * np.int64(n_j) + c
        cardinality *= n_j
    codes, n_unique = _rank(key, cardinality)
    representative = np.empty(n_unique, dtype=np.intp)
    representative[codes] = np.arange(codes.shape[0], dtype=np.intp)
    return codes, [a[representative] for a in arrays]


def compress_rows(*columns: np.ndarray, weights: np.ndarray | None = None) -> Compressed:
    """Collapse identical rows of ``columns`` into unique rows with summed weights."""
    arrays = [np.asarray(c) for c in columns]
    n = arrays[0].shape[0]
    if any(a.ndim != 1 or a.shape[0] != n for a in arrays):
        raise ValueError("all columns must be one-dimensional with the same length")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError("weights must have one value per row")
    codes, uniques = group_codes(*arrays)
    counts = np.bincount(codes, weights=w, minlength=uniques[0].shape[0])
    return Compressed(columns=tuple(uniques), weights=counts, inverse=codes)
