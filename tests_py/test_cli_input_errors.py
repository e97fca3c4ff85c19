"""Bad input: one clear sentence naming the file, a non-zero exit code, no traceback."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, connect, run_cli


def assert_one_sentence_error(proc, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "no_amount.csv"
    bad.write_text("transaction_id,customer_id,transacted_at\nt1,c1,2024-01-01\n")
    proc = run_cli("run", "--transactions", str(bad), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence_error(proc, str(bad), "missing the required column amount")


def test_missing_file_and_empty_glob(tmp_path: Path) -> None:
    proc = run_cli("run", "--transactions", str(tmp_path / "nope.csv"), check=False)
    assert_one_sentence_error(proc, "nope.csv", "does not exist")
    proc = run_cli("run", "--transactions", str(tmp_path / "*.parquet"), check=False)
    assert_one_sentence_error(proc, "No transactions file matches")


def test_empty_input_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("transaction_id,customer_id,transacted_at,amount\n")
    proc = run_cli("run", "--transactions", str(empty), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence_error(proc, str(empty), "contains no rows")


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet")
    proc = run_cli("run", "--transactions", str(broken), "--warehouse", str(tmp_path / "w.duckdb"), check=False)
    assert_one_sentence_error(proc, "Could not read the transactions file", str(broken))


def test_bad_as_of_date_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("run", "--transactions", str(FIXTURES / "transactions.csv"), "--as-of", "31/12/2024", check=False)
    assert proc.returncode == 2
    assert "not a date in the form YYYY-MM-DD" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "run",
            [
                "--transactions",
                "--customers",
                "--as-of",
                "--warehouse",
                "--full-refresh",
                "--csv-delimiter",
                "--csv-encoding",
            ],
        ),
        ("generate", ["--customers", "--seed", "--start", "--end", "--bad-row-rate", "--out"]),
        ("demo", ["--customers", "--seed", "--warehouse", "--full-refresh"]),
    ],
)
def test_help_explains_every_option(command: str, options: list[str]) -> None:
    proc = run_cli(command, "--help")
    for option in options:
        assert option in proc.stdout
    from loyalty.cli import main

    undocumented = [p.name for p in main.commands[command].params if not getattr(p, "help", None)]
    assert undocumented == []


@pytest.mark.slow
def test_parquet_and_csv_files_by_glob_load_with_unique_row_ids(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    duckdb.sql(
        f"copy (select * from read_csv('{FIXTURES / 'transactions.csv'}', all_varchar=true) limit 10)"
        f" to '{folder / 'part1.parquet'}'"
    )
    (folder / "part2.csv").write_text(
        "transaction_id,customer_id,transacted_at,amount,extra_column\n"
        "u1,c7,2024-03-30,5.00,ignored\nu2,c7,2024-03-31,6.00,ignored\n"
    )
    warehouse = tmp_path / "w.duckdb"
    run_cli("run", "--transactions", str(folder / "part*"), "--warehouse", str(warehouse))
    with connect(warehouse) as con:
        per_file = con.execute(
            "select regexp_extract(source_file, '[^/]+$'), count(*), count(distinct raw_row_id),"
            " min(source_row_number), max(source_row_number) from raw.transactions group by 1 order by 1"
        ).fetchall()
        valid = con.execute("select count(*) from marts.fct_transactions").fetchone()[0]
        rejected = con.execute("select count(*) from marts.rejected_transactions").fetchone()[0]
        c7 = con.execute("select frequency from marts.dim_customers where customer_id = 'c7'").fetchone()
    assert per_file == [("part1.parquet", 10, 10, 1, 10), ("part2.csv", 2, 2, 1, 2)]
    assert valid + rejected == 12
    assert c7 == (1,)
