"""The generator's vocabulary and model parameters (see the package docstring for the model).

Every number that shapes the synthetic data is here; the other modules only draw from them.
"""

from __future__ import annotations

from datetime import date

import numpy as np

# The simulated window when the caller gives none.
DEFAULT_START = date(2023, 1, 1)
DEFAULT_END = date(2025, 12, 31)

CATEGORIES = ("books", "music", "electronics", "home", "garden", "toys", "fashion", "beauty")
CATEGORY_POPULARITY = np.array([0.14, 0.08, 0.12, 0.15, 0.07, 0.10, 0.21, 0.13])
CATEGORY_PRICE_LEVEL = np.array([0.55, 0.45, 2.6, 1.5, 1.2, 0.9, 1.05, 0.75])
N_PREFERRED_P = np.array([0.30, 0.35, 0.22, 0.13])  # 1, 2, 3 or 4 preferred categories
PREFERRED_SHARE = 0.85

CHANNELS = ("online", "store", "app")
STORE_CHANNEL = 1

ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "email")
ACQUISITION_P = np.array([0.36, 0.24, 0.18, 0.12, 0.10])
# Typical (online, store, app) mix by acquisition channel; customers scatter
# around it (logistic-normal: weights times exp(sigma * N(0, 1)), normalised).
CHANNEL_MIX = np.array(
    [
        [0.35, 0.50, 0.15],  # organic
        [0.60, 0.25, 0.15],  # paid_search
        [0.40, 0.20, 0.40],  # social
        [0.30, 0.50, 0.20],  # referral
        [0.50, 0.30, 0.20],  # email
    ]
)
CHANNEL_MIX_SIGMA = 1.0

COUNTRIES = ("DE", "FR", "NL", "BE", "IT", "ES", "AT", "IE", "PT", "FI", "GR", "LU", "SK")
COUNTRY_P = np.array([0.30, 0.17, 0.12, 0.08, 0.07, 0.07, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01])
STORES_PER_COUNTRY = np.array([14, 8, 6, 4, 4, 4, 3, 2, 2, 1, 1, 1, 1])
STORE_OFFSET = np.concatenate([[0], np.cumsum(STORES_PER_COUNTRY)[:-1]])
N_STORES = int(STORES_PER_COUNTRY.sum())
HOME_STORE_SHARE = 0.85

FIRST_NAMES = (
    "Anna", "Lukas", "Emma", "Noah", "Mia", "Leon", "Sofia", "Louis", "Julia", "Luca",
    "Chloe", "Hugo", "Lea", "Jan", "Sara", "Matteo", "Eva", "Daan", "Laura", "Pablo",
    "Ines", "Finn", "Marta", "Elias", "Clara", "Sean", "Aino", "Nikos", "Lena", "Tomas",
)  # fmt: skip
LAST_NAMES = (
    "Mueller", "Schmidt", "Martin", "Bernard", "de Jong", "Jansen", "Peeters", "Rossi",
    "Garcia", "Lopez", "Gruber", "Murphy", "Silva", "Virtanen", "Papadopoulos", "Weber",
    "Dubois", "Visser", "Russo", "Fernandez", "Huber", "Kelly", "Santos", "Schneider",
    "Moreau", "Bakker", "Ferrari", "Novak", "Wagner", "Costa",
)  # fmt: skip

# BG/NBD parameters (lambda per day).
RATE_SHAPE_R = 0.75
RATE_SCALE_ALPHA = (
    37.0  # mean lambda = r / alpha: one purchase per ~49 days while active (calibrated: ~4.3 rows per customer)
)
DROPOUT_A = 0.8
DROPOUT_B = 2.5
NO_PURCHASE_SHARE = 0.03
FIRST_PURCHASE_SAME_DAY = 0.60
FIRST_PURCHASE_DELAY_MEAN_DAYS = 10.0
SIGNUP_GROWTH_PER_YEAR = 0.15
SAME_DAY_EXTRA_SHARE = 0.015

# Spend (Gamma-Gamma + lognormal noise), in EUR per unit.
SPEND_SHAPE = 3.0
SPEND_SCALE = 10.0
SPEND_SIGMA = 0.45
QUANTITY_P = 0.72
MAX_QUANTITY = 12
FREE_SHARE = 0.005

REFUND_SHARE = 0.03
REFUND_FULL_SHARE = 0.80
REFUND_DELAY_P = 0.2  # delay in days ~ Geometric(0.2): 1..~20 days, mean 5
REFUND_MAX_DELAY_DAYS = 45

# Seasonality: month (Jan..Dec) and weekday (Mon..Sun) factors.
MONTH_FACTOR = np.array([0.90, 0.90, 1.00, 1.00, 1.00, 0.90, 0.80, 0.80, 1.00, 1.05, 1.60, 1.60])
WEEKDAY_FACTOR = np.array([0.90, 0.92, 0.95, 1.00, 1.08, 1.15, 1.00])

# Hour-of-day weights per channel (online, store, app).
HOUR_WEIGHTS = np.array(
    [
        # 0    1    2    3    4    5    6    7    8    9   10   11   12   13   14   15   16   17   18   19   20   21   22   23  # noqa: E501 - one hour per column
        [1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 3.0, 3.5, 3.8, 4.2, 4.0, 3.8, 3.7, 3.8, 4.2, 4.8, 5.6, 6.2, 6.0, 4.8, 2.6],  # noqa: E501 - one channel per row
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.5, 5.8, 6.5, 6.0, 5.0, 5.0, 5.6, 6.4, 6.0, 4.5, 2.2, 0.0, 0.0, 0.0],  # noqa: E501 - one channel per row
        [1.5, 0.8, 0.4, 0.3, 0.3, 0.5, 1.4, 3.2, 3.8, 2.8, 2.6, 2.9, 4.4, 4.0, 3.0, 2.9, 3.2, 4.0, 4.6, 5.2, 6.0, 6.6, 6.0, 3.4],  # noqa: E501 - one channel per row
    ]
)  # fmt: skip

OPENING_SECONDS = (HOUR_WEIGHTS > 0).argmax(axis=1) * 3600
CLOSING_SECONDS = (24 - (HOUR_WEIGHTS[:, ::-1] > 0).argmax(axis=1)) * 3600 - 1

FULL_NAMES = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
STORE_IDS = tuple(f"S{i + 1:03d}" for i in range(N_STORES))

TRANSACTION_ID_DIGITS = 12
CUSTOMER_ID_MIN_DIGITS = 7
SUPPORTED_FORMATS = (".parquet", ".csv")
