"""Tests for loyalty.generate (synthetic transactions engine)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loyalty.generate import BAD_ROW_KINDS, CATEGORIES, GenerateResult, customers_path_for, generate

TX_COLUMNS = [
    "transaction_id",
    "customer_id",
    "transacted_at",
    "amount",
    "currency",
    "product_category",
    "channel",
    "quantity",
    "store_id",
]
CUSTOMER_COLUMNS = ["customer_id", "signup_at", "country", "acquisition_channel", "email", "full_name"]

# One predicate per bad-row kind, on the raw (string) columns; a row is valid when none holds
# and its transaction_id is the first occurrence.
BAD_PREDICATES = {
    "missing_customer_id": "customer_id IS NULL OR customer_id = ''",
    "missing_transacted_at": "transacted_at IS NULL OR transacted_at = ''",
    "unparseable_transacted_at": "transacted_at <> '' AND TRY_CAST(transacted_at AS TIMESTAMP) IS NULL",
    "missing_amount": "amount IS NULL OR amount = ''",
    "unparseable_amount": "amount <> '' AND TRY_CAST(amount AS DECIMAL(18, 2)) IS NULL",
    "after_as_of": "TRY_CAST(transacted_at AS TIMESTAMP) > TIMESTAMP '2025-12-31 23:59:59'",
}
ANY_BAD = " OR ".join(f"({p})" for p in BAD_PREDICATES.values())


def raw(path: Path) -> str:
    """DuckDB relation over a generated file with every column as text."""
    if path.suffix == ".csv":
        return f"read_csv('{path}', all_varchar = true, header = true)"
    cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in TX_COLUMNS)
    return f"(SELECT {cols} FROM read_parquet('{path}'))"


def typed(path: Path) -> str:
    """DuckDB relation over a clean transactions file with proper types, for either format."""
    if path.suffix == ".csv":
        return (
            f"(SELECT transaction_id, customer_id, CAST(transacted_at AS TIMESTAMP) AS transacted_at,"
            f" CAST(amount AS DECIMAL(18, 2)) AS amount, currency, product_category, channel,"
            f" CAST(quantity AS INTEGER) AS quantity, store_id FROM {raw(path)})"
        )
    return f"(SELECT * REPLACE (CAST(amount AS DECIMAL(18, 2)) AS amount) FROM read_parquet('{path}'))"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> GenerateResult:
    out = tmp_path_factory.mktemp("clean") / "tx.parquet"
    return generate(3000, out, seed=7, progress=False)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> GenerateResult:
    out = tmp_path_factory.mktemp("dirty") / "tx.parquet"
    return generate(3000, out, seed=7, bad_row_rate=0.07, progress=False, chunk_customers=1000)


def q(sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def q1(sql: str) -> tuple:
    with duckdb.connect() as con:
        row = con.execute(sql).fetchone()
    assert row is not None, sql
    return row


# --------------------------------------------------------------------------- API


def test_customers_path_for():
    assert customers_path_for(Path("data/tx.parquet")) == Path("data/tx_customers.parquet")
    assert customers_path_for(Path("/a/b/raw.tx.csv")) == Path("/a/b/raw.tx_customers.csv")


@pytest.mark.parametrize("name", ["tx.json", "tx", "tx.parquet.gz", "tx.tsv"])
def test_bad_extension_raises(tmp_path, name):
    with pytest.raises(ValueError, match=r"use \.parquet or \.csv"):
        generate(10, tmp_path / name, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_customers": -1},
        {"bad_row_rate": 1.0},
        {"bad_row_rate": 0.95},
        {"bad_row_rate": -0.1},
        {"start": date(2025, 1, 2), "end": date(2025, 1, 1)},
        {"chunk_customers": 0},
        {"seed": -3},
    ],
)
def test_invalid_arguments_raise(tmp_path, kwargs):
    args = {"n_customers": 10, **kwargs}
    with pytest.raises(ValueError):
        generate(args.pop("n_customers"), tmp_path / "tx.parquet", progress=False, **args)
    assert list(tmp_path.iterdir()) == []


def test_result_fields(clean):
    assert clean.n_customers == 3000
    assert clean.transactions_path.name == "tx.parquet"
    assert clean.customers_path == customers_path_for(clean.transactions_path)
    assert clean.n_bad_rows == 0
    assert clean.bad_rows_by_kind == {k: 0 for k in BAD_ROW_KINDS}
    assert list(clean.bad_rows_by_kind) == [
        "missing_customer_id",
        "missing_transacted_at",
        "unparseable_transacted_at",
        "missing_amount",
        "unparseable_amount",
        "duplicate_transaction_id",
        "after_as_of",
    ]
    assert pq.read_metadata(clean.transactions_path).num_rows == clean.n_transactions
    assert pq.read_metadata(clean.customers_path).num_rows == 3000
    assert not list(clean.transactions_path.parent.glob("*.partial"))


# --------------------------------------------------------------------------- schema


def test_parquet_schema_clean(clean):
    schema = pq.read_schema(clean.transactions_path)
    assert schema.names == TX_COLUMNS
    assert schema.field("transaction_id").type == pa.string()
    assert schema.field("customer_id").type == pa.string()
    assert pa.types.is_timestamp(schema.field("transacted_at").type)
    assert schema.field("amount").type == pa.float64()
    assert schema.field("quantity").type == pa.int32()
    for name in ("currency", "product_category", "channel", "store_id"):
        assert schema.field(name).type == pa.string()
    cu = pq.read_schema(clean.customers_path)
    assert cu.names == CUSTOMER_COLUMNS
    assert cu.field("signup_at").type == pa.date32()
    assert all(cu.field(n).type == pa.string() for n in CUSTOMER_COLUMNS if n != "signup_at")


def test_parquet_schema_with_bad_rows_uses_strings(dirty):
    schema = pq.read_schema(dirty.transactions_path)
    assert schema.names == TX_COLUMNS
    assert schema.field("transacted_at").type == pa.string()
    assert schema.field("amount").type == pa.string()
    assert schema.field("quantity").type == pa.int32()


def test_csv_header_and_text_formats(tmp_path):
    res = generate(300, tmp_path / "tx.csv", seed=3, progress=False)
    lines = res.transactions_path.read_text().splitlines()
    assert lines[0] == ",".join(f'"{c}"' for c in TX_COLUMNS)
    assert len(lines) == res.n_transactions + 1
    first = lines[1].split(",")
    assert first[0] == '"T000000000001"'
    assert first[1] == '"C0000001"'
    cu_lines = res.customers_path.read_text().splitlines()
    assert cu_lines[0] == ",".join(f'"{c}"' for c in CUSTOMER_COLUMNS)
    assert cu_lines[1].startswith('"C0000001",')
    assert len(cu_lines) == 301
    # timestamps are ISO with a "T", amounts always with two decimals, in every row
    rel = raw(res.transactions_path)
    assert q1(
        f"SELECT count(*) FROM {rel} "
        f"WHERE NOT regexp_full_match(transacted_at, '\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d')"
    ) == (0,)
    assert q1(f"SELECT count(*) FROM {rel} WHERE NOT regexp_full_match(amount, '-?\\d+\\.\\d\\d')") == (0,)


def test_csv_and_parquet_hold_the_same_data(tmp_path):
    pa_res = generate(800, tmp_path / "tx.parquet", seed=11, progress=False, chunk_customers=300)
    csv_res = generate(800, tmp_path / "tx.csv", seed=11, progress=False, chunk_customers=300)
    assert pa_res.n_transactions == csv_res.n_transactions
    diff = q1(
        f"SELECT count(*) FROM (SELECT * FROM {typed(pa_res.transactions_path)}"
        f" EXCEPT ALL SELECT * FROM {typed(csv_res.transactions_path)})"
    )
    assert diff == (0,)
    cu_diff = q1(
        f"SELECT count(*) FROM (SELECT * FROM read_parquet('{pa_res.customers_path}')"
        f" EXCEPT ALL SELECT * FROM read_csv('{csv_res.customers_path}', types = {{'signup_at': 'DATE'}}))"
    )
    assert cu_diff == (0,)


# --------------------------------------------------------------------------- values


def test_transaction_values(clean):
    t = f"read_parquet('{clean.transactions_path}')"
    n = clean.n_transactions
    assert 3.5 * 3000 < n < 5.5 * 3000
    assert q1(f"SELECT count(DISTINCT transaction_id), min(transaction_id), max(transaction_id) FROM {t}") == (
        n,
        "T000000000001",
        f"T{n:012d}",
    )
    assert q1(f"SELECT count(*) FROM {t} WHERE NOT regexp_full_match(customer_id, 'C\\d{{7}}')") == (0,)
    assert q(f"SELECT DISTINCT currency FROM {t}") == [("EUR",)]
    assert {r[0] for r in q(f"SELECT DISTINCT product_category FROM {t}")} == set(CATEGORIES)
    assert {r[0] for r in q(f"SELECT DISTINCT channel FROM {t}")} == {"online", "store", "app"}
    lo, hi = q1(f"SELECT min(transacted_at)::DATE, max(transacted_at)::DATE FROM {t}")
    assert date(2023, 1, 1) <= lo and hi <= date(2025, 12, 31)
    # store_id exactly for store purchases
    assert q1(f"SELECT count(*) FROM {t} WHERE (store_id IS NULL) <> (channel <> 'store')") == (0,)
    assert q1(f"SELECT count(*) FROM {t} WHERE NOT regexp_full_match(store_id, 'S\\d{{3}}')") == (0,)
    # two-decimal amounts, sensible sizes, a few free purchases, ~3% refunds
    assert q1(f"SELECT count(*) FROM {t} WHERE abs(amount * 100 - round(amount * 100)) > 1e-6") == (0,)
    zero, refunds, avg_paid = q1(
        f"SELECT avg((amount = 0)::INT), avg((amount < 0)::INT), avg(amount) FILTER (WHERE amount > 0) FROM {t}"
    )
    assert 0 < zero < 0.02
    assert 0.015 < refunds < 0.05
    assert 20 < avg_paid < 100
    assert q1(f"SELECT count(*) FROM {t} WHERE quantity = 0 OR (quantity < 0) <> (amount < 0)") == (0,)
    # occasionally two purchases by the same customer on the same day
    multi = q1(
        f"SELECT count(*) FROM (SELECT customer_id, transacted_at::DATE FROM {t} WHERE amount >= 0"
        f" GROUP BY ALL HAVING count(*) > 1)"
    )[0]
    assert 0 < multi < 0.1 * n
    # written in customer order, then time
    rows = q(f"SELECT customer_id, transacted_at FROM {t}")
    assert rows == sorted(rows)


def test_seasonality_peaks_in_november_and_december(clean):
    t = f"read_parquet('{clean.transactions_path}')"
    by_month = dict(q(f"SELECT month(transacted_at), count(*) FROM {t} WHERE year(transacted_at) = 2025 GROUP BY 1"))
    assert by_month[11] > 1.3 * by_month[10]
    assert by_month[12] > 1.3 * by_month[9]
    assert by_month[7] < by_month[9]


def test_customer_values(clean):
    c = f"read_parquet('{clean.customers_path}')"
    t = f"read_parquet('{clean.transactions_path}')"
    assert q1(f"SELECT count(*), count(DISTINCT customer_id), min(customer_id), max(customer_id) FROM {c}") == (
        3000,
        3000,
        "C0000001",
        "C0003000",
    )
    assert q1(f"SELECT count(*) FROM {c} WHERE email <> lower(customer_id) || '@example.com'") == (0,)
    assert q1(f"SELECT count(*) FROM {c} WHERE NOT regexp_full_match(full_name, '[A-Z][a-z]+ [A-Za-z ]+')") == (0,)
    assert q1(f"SELECT count(*) FROM {c} WHERE NOT regexp_full_match(country, '[A-Z]{{2}}')") == (0,)
    countries = q(f"SELECT country, count(*) AS n FROM {c} GROUP BY 1 ORDER BY n DESC")
    assert countries[0][0] == "DE" and countries[0][1] > 3 * countries[len(countries) // 2][1]  # skewed
    assert {r[0] for r in q(f"SELECT DISTINCT acquisition_channel FROM {c}")} == {
        "organic",
        "paid_search",
        "social",
        "referral",
        "email",
    }
    lo, hi = q1(f"SELECT min(signup_at), max(signup_at) FROM {c}")
    assert date(2023, 1, 1) <= lo and hi <= date(2025, 12, 31)
    # every transaction belongs to a known customer, signed up on or before the first purchase
    assert q1(f"SELECT count(*) FROM {t} ANTI JOIN {c} USING (customer_id)") == (0,)
    assert q1(
        f"SELECT count(*) FROM {c} JOIN (SELECT customer_id, min(transacted_at) AS f FROM {t} GROUP BY 1)"
        f" USING (customer_id) WHERE signup_at > f::DATE"
    ) == (0,)
    # a few signups never buy
    no_purchase = q1(f"SELECT count(*) FROM {c} ANTI JOIN {t} USING (customer_id)")[0]
    assert 0.01 * 3000 < no_purchase < 0.10 * 3000


def test_refunds_follow_a_larger_purchase(clean):
    t = f"read_parquet('{clean.transactions_path}')"
    n_refunds = q1(f"SELECT count(*) FROM {t} WHERE amount < 0")[0]
    assert n_refunds > 0
    # every refund has an earlier purchase of the same customer, category, channel and store
    # with at least the refunded amount and quantity
    matched = q1(
        f"SELECT count(*) FROM {t} r WHERE r.amount < 0 AND EXISTS (SELECT 1 FROM {t} p"
        f" WHERE p.customer_id = r.customer_id AND p.product_category = r.product_category"
        f" AND p.channel = r.channel AND p.store_id IS NOT DISTINCT FROM r.store_id"
        f" AND p.amount >= -r.amount AND p.quantity >= -r.quantity"
        f" AND p.transacted_at::DATE < r.transacted_at::DATE)"
    )[0]
    assert matched == n_refunds
    assert q1(f"SELECT count(*) FROM {t} WHERE amount < 0 AND quantity >= 0") == (0,)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_same_arguments_give_identical_bytes(tmp_path, suffix, rate):
    kw = {"seed": 5, "bad_row_rate": rate, "progress": False, "chunk_customers": 400}
    a = generate(1000, tmp_path / "a" / f"tx{suffix}", **kw)
    b = generate(1000, tmp_path / "b" / f"tx{suffix}", **kw)
    assert a.transactions_path.read_bytes() == b.transactions_path.read_bytes()
    assert a.customers_path.read_bytes() == b.customers_path.read_bytes()
    assert (a.n_transactions, a.n_bad_rows, a.bad_rows_by_kind) == (b.n_transactions, b.n_bad_rows, b.bad_rows_by_kind)
    c = generate(1000, tmp_path / "c" / f"tx{suffix}", **{**kw, "seed": 6})
    assert c.transactions_path.read_bytes() != a.transactions_path.read_bytes()


def test_progress_bar_does_not_change_the_data(tmp_path, capsys):
    a = generate(500, tmp_path / "a.parquet", seed=1, progress=True, chunk_customers=200)
    b = generate(500, tmp_path / "b.parquet", seed=1, progress=False, chunk_customers=200)
    assert a.transactions_path.read_bytes() == b.transactions_path.read_bytes()
    assert "generating customers" in capsys.readouterr().err


# --------------------------------------------------------------------------- chunking


def test_chunked_streaming_keeps_ids_consistent(tmp_path):
    res = generate(2500, tmp_path / "tx.parquet", seed=9, progress=False, chunk_customers=1000)
    meta = pq.read_metadata(res.transactions_path)
    assert meta.num_row_groups == 3  # one per chunk
    assert pq.read_metadata(res.customers_path).num_row_groups == 3
    t = f"read_parquet('{res.transactions_path}')"
    n = res.n_transactions
    # ids are consecutive in file order across chunks
    ids = [r[0] for r in q(f"SELECT transaction_id FROM {t}")]
    assert ids == [f"T{i:012d}" for i in range(1, n + 1)]
    c = f"read_parquet('{res.customers_path}')"
    assert [r[0] for r in q(f"SELECT customer_id FROM {c}")] == [f"C{i:07d}" for i in range(1, 2501)]
    assert q1(f"SELECT count(*) FROM {t} ANTI JOIN {c} USING (customer_id)") == (0,)
    # every chunk has customers with purchases
    per_chunk = q(
        f"SELECT (CAST(substr(customer_id, 2) AS INT) - 1) // 1000 AS chunk, count(*) FROM {t} GROUP BY 1 ORDER BY 1"
    )
    assert [r[0] for r in per_chunk] == [0, 1, 2]
    assert all(r[1] > 2000 for r in per_chunk[:2])


def test_chunk_size_changes_data_but_not_its_shape(tmp_path):
    a = generate(1200, tmp_path / "a.parquet", seed=4, progress=False, chunk_customers=1200)
    b = generate(1200, tmp_path / "b.parquet", seed=4, progress=False, chunk_customers=500)
    assert pq.read_schema(a.transactions_path) == pq.read_schema(b.transactions_path)
    assert a.transactions_path.read_bytes() != b.transactions_path.read_bytes()
    assert abs(a.n_transactions - b.n_transactions) < 0.25 * a.n_transactions


@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_more_customers_only_append_full_chunks(tmp_path, rate):
    kw = {"seed": 12, "bad_row_rate": rate, "progress": False, "chunk_customers": 500}
    small = generate(1000, tmp_path / "small.parquet", **kw)  # two full chunks
    large = generate(1700, tmp_path / "large.parquet", **kw)
    assert large.n_transactions > small.n_transactions
    head = q(f"SELECT * FROM {raw(large.transactions_path)} LIMIT {small.n_transactions}")
    assert head == q(f"SELECT * FROM {raw(small.transactions_path)}")
    cu_head = q(f"SELECT * FROM read_parquet('{large.customers_path}') LIMIT 1000")
    assert cu_head == q(f"SELECT * FROM read_parquet('{small.customers_path}')")


def test_store_purchases_happen_in_opening_hours(clean):
    t = f"read_parquet('{clean.transactions_path}')"
    hours = dict(q(f"SELECT hour(transacted_at), count(*) FROM {t} WHERE channel = 'store' GROUP BY 1"))
    assert min(hours) == 9 and max(hours) == 20
    online = dict(q(f"SELECT hour(transacted_at), count(*) FROM {t} WHERE channel = 'online' GROUP BY 1"))
    assert online[20] > 3 * online[3]  # evening peak, quiet nights


def test_samplers_follow_their_distributions():
    import numpy as np

    from loyalty.generate.sampling import Alias as _Alias
    from loyalty.generate.sampling import Table as _Table
    from loyalty.generate.sampling import chance as _chance

    rng = np.random.default_rng(0)
    n = 400_000
    table = _Table([[0.5, 0.3, 0.2, 0.0], [0.0, 0.0, 1.0, 3.0]])
    row = rng.integers(0, 2, n)
    x = table.draw(rng, n, row=row)
    assert np.bincount(x[row == 0], minlength=4) / (row == 0).sum() == pytest.approx([0.5, 0.3, 0.2, 0.0], abs=0.005)
    assert np.bincount(x[row == 1], minlength=4) / (row == 1).sum() == pytest.approx([0, 0, 0.25, 0.75], abs=0.005)
    alias = _Alias([1.0, 0.0, 2.0, 7.0])
    y = alias.draw(rng, n)
    assert np.bincount(y, minlength=4) / n == pytest.approx([0.1, 0.0, 0.2, 0.7], abs=0.005)
    assert _chance(rng, 0.03, n).mean() == pytest.approx(0.03, abs=0.002)


def test_text_columns():
    import numpy as np

    from loyalty.generate.text import Text as _Text
    from loyalty.generate.text import amount_text as _amount_text
    from loyalty.generate.text import iso_timestamp_matrix as _iso_timestamp_matrix
    from loyalty.generate.text import strings_from_matrix as _strings_from_matrix

    cents = np.array([0, 5, -5, 1234, -123456789, 100])
    assert _amount_text(cents).to_arrow().to_pylist() == ["0.00", "0.05", "-0.05", "12.34", "-1234567.89", "1.00"]
    seconds = np.array([0, 1709648530, 4_073_587_261])  # 1970, 2024, 2099
    ts = _Text(_iso_timestamp_matrix(seconds))
    assert ts.to_arrow().to_pylist() == ["1970-01-01T00:00:00", "2024-03-05T14:22:10", "2099-02-01T00:01:01"]
    ts.set(np.array([0, 2]), ["a much longer text than nineteen bytes", None])
    assert ts.to_arrow().to_pylist() == ["a much longer text than nineteen bytes", "2024-03-05T14:22:10", None]
    buf = np.frombuffer(b"abcdefghi", dtype=np.uint8).reshape(3, 3).copy()
    assert _strings_from_matrix(buf, np.array([0, 1, 3]), np.array([True, True, False])).to_pylist() == [
        "abc",
        "ef",
        None,
    ]


def test_zero_customers_writes_empty_files(tmp_path):
    for suffix in (".parquet", ".csv"):
        res = generate(0, tmp_path / f"tx{suffix}", progress=False)
        assert (res.n_customers, res.n_transactions, res.n_bad_rows) == (0, 0, 0)
        assert q1(f"SELECT count(*) FROM {raw(res.transactions_path)}") == (0,)
    assert pq.read_schema(tmp_path / "tx.parquet").names == TX_COLUMNS
    assert (tmp_path / "tx.csv").read_text().splitlines() == [",".join(f'"{c}"' for c in TX_COLUMNS)]


def test_large_customer_numbers_widen_customer_ids():
    # ids stay unique past 9,999,999 customers: the width grows with n_customers
    import numpy as np

    from loyalty.generate.text import fixed_width_strings as _fixed_width_strings

    arr = _fixed_width_strings(b"C", np.array([1, 9_999_999, 12_345_678]), 8)
    assert arr.to_pylist() == ["C00000001", "C09999999", "C12345678"]


# --------------------------------------------------------------------------- bad rows


def test_no_bad_rows_when_rate_is_zero(clean):
    rel = raw(clean.transactions_path)
    assert q1(f"SELECT count(*) FROM {rel} WHERE {ANY_BAD}") == (0,)
    assert q1(f"SELECT count(*) - count(DISTINCT transaction_id) FROM {rel}") == (0,)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_bad_row_counts_match_the_file(tmp_path, suffix, dirty):
    if suffix == ".parquet":
        res = dirty
    else:
        res = generate(3000, tmp_path / "tx.csv", seed=7, bad_row_rate=0.07, progress=False, chunk_customers=1000)
        assert res.bad_rows_by_kind == dirty.bad_rows_by_kind
    rel = raw(res.transactions_path)
    counts = {k: q1(f"SELECT count(*) FROM {rel} WHERE {p}")[0] for k, p in BAD_PREDICATES.items()}
    counts["duplicate_transaction_id"] = q1(f"SELECT count(*) - count(DISTINCT transaction_id) FROM {rel}")[0]
    assert counts == res.bad_rows_by_kind
    assert set(res.bad_rows_by_kind) == set(BAD_ROW_KINDS)
    assert sum(res.bad_rows_by_kind.values()) == res.n_bad_rows
    # split evenly over the kinds, and the requested share of all rows
    assert max(counts.values()) - min(counts.values()) <= 1
    assert min(counts.values()) > 0
    assert res.n_bad_rows / res.n_transactions == pytest.approx(0.07, abs=0.001)
    assert q1(f"SELECT count(*) FROM {rel}") == (res.n_transactions,)
    # every bad row has exactly one defect: the kinds never overlap
    assert q1(f"SELECT count(*) FROM {rel} WHERE {ANY_BAD}")[0] == sum(
        v for k, v in counts.items() if k != "duplicate_transaction_id"
    )
    # missing values come both as null and as empty strings (in CSV: nothing vs "")
    if suffix == ".csv":
        rel = f"read_csv('{res.transactions_path}', all_varchar = true, header = true, allow_quoted_nulls = false)"
    nulls, empties = q1(
        f"SELECT count(*) FILTER (WHERE customer_id IS NULL), count(*) FILTER (WHERE customer_id = '') FROM {rel}"
    )
    assert nulls > 0 and empties > 0
    assert nulls + empties == counts["missing_customer_id"]


def test_duplicates_are_exact_copies_of_earlier_valid_rows(dirty):
    rel = raw(dirty.transactions_path)
    n_dup = dirty.bad_rows_by_kind["duplicate_transaction_id"]
    rows = q(f"SELECT * FROM {rel}")
    first_seen: dict[str, tuple] = {}
    copies = 0
    for row in rows:
        if row[0] in first_seen:
            assert row == first_seen[row[0]]  # an exact copy, later in the file
            copies += 1
        else:
            first_seen[row[0]] = row
    assert copies == n_dup
    # the originals are valid rows, and no id occurs more than twice
    dup_ids = q(f"SELECT transaction_id FROM {rel} GROUP BY 1 HAVING count(*) > 1")
    assert len(dup_ids) == n_dup
    assert q1(
        f"SELECT count(*) FROM {rel} WHERE transaction_id IN (SELECT transaction_id FROM {rel}"
        f" GROUP BY 1 HAVING count(*) > 1) AND ({ANY_BAD})"
    ) == (0,)
    # apart from the intended duplicates, ids are unique and consecutive
    ids = sorted(first_seen)
    assert ids == [f"T{i:012d}" for i in range(1, len(ids) + 1)]

    # a copy stays inside its original's chunk (1000 customers per chunk, written in customer order)
    def chunk(row):
        return (int(row[1][1:]) - 1) // 1000 if row[1] else None

    position: dict[object, int] = {}
    for i, row in enumerate(rows):
        if row[0] in position:
            between = {chunk(r) for r in rows[position[row[0]] : i + 1]} - {None}
            assert between == {chunk(row)}
        else:
            position[row[0]] = i


def test_after_as_of_rows_are_far_in_the_future_with_new_ids(dirty):
    rel = raw(dirty.transactions_path)
    rows = q(
        f"SELECT transaction_id, CAST(transacted_at AS TIMESTAMP) FROM {rel}"
        f" WHERE TRY_CAST(transacted_at AS TIMESTAMP) > TIMESTAMP '2025-12-31 23:59:59'"
    )
    assert len(rows) == dirty.bad_rows_by_kind["after_as_of"]
    assert all(ts.year == 2099 for _, ts in rows)
    ids = [r[0] for r in rows]
    assert q1(f"SELECT count(*) FROM {rel} WHERE transaction_id IN ({', '.join(repr(i) for i in ids)})") == (len(ids),)


def test_valid_rows_equal_the_clean_run(clean, dirty):
    """Bad rows are added, never replace valid ones: dropping them gives the clean data set
    (with the same chunking), apart from transaction_id numbers."""
    clean_run = generate(
        3000, clean.transactions_path.parent / "same_chunks.parquet", seed=7, progress=False, chunk_customers=1000
    )
    rest = (
        "customer_id, CAST(transacted_at AS TIMESTAMP) AS transacted_at, CAST(amount AS DECIMAL(18, 2)) AS amount,"
        " currency, product_category, channel, quantity, store_id"
    )
    dirty_rows = f"(SELECT *, row_number() OVER (PARTITION BY transaction_id) AS k FROM {raw(dirty.transactions_path)})"
    valid = f"(SELECT {rest} FROM {dirty_rows} WHERE k = 1 AND NOT ({ANY_BAD}))"
    expected = f"(SELECT {rest} FROM {raw(clean_run.transactions_path)})"
    assert q1(f"SELECT count(*) FROM {valid}") == (clean_run.n_transactions,)
    assert dirty.n_transactions - dirty.n_bad_rows == clean_run.n_transactions
    assert q1(f"SELECT count(*) FROM (SELECT * FROM {valid} EXCEPT ALL SELECT * FROM {expected})") == (0,)
    assert q1(f"SELECT count(*) FROM (SELECT * FROM {expected} EXCEPT ALL SELECT * FROM {valid})") == (0,)
    # and the customers file does not depend on the bad-row rate
    assert clean_run.customers_path.read_bytes() == dirty.customers_path.read_bytes()
