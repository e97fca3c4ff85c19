"""`loyalty generate --surveys/--balances`: files in the input contract whose scores and balances
follow the simulated customers' behaviour."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from loyalty.generate import generate
from loyalty.generate.extra import generate_balances, generate_surveys


@pytest.fixture(scope="module")
def transactions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generate_extra") / "tx.parquet"
    generate(2000, out, seed=7, progress=False)
    return out


def test_promoters_buy_more_after_answering_than_detractors(transactions: Path, tmp_path: Path) -> None:
    surveys = generate_surveys(transactions, tmp_path / "s.csv", end=dt.date(2025, 12, 31), seed=7)
    rows = duckdb.sql(f"""
        with s as (select customer_id, cast(left(responded_at, 10) as date) as d,
                          cast(nps_score as int) as nps from read_csv('{surveys.path}', all_varchar = true)),
             t as (select distinct customer_id, cast(transacted_at as date) as day
                   from read_parquet('{transactions}') where cast(amount as decimal(18, 4)) >= 0)
        select case when nps >= 9 then 'promoter' when nps <= 6 then 'detractor' else 'passive' end as c,
               avg((select count(*) from t where t.customer_id = s.customer_id and t.day > s.d
                    and t.day <= s.d + 365)) as next_days, count(*) as n
        from s group by 1""").fetchall()
    by_class = {c: (next_days, n) for c, next_days, n in rows}
    assert by_class["promoter"][1] > 20 and by_class["detractor"][1] > 20
    assert by_class["promoter"][0] > 2 * by_class["detractor"][0]


def test_generated_files_are_deterministic_and_bad_rows_counted(transactions: Path, tmp_path: Path) -> None:
    first = generate_balances(transactions, tmp_path / "b1.csv", end=dt.date(2025, 12, 31), seed=3, bad_row_rate=0.02)
    second = generate_balances(transactions, tmp_path / "b2.csv", end=dt.date(2025, 12, 31), seed=3, bad_row_rate=0.02)
    assert first.path.read_bytes() == second.path.read_bytes()
    negative = duckdb.sql(
        f"select count(*) from read_csv('{first.path}', all_varchar = true) where balance like '-%'"
    ).fetchall()[0][0]
    assert 0 < negative <= first.n_bad_rows < 0.05 * first.n_rows


def test_unsupported_extension_is_refused(transactions: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use .parquet or .csv"):
        generate_surveys(transactions, tmp_path / "s.json", end=dt.date(2025, 12, 31))
