"""Maximum-likelihood optimisation in log-parameter space, with honest convergence checks.

Every model minimises the *mean* negative log-likelihood (so tolerances do not depend
on the number of customers) over theta = log(params), with its analytic gradient.

* :func:`minimize_nll` - L-BFGS-B from the best of a few starting points; when it does
  not end at a point satisfying the convergence test, Nelder-Mead from the best point so
  far, then L-BFGS-B again; finally a Newton polish with a finite-difference Hessian.
* :func:`newton_refine` - quasi-Newton (BFGS-updated) iterations from a good start and
  Hessian, with backtracking.
* :func:`maximise_likelihood` - the strategy the models use: :func:`minimize_nll` on the
  data when there are at most :data:`SUBSAMPLE_ROWS` unique rows; otherwise
  :func:`minimize_nll` on a random binomial thinning of the customers (about
  :data:`SUBSAMPLE_CUSTOMERS` / 10), :func:`newton_refine` on a larger thinning (about
  :data:`SUBSAMPLE_CUSTOMERS`), then :func:`newton_refine` on all data, each starting
  from the previous optimum and Hessian; only if that fails, :func:`minimize_nll` on all
  data. The reported estimate is always the full-data optimum, with the full-data tests.

A fit counts as converged only when, at the final point, the log-likelihood is finite,
the largest gradient component of the mean negative log-likelihood (with respect to
log-parameters) is below :data:`GRADIENT_TOL`, the Newton step is below
:data:`STEP_TOL` (relative change of every parameter), no log-parameter sits at the box
:data:`LOG_BOUND` or at a model's tighter upper bound (``log_upper`` of
:func:`maximise_likelihood`; a parameter running to 0 or infinity: the maximum-likelihood
estimate does not exist for these data), and the Hessian is positive definite with
smallest eigenvalue above :data:`MIN_CURVATURE` (otherwise the likelihood is flat in
some direction and the parameters are not identified). Anything else is returned with
``converged=False`` and a message saying which test failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .threads import single_threaded_blas

#: Mean negative log-likelihood and its gradient with respect to log-parameters.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
#: Builds the objective on all rows (``mask is None``) or on ``rows[mask]`` with
#: replacement weights ``w``.
ObjectiveBuilder = Callable[[np.ndarray | None, np.ndarray | None], Objective]

#: Log-parameters are kept in [-LOG_BOUND, LOG_BOUND] (parameters in [2e-9, 4.9e8]).
LOG_BOUND = 20.0
#: max |d mean-NLL / d log-param| at the optimum.
GRADIENT_TOL = 1e-6
#: max |Newton step| in log-parameters at the optimum (relative parameter precision).
STEP_TOL = 1e-6
#: Smallest Hessian eigenvalue (mean NLL, log-parameters) of an identified optimum.
MIN_CURVATURE = 1e-5
#: Above this many rows, warm-start from a subsample (see :func:`maximise_likelihood`).
SUBSAMPLE_ROWS = 100_000
SUBSAMPLE_CUSTOMERS = 30_000
_SUBSAMPLE_SEED = 20050101
_BAD_VALUE = 1e10
#: Wall-clock limit of one model fit. Far from the optimum some parameter values make the
#: Pareto/NBD likelihood (its 2F1 series) very slow to evaluate; a fit that has not finished
#: by then is reported as not converged instead of holding up the pipeline.
FIT_TIME_BUDGET_SECONDS = 60.0
_deadline: ContextVar[float | None] = ContextVar("fit_deadline", default=None)
#: the running fit's upper bounds on some log-parameters, by name (tighter than LOG_BOUND)
_log_upper: ContextVar[dict[str, float] | None] = ContextVar("fit_log_upper", default=None)
_budget: ContextVar[float] = ContextVar("fit_time_budget", default=FIT_TIME_BUDGET_SECONDS)


@contextmanager
def fit_time_budget(seconds: float) -> Iterator[None]:
    """Every fit started inside stops after `seconds` (the run's dbt var clv_fit_time_budget_seconds)."""
    token = _budget.set(float(seconds))
    try:
        yield
    finally:
        _budget.reset(token)


class FitTimeExceeded(Exception):
    """The fit ran past its time budget (raised from inside the objective)."""


_HESSIAN_STEP = 1e-4


@dataclass
class Outcome:
    """Result of an optimisation: log-parameters, mean NLL, gradient, verdict."""

    theta: np.ndarray
    mean_nll: float
    gradient: np.ndarray
    converged: bool
    message: str
    n_evaluations: int
    hessian: np.ndarray | None = None


class CountingObjective:
    """Wraps an objective: counts calls, maps non-finite values to a large penalty, and
    remembers the best finite point seen."""

    def __init__(self, objective: Objective) -> None:
        self._objective = objective
        self.n_evaluations = 0
        self.best_theta: np.ndarray | None = None
        self.best_value = np.inf
        self.best_gradient: np.ndarray | None = None

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() > deadline:
            raise FitTimeExceeded
        self.n_evaluations += 1
        theta = np.asarray(theta, dtype=float)
        with np.errstate(all="ignore"):
            value, grad = self._objective(theta)
        value = float(value)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return _BAD_VALUE, np.zeros_like(theta)
        if value < self.best_value:
            self.best_value = value
            self.best_theta = theta.copy()
            self.best_gradient = np.asarray(grad, dtype=float).copy()
        return value, np.asarray(grad, dtype=float)

    def value(self, theta: np.ndarray) -> float:
        return self(theta)[0]


def search_box(names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the log-parameters: +-LOG_BOUND, or the running fit's
    tighter upper bound for a parameter (``log_upper`` of :func:`maximise_likelihood`)."""
    upper = _log_upper.get() or {}
    return np.full(len(names), -LOG_BOUND), np.array([min(upper.get(n, LOG_BOUND), LOG_BOUND) for n in names])


def assess(theta: np.ndarray, value: float, grad: np.ndarray, names: Sequence[str]) -> tuple[bool, str]:
    """First-order part of the convergence verdict (finite, not at a bound, gradient ~ 0)."""
    if not np.isfinite(value) or value >= _BAD_VALUE or not np.all(np.isfinite(theta)):
        return False, "log-likelihood is not finite at the final point"
    low, high = search_box(names)
    at_bound = [n for n, t, lo, hi in zip(names, theta, low, high, strict=True) if t <= lo + 1e-3 or t >= hi - 1e-3]
    if at_bound:
        where = ", ".join(f"{n}={np.exp(t):.3g}" for n, t in zip(names, theta, strict=True) if n in at_bound)
        return False, (
            f"parameter(s) at the edge of the search box ({where}): the likelihood keeps "
            "increasing towards 0 or infinity, so the maximum-likelihood estimate does not "
            "exist for these data"
        )
    gmax = float(np.max(np.abs(grad)))
    if not gmax < GRADIENT_TOL:
        return False, f"gradient not zero at the final point (max |grad| = {gmax:.2e} > {GRADIENT_TOL:.0e})"
    return True, f"max |grad| of the mean log-likelihood = {gmax:.1e}"


def hessian_central(objective: Objective, theta: np.ndarray, step: float = _HESSIAN_STEP) -> np.ndarray:
    """Hessian of the mean NLL by central differences of its analytic gradient."""
    k = theta.shape[0]
    hess = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step
        hess[:, j] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2 * step)
    return (hess + hess.T) / 2


def numerical_hessian_forward(
    objective: Objective, theta: np.ndarray, grad: np.ndarray, step: float = 1e-6
) -> np.ndarray:
    """Hessian by forward differences of the analytic gradient (k extra evaluations)."""
    k = theta.shape[0]
    hess = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step
        hess[:, j] = (objective(theta + e)[1] - grad) / step
    return (hess + hess.T) / 2


def identified(hessian: np.ndarray, names: Sequence[str]) -> tuple[bool, str]:
    """Second-order check: a strict local maximum with curvature in every direction."""
    if not np.all(np.isfinite(hessian)):
        return False, "Hessian is not finite at the final point"
    vals, vecs = np.linalg.eigh(hessian)
    if vals[0] > MIN_CURVATURE:
        return True, f"smallest Hessian eigenvalue {vals[0]:.1e}"
    direction = ", ".join(f"{v:+.2f} {n}" for v, n in zip(vecs[:, 0], names, strict=True) if abs(v) > 0.1)
    return False, (
        f"the log-likelihood is flat or not concave at the final point (smallest Hessian eigenvalue "
        f"{vals[0]:.1e} <= {MIN_CURVATURE:.0e}, along log-parameters {direction}): the parameters are "
        "not identified by these data"
    )


def minimize_nll(
    objective: Objective,
    starts: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    max_iter: int = 1000,
    polish: bool = True,
) -> Outcome:
    """Minimise a mean NLL from the best of ``starts`` (see module docstring).

    ``polish=False`` (used for the subsample of a warm start) skips the final Newton
    polish and uses a forward-difference Hessian for the second-order check.
    """
    f = CountingObjective(objective)
    low, high = search_box(names)
    bounds = list(zip(low.tolist(), high.tolist(), strict=True))
    clipped = [np.clip(np.asarray(s, dtype=float), low, high) for s in starts]
    start_values = [f.value(s) for s in clipped]
    theta0 = clipped[int(np.argmin(start_values))]
    if min(start_values) >= _BAD_VALUE:
        return Outcome(
            theta0,
            np.nan,
            np.full(len(names), np.nan),
            False,
            "log-likelihood is not finite at any starting point",
            f.n_evaluations,
        )
    lbfgs_opts = {"maxiter": max_iter, "maxfun": 2 * max_iter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
    notes: list[str] = []

    res = optimize.minimize(f, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options=lbfgs_opts)
    notes.append(f"L-BFGS-B: {res.message}")
    theta, value, grad = _best(f, res.x)
    ok, why = assess(theta, value, grad, names)
    if not ok and not why.startswith("parameter(s) at the edge"):
        nm = optimize.minimize(
            f.value,
            theta,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": max_iter, "maxfev": 4 * max_iter, "xatol": 1e-10, "fatol": 1e-15, "adaptive": True},
        )
        notes.append(f"Nelder-Mead fallback: {nm.message}")
        res = optimize.minimize(f, _best(f, nm.x)[0], jac=True, method="L-BFGS-B", bounds=bounds, options=lbfgs_opts)
        notes.append(f"L-BFGS-B: {res.message}")
        theta, value, grad = _best(f, res.x)
        ok, why = assess(theta, value, grad, names)
    if not ok:
        return Outcome(theta, value, grad, False, f"{why}; " + "; ".join(notes), f.n_evaluations)
    # second-order check, then Newton polish to the step tolerance
    hessian = hessian_central(f, theta) if polish else numerical_hessian_forward(f, theta, grad, _HESSIAN_STEP)
    ok, why2 = identified(hessian, names)
    if not ok or not polish:
        verdict = f"{why}; {why2}" if ok else why2
        return Outcome(theta, value, grad, ok, f"{verdict}; " + "; ".join(notes), f.n_evaluations, hessian)
    polished = newton_refine(f, theta, hessian, names, max_iter=min(max_iter, 20))
    polished.message = f"{polished.message}; {why2}; " + "; ".join(notes)
    polished.n_evaluations = f.n_evaluations
    return polished


def _best(f: CountingObjective, theta: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The best point the optimiser visited (it can end on a slightly worse one)."""
    value, grad = f(np.asarray(theta, dtype=float))
    if f.best_theta is not None and f.best_value < value:
        assert f.best_gradient is not None
        return f.best_theta.copy(), f.best_value, f.best_gradient.copy()
    return np.asarray(theta, dtype=float), value, grad


def _positive_definite(hess: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(hess)
    floor = max(1e-8, 1e-8 * float(np.max(np.abs(vals))))
    return (vecs * np.maximum(vals, floor)) @ vecs.T


def newton_refine(
    objective: Objective,
    theta0: np.ndarray,
    hessian: np.ndarray,
    names: Sequence[str],
    *,
    max_iter: int = 30,
    step_tol: float = STEP_TOL,
) -> Outcome:
    """Quasi-Newton iterations from a good start and Hessian, with backtracking.

    theta <- theta - t * H^-1 grad(theta), t halved until the mean NLL decreases
    (Armijo); H starts from ``hessian`` (e.g. the subsample's) and gets a BFGS update
    after each step. Stops when :func:`assess` passes and the Newton step is below
    ``step_tol`` (default :data:`STEP_TOL`).
    """
    f = objective if isinstance(objective, CountingObjective) else CountingObjective(objective)
    start_count = f.n_evaluations
    hess = _positive_definite(np.asarray(hessian, dtype=float))
    low, high = search_box(names)
    theta = np.clip(np.asarray(theta0, dtype=float), low, high)
    value, grad = f(theta)
    it = 0
    while True:
        ok, why = assess(theta, value, grad, names)
        step = -np.linalg.solve(hess, grad)
        small = float(np.max(np.abs(step))) <= step_tol
        if (ok and small) or it >= max_iter or value >= _BAD_VALUE or why.startswith("parameter(s) at the edge"):
            break
        it += 1
        slope = float(grad @ step)
        t = 1.0
        for _ in range(40):
            cand = np.clip(theta + t * step, low, high)
            c_value, c_grad = f(cand)
            if c_value <= value + 1e-4 * t * slope:
                break
            t /= 2
        else:
            break  # no decrease possible along the Newton direction (rounding level)
        # BFGS update of the Hessian with the step just taken (keeps it positive definite)
        s_k, y_k = cand - theta, c_grad - grad
        sy = float(s_k @ y_k)
        if sy > 1e-12 * float(np.linalg.norm(s_k) * np.linalg.norm(y_k)):
            hs = hess @ s_k
            hess = hess + np.outer(y_k, y_k) / sy - np.outer(hs, hs) / float(s_k @ hs)
        theta, value, grad = cand, c_value, c_grad
    ok, why = assess(theta, value, grad, names)
    step_size = float(np.max(np.abs(np.linalg.solve(hess, grad))))
    if ok and step_size > step_tol:
        # gradient tiny but the curvature is so low that the optimum is still imprecise
        ok, why = False, f"{why}, but the Newton step is {step_size:.1e} > {step_tol:.0e}"
    return Outcome(
        theta,
        value,
        grad,
        ok,
        f"{why}; Newton step {step_size:.1e}; quasi-Newton refinement: {it} iteration(s)",
        f.n_evaluations - start_count,
        hess,
    )


def maximise_likelihood(
    build: ObjectiveBuilder,
    weights: np.ndarray,
    starts: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    max_iter: int = 1000,
    time_budget: float | None = None,
    log_upper: Mapping[str, float] | None = None,
) -> Outcome:
    """Fit strategy shared by the models (see module docstring), run with
    single-threaded OpenBLAS (:mod:`loyalty.clv.threads`). A fit still running after
    ``time_budget`` seconds (default: :func:`fit_time_budget`'s, else 60) stops and is
    reported as not converged. ``log_upper`` bounds some log-parameters, by name, below
    LOG_BOUND; an optimum on such a bound is reported as not converged, like one on the box."""
    if time_budget is None:
        time_budget = _budget.get()
    token = _deadline.set(time.monotonic() + time_budget)
    upper_token = _log_upper.set(dict(log_upper or {}))
    try:
        with single_threaded_blas():
            return _maximise_likelihood(build, weights, starts, names, max_iter=max_iter)
    except FitTimeExceeded:
        nan = np.full(len(names), np.nan)
        return Outcome(
            nan, np.nan, nan, False, f"stopped after its time budget of {time_budget:g} s without converging", 0
        )
    finally:
        _deadline.reset(token)
        _log_upper.reset(upper_token)


def _thinned(weights: np.ndarray, customers: float, rng: np.random.Generator) -> np.ndarray:
    """Binomial (Poisson for fractional weights) thinning to about ``customers``."""
    frac = min(1.0, customers / float(weights.sum()))
    if np.all(weights == np.round(weights)):
        return rng.binomial(weights.astype(np.int64), frac).astype(float)
    return rng.poisson(weights * frac).astype(float)


def _maximise_likelihood(
    build: ObjectiveBuilder,
    weights: np.ndarray,
    starts: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    max_iter: int,
) -> Outcome:
    objective = build(None, None)
    if weights.shape[0] <= SUBSAMPLE_ROWS:
        return minimize_nll(objective, starts, names, max_iter=max_iter)
    # The MLE on a random thinning of the customers is within a few standard errors of
    # the full-data MLE, and its Hessian approximates the full-data one (both are means
    # over customers). Two levels: a small sample found from the generic starting points
    # (cheap evaluations), a larger one refined from there, then all rows.
    rng = np.random.default_rng(_SUBSAMPLE_SEED)
    n_total = float(weights.sum())
    sizes = [c for c in (SUBSAMPLE_CUSTOMERS / 10, SUBSAMPLE_CUSTOMERS) if c < n_total / 2]
    evaluations = 0
    outcome: Outcome | None = None
    notes: list[str] = []
    for size in sizes:
        w_sub = _thinned(weights, size, rng)
        mask = w_sub > 0
        level_objective = build(mask, w_sub[mask])
        if outcome is None or outcome.hessian is None:
            outcome = minimize_nll(level_objective, starts, names, max_iter=max_iter, polish=False)
        else:
            outcome = newton_refine(level_objective, outcome.theta, outcome.hessian, names, step_tol=1e-3)
        evaluations += outcome.n_evaluations
        notes.append(f"{int(w_sub.sum())} customers: {outcome.n_evaluations} evaluations")
        if not outcome.converged:
            outcome = None
            break
    if outcome is not None and outcome.hessian is not None:
        full = newton_refine(objective, outcome.theta, outcome.hessian, names, max_iter=min(max_iter, 30))
        full.n_evaluations += evaluations
        if full.converged:
            full.message += " on all rows, warm-started on random subsamples (" + "; ".join(notes) + ")"
            return full
        evaluations = full.n_evaluations
        starts = [full.theta, outcome.theta, *starts]
    out = minimize_nll(objective, starts, names, max_iter=max_iter)
    out.n_evaluations += evaluations
    return out
