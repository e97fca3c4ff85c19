"""Simulation of one chunk of customers and their valid transaction rows (the model is in the
package docstring). The steps draw from one random stream in a fixed order: customers,
latent behaviour, repeat purchase days, baskets (channel, time, same-day extras), what and
how much, refunds. Changing that order changes every generated file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calendar import Calendar
from .parameters import (
    CATEGORY_PRICE_LEVEL,
    CHANNEL_MIX,
    CHANNEL_MIX_SIGMA,
    CHANNELS,
    CLOSING_SECONDS,
    DROPOUT_A,
    DROPOUT_B,
    FIRST_NAMES,
    FIRST_PURCHASE_DELAY_MEAN_DAYS,
    FIRST_PURCHASE_SAME_DAY,
    FREE_SHARE,
    HOME_STORE_SHARE,
    LAST_NAMES,
    NO_PURCHASE_SHARE,
    OPENING_SECONDS,
    PREFERRED_SHARE,
    RATE_SCALE_ALPHA,
    RATE_SHAPE_R,
    REFUND_FULL_SHARE,
    REFUND_SHARE,
    SAME_DAY_EXTRA_SHARE,
    SPEND_SCALE,
    SPEND_SHAPE,
    SPEND_SIGMA,
    STORE_CHANNEL,
    STORE_OFFSET,
    STORES_PER_COUNTRY,
)
from .sampling import (
    ACQUISITION,
    CATEGORY,
    COUNTRY,
    ENDING,
    ENDING_CENTS,
    N_PREFERRED,
    QUANTITY,
    REFUND_DELAY,
    TOP4,
    TOP4_ORDERS,
    below,
    chance,
    seconds_of_day,
)


@dataclass
class _Traits:
    """Latent behaviour of a chunk's customers (one element per customer)."""

    country: np.ndarray
    lam: np.ndarray  # purchase rate per day while active
    p_drop: np.ndarray  # dropout probability after each purchase
    first_day: np.ndarray
    buyer: np.ndarray
    unit_spend: np.ndarray
    mix_cdf: np.ndarray  # (m, 3) cumulative channel mix
    preferred: np.ndarray  # (m, 4) categories in order of preference
    n_preferred: np.ndarray
    home_store: np.ndarray


@dataclass
class _Baskets:
    """One element per purchase: its customer, day, channel and second of the day."""

    owner: np.ndarray
    day: np.ndarray
    channel: np.ndarray
    tod: np.ndarray


def simulate_chunk(rng: np.random.Generator, m: int, cal: Calendar) -> tuple[dict, dict]:
    """Customers 0..m-1 (chunk-local numbers) and their valid transaction rows."""
    customers, signup_day = _customers(rng, m, cal)
    traits = _traits(rng, m, cal, signup_day, customers["country"], customers["acquisition"])
    owner_rep, repeat_day = _repeat_purchase_days(rng, m, cal, traits)
    baskets = _baskets(rng, traits, owner_rep, repeat_day)
    category, store, quantity, cents, unit_cents = _what_and_how_much(rng, traits, baskets)
    rows = _with_refunds(rng, cal, baskets, category, store, quantity, cents, unit_cents)
    # Customer, then time; the parts above are already runs in customer order,
    # which the stable (tim)sort exploits.
    owner, ts = rows["customer_number"], rows["ts"]
    order = np.argsort(owner * (np.int64(cal.n_days + 64) * 86400) + (ts - cal.epoch_day * 86400), kind="stable")
    return customers, {k: v[order] for k, v in rows.items()}


def _customers(rng: np.random.Generator, m: int, cal: Calendar) -> tuple[dict, np.ndarray]:
    signup_day = cal.signup.draw(rng, m)
    country = COUNTRY.draw(rng, m)
    acquisition = ACQUISITION.draw(rng, m)
    first_name = rng.integers(0, len(FIRST_NAMES), m)
    last_name = rng.integers(0, len(LAST_NAMES), m)
    customers = {
        "number": np.arange(m, dtype=np.int64),
        "signup_epoch_day": cal.epoch_day + signup_day,
        "country": country,
        "acquisition": acquisition,
        "first_name": first_name,
        "last_name": last_name,
    }
    return customers, signup_day


def _traits(
    rng: np.random.Generator,
    m: int,
    cal: Calendar,
    signup_day: np.ndarray,
    country: np.ndarray,
    acquisition: np.ndarray,
) -> _Traits:
    lam = rng.gamma(RATE_SHAPE_R, 1.0 / RATE_SCALE_ALPHA, m)
    p_drop = np.maximum(rng.beta(DROPOUT_A, DROPOUT_B, m), 1e-9)
    never = chance(rng, NO_PURCHASE_SHARE, m)
    delay = np.where(
        chance(rng, FIRST_PURCHASE_SAME_DAY, m), 0, np.ceil(rng.exponential(FIRST_PURCHASE_DELAY_MEAN_DAYS, m))
    ).astype(np.int64)
    first_day = signup_day + delay
    buyer = ~never & (first_day < cal.n_days)
    unit_spend = rng.gamma(SPEND_SHAPE, SPEND_SCALE, m)
    # channel mix: logistic-normal scatter around the acquisition channel's typical mix
    mix = CHANNEL_MIX[acquisition] * np.exp(CHANNEL_MIX_SIGMA * rng.standard_normal((m, len(CHANNELS))))
    mix_cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    preferred = TOP4_ORDERS[TOP4.draw(rng, m)]  # (m, 4) categories in order of preference
    n_preferred = N_PREFERRED.draw(rng, m) + 1
    home_store = STORE_OFFSET[country] + below(rng, STORES_PER_COUNTRY[country])
    return _Traits(country, lam, p_drop, first_day, buyer, unit_spend, mix_cdf, preferred, n_preferred, home_store)


def _repeat_purchase_days(
    rng: np.random.Generator, m: int, cal: Calendar, traits: _Traits
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases (BG/NBD with the seasonal time change, see the package docstring):
    the customer of each and its day."""
    n_days, lam = cal.n_days, traits.lam
    t0 = traits.first_day + rng.random(m)
    c0 = cal.cum_at(np.minimum(t0, n_days))
    window = lam * np.maximum(cal.cum[n_days] - c0, 0.0)  # expected events left in the window
    n_window = rng.poisson(window)
    n_before_dropout = rng.geometric(traits.p_drop) - 1
    n_repeat = np.where(traits.buyer, np.minimum(n_window, n_before_dropout), 0)
    spacing = rng.exponential(size=int(n_repeat.sum()))
    owner_rep = np.repeat(np.arange(m), n_repeat)
    csum = np.concatenate([[0.0], np.cumsum(spacing)])
    group_end = np.cumsum(n_repeat)
    group_start = group_end - n_repeat
    partial = csum[1:] - csum[group_start][owner_rep]
    total = csum[group_end] - csum[group_start] + rng.gamma(n_window - n_repeat + 1.0)
    transformed = window[owner_rep] * partial / total[owner_rep]  # uniform order statistics
    repeat_day = cal.day_of_cum(c0[owner_rep] + transformed / lam[owner_rep])
    return owner_rep, repeat_day


def _baskets(rng: np.random.Generator, traits: _Traits, owner_rep: np.ndarray, repeat_day: np.ndarray) -> _Baskets:
    """First and repeat purchases with channel and time of day, plus a second basket on the
    same day for a few (a little later, same channel; earlier if the store is closing)."""
    buyers = np.flatnonzero(traits.buyer)
    owner = np.concatenate([buyers, owner_rep])
    day = np.concatenate([traits.first_day[buyers], repeat_day])
    u = rng.random(len(owner), dtype=np.float32)
    channel = (u > traits.mix_cdf[:, 0][owner]).astype(np.int64) + (u > traits.mix_cdf[:, 1][owner])
    tod = seconds_of_day(rng, channel)

    extra = np.flatnonzero(chance(rng, SAME_DAY_EXTRA_SHARE, len(owner)))
    gap = 120 + rng.exponential(5400.0, len(extra)).astype(np.int64)
    opens, closes = OPENING_SECONDS[channel[extra]], CLOSING_SECONDS[channel[extra]]
    later = tod[extra] + gap
    extra_tod = np.where(later <= closes, later, np.maximum(tod[extra] - gap, opens))  # else earlier that day
    return _Baskets(
        owner=np.concatenate([owner, owner[extra]]),
        day=np.concatenate([day, day[extra]]),
        channel=np.concatenate([channel, channel[extra]]),
        tod=np.concatenate([tod, extra_tod]),
    )


def _what_and_how_much(
    rng: np.random.Generator, traits: _Traits, baskets: _Baskets
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Category, store, quantity, amount in cents and unit price in cents of each purchase."""
    owner, channel = baskets.owner, baskets.channel
    n_purchases = len(owner)
    u = rng.random(n_purchases, dtype=np.float32)
    pick = (u * np.sqrt(u) * traits.n_preferred[owner]).astype(np.int64)  # favours the first preferences
    category = traits.preferred.ravel()[owner * 4 + pick]
    explore = np.flatnonzero(~chance(rng, PREFERRED_SHARE, n_purchases))
    category[explore] = CATEGORY.draw(rng, len(explore))
    store = np.full(n_purchases, -1, dtype=np.int64)  # null for online and app
    in_store = np.flatnonzero(channel == STORE_CHANNEL)
    store_country = traits.country[owner[in_store]]
    store[in_store] = np.where(
        chance(rng, HOME_STORE_SHARE, len(in_store)),
        traits.home_store[owner[in_store]],
        STORE_OFFSET[store_country] + below(rng, STORES_PER_COUNTRY[store_country]),
    )
    quantity = QUANTITY.draw(rng, n_purchases) + 1
    noise = np.exp(rng.standard_normal(n_purchases) * SPEND_SIGMA - 0.5 * SPEND_SIGMA**2)  # lognormal, mean 1
    unit = traits.unit_spend[owner] * CATEGORY_PRICE_LEVEL[category] * noise
    ending = ENDING_CENTS[ENDING.draw(rng, n_purchases)]
    unit_cents = np.where(ending >= 0, unit.astype(np.int64) * 100 + ending, np.rint(unit * 100).astype(np.int64))
    unit_cents = np.maximum(unit_cents, 99)
    unit_cents[chance(rng, FREE_SHARE, n_purchases)] = 0
    cents = unit_cents * quantity
    return category, store, quantity, cents, unit_cents


def _with_refunds(
    rng: np.random.Generator,
    cal: Calendar,
    baskets: _Baskets,
    category: np.ndarray,
    store: np.ndarray,
    quantity: np.ndarray,
    cents: np.ndarray,
    unit_cents: np.ndarray,
) -> dict:
    """The purchase rows plus a refund row for a few paid purchases (1-45 days later, inside
    the window; all units or fewer), as unsorted columns."""
    day, channel = baskets.day, baskets.channel
    refunded = np.flatnonzero(chance(rng, REFUND_SHARE, len(cents)) & (cents > 0))
    refund_day = day[refunded] + REFUND_DELAY.draw(rng, len(refunded)) + 1
    keep = refund_day < cal.n_days
    refunded, refund_day = refunded[keep], refund_day[keep]
    q = quantity[refunded]
    partial_units = 1 + below(rng, np.maximum(q - 1, 1))  # 1..q-1 (1 if q == 1)
    units = np.where(chance(rng, REFUND_FULL_SHARE, len(refunded)), q, np.minimum(partial_units, q))
    refund_tod = seconds_of_day(rng, channel[refunded])

    owner = np.concatenate([baskets.owner, baskets.owner[refunded]])
    ts = (cal.epoch_day + np.concatenate([day, refund_day])) * 86400 + np.concatenate([baskets.tod, refund_tod])
    return {
        "customer_number": owner,
        "ts": ts,
        "cents": np.concatenate([cents, -unit_cents[refunded] * units]),
        "category": np.concatenate([category, category[refunded]]),
        "channel": np.concatenate([channel, channel[refunded]]),
        "quantity": np.concatenate([quantity, -units]),
        "store": np.concatenate([store, store[refunded]]),
    }
