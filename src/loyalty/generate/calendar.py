"""The simulated window's calendar: seasonality (month, weekday, Black Friday, holidays) as an
intensity over the days, its integral for the time change, and the signup distribution."""

from __future__ import annotations

from datetime import date

import numpy as np

from .parameters import MONTH_FACTOR, SIGNUP_GROWTH_PER_YEAR, WEEKDAY_FACTOR
from .sampling import Alias


class Calendar:
    def __init__(self, start: date, end: date) -> None:
        self.n_days = n = (end - start).days + 1
        self.epoch_day = int((np.datetime64(start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
        days = np.arange(n, dtype=np.int64)
        d64 = np.datetime64(start, "D") + days
        month = d64.astype("datetime64[M]").astype(np.int64) % 12
        weekday = (self.epoch_day + days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        s = MONTH_FACTOR[month] * WEEKDAY_FACTOR[weekday]
        for year in range(start.year, end.year + 1):
            nov1 = np.datetime64(f"{year:04d}-11-01", "D")
            first_thursday = nov1 + (3 - (nov1.astype(np.int64) + 3) % 7) % 7
            black_friday = first_thursday + 22
            for day, factor in (
                (black_friday, 2.6),
                (black_friday + 3, 1.8),  # Cyber Monday
                (np.datetime64(f"{year:04d}-12-24", "D"), 0.6),
                (np.datetime64(f"{year:04d}-12-25", "D"), 0.35),
                (np.datetime64(f"{year:04d}-12-26", "D"), 0.6),
                (np.datetime64(f"{year:04d}-01-01", "D"), 0.4),
            ):
                i = int((day - np.datetime64(start, "D")).astype(np.int64))
                if 0 <= i < n:
                    s[i] *= factor
        s /= s.mean()
        self.intensity = s
        self.cum = np.concatenate([[0.0], np.cumsum(s), [np.inf]])  # cum[d] = integral of s over [0, d)
        units = np.arange(int(np.ceil(self.cum[n])) + 1, dtype=np.float64)
        self._day_at_unit = np.searchsorted(self.cum, units, side="right") - 1
        self._max_steps = int(np.ceil(1.0 / s.min())) + 2
        signup_w = np.exp(SIGNUP_GROWTH_PER_YEAR * days / 365.25) * np.sqrt(s)
        self.signup = Alias(signup_w)

    def cum_at(self, t: np.ndarray) -> np.ndarray:
        """Integrated intensity from day 0 to (fractional) day ``t``."""
        d = np.minimum(t.astype(np.int64), self.n_days - 1)
        return self.cum[d] + (t - d) * self.intensity[d]

    def day_of_cum(self, c: np.ndarray) -> np.ndarray:
        """Day ``d`` with ``cum[d] <= c < cum[d + 1]`` (clipped to the window).

        Same as ``searchsorted(cum, c, "right") - 1``, but a table lookup plus a
        few vectorised steps is several times faster for random queries.
        """
        c = np.clip(c, 0.0, self.cum[self.n_days])
        d = self._day_at_unit[c.astype(np.int64)]
        for _ in range(self._max_steps):
            step = self.cum[d + 1] <= c
            if not step.any():
                break
            d += step
        return np.minimum(d, self.n_days - 1)
