"""Inputs as data teams really have them (issue #13): each case on a hand-made input, its outcome asserted.

Values that are not what they claim to be, time zones, layouts, JSON Lines, CSV options,
edge inputs (only refunds, everything after the as-of date) and paths. The cases that need
a whole run share as few runs as possible (one folder of CSV + Parquet + JSON Lines files).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import connect, run_cli
from loyalty.dbt import DbtResult, failure_sentence
from loyalty.errors import InputError
from loyalty.load import CsvOptions

HEADER = "transaction_id,customer_id,transacted_at,amount,quantity\n"
# (line text, reject reason or None when valid); the record number is the position (1-based)
CSV_CASES: list[tuple[str, str | None]] = [
    ("v1,c1,2024-03-01,10.00,1", None),
    ("e1,c1,epoch,10,1", "unparseable_transacted_at"),
    ("e2,c1,infinity,10,1", "unparseable_transacted_at"),
    ("e3,c1,-infinity,10,1", "unparseable_transacted_at"),
    ("e4,c1,now,10,1", "unparseable_transacted_at"),
    ("e5,c1,today,10,1", "unparseable_transacted_at"),
    ("y1,c1,0001-01-01,10,1", "implausible_transacted_at"),
    ("y2,c1,1600-06-01,10,1", "implausible_transacted_at"),
    ("y3,c1,1900-01-01 12:00:00,10,1", "implausible_transacted_at"),
    ("a1,c1,2024-03-02,1_000,1", "unparseable_amount"),
    ("a2,c1,2024-03-02,1e3,1", None),
    ("a3,c1,2024-03-02,inf,1", "unparseable_amount"),
    ("a4,c1,2024-03-02,nan,1", "unparseable_amount"),
    ("a5,c1,2024-03-02,+5,1", "unparseable_amount"),
    ("q1,c2,2024-03-03,5.00,1.5", None),
    ("q2,c2,2024-03-03,5.00,2.0", None),
    ("z1,c3,2024-04-01 05:00+09,7.00,1", None),
    ("z2,c3,2024-04-01T05:00:00Z,7.00,1", None),
    ("m1,c1,2024-03-04,1,1,one field too many", "malformed_line"),
    ("m2,c1", "malformed_line"),
    ("d1,c1,2024-3-5,10,1", "unparseable_transacted_at"),
    ("d2,c1,2024-02-30,10,1", "unparseable_transacted_at"),
    ("d3,c1,2024-03-05 24:00,10,1", "unparseable_transacted_at"),
    ("f1,c1,2024-07-01,10,1", "after_as_of"),
]
BAD_BYTES_LINE = b"u1,c\xff,2024-03-01,1,1"  # not UTF-8: record 25, malformed_line
JSONL_LINES = [
    '{"transaction_id": "j1", "customer_id": "c5", "transacted_at": "2024-04-05", "amount": 3.5}',
    "not json",
    '{"transaction_id": "j3", "customer_id": "c5", "transacted_at": "epoch", "amount": 1}',
]
AS_OF = "2024-06-30"
SLOW_FIXTURES = {"mixed_warehouse"}  # a real run of its own (conftest: the `slow` tier)


def assert_one_sentence(proc, code: int, *fragments: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _write_mixed_input(folder: Path) -> None:
    folder.mkdir(parents=True)
    text = HEADER + "".join(line + "\n" for line, _ in CSV_CASES)
    (folder / "a.csv").write_bytes(text.encode() + BAD_BYTES_LINE + b"\n")
    duckdb.sql(
        "copy (select * from (values"
        " ('p1', 'c4', timestamptz '2024-04-01 05:00:00+09', 12.5::double, 2.0::double),"
        " ('p2', 'c4', timestamptz '2024-04-02 10:00:00+00', 1.25::double, 1.0::double))"
        " t(transaction_id, customer_id, transacted_at, amount, quantity))"
        f" to '{folder / 'b.parquet'}' (format parquet)"
    )
    (folder / "c.jsonl").write_text("\n".join(JSONL_LINES) + "\n")


@pytest.fixture(scope="module")
def mixed_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CSV + Parquet + JSON Lines in one run, into a warehouse whose path has a quote and a space."""
    root = tmp_path_factory.mktemp("mixed")
    _write_mixed_input(root / "input")
    warehouse = root / "it's a warehouse" / "w.duckdb"
    run_cli(
        "run",
        "--transactions",
        str(root / "input"),
        "--as-of",
        AS_OF,
        "--warehouse",
        str(warehouse),
        "--max-rejected-share",
        "1",
    )
    return warehouse


def test_every_hand_made_case_gets_its_reason(mixed_warehouse: Path) -> None:
    with connect(mixed_warehouse) as con:
        rows = con.execute(
            "select regexp_extract(r.source_file, '[^/]+$'), r.source_row_number, v.reject_reason"
            " from raw.transactions r left join marts.rejected_transactions v using (raw_row_id)"
            " order by r.raw_row_id"
        ).fetchall()
        valid, rejected, raw = con.execute(  # type: ignore[misc]  # fetchone() is None only without a row; the unpacking then fails the test
            "select (select count(*) from marts.fct_transactions), (select count(*) from marts.rejected_transactions),"
            " (select count(*) from raw.transactions)"
        ).fetchone()
    expected = [("a.csv", i, reason) for i, (_, reason) in enumerate(CSV_CASES, start=1)]
    expected += [("a.csv", 25, "malformed_line")]
    expected += [("b.parquet", 1, None), ("b.parquet", 2, None)]
    expected += [("c.jsonl", 1, None), ("c.jsonl", 2, "malformed_line"), ("c.jsonl", 3, "unparseable_transacted_at")]
    assert rows == expected
    assert raw == valid + rejected == len(expected)


def test_malformed_lines_keep_their_text_and_line(mixed_warehouse: Path) -> None:
    with connect(mixed_warehouse) as con:
        rows = con.execute(
            "select regexp_extract(source_file, '[^/]+$'), source_row_number, transaction_id, raw_line"
            " from marts.rejected_transactions where reject_reason = 'malformed_line' order by raw_row_id"
        ).fetchall()
    assert rows[:2] == [
        ("a.csv", 19, None, "m1,c1,2024-03-04,1,1,one field too many"),
        ("a.csv", 20, None, "m2,c1"),
    ]
    assert rows[2][:3] == ("a.csv", 25, None) and rows[2][3].startswith("u1,c")
    assert rows[3] == ("c.jsonl", 2, None, "not json")


def test_strict_numbers_quantity_not_rounded_and_offsets_honoured(mixed_warehouse: Path) -> None:
    with connect(mixed_warehouse) as con:
        facts = {
            r[0]: r[1:]
            for r in con.execute(
                "select transaction_id, amount, quantity, transaction_date, transacted_at from marts.fct_transactions"
            ).fetchall()
        }
    assert facts["a2"][0] == Decimal("1000.0000")  # 1e3: a plain number with an exponent
    assert facts["q1"][1] is None  # 1.5 is not a whole number: null, never rounded to 2
    assert facts["q2"][1] == 2  # 2.0 is
    # CSV offset and Parquet timestamp with time zone: the same instant, the same UTC day
    assert facts["z1"][2:] == (dt.date(2024, 3, 31), dt.datetime(2024, 3, 31, 20, 0))
    assert facts["p1"][2:] == (dt.date(2024, 3, 31), dt.datetime(2024, 3, 31, 20, 0))
    assert facts["p1"][:2] == (Decimal("12.5000"), 2)
    assert facts["z2"][2] == dt.date(2024, 4, 1)
    assert facts["j1"][0] == Decimal("3.5000")


@pytest.mark.slow
def test_business_time_zone_decides_the_day_for_csv_and_parquet_alike(tmp_path: Path) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "a.csv").write_bytes(
        "transaction_id;customer_id;transacted_at;amount\n"
        "z1;c\u00e9;2024-04-01 05:00+09;7.00\n"
        "z2;c\u00e9;2024-03-31 23:30;3.00\n".encode("latin-1")
    )
    duckdb.sql(
        "copy (select 'p1' as transaction_id, 'c4' as customer_id,"
        " timestamptz '2024-04-01 05:00:00+09' as transacted_at, 12.5 as amount)"
        f" to '{folder / 'b.parquet'}' (format parquet)"
    )
    warehouse = tmp_path / "w.duckdb"
    run_cli(
        "run",
        "--transactions",
        str(folder),
        "--as-of",
        "2024-04-30",
        "--warehouse",
        str(warehouse),
        "--var",
        "business_time_zone=Asia/Tokyo",
        "--csv-delimiter",
        ";",
        "--csv-encoding",
        "latin-1",
    )
    with connect(warehouse) as con:
        rows = con.execute(
            "select transaction_id, customer_id, transaction_date, transacted_at from marts.fct_transactions order by 1"
        ).fetchall()
    assert rows == [
        ("p1", "c4", dt.date(2024, 4, 1), dt.datetime(2024, 4, 1, 5, 0)),
        ("z1", "c\u00e9", dt.date(2024, 4, 1), dt.datetime(2024, 4, 1, 5, 0)),
        # no offset: already Tokyo wall-clock time, kept as given
        ("z2", "c\u00e9", dt.date(2024, 3, 31), dt.datetime(2024, 3, 31, 23, 30)),
    ]


@pytest.mark.slow
def test_only_refunds_stops_at_the_marts_check_in_one_sentence(tmp_path: Path) -> None:
    refunds = tmp_path / "refunds.csv"
    refunds.write_text(HEADER + "r1,c1,2024-01-05,-10.00,1\nr2,c2,2024-01-06,-5.00,1\n")
    warehouse = tmp_path / "w.duckdb"
    proc = run_cli("run", "--transactions", str(refunds), "--warehouse", str(warehouse), check=False)
    # every model builds (no contract error); with no customer at all the marts check stops the
    # run before it publishes anything: a failed check, exit code 1
    assert_one_sentence(proc, 1, "dim_customers", "The mart is not empty")
    assert not warehouse.exists()


@pytest.mark.slow
def test_all_rows_after_the_as_of_date_is_one_sentence(tmp_path: Path) -> None:
    future = tmp_path / "future.csv"
    future.write_text(HEADER + "f1,c1,2024-05-05,10.00,1\nf2,c2,2024-05-06,5.00,1\n")
    proc = run_cli(
        "run",
        "--transactions",
        str(future),
        "--as-of",
        "2024-01-01",
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        check=False,
    )
    # the raw input check (Great Expectations) stops the run: a failed check, exit code 1
    assert_one_sentence(proc, 1, "At least one input row is dated up to the as-of date", "observed 0")


# ------------------------------------------------------------ checks before anything starts


def test_duplicate_column_names_are_refused_before_prefect(tmp_path: Path) -> None:
    bad = tmp_path / "dup.csv"
    bad.write_text("transaction_id,customer_id,transacted_at,amount,Amount\nt1,c1,2024-01-01,1,2\n")
    proc = run_cli("run", "--transactions", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence(proc, 2, str(bad), "two columns named amount")
    assert "temporary server" not in proc.stdout + proc.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_missing_required_column_is_reported_before_prefect_starts(tmp_path: Path) -> None:
    bad = tmp_path / "no_amount.jsonl"
    bad.write_text('{"transaction_id": "t1", "customer_id": "c1", "transacted_at": "2024-01-01"}\n')
    proc = run_cli("run", "--transactions", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence(proc, 2, str(bad), "missing the required column amount")
    assert "temporary server" not in proc.stdout + proc.stderr


def test_unwritable_warehouse_folder_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + "t1,c1,2024-01-01,1,1\n")
    proc = run_cli("run", "--transactions", str(csv), "--warehouse", str(blocker / "sub" / "w.duckdb"), check=False)
    assert_one_sentence(proc, 2, "Could not create the folder", "choose another --warehouse")


def test_warehouse_folder_that_exists_but_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    """A folder whose permissions look writable but where no file can be created: /proc (tests
    run as root in CI, and root may write into any chmod-protected folder; /proc refuses even
    root). The lock file used to end in a FileNotFoundError traceback there."""
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + "t1,c1,2024-01-01,1,1\n")
    proc = run_cli("run", "--transactions", str(csv), "--warehouse", "/proc/w.duckdb", check=False)
    assert_one_sentence(proc, 2, "The folder /proc of the warehouse /proc/w.duckdb cannot be written")


def test_json_lines_key_given_twice_in_one_object_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "twice.jsonl"
    bad.write_text(
        '{"transaction_id": "t1", "customer_id": "c1", "transacted_at": "2024-01-01", "amount": 1}\n'
        '{"transaction_id": "t2", "customer_id": "c1", "transacted_at": "2024-01-01", "amount": 1, "amount": 2}\n'
    )
    proc = run_cli("run", "--transactions", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence(proc, 2, f"Line 2 of the transactions file {bad} has the key 'amount' twice")
    assert "temporary server" not in proc.stdout + proc.stderr


def test_bad_csv_options_are_one_sentence(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + "t1,c1,2024-01-01,1,1\n")
    proc = run_cli("run", "--transactions", str(csv), "--csv-encoding", "cp1252", check=False)
    assert_one_sentence(proc, 2, "cp1252", "not supported")
    proc = run_cli("run", "--transactions", str(csv), "--csv-delimiter", ";;", check=False)
    assert_one_sentence(proc, 2, "';;'", "not usable")
    with pytest.raises(InputError):
        CsvOptions.parse('"', None)
    assert CsvOptions.parse("tab", "Latin-1") == CsvOptions("\t", "latin-1")


def test_export_of_a_file_that_is_not_a_warehouse(tmp_path: Path) -> None:
    fake = tmp_path / "notes.duckdb"
    fake.write_text("just text")
    proc = run_cli("export", "--warehouse", str(fake), "--out", str(tmp_path / "out"), check=False)
    assert_one_sentence(proc, 2, str(fake), "is not a DuckDB warehouse")


def test_report_of_a_file_that_is_not_a_warehouse(tmp_path: Path) -> None:
    fake = tmp_path / "notes.duckdb"
    fake.write_text("just text")
    proc = run_cli("report", "--warehouse", str(fake), "--out", str(tmp_path / "out"), check=False)
    assert_one_sentence(proc, 2, str(fake), "is not a DuckDB warehouse")


def test_export_of_a_warehouse_held_by_a_run(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = duckdb.connect(str(warehouse))  # a writer, as a run is
    try:
        holder.execute("create schema marts; create table marts.dim_customers as select 1 as customer_id")
        proc = run_cli("export", "--warehouse", str(warehouse), "--out", str(tmp_path / "out"), check=False)
    finally:
        holder.close()
    assert_one_sentence(proc, 2, str(warehouse), "in use by another process")
    holder = duckdb.connect(str(warehouse))
    try:  # the report reads it the same way
        proc = run_cli("report", "--warehouse", str(warehouse), "--out", str(tmp_path / "r"), check=False)
    finally:
        holder.close()
    assert_one_sentence(proc, 2, str(warehouse), "in use by another process")


# ------------------------------------------------------------ dbt failures in words


def test_failure_sentence_names_tests_by_readable_name_and_meaning(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "test.loyalty.not_null_dim_customers_customer_id.9ffb551a3b": {
                        "resource_type": "test",
                        "column_name": "customer_id",
                        "attached_node": "model.loyalty.dim_customers",
                        "test_metadata": {"name": "not_null", "kwargs": {"column_name": "customer_id"}},
                    },
                    "test.loyalty.assert_raw_rows_reconcile": {
                        "resource_type": "test",
                        "description": "",
                        "raw_code": "-- Nothing is lost: every raw row is valid or rejected.\nwith x as (select 1)",
                    },
                },
                "unit_tests": {},
            }
        )
    )
    result = DbtResult(
        ["dbt", "build"],
        1,
        "",
        [
            {
                "unique_id": "test.loyalty.not_null_dim_customers_customer_id.9ffb551a3b",
                "status": "fail",
                "failures": 3,
            },
            {"unique_id": "test.loyalty.assert_raw_rows_reconcile", "status": "fail", "failures": 1},
        ],
    )
    sentence = failure_sentence("build", result, manifest)
    assert "9ffb551a3b" not in sentence
    assert sentence == (
        "dbt build failed: test not_null_dim_customers_customer_id failed: dim_customers.customer_id must "
        "always have a value, but 3 rows have none; test assert_raw_rows_reconcile failed: 1 rows break the "
        "check: Nothing is lost: every raw row is valid or rejected."
    )
    # without a manifest (the Spark path) the readable name is still there, never the hash
    bare = failure_sentence("build", result)
    assert "not_null_dim_customers_customer_id" in bare and "9ffb551a3b" not in bare


def test_the_gx_suite_and_the_generator_use_the_seeds_reasons() -> None:
    repo = Path(__file__).resolve().parents[1]
    with open(repo / "seeds" / "reject_reasons.csv", newline="") as handle:
        seed = sorted(csv.DictReader(handle), key=lambda r: int(r["reject_order"]))
    reasons = [r["reject_reason"] for r in seed]
    assert reasons[0] == "malformed_line" and reasons[-1] == "after_as_of" and len(reasons) == 10
    suite = json.loads((repo / "gx" / "expectations" / "rejected_transactions.json").read_text())
    (value_set,) = [e["kwargs"]["value_set"] for e in suite["expectations"] if "value_set" in e["kwargs"]]
    assert value_set == reasons
    from loyalty.generate import BAD_ROW_KINDS

    assert set(BAD_ROW_KINDS) <= set(reasons)
