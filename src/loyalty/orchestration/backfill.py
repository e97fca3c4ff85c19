"""The as-of dates of a backfill: an explicit list, or every month/week/day end in a range."""

from __future__ import annotations

import datetime as dt

from loyalty.errors import LoyaltyError

PERIODS = ("month", "week", "day")


class BackfillError(LoyaltyError):
    """The backfill's dates are missing or contradictory."""


def period_ends(start: dt.date, end: dt.date, every: str) -> list[dt.date]:
    """Last days of each period (month, ISO week ending Sunday, or day) within [start, end]."""
    if every not in PERIODS:
        raise BackfillError(f"The backfill period {every!r} is not one of {', '.join(PERIODS)}.")
    if end < start:
        raise BackfillError(f"The backfill range ends ({end}) before it starts ({start}).")
    if every == "day":
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if every == "week":
        first = start + dt.timedelta(days=(6 - start.weekday()))  # the Sunday on or after start
        return [first + dt.timedelta(weeks=i) for i in range((end - first).days // 7 + 1)] if first <= end else []
    dates: list[dt.date] = []
    year, month = start.year, start.month
    while True:
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        month_end = following - dt.timedelta(days=1)
        if month_end > end:
            return dates
        if month_end >= start:
            dates.append(month_end)
        year, month = following.year, following.month


def backfill_dates(
    as_of_dates: list[dt.date] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    every: str = "month",
) -> list[dt.date]:
    """The dates to run, oldest first: the given list, or the period ends from start to end."""
    if as_of_dates:
        if start or end:
            raise BackfillError("Give either a list of as-of dates or a start and end date, not both.")
        return sorted(set(as_of_dates))
    if start is None or end is None:
        raise BackfillError("A backfill needs a list of as-of dates, or both a start and an end date.")
    dates = period_ends(start, end, every)
    if not dates:
        raise BackfillError(f"There is no {every} end between {start} and {end}.")
    return dates
