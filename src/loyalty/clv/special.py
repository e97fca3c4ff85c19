"""Special functions for the BTYD likelihoods: a guarded Gaussian hypergeometric 2F1.

``scipy.special.hyp2f1`` is fast (about 0.3 us per value) and accurate for the
arguments these models produce (0 <= z < 1, moderate parameters), but like every
2F1 implementation it can lose accuracy or overflow in corners of the parameter
space. The functions here call scipy first and re-evaluate every value that is not
finite (or, for the log version, not positive) with the defining power series
(Abramowitz & Stegun 15.1.1) summed term by term; for positive parameters the series
is summed in log space (log-sum-exp), the approach of the BTYD R package's ``h2f1``
and of lifetimes' ``_log_A_0``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: Largest number of series terms tried before a value is given up as NaN.
MAX_SERIES_TERMS = 200_000
_CHUNK = 512


def _broadcast(a: object, b: object, c: object, z: object) -> tuple[np.ndarray, ...]:
    return tuple(np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z))))


def log_hyp2f1_series(a: object, b: object, c: object, z: object) -> np.ndarray:
    """log 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 by the power series in log space.

    Terms t_n = (a)_n (b)_n / ((c)_n n!) z^n are all positive; log t_n is accumulated
    and the partial sums are combined with log-sum-exp, in chunks of terms, until the
    next term is below 1e-17 of the sum and the terms are decreasing.
    """
    a_, b_, c_, z_ = _broadcast(a, b, c, z)
    shape = a_.shape
    a_, b_, c_, z_ = (v.ravel() for v in (a_, b_, c_, z_))
    out = np.full(a_.shape, np.nan)
    zero = z_ == 0.0
    out[zero] = 0.0
    valid = (~zero) & (a_ > 0) & (b_ > 0) & (c_ > 0) & (z_ > 0) & (z_ < 1)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return out.reshape(shape)
    a1, b1, c1 = a_[idx], b_[idx], c_[idx]
    logz = np.log(z_[idx])
    log_term = np.zeros(idx.size)  # log t_0 = 0
    log_sum = np.zeros(idx.size)
    active = np.arange(idx.size)
    n0 = 0
    while active.size and n0 < MAX_SERIES_TERMS:
        n = n0 + np.arange(_CHUNK, dtype=float)[None, :]
        aa, bb, cc = a1[active, None], b1[active, None], c1[active, None]
        step = np.log(aa + n) + np.log(bb + n) - np.log(cc + n) - np.log1p(n) + logz[active, None]
        logs = log_term[active, None] + np.concatenate([np.zeros((active.size, 1)), np.cumsum(step, axis=1)], axis=1)
        # logs[:, k] = log t_{n0 + k}, k = 0.._CHUNK; t_{n0} is already in log_sum unless n0 == 0
        body = logs[:, 1:] if n0 > 0 else logs
        body_sum = special.logsumexp(body, axis=1)
        log_sum[active] = np.logaddexp(log_sum[active], body_sum) if n0 > 0 else body_sum
        log_term[active] = logs[:, -1]
        # converged: last term negligible and the ratio of successive terms below one
        done = (logs[:, -1] < log_sum[active] - 40.0) & (step[:, -1] < 0)
        active = active[~done]
        n0 += _CHUNK
    res = log_sum
    res[active] = np.nan  # not converged
    out[idx] = res
    return out.reshape(shape)


def log_hyp2f1(a: object, b: object, c: object, z: object) -> np.ndarray:
    """log 2F1(a, b; c; z) for a, b, c > 0 and 0 <= z < 1 (all series terms positive).

    scipy first; values that come back non-finite or non-positive are recomputed with
    :func:`log_hyp2f1_series`.
    """
    a_, b_, c_, z_ = _broadcast(a, b, c, z)
    with np.errstate(all="ignore"):
        value = special.hyp2f1(a_, b_, c_, z_)
        out = np.log(value)
    bad = ~np.isfinite(out) | ~(value > 0)
    if np.any(bad):
        out = np.array(out, copy=True)
        out[bad] = log_hyp2f1_series(a_[bad], b_[bad], c_[bad], z_[bad])
    return out


def hyp2f1_series(a: object, b: object, c: object, z: object) -> np.ndarray:
    """2F1(a, b; c; z) for real parameters and |z| < 1 by direct (signed) summation."""
    a_, b_, c_, z_ = _broadcast(a, b, c, z)
    shape = a_.shape
    a_, b_, c_, z_ = (v.ravel() for v in (a_, b_, c_, z_))
    total = np.ones(a_.shape)
    term = np.ones(a_.shape)
    active = np.flatnonzero(np.abs(z_) < 1)
    total[np.abs(z_) >= 1] = np.nan
    n = 0
    with np.errstate(all="ignore"):
        while active.size and n < MAX_SERIES_TERMS:
            term[active] *= (a_[active] + n) * (b_[active] + n) / ((c_[active] + n) * (n + 1.0)) * z_[active]
            total[active] += term[active]
            n += 1
            small = np.abs(term[active]) <= 1e-17 * np.abs(total[active])
            ratio_ok = np.abs((a_[active] + n) * (b_[active] + n) / ((c_[active] + n) * (n + 1.0)) * z_[active]) < 1
            finished = (small & ratio_ok) | (term[active] == 0) | ~np.isfinite(total[active])
            active = active[~finished]
    total[active] = np.nan
    return total.reshape(shape)


def hyp2f1(a: object, b: object, c: object, z: object) -> np.ndarray:
    """2F1(a, b; c; z) for real parameters and 0 <= z < 1: scipy, guarded by the series."""
    a_, b_, c_, z_ = _broadcast(a, b, c, z)
    with np.errstate(all="ignore"):
        out = np.asarray(special.hyp2f1(a_, b_, c_, z_), dtype=float)
    bad = ~np.isfinite(out)
    if np.any(bad):
        out = np.array(out, copy=True)
        out[bad] = hyp2f1_series(a_[bad], b_[bad], c_[bad], z_[bad])
    return out


def expm1_ratio(k: np.ndarray | float, length: np.ndarray) -> np.ndarray:
    """(1 - exp(-k * length)) / k, with its limit ``length`` as k -> 0.

    Used for the Pareto/NBD expectations, where (1 - (beta/(beta+t))^(s-1)) / (s-1)
    appears with k = s - 1 and length = log(1 + t / beta).
    """
    k_arr = np.asarray(k, dtype=float)
    length = np.asarray(length, dtype=float)
    kl = k_arr * length
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.abs(kl) > 1e-8, -np.expm1(-kl) / np.where(k_arr == 0, 1.0, k_arr), length * (1 - kl / 2))
    return out


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two long vectors without BLAS.

    ``a @ b`` goes to the BLAS ``ddot``, which OpenBLAS runs multi-threaded on long
    vectors; on a busy machine that was 10-20x slower than this single pass.
    """
    return float(np.einsum("i,i->", a, b))


def softplus_and_sigmoid(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log(1 + exp(d)), 1 / (1 + exp(-d))) with one exp and one log1p."""
    e = np.exp(-np.abs(d))
    softplus = np.maximum(d, 0.0) + np.log1p(e)
    one_plus = 1.0 + e
    sigmoid = np.where(d >= 0, 1.0, e) / one_plus
    return softplus, sigmoid
