"""A warehouse made before clv.model_fits gained a column (param_delta, for BG/BB) keeps its fit
history and takes the new rows: the DuckDB engine adds the missing column before appending."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from loyalty.clv.tables import MODEL_FITS_COLUMNS
from loyalty.engines import get_engine


def test_old_model_fits_table_gains_param_delta_and_keeps_its_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    before = ", ".join(part for part in MODEL_FITS_COLUMNS.split(", ") if not part.startswith("param_delta"))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema clv")
        con.execute(f"create table clv.model_fits ({before})")
        con.execute("insert into clv.model_fits (model_name) values ('bg_nbd')")
    fits = pd.DataFrame({"model_name": ["bg_bb"], "param_delta": [1.5]})
    holdout = pd.DataFrame({"calibration_end_date": [None], "holdout_end_date": [None]})
    get_engine("duckdb").write_clv_fits(warehouse, fits, holdout)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select model_name, param_delta from clv.model_fits order by model_name").fetchall()
    assert rows == [("bg_bb", 1.5), ("bg_nbd", None)]
