"""Customer-lifetime-value models ("buy till you die"), fitted by maximum likelihood.

* :class:`BetaGeoModel` - BG/NBD (Fader, Hardie & Lee 2005)
* :class:`ParetoNBDModel` - Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
* :class:`GammaGammaModel` - Gamma-Gamma spend model (Fader & Hardie)
* :func:`score_customers` - per-customer P(alive), expected purchases and 12-month CLV
* :func:`holdout_validation` - calibration/holdout check of the transaction models

Inputs are lifetimes-style summaries: frequency = repeat purchase days, recency = time
from the first to the last purchase, T = time from the first purchase to the end of
observation. Fits report ``FitResult.converged``; predictions from a fit that did not
converge (or was not attempted because there were too few customers) are NaN, with a
warning.
"""

from .base import ClvWarning, ConvergenceWarning, NotUsableWarning, TooFewCustomersWarning
from .bgnbd import BetaGeoModel
from .gammagamma import GammaGammaModel
from .holdout import holdout_validation
from .paretonbd import ParetoNBDModel
from .result import MIN_CUSTOMERS, MIN_REPEAT_BUYERS, TIME_UNITS, FitResult
from .score import score_customers
from .summary import summarize_transactions

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_REPEAT_BUYERS",
    "TIME_UNITS",
    "BetaGeoModel",
    "ClvWarning",
    "ConvergenceWarning",
    "FitResult",
    "GammaGammaModel",
    "NotUsableWarning",
    "ParetoNBDModel",
    "TooFewCustomersWarning",
    "holdout_validation",
    "score_customers",
    "summarize_transactions",
]
