"""Incremental daily runs (loyalty.incremental and the incremental dbt models).

The loader tests are fast (no dbt): they pin what a run loads from a growing export. The slow
test runs a history and three daily increments of a generated export (new daily files, one
CSV file that grows by appended rows, late rows, early rows, a duplicate across days that
flips an earlier winner) with the pipeline's own steps, then builds the same final input from
scratch (--full-refresh on the same warehouse: the whole export reloaded, every model rebuilt
whole, both checked), and compares every mart and every row's classification row for row; it
also checks that the last daily run rebuilt only a small part of the incremental marts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import FIXTURES, REPO, run_cli
from loyalty import pipeline
from loyalty.engines import get_engine
from loyalty.generate import generate
from loyalty.incremental import (
    CODE_SETTING,
    DEFINITION_VARS,
    INCREMENTAL_CODE,
    INCREMENTAL_RELATIONS,
    SETTINGS,
    ChangedInputError,
    code_files,
    code_fingerprint,
)
from loyalty.load import load_raw
from loyalty.pipeline import RunConfig

CSV_HEADER = FIXTURES.joinpath("transactions.csv").read_text().splitlines()[0]


def _write(path: Path, lines: list[str], header: bool = True) -> None:
    with path.open("a") as handle:
        if header:
            handle.write(CSV_HEADER + "\n")
        handle.writelines(line + "\n" for line in lines)


def _row(tid: str, when: str, amount: str = "10.00", customer: str = "c1") -> str:
    return f"{tid},{customer},{when},{amount},EUR,books,online,1,,"


def _raw(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select raw_row_id, source_file, source_row_number, transaction_id from raw.transactions order by 1"
        ).fetchall()


def test_new_file_keeps_ids_of_loaded_files_even_when_it_sorts_first(tmp_path: Path) -> None:
    export, warehouse = tmp_path / "export", tmp_path / "w.duckdb"
    export.mkdir()
    _write(export / "b.csv", [_row("t1", "2024-01-01"), _row("t2", "2024-01-02")])
    first = load_raw(warehouse, export)
    assert first.incremental is not None and first.incremental.from_scratch
    _write(export / "a.csv", [_row("t3", "2024-01-03")])  # sorts before b.csv, arrives later
    second = load_raw(warehouse, export)
    assert second.incremental is not None and not second.incremental.from_scratch
    assert second.incremental.rows_added == 1
    a, b = str((export / "a.csv").resolve()), str((export / "b.csv").resolve())
    assert _raw(warehouse) == [
        (10**12 + 1, b, 1, "t1"),
        (10**12 + 2, b, 2, "t2"),
        (2 * 10**12 + 1, a, 1, "t3"),
    ]


def test_grown_csv_loads_only_appended_rows_with_continuing_row_numbers(tmp_path: Path) -> None:
    export, warehouse = tmp_path / "export", tmp_path / "w.duckdb"
    export.mkdir()
    stream = export / "stream.csv"
    _write(stream, [_row("t1", "2024-01-01")])
    load_raw(warehouse, export)
    _write(stream, [_row("t2", "2024-01-02"), _row("t1", "2024-01-01")], header=False)
    grown = load_raw(warehouse, export)
    assert grown.incremental is not None
    assert [f.status for f in grown.incremental.files] == ["grown"]
    assert grown.incremental.rows_added == 2
    unchanged = load_raw(warehouse, export)  # nothing new: nothing loaded twice
    assert unchanged.incremental is not None and unchanged.incremental.rows_added == 0
    assert [(r[0], r[3]) for r in _raw(warehouse)] == [(10**12 + 1, "t1"), (10**12 + 2, "t2"), (10**12 + 3, "t1")]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select file_index, rows_loaded, size_bytes from raw._loaded_files").fetchall() == [
            (1, 3, stream.stat().st_size)
        ]


@pytest.mark.parametrize("edit", ["rewritten", "truncated", "same_size_edit"])
def test_changed_file_is_refused_in_one_sentence_and_loads_nothing(tmp_path: Path, edit: str) -> None:
    export, warehouse = tmp_path / "export", tmp_path / "w.duckdb"
    export.mkdir()
    day = export / "day1.csv"
    _write(day, [_row("t1", "2024-01-01"), _row("t2", "2024-01-02")])
    load_raw(warehouse, export)
    before = _raw(warehouse)
    text = day.read_text()
    if edit == "rewritten":
        day.write_text(text.replace("t1,", "t9,") + _row("t3", "2024-01-03") + "\n")
    elif edit == "truncated":
        day.write_text("\n".join(text.splitlines()[:2]) + "\n")
    else:
        day.write_text(text.replace("10.00", "11.00"))
    _write(export / "day2.csv", [_row("t4", "2024-01-04")])
    with pytest.raises(ChangedInputError) as failure:
        load_raw(warehouse, export)
    message = str(failure.value)
    assert message.startswith(f"The transactions file {day.resolve()} changed since it was loaded (2 rows, ")
    assert message.endswith("rerun with --full-refresh to reload the whole input.")
    assert message.count(". ") == 0 and failure.value.exit_code == 3
    assert _raw(warehouse) == before  # neither the changed file nor the new day2.csv was loaded
    refreshed = load_raw(warehouse, export, full_refresh=True)
    assert refreshed.incremental is not None and refreshed.incremental.from_scratch
    assert refreshed.incremental.reason == "--full-refresh"


def test_csv_whose_last_line_had_no_line_break_cannot_grow(tmp_path: Path) -> None:
    export, warehouse = tmp_path / "export", tmp_path / "w.duckdb"
    export.mkdir()
    day = export / "day.csv"
    day.write_text(CSV_HEADER + "\n" + _row("t1", "2024-01-01"))  # no final line break
    load_raw(warehouse, export)
    day.write_text(day.read_text() + "5\n" + _row("t2", "2024-01-02") + "\n")  # the amount of t1 became 10.005
    with pytest.raises(ChangedInputError):
        load_raw(warehouse, export)


def _stand_in_models(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:  # stand for dbt's incremental models
        con.execute("create schema if not exists intermediate")
        con.execute("create or replace table intermediate.int_transactions_validated as select 1 as raw_row_id")


def _incremental_tables(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select table_name from information_schema.tables where table_schema = 'intermediate'"
        ).fetchall()


def test_a_different_export_is_loaded_from_scratch_and_drops_incremental_models(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _write(first, [_row("t1", "2024-01-01")])
    _write(second, [_row("t2", "2024-01-02")])
    load_raw(warehouse, first)
    _stand_in_models(warehouse)
    result = load_raw(warehouse, second)
    assert result.incremental is not None and result.incremental.from_scratch
    assert result.incremental.reason == f"{first.resolve()}, loaded before, is no longer in the input"
    assert [r[3] for r in _raw(warehouse)] == ["t2"]
    assert _incremental_tables(warehouse) == []


def test_every_incremental_model_is_dropped_by_a_load_from_scratch() -> None:
    """INCREMENTAL_RELATIONS names every model that macro incremental_materialization makes incremental."""
    models = REPO / "models"
    incremental = {
        f"{path.relative_to(models).parts[0]}.{path.stem}"
        for path in models.rglob("*.sql")
        if "materialized=incremental_materialization()" in path.read_text()
    }
    assert incremental == set(INCREMENTAL_RELATIONS)
    assert len(incremental) == 6


def test_changed_definition_var_drops_the_incremental_models_and_the_raw_rows_stay(tmp_path: Path) -> None:
    warehouse, export = tmp_path / "w.duckdb", tmp_path / "export"
    export.mkdir()
    _write(export / "a.csv", [_row("t1", "2024-01-01")])
    load_raw(warehouse, export)
    with duckdb.connect(str(warehouse), read_only=True) as con:  # dbt_project.yml's values, as JSON
        assert con.execute(f"select name, value from {SETTINGS} order by 1").fetchall() == [
            ("active_window_days", "365"),
            ("business_time_zone", '"UTC"'),
            (CODE_SETTING, f'"{code_fingerprint()}"'),
            ("max_plausible_date", '"2099-12-31"'),
            ("min_plausible_date", '"1990-01-01"'),
        ]
    _stand_in_models(warehouse)
    _write(export / "b.csv", [_row("t2", "2024-01-02")])
    same = load_raw(warehouse, export, variables={"active_window_days": 365, "churn_risk_high_gap_ratio": 9})
    assert same.incremental is not None and same.incremental.models_rebuilt == ""
    assert _incremental_tables(warehouse) == [("int_transactions_validated",)]  # same values: kept
    _write(export / "c.csv", [_row("t3", "2024-01-03")])
    changed = load_raw(warehouse, export, variables={"active_window_days": 60, "business_time_zone": "Europe/Berlin"})
    assert changed.incremental is not None and not changed.incremental.from_scratch
    assert changed.incremental.models_rebuilt == (
        'active_window_days changed from 365 to 60; business_time_zone changed from "UTC" to "Europe/Berlin"'
    )
    assert "The incremental models are rebuilt in full: active_window_days changed" in changed.incremental.describe()
    assert _incremental_tables(warehouse) == []  # dropped: dbt rebuilds them with the new values
    assert [r[3] for r in _raw(warehouse)] == ["t1", "t2", "t3"]  # the raw rows load incrementally all along
    _stand_in_models(warehouse)
    _write(export / "d.csv", [_row("t4", "2024-01-04")])
    again = load_raw(warehouse, export, variables={"active_window_days": 60, "business_time_zone": "Europe/Berlin"})
    assert again.incremental is not None and again.incremental.models_rebuilt == ""  # the new values were recorded
    assert _incremental_tables(warehouse) == [("int_transactions_validated",)]


def test_a_warehouse_without_recorded_settings_rebuilds_its_incremental_models_once(tmp_path: Path) -> None:
    warehouse, export = tmp_path / "w.duckdb", tmp_path / "export"
    export.mkdir()
    _write(export / "a.csv", [_row("t1", "2024-01-01")])
    load_raw(warehouse, export)
    _stand_in_models(warehouse)
    with duckdb.connect(str(warehouse)) as con:  # as a warehouse built before the settings were recorded
        con.execute(f"drop table {SETTINGS}")
    result = load_raw(warehouse, export)
    assert result.incremental is not None
    assert result.incremental.models_rebuilt == "the settings they were built with are not recorded"
    assert _incremental_tables(warehouse) == []
    assert load_raw(warehouse, export).incremental.models_rebuilt == ""


def test_a_new_version_of_the_incremental_models_code_drops_them_and_the_raw_rows_stay(tmp_path: Path) -> None:
    warehouse, export = tmp_path / "w.duckdb", tmp_path / "export"
    export.mkdir()
    _write(export / "a.csv", [_row("t1", "2024-01-01")])
    load_raw(warehouse, export)
    _stand_in_models(warehouse)
    with duckdb.connect(str(warehouse)) as con:  # as built by another version of the project
        con.execute(f"update {SETTINGS} set value = '\"0123456789abcdef\"' where name = '{CODE_SETTING}'")
    _write(export / "b.csv", [_row("t2", "2024-01-02")])
    result = load_raw(warehouse, export)
    assert result.incremental is not None and not result.incremental.from_scratch
    assert result.incremental.models_rebuilt == (
        "their code is not the code they were built with (a new version of the project)"
    )
    assert _incremental_tables(warehouse) == []  # dropped: dbt rebuilds them with this version's code
    assert [r[3] for r in _raw(warehouse)] == ["t1", "t2"]  # the raw rows stay and load incrementally
    _stand_in_models(warehouse)
    assert load_raw(warehouse, export).incremental.models_rebuilt == ""  # this version's fingerprint recorded


def test_the_code_fingerprint_follows_the_incremental_models_sql_and_not_their_docs(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    for path in [*code_files(REPO), REPO / "models" / "intermediate" / "customers" / "int_customer_totals.yml"]:
        target = copy / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    before = code_fingerprint(copy)
    assert before == code_fingerprint(REPO) and len(before) == 16
    docs = copy / "models" / "intermediate" / "customers" / "int_customer_totals.yml"
    docs.write_text(docs.read_text() + "\n# a description changed\n")
    assert code_fingerprint(copy) == before  # descriptions and data tests do not change rows
    model = copy / "models" / "intermediate" / "customers" / "int_customer_totals.sql"
    model.write_text(model.read_text().replace("count(*) as n_purchase_days", "count(*) + 0 as n_purchase_days"))
    assert code_fingerprint(copy) != before
    model.unlink()  # a model removed changes it too
    assert code_fingerprint(copy) not in (before, "")


def _upstream_of_incremental_models(fixture_warehouse: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the incremental models, everything they depend on) from the fixture build's dbt manifest,
    by unique id: the models, sources and macros (of every package) that the incremental models
    read or call, transitively, the incremental models included."""
    manifest = json.loads((get_engine("duckdb").state_dir(fixture_warehouse) / "target" / "manifest.json").read_text())
    everything = {**manifest["nodes"], **manifest["sources"], **manifest["macros"]}
    incremental = {
        uid: node for uid, node in manifest["nodes"].items() if node["config"].get("materialized") == "incremental"
    }
    reached: dict[str, Any] = {}
    todo = list(incremental)
    while todo:
        unique_id = todo.pop()
        if unique_id in reached or unique_id not in everything:
            continue
        reached[unique_id] = everything[unique_id]
        depends = reached[unique_id].get("depends_on", {})
        todo += [*depends.get("macros", []), *depends.get("nodes", [])]
    return incremental, reached


def test_the_code_fingerprint_covers_every_file_the_incremental_models_depend_on(fixture_warehouse: Path) -> None:
    """The project files of the incremental models, of every node they read (transitively) and of
    the project's macros those use are all matched by INCREMENTAL_CODE."""
    _, upstream = _upstream_of_incremental_models(fixture_warehouse)
    files = {node["original_file_path"] for node in upstream.values() if node["package_name"] == "loyalty"}
    covered = {path.relative_to(REPO).as_posix() for path in code_files(REPO)}
    assert sorted(files - covered) == []
    assert "models/intermediate/customers/int_customers_summarized.sql" in files  # read by fct_customer_months
    assert len(files) > 25 and len(INCREMENTAL_CODE) == 8


_VAR_READ = re.compile(r"""\b(?:var|run_var|checked_var)\(\s*['"]([a-z_]+)['"]""")


def test_definition_vars_are_the_vars_the_incremental_models_depend_on(fixture_warehouse: Path) -> None:
    """Every dbt var read by an incremental model, by a model it reads (transitively) or by a macro
    of either (transitively) is in DEFINITION_VARS, and nothing else is (but the as-of date)."""
    incremental, upstream = _upstream_of_incremental_models(fixture_warehouse)
    assert {node["name"] for node in incremental.values()} == {r.split(".")[1] for r in INCREMENTAL_RELATIONS}
    code = [node.get("raw_code") or node.get("macro_sql") or "" for node in upstream.values()]
    found = {var for text in code for var in _VAR_READ.findall(text)}
    assert found - {"as_of_date"} == set(DEFINITION_VARS)


# ---------------------------------------------------------------------------------------------
# N daily increments against one full build

# day 0 = the history; the as-of date crosses a month end between days 1 and 2, so that the
# previous as-of month (its month_end_date, activity windows and churn flags) is rebuilt
DAYS = [dt.date(2024, 6, 29) + dt.timedelta(days=i) for i in range(4)]
# the incremental models downstream of int_transactions_validated (DuckDB)
# the incremental models built in the marts phase (int_transactions_validated, in the inputs
# phase, is compared row by row in test_daily_classification_equals_a_full_classification)
INCREMENTAL_MODELS = {
    "fct_transactions": "marts",
    "fct_customer_months": "marts",
    "int_customer_purchase_days": "intermediate",
    "int_customer_totals": "intermediate",
}
FLOAT_REL_TOL = 1e-9
CHANGED_WINDOW_DAYS = 60  # active_window_days of the run after the full build (dbt_project.yml: 365)
# columns that name the run itself, not the data
RUN_COLUMNS = {"rpt_clv_model_fits": {"run_id", "fitted_at"}}


def _daily_export(root: Path) -> list[list[tuple[Path, list[int], bool]]]:
    """Per day: (file, numbers of the generated rows to append to it, whether it is new)."""
    # 16 months of history: on 4 months, Pareto/NBD's fit diverged on three of the four days and
    # ran to its 60-s time budget each time (4 of the fixture's ~6 minutes), before its search
    # stopped at s = 100 (loyalty.clv.paretonbd.S_MAX); the longer history is kept
    generated = generate(
        1500, root / "gen" / "t.csv", seed=5, start=dt.date(2023, 3, 1), end=DAYS[-1], bad_row_rate=0.03, progress=False
    )
    rows = duckdb.sql(
        f"""select n, try_cast(try_cast(transacted_at as timestamp) as date) as day
            from (select *, row_number() over () as n
                  from read_csv('{generated.transactions_path}', all_varchar = true, header = true))
            order by n"""
    ).fetchall()
    stream, day_files = root / "export" / "0_stream.csv", [root / "export" / f"{d}.csv" for d in DAYS]
    per_day: list[list[int]] = [[] for _ in DAYS]
    per_stream: list[list[int]] = [[] for _ in DAYS]
    for n, day in rows:
        # the history (and every row without a date) arrives on day 0; a later row arrives on its
        # own day, one in 7 a day late (a late row) and one in 9 a day early (after the as-of date)
        if day is None or day <= DAYS[0]:
            arrival = 0
        elif day > DAYS[-1]:
            arrival = len(DAYS) - 1
        else:
            arrival = DAYS.index(day)
            if n % 7 == 0 and arrival < len(DAYS) - 1:
                arrival += 1
            elif n % 9 == 0 and arrival > 1:
                arrival -= 1
        (per_stream if n % 4 == 0 else per_day)[arrival].append(n)
    # duplicates across days: day 2 repeats a history row (rejected as the later copy); on day 3 the
    # stream (file index 1) gets a copy of a row of day 1's file, so that the day-1 row, valid on
    # days 1 and 2, becomes the duplicate on day 3 - as in a full build, where the stream copy has
    # the lower raw_row_id
    per_day[2].append(per_day[0][10])
    per_stream[3].append(per_day[1][0])
    plan: list[list[tuple[Path, list[int], bool]]] = []
    for i in range(len(DAYS)):
        assert per_stream[i] and per_day[i], f"day {i} has no rows for the stream or its own file"
        plan.append([(stream, per_stream[i], i == 0), (day_files[i], per_day[i], True)])
    return plan


def _append_rows(source: Path, target: Path, numbers: list[int], new_file: bool) -> None:
    """Append the generated rows (by row number, in the given order) to a CSV file, as an export would."""
    part = target.with_suffix(".part")
    order = ", ".join(f"({position}, {n})" for position, n in enumerate(numbers))
    duckdb.sql(
        f"""copy (select t.* exclude (n) from (select *, row_number() over () as n
                   from read_csv('{source}', all_varchar = true, header = true)) as t
                 inner join (values {order}) as wanted(position, n) on t.n = wanted.n
                 order by wanted.position)
            to '{part}' (format csv, header {str(new_file).lower()})"""
    )
    with target.open("ab") as handle:
        handle.write(part.read_bytes())
    part.unlink()


def _marts(warehouse: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        for name in names:
            where = ""
            if name == "rpt_clv_model_fits":  # one row per model per run: the latest run only
                where = " where run_id = (select max_by(run_id, fitted_at) from marts.rpt_clv_model_fits)"
            cursor = con.execute(f"select * from marts.{name}{where}")
            columns = [d[0] for d in cursor.description]
            keep = [i for i, c in enumerate(columns) if c not in RUN_COLUMNS.get(name, set())]
            rows = [tuple(r[i] for i in keep) for r in cursor.fetchall()]
            out[name] = (
                [columns[i] for i in keep],
                sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row)),
            )
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12)
    return bool(a == b)


def _classification(warehouse: Path) -> list[tuple[Any, ...]]:
    """Every raw row's classification (valid, or its reject reason) as the last run left it;
    classification_run numbers the runs (1 for every row of a full build): not compared."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select * exclude (classification_run) from intermediate.int_transactions_validated order by raw_row_id"
        ).fetchall()


def _purchase_days(warehouse: Path) -> list[tuple[Any, ...]]:
    """int_customer_purchase_days, incremental too, whole (an intermediate model: not exported)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select customer_id, purchase_date, n_purchases, purchase_amount"
            " from intermediate.int_customer_purchase_days order by customer_id, purchase_date"
        ).fetchall()


def _transaction_dates(warehouse: Path) -> list[tuple[Any, ...]]:
    """int_transaction_dates' dates (incremental; last_loaded_at is the time of a load: not compared)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select transaction_date from intermediate.int_transaction_dates order by 1").fetchall()


def _run_steps(config: RunConfig) -> Any:
    """The pipeline's steps in the flow's order (flows/pipeline.py), without the checks: prepare
    the work file, load, each dbt build phase (the CLV fit before the last), publish."""
    pipeline.prepare_step(config)
    loaded = pipeline.load_step(config)
    for phase in pipeline.BUILD_PHASES:
        if phase == "clv":
            pipeline.clv_step(config)
        pipeline.build_step(config, phase)
    pipeline.publish_step(config)
    return loaded


def _rows_built(config: RunConfig) -> dict[str, tuple[int, int, str]]:
    """Per incremental model of the last run on config's warehouse (built in the marts phase):
    the rows its model query returned (what dbt inserted; the query as dbt ran it, from
    run_results of the marts phase, rerun on the run's work file), the rows of the table, and
    the query."""
    results = json.loads((config.engine.state_dir(config.warehouse) / "target" / "run_results_marts.json").read_text())
    code = {r["unique_id"].rsplit(".", 1)[1]: r["compiled_code"] for r in results["results"]}
    out = {}
    with duckdb.connect(str(config.work), read_only=True) as con:
        for model, schema in INCREMENTAL_MODELS.items():
            built = con.execute(f"select count(*) from ({code[model]}\n) as built").fetchone()
            table = con.execute(f"select count(*) from {schema}.{model}").fetchone()
            assert built is not None and table is not None
            out[model] = (built[0], table[0], code[model])
    return out


@pytest.fixture(scope="module")
def daily_and_full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("incremental")
    (root / "export").mkdir()
    loads = []
    source = root / "gen" / "t.csv"
    for i, files in enumerate(_daily_export(root)):
        for path, numbers, new_file in files:
            _append_rows(source, path, numbers, new_file)
        config = RunConfig(transactions=str(root / "export"), as_of=DAYS[i], warehouse=root / "daily.duckdb")
        loads.append(_run_steps(config).incremental)
    # the last daily run's work: rerun its model queries on the state it left (nothing changed
    # since, and its as-of month is the previous run's, so the queries select the same rows)
    last_daily = _rows_built(config)
    with duckdb.connect(str(config.work), read_only=True) as con:
        latest = con.execute(
            """select count(*) from marts.fct_customer_months
               where activity_month >= date_trunc('month', ?::date)
                  or customer_id in (select customer_id from intermediate.int_transactions_validated
                                     where classification_run = (select max(classification_run)
                                                                 from intermediate.int_transactions_validated))""",
            [DAYS[-1]],
        ).fetchone()
        assert latest is not None
        expected_customer_months = latest[0]
    daily = _marts(root / "daily.duckdb")
    daily_classification = _classification(root / "daily.duckdb")
    daily_purchase_days = _purchase_days(root / "daily.duckdb")
    daily_transaction_dates = _transaction_dates(root / "daily.duckdb")
    # then the full build: --full-refresh on the same warehouse reloads the whole export and
    # rebuilds every model from scratch (checked below: it loaded from scratch, and the
    # incremental models selected every row)
    full = RunConfig(
        transactions=str(root / "export"), as_of=DAYS[-1], warehouse=root / "daily.duckdb", full_refresh=True
    )
    full_load = _run_steps(full).incremental
    # then a run with the active window changed and no new rows: the load finds the settings
    # changed, drops the incremental models, and dbt rebuilds every month of the grid with it
    wider = RunConfig(
        transactions=str(root / "export"),
        as_of=DAYS[-1],
        warehouse=root / "daily.duckdb",
        variables={"active_window_days": CHANGED_WINDOW_DAYS},
    )
    full_results = {  # read before the next run changes the warehouse
        "full_built": _rows_built(full),
        "full": _marts(full.warehouse),
        "full_classification": _classification(full.warehouse),
        "full_purchase_days": _purchase_days(full.warehouse),
        "full_transaction_dates": _transaction_dates(full.warehouse),
    }
    changed_window_load = _run_steps(wider).incremental
    with duckdb.connect(str(wider.warehouse), read_only=True) as con:
        changed_window_grid = con.execute(
            "select month_end_date, last_purchase_date, is_active_in_month from marts.fct_customer_months"
        ).fetchall()
        changed_window_runs = con.execute(
            "select distinct classification_run from intermediate.int_transactions_validated"
        ).fetchall()
    return {
        "root": root,
        "loads": loads,
        "daily": daily,
        "daily_classification": daily_classification,
        "daily_purchase_days": daily_purchase_days,
        "daily_transaction_dates": daily_transaction_dates,
        "last_daily": last_daily,
        "expected_customer_months": expected_customer_months,
        "full_load": full_load,
        **full_results,
        "changed_window_load": changed_window_load,
        "changed_window_grid": changed_window_grid,
        "changed_window_runs": changed_window_runs,
    }


@pytest.mark.slow
def test_each_day_loads_only_its_new_rows(daily_and_full: dict[str, Any]) -> None:
    loads = daily_and_full["loads"]
    assert [load.from_scratch for load in loads] == [True, False, False, False]
    assert [[f.status for f in load.files] for load in loads[1:]] == [
        ["grown", "unchanged", "new"],
        ["grown", "unchanged", "unchanged", "new"],
        ["grown", "unchanged", "unchanged", "unchanged", "new"],
    ]
    assert sum(load.rows_added for load in loads) == loads[-1].rows_total


@pytest.mark.slow
def test_daily_increments_give_the_same_marts_as_a_full_build(daily_and_full: dict[str, Any]) -> None:
    daily, full = daily_and_full["daily"], daily_and_full["full"]
    assert sorted(daily) == sorted(full)
    mismatches = {}
    for mart, (columns, rows) in full.items():
        assert daily[mart][0] == columns, mart
        assert len(daily[mart][1]) == len(rows), mart
        for a, b in zip(daily[mart][1], rows, strict=True):
            diff = {c: (x, y) for c, x, y in zip(columns, a, b, strict=True) if not _same(x, y)}
            if diff:
                mismatches[mart] = diff
                break
    assert mismatches == {}
    reasons = {
        r[columns_index]
        for r in full["rejected_transactions"][1]
        for columns_index in [full["rejected_transactions"][0].index("reject_reason")]
    }
    assert {"duplicate_transaction_id", "after_as_of"} <= reasons  # the test exercised both


@pytest.mark.slow
def test_daily_run_rebuilds_only_the_new_transactions_and_the_customers_and_months_they_touch(
    daily_and_full: dict[str, Any],
) -> None:
    last = daily_and_full["last_daily"]
    # fct_transactions: the transaction_ids of the rows the last run reclassified (its new rows
    # and their ids), a few dozen of the ~2,500 valid transactions
    built, table, code = last["fct_transactions"]
    assert "classification_run = (" in code  # the is_incremental() branch was taken
    assert 0 < built < table / 20, (built, table)
    # fct_customer_months: every month of the customers of those rows, and the as-of month
    # (July, the previous run's as-of month too) for everyone: not the months before it
    built, table, code = last["fct_customer_months"]
    assert "carried_forward" in code
    assert built == daily_and_full["expected_customer_months"]
    assert built < table / 2, (built, table)
    # int_customer_purchase_days and int_customer_totals: the customers of those rows only
    for model in ("int_customer_purchase_days", "int_customer_totals"):
        built, table, code = last[model]
        assert "classification_run = (" in code, model
        assert 0 < built < table / 10, (model, built, table)


@pytest.mark.slow
def test_full_refresh_rebuilds_everything_from_scratch(daily_and_full: dict[str, Any]) -> None:
    """The full build the daily runs are compared with is a --full-refresh: it must really be one."""
    assert daily_and_full["full_load"].from_scratch
    assert daily_and_full["full_load"].reason == "--full-refresh"
    assert daily_and_full["full_load"].rows_added == daily_and_full["loads"][-1].rows_total
    for model, (built, table, code) in daily_and_full["full_built"].items():
        assert "classification_run" not in code and "carried_forward" not in code, model
        assert built == table, model


@pytest.mark.slow
def test_cli_reports_a_changed_file_with_exit_code_3(daily_and_full: dict[str, Any]) -> None:
    root = daily_and_full["root"]
    changed = root / "changed"
    shutil.copytree(root / "export", changed)
    warehouse = root / "changed.duckdb"
    shutil.copy(root / "daily.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:  # the manifest names the files of the copied folder
        con.execute(
            "update raw._loaded_files set path = replace(path, ?, ?)",
            [str((root / "export").resolve()), str(changed.resolve())],
        )
    day = changed / f"{DAYS[1]}.csv"
    day.write_text(day.read_text().replace("EUR", "USD", 1))
    proc = run_cli("run", "--transactions", str(changed), "--warehouse", str(warehouse), check=False)
    assert proc.returncode == 3
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(f"error: The transactions file {day.resolve()} changed since it was loaded (")
    assert error_lines[0].endswith("rerun with --full-refresh to reload the whole input.")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_daily_classification_equals_a_full_classification(daily_and_full: dict[str, Any]) -> None:
    """The incremental classification of every raw row against the full build's, reject
    reasons included (the incremental marts downstream are compared by the tests above)."""
    daily, full = daily_and_full["daily_classification"], daily_and_full["full_classification"]
    assert len(daily) == len(full) == daily_and_full["loads"][-1].rows_total
    assert daily == full
    reasons = {row[-1] for row in full}
    assert {None, "duplicate_transaction_id", "after_as_of"} <= reasons


@pytest.mark.slow
def test_daily_transaction_dates_equal_a_full_build(daily_and_full: dict[str, Any]) -> None:
    """The dates int_as_of_date picks from, kept incrementally, against the full build's; the
    history and every daily file add dates (a day late, a day early)."""
    daily, full = daily_and_full["daily_transaction_dates"], daily_and_full["full_transaction_dates"]
    assert len(full) > 100
    assert daily == full
    assert max(full)[0] > DAYS[-1]  # a row dated after the last as-of date is among them


@pytest.mark.slow
def test_daily_purchase_days_equal_a_full_build(daily_and_full: dict[str, Any]) -> None:
    daily, full = daily_and_full["daily_purchase_days"], daily_and_full["full_purchase_days"]
    assert len(full) > 1000
    assert daily == full


@pytest.mark.slow
def test_a_changed_active_window_rebuilds_every_month_of_the_grid_with_it(daily_and_full: dict[str, Any]) -> None:
    load = daily_and_full["changed_window_load"]
    assert not load.from_scratch and load.rows_added == 0
    assert load.models_rebuilt == f"active_window_days changed from 365 to {CHANGED_WINDOW_DAYS}"
    assert daily_and_full["changed_window_runs"] == [(1,)]  # every row classified again, by a full build
    grid = daily_and_full["changed_window_grid"]
    # the active rule (macro is_active_on) with the new window, on every month of every customer
    wrong = [
        (end, last, active)
        for end, last, active in grid
        if active != (last is not None and (end - last).days < CHANGED_WINDOW_DAYS)
    ]
    assert wrong == []
    # and the change matters: months whose status differs between the two windows
    flipped = [1 for end, last, _ in grid if last is not None and CHANGED_WINDOW_DAYS <= (end - last).days < 365]
    assert len(flipped) > 50
