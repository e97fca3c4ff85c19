"""Deterministic, streaming generator of synthetic loyalty transactions.

Modules: ``parameters`` (vocabulary and model parameters), ``sampling`` (random draws),
``calendar`` (seasonality), ``simulation`` (one chunk of customers and their valid rows),
``bad_rows`` (malformed rows added to a chunk), ``text`` (Arrow columns from byte matrices),
``writers`` (schemas, tables, Parquet/CSV writers), ``stream`` (``generate()``) and
``extra`` (survey responses and balances derived from a transactions file).

``generate()`` writes two files in the same format (chosen by the extension of
``out``: ``.parquet`` or ``.csv``):

* the transactions file at ``out`` (one row per purchase or refund) and
* the customers file at :func:`customers_path_for` ``(out)``.

Model (per customer, in the spirit of BG/NBD + Gamma-Gamma)
------------------------------------------------------------
* Signup day over ``[start, end]`` with mild exponential growth (about +15 %
  a year) and muted seasonality.
* About 3 % of customers never buy.  Everyone else makes a first purchase on
  the signup day (60 %) or a few days later; a first purchase that would fall
  after ``end`` turns the customer into a signup without purchases (so about
  4 % of the customers file has no transactions).
* Repeat purchases: purchase rate ``lambda ~ Gamma(r=0.75, scale=1/alpha)``
  per day (alpha = 37: one purchase per ~49 days while active, calibrated to
  ~4.3 rows per customer) and dropout probability ``p ~ Beta(0.8, 2.5)``:
  after every purchase the customer drops out with probability ``p``.
  Purchases follow a Poisson process with intensity ``lambda * s(day)``,
  where the seasonality ``s`` (Nov/Dec +60 %, Black Friday and Cyber Monday
  peaks, a summer dip, quiet holidays, busier weekends; mean 1 over the
  window) is applied by a time change, i.e. exact thinning without rejected
  draws: in the transformed clock the process has unit rate, the number of
  events left in the window is ``N ~ Poisson(Lambda)``, the number the
  customer makes before dropping out is ``K ~ Geometric(p) - 1``, and the
  first ``min(N, K)`` event times are order statistics of uniforms
  (exponential spacings), so every draw is vectorised over a chunk.
* About 1.5 % of purchases get a second basket on the same day (same
  channel, a little later, or earlier if the store is closing).
* Spend: per-customer mean unit price from a gamma distribution (Gamma-Gamma),
  a per-category price level, lognormal noise, psychological price endings
  (.99/.49/.95), ``quantity ~ Geometric(0.72)`` (at most 12) and ``amount =
  unit price * quantity`` in cents.  About 0.5 % of purchases are free
  (amount 0).
* Refunds: about 3 % of paid purchases get an extra row 1-45 days later (mean
  5; only if that is still inside the window) with a new id, the same
  customer, category, channel and store, a negative quantity (units
  returned: all of them in 80 % of refunds, otherwise fewer) and ``amount =
  -unit price * units``, so ``0 < -refund <= purchase``.
* Each customer has 1-4 preferred product categories (85 % of purchases) and a
  personal channel mix (logistic-normal around a mix that depends on the
  acquisition channel); store purchases happen at the home store (85 %) or
  another store of the customer's country.  ``store_id`` is null for the
  non-store channels (``online`` and ``app``).  Time of day depends on the
  channel (opening hours 9-21 for stores, evening peaks online and in the app).

Small categorical draws use 2**16-entry lookup tables (probabilities rounded
to multiples of 2**-16), large ones Walker's alias method.

Bad rows
--------
``bad_row_rate`` is the share of the *emitted* rows that are malformed.  Bad
rows are **added** to the valid rows, never replace them: each one is derived
from a valid row of the same chunk (its "template") and carries exactly one
defect of one kind (see :data:`BAD_ROW_KINDS`; missing values are null or
empty strings, half each).  The valid rows are therefore exactly the rows
generated with ``bad_row_rate=0`` (same customers, times, amounts, ...);
only ``transaction_id`` numbers shift, because ids are numbered in file order
and bad rows other than duplicates get fresh ids.  The bad rows use a random
stream of their own, so they do not disturb the valid data.  Kinds are
assigned round-robin over the global sequence of bad rows (counts per kind
differ by at most one) and the number of bad rows is kept at ``round(rate /
(1 - rate) * valid rows so far)`` after every chunk.  A bad row is written
right after its template row, except a duplicate (an exact copy of a valid
row, same id), which goes to a random later position of the same chunk; an
``after_as_of`` row is dated in 2099.  When bad rows are present the parquet
columns ``transacted_at`` and ``amount`` are strings (so that unparseable
values can exist); without bad rows they are a timestamp and a float64.  In
CSV, ``transacted_at`` is always ISO text with a "T" and ``amount`` always has
exactly two decimals.

Determinism and chunking
------------------------
Customers are simulated ``chunk_customers`` at a time; chunk ``i`` draws from
``np.random.default_rng([seed, i])`` (bad rows from a child stream of the same
seed sequence).  The output is a pure function of all arguments (except
``progress``): the same arguments give byte-identical files.
``chunk_customers`` is part of that identity: a different chunk size gives a
different (statistically equivalent) data set.  For a given seed and chunk
size, more customers only add data: the full chunks of a smaller run are the
first rows of a larger run (only its last, partial chunk differs), as long as
customer ids keep their width (below 10 million customers).  Transaction ids are numbered consecutively in file
order across chunks ("T" + 12 digits); customer ids are "C" + at least 7
digits, numbered from 1.

Streaming and speed
-------------------
Memory is bounded by about two chunks (about 4.3 * ``chunk_customers`` rows
each): a writer thread compresses and writes chunk ``i`` while chunk ``i + 1``
is simulated, in order.  Parquet files get one row group per chunk, zstd
compression, dictionary pages for the low-cardinality columns and no stored
Arrow schema (so every reader sees plain string columns).  pandas is never
imported (``extra`` does, and is not imported by this package's ``__init__``).
"""

from __future__ import annotations

from .bad_rows import BAD_ROW_KINDS
from .parameters import CATEGORIES, CHANNELS, DEFAULT_END, DEFAULT_START
from .stream import GenerateResult, customers_path_for, generate

__all__ = [
    "BAD_ROW_KINDS",
    "CATEGORIES",
    "CHANNELS",
    "DEFAULT_END",
    "DEFAULT_START",
    "GenerateResult",
    "customers_path_for",
    "generate",
]
