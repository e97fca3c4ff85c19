"""`loyalty`: generate sample data, build the warehouse, show what it holds."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from loyalty.engines import TARGETS
from loyalty.errors import LoyaltyError
from loyalty.project import project_dir

DEMO_CUSTOMERS = 20_000


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD.") from None


def _dbt_var(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from loyalty.project import dbt_vars

    declared = dbt_vars()
    parsed: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not of the form NAME=VALUE.")
        if name.strip() not in declared:
            raise click.BadParameter(f"{name.strip()!r} is not a var of dbt_project.yml.")
        parsed[name.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return parsed


def _csv_options(func):  # click decorators / callables typed loosely
    """--csv-delimiter / --csv-encoding: checked, then handed to the loaders (loyalty.load.CsvOptions)."""
    options = [
        click.option(
            "--csv-delimiter",
            "csv_delimiter",
            default=None,
            metavar="CHAR",
            help="Field delimiter of CSV input files: one character, or tab, comma, semicolon, pipe (default: comma).",
        ),
        click.option(
            "--csv-encoding",
            "csv_encoding",
            default=None,
            metavar="ENCODING",
            help="Text encoding of CSV input files: utf-8 (default), utf-16 or latin-1. "
            "Parquet and JSON Lines files are not affected.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _use_csv_options(delimiter: str | None, encoding: str | None) -> None:
    """Check the CSV options and pass them to the loaders of this process (environment variables)."""
    import os

    from loyalty.load import CSV_DELIMITER_ENV, CSV_ENCODING_ENV, CsvOptions

    options = CsvOptions.parse(delimiter, encoding)
    os.environ[CSV_DELIMITER_ENV] = options.delimiter
    os.environ[CSV_ENCODING_ENV] = options.encoding


def _warehouse_error(path: Path, exc: Exception) -> LoyaltyError:
    """A DuckDB error on opening or reading a warehouse, as one sentence (exit code 2)."""
    text = str(exc)
    if "lock" in text.lower():
        return LoyaltyError(
            f"The warehouse {path} is in use by another process (a run holds it): try again when the run has finished."
        )
    if "not a valid DuckDB database" in text:
        return LoyaltyError(f"{path} is not a DuckDB warehouse: give the file that `loyalty run` built.")
    first = " ".join(text.strip().splitlines()[:1])[:300]
    return LoyaltyError(f"Could not read the warehouse {path}: {first}")


def _fail(exc: LoyaltyError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Customer-loyalty analytics warehouse: raw transactions in, trusted marts out.

    Run `loyalty demo` to see it work on sample data, `loyalty run` on your own export.
    """


@main.command()
@click.option(
    "--customers",
    "n_customers",
    type=click.IntRange(min=1),
    required=True,
    help="Number of customers to simulate (about 4.3 transactions each).",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same arguments always write the same files.",
)
@click.option(
    "--start",
    callback=_date,
    default="2023-01-01",
    show_default=True,
    help="First day customers can be acquired and buy (YYYY-MM-DD).",
)
@click.option(
    "--end",
    callback=_date,
    default="2025-12-31",
    show_default=True,
    help="Last day of the simulated history (YYYY-MM-DD).",
)
@click.option(
    "--bad-row-rate",
    type=click.FloatRange(0, 0.5),
    default=0.0,
    show_default=True,
    help="Share of rows made malformed, spread over every reject reason "
    "(missing/unparseable fields, duplicate ids, rows dated after the as-of date).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Transactions file to write; .parquet or .csv picks the format. The customers "
    "file is written beside it as <name>_customers.<ext>.",
)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@click.option(
    "--surveys",
    "surveys_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write survey responses (.csv/.parquet) of about 30% of the customers, whose NPS, "
    "CSAT and attribute scores follow what each customer does after answering.",
)
@click.option(
    "--balances",
    "balances_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write month-end balances (.csv/.parquet) of about 40% of the customers, falling "
    "once a customer has stopped buying.",
)
def generate(
    n_customers: int,
    seed: int,
    start: dt.date,
    end: dt.date,
    bad_row_rate: float,
    out: Path,
    no_progress: bool,
    surveys_out: Path | None,
    balances_out: Path | None,
) -> None:
    """Write deterministic synthetic transactions and customers (streamed in chunks)."""
    from loyalty.generate import generate as run_generate

    if end <= start:
        _fail(LoyaltyError(f"--end {end} must be after --start {start}."))
    try:
        result = run_generate(
            n_customers, out, seed=seed, start=start, end=end, bad_row_rate=bad_row_rate, progress=not no_progress
        )
    except ValueError as exc:
        _fail(LoyaltyError(str(exc)))
    click.echo(
        f"Wrote {result.n_transactions:,} transactions ({result.n_bad_rows:,} malformed) to {result.transactions_path}"
    )
    click.echo(f"Wrote {result.n_customers:,} customers to {result.customers_path}")
    _generate_extra(result.transactions_path, surveys_out, balances_out, end=end, seed=seed, bad_row_rate=bad_row_rate)


def _generate_extra(
    transactions: Path,
    surveys_out: Path | None,
    balances_out: Path | None,
    *,
    end: dt.date,
    seed: int,
    bad_row_rate: float,
) -> None:
    """The optional survey and balance files of `loyalty generate` (loyalty.generate.extra)."""
    from loyalty.generate.extra import generate_balances, generate_surveys

    for out, write, what in (
        (surveys_out, generate_surveys, "survey responses"),
        (balances_out, generate_balances, "balance statements"),
    ):
        if out is None:
            continue
        try:
            extra = write(transactions, out, end=end, seed=seed, bad_row_rate=bad_row_rate)
        except ValueError as exc:
            _fail(LoyaltyError(str(exc)))
        click.echo(f"Wrote {extra.n_rows:,} {what} ({extra.n_bad_rows:,} malformed) to {extra.path}")


def _run_flow(config, lock_timeout: float):  # click decorators / callables typed loosely
    """Run the pipeline flow with progress lines; input files are checked before Prefect starts."""
    from loyalty.load import check_inputs, check_warehouse_folder
    from loyalty.orchestration.runner import console_progress, preload_run_modules, run_flow
    from loyalty.orchestration.temporary_server import ensure_prefect_api

    check_inputs(config.transactions, config.customers)
    check_warehouse_folder(config.warehouse)
    from loyalty.load_extra import check_extra_inputs

    check_extra_inputs(config.surveys, config.balances)
    with console_progress():  # first: Prefect's logging is set up before any import can log
        ensure_prefect_api(preload=preload_run_modules)
        return run_flow(config, lock_timeout_seconds=lock_timeout)


def _closing_lines(summary: Any) -> list[str]:
    """After the run's summary: what the Prefect artifact shows (active and churned customers,
    this month's retention and churn, predicted CLV) and where the report is."""
    from loyalty.orchestration.publish import headline_lines
    from loyalty.report import report_path

    report = report_path(summary.warehouse)
    return headline_lines(summary) + ([f"Report: {report}"] if report.is_file() else [])


def _warehouse(target: str, warehouse: Path | None) -> Path:
    """The published warehouse of the target (resolved by its engine; LoyaltyError when the path
    is of the other engine's kind)."""
    from loyalty.engines import get_engine

    return get_engine(target).warehouse_path(warehouse)


TARGET_OPTION = click.option(
    "--target",
    type=click.Choice(list(TARGETS)),
    default="duckdb",
    show_default=True,
    help="Engine: duckdb (one file, the default) or spark (local Spark through dbt-spark; "
    "needs Java 17 and the spark extra). The marts are the same on both.",
)


def _run_options(func):  # click decorators / callables typed loosely
    options = [
        TARGET_OPTION,
        click.option(
            "--warehouse",
            type=click.Path(path_type=Path),
            default=None,
            help="Warehouse to build: with duckdb a DuckDB file (default: $LOYALTY_WAREHOUSE, else "
            "build/loyalty.duckdb in the repository); with spark a folder for the Spark tables "
            "and their metastore (default: $LOYALTY_WAREHOUSE, else build/loyalty-spark).",
        ),
        click.option(
            "--full-refresh",
            is_flag=True,
            help="Rebuild incremental models and tables from scratch (dbt --full-refresh).",
        ),
        click.option(
            "--lock-timeout",
            "lock_timeout",
            type=click.FloatRange(min=0),
            default=1800,
            show_default=True,
            help="Seconds to wait while another run holds the same warehouse before giving up (0: fail at once).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@click.option(
    "--transactions",
    required=True,
    help="Transactions input: a CSV or Parquet file, a folder of them, or a glob such as "
    "'exports/*.parquet'. Required columns: transaction_id, customer_id, transacted_at, amount.",
)
@click.option(
    "--customers",
    default=None,
    help="Optional customers file (CSV/Parquet path or glob) with customer_id and signup_at, "
    "country, acquisition_channel; email and full_name are never copied to the marts.",
)
@click.option(
    "--as-of",
    "as_of",
    callback=_date,
    default=None,
    help="Date the marts describe (YYYY-MM-DD). Default: the latest valid transaction date "
    "not later than today. Later transactions are rejected as after_as_of.",
)
@click.option(
    "--calibration-end",
    "calibration_end",
    callback=_date,
    default=None,
    help="CLV holdout check: fit the models on purchases up to this date (YYYY-MM-DD) and compare "
    "their predictions with the purchases after it, up to the as-of date "
    "(rpt_clv_holdout_validation). Default: the as-of date minus the dbt var clv_holdout_days.",
)
@click.option(
    "--var",
    "var_items",
    multiple=True,
    callback=_dbt_var,
    metavar="NAME=VALUE",
    help="Set a dbt var for this run (repeatable), e.g. --var clv_margin=0.3 "
    "--var active_window_days=180. Values are read as YAML (numbers, true/false, text).",
)
@click.option(
    "--max-rejected-share",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="SHARE",
    help="Stop before the marts are built when more than this share of the input rows dated up to "
    "the as-of date is rejected (Great Expectations raw input check; rows after the as-of "
    "date do not count). 0.05 = 5%. Default: the dbt var max_rejected_share (0.05).",
)
@click.option(
    "--subscriptions",
    default=None,
    help="Optional subscriptions file (CSV/Parquet path or glob) with customer_id, started_at, "
    "ended_at (empty = active) and optional plan: fits the sBG retention model "
    "(rpt_subscription_survival, rpt_subscriber_lifetimes). Period: dbt var "
    "clv_subscription_period (default month). DuckDB only.",
)
@click.option(
    "--surveys",
    default=None,
    help="Optional survey responses (CSV/Parquet path, folder or glob): response_id, customer_id, "
    "responded_at and any of nps_score (0-10), csat_score (1-5) and attr_<name> scores of the "
    "satisfaction index (attributes and scales in seeds/csi_weights.csv). Bad rows go to "
    "rejected_survey_responses.",
)
@click.option(
    "--balances",
    default=None,
    help="Optional balances (CSV/Parquet path, folder or glob): customer_id, balance_date, balance "
    "and optional product. Bad rows go to rejected_balances.",
)
@_csv_options
@_run_options
def run(
    transactions: str,
    customers: str | None,
    as_of: dt.date | None,
    calibration_end: dt.date | None,
    var_items: dict[str, Any],
    max_rejected_share: float | None,
    subscriptions: str | None,
    surveys: str | None,
    balances: str | None,
    target: str,
    warehouse: Path | None,
    full_refresh: bool,
    lock_timeout: float,
    csv_delimiter: str | None,
    csv_encoding: str | None,
) -> None:
    """Load the input, build and test every model, and print the headline numbers.

    The run is a Prefect flow run (flows/pipeline.py): recorded on the Prefect server named by
    PREFECT_API_URL, or on a temporary local server when none is configured.
    """
    if max_rejected_share is not None:
        var_items = {**var_items, "max_rejected_share": max_rejected_share}
    if subscriptions is not None:  # read by the CLV step; enables the subscription marts
        var_items = {**var_items, "subscriptions_path": subscriptions}
    try:
        _use_csv_options(csv_delimiter, csv_encoding)
        # the headers first, before the pipeline's imports (pandas, scipy: seconds) and Prefect
        from loyalty.load import check_inputs

        check_inputs(transactions, customers)
        from loyalty.pipeline import RunConfig

        if subscriptions is not None:
            from loyalty.load import resolve_files

            resolve_files(subscriptions, "subscriptions")
        config = RunConfig(
            transactions=transactions,
            customers=customers,
            as_of=as_of,
            warehouse=warehouse,  # type: ignore[arg-type]  # None = the engine's default, resolved by RunConfig
            full_refresh=full_refresh,
            target=target,
            variables=var_items,
            calibration_end=calibration_end,
            surveys=surveys,
            balances=balances,
        )
        summary = _run_flow(config, lock_timeout)
    except LoyaltyError as exc:
        _fail(exc)
    for line in summary.lines() + _closing_lines(summary):
        click.echo(line)


@main.command()
@click.option(
    "--customers",
    "n_customers",
    type=click.IntRange(min=1),
    default=DEMO_CUSTOMERS,
    show_default=True,
    help="Number of customers in the sample.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed of the sample.")
@_run_options
def demo(
    n_customers: int, seed: int, target: str, warehouse: Path | None, full_refresh: bool, lock_timeout: float
) -> None:
    """Generate a sample (transactions, customers, survey responses and balances, with 1% malformed
    rows) and build the warehouse from it (a Prefect flow run)."""
    from loyalty.generate import DEFAULT_END
    from loyalty.generate import generate as run_generate
    from loyalty.pipeline import RunConfig

    out = project_dir() / "build" / "demo" / "transactions.parquet"
    surveys, balances = out.with_name("surveys.parquet"), out.with_name("balances.parquet")
    click.echo(f"Generating {n_customers:,} customers into {out.parent} ...")
    result = run_generate(n_customers, out, seed=seed, end=DEFAULT_END, bad_row_rate=0.01, progress=False)
    click.echo(f"Wrote {result.n_transactions:,} transactions ({result.n_bad_rows:,} malformed).")
    _generate_extra(result.transactions_path, surveys, balances, end=DEFAULT_END, seed=seed, bad_row_rate=0.01)
    click.echo("Building the warehouse (dbt build with every data test) ...")
    try:
        config = RunConfig(
            transactions=str(result.transactions_path),
            customers=str(result.customers_path),
            warehouse=warehouse,  # type: ignore[arg-type]  # None = the engine's default, resolved by RunConfig
            full_refresh=full_refresh,
            target=target,
            surveys=str(surveys),
            balances=str(balances),
        )
        summary = _run_flow(config, lock_timeout)
    except LoyaltyError as exc:
        _fail(exc)
    for line in summary.lines() + _closing_lines(summary):
        click.echo(line)
    click.echo(f"BI tools and notebooks open the published warehouse {summary.warehouse} (read-only).")
    click.echo(
        f"Export the marts as Parquet: loyalty export --target {target} --warehouse {summary.warehouse} "
        "--out build/marts"
    )


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write <mart>.parquet into, one file per mart (created if missing; "
    "existing files of the same name are replaced).",
)
@TARGET_OPTION
@click.option(
    "--warehouse",
    type=click.Path(path_type=Path),
    default=None,
    help="Warehouse to read, as for `loyalty run`: a DuckDB file, or with --target spark the Spark warehouse folder.",
)
def export(out: Path, target: str, warehouse: Path | None) -> None:
    """Write every mart of the published warehouse as Parquet (one <mart>.parquet per mart) for BI tools."""
    import duckdb

    from loyalty.engines import get_engine

    try:
        engine = get_engine(target)
        path = engine.warehouse_path(warehouse)
        try:
            result = engine.export(path, out.resolve())
        except duckdb.Error as exc:  # not a warehouse, or held by a run: say which, in one sentence
            raise _warehouse_error(path, exc) from None
    except LoyaltyError as exc:
        _fail(exc)
    for mart, path in result.files.items():
        click.echo(f"{path}  {result.rows[mart]:,} rows")


def _dates(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[dt.date]:
    return [d for d in (_date(ctx, param, v) for v in values) if d is not None]


@main.command()
@click.option(
    "--transactions",
    required=True,
    help="Transactions input (file, folder or glob), as for `loyalty run`; rows after each "
    "as-of date are rejected as after_as_of in that date's run.",
)
@click.option("--customers", default=None, help="Optional customers file (CSV/Parquet path or glob).")
@click.option(
    "--as-of",
    "as_of_dates",
    multiple=True,
    callback=_dates,
    metavar="DATE",
    help="An as-of date to rebuild (YYYY-MM-DD); repeat for several. Instead of --from/--to.",
)
@click.option(
    "--from", "start", callback=_date, default=None, help="First day of the range to backfill (YYYY-MM-DD), with --to."
)
@click.option(
    "--to", "end", callback=_date, default=None, help="Last day of the range to backfill (YYYY-MM-DD), with --from."
)
@click.option(
    "--every",
    type=click.Choice(["month", "week", "day"]),
    default="month",
    show_default=True,
    help="Which days of the range are as-of dates: month ends, week ends (Sundays) or every day.",
)
@click.option(
    "--var",
    "var_items",
    multiple=True,
    callback=_dbt_var,
    metavar="NAME=VALUE",
    help="Set a dbt var for every run of the backfill (repeatable), as for `loyalty run`.",
)
@_csv_options
@_run_options
def backfill(
    transactions: str,
    customers: str | None,
    as_of_dates: list[dt.date],
    start: dt.date | None,
    end: dt.date | None,
    every: str,
    var_items: dict[str, Any],
    target: str,
    warehouse: Path | None,
    full_refresh: bool,
    lock_timeout: float,
    csv_delimiter: str | None,
    csv_encoding: str | None,
) -> None:
    """Rebuild the warehouse as of a series of past dates, oldest first (one pipeline run per date).

    Each date's run is a full `loyalty run` with --as-of that date, so the snapshot history and
    the retention tables gain one state per date. The backfill holds the warehouse until the
    last date is done; --full-refresh applies to the first date only.
    """
    from loyalty.load import check_inputs
    from loyalty.orchestration.backfill import backfill_dates
    from loyalty.orchestration.runner import console_progress, preload_run_modules, run_backfill
    from loyalty.orchestration.temporary_server import ensure_prefect_api

    try:
        dates = backfill_dates(as_of_dates or None, start, end, every)
        _use_csv_options(csv_delimiter, csv_encoding)
        check_inputs(transactions, customers)
        click.echo(f"Backfilling {len(dates)} as-of date(s): {', '.join(map(str, dates))}")
        with console_progress():  # first: Prefect's logging is set up before any import can log
            ensure_prefect_api(preload=preload_run_modules)
            summaries = run_backfill(
                transactions=transactions,
                customers=customers,
                as_of_dates=dates,
                start=None,
                end=None,
                every=every,
                warehouse=_warehouse(target, warehouse),
                full_refresh=full_refresh,
                target=target,
                variables=var_items,
                lock_timeout_seconds=lock_timeout,
            )
    except LoyaltyError as exc:
        _fail(exc)
    for summary in summaries:
        click.echo(
            f"as of {summary.as_of_date}: {summary.customers:,} customers, {summary.valid_rows:,} valid "
            f"and {summary.rejected_rows:,} rejected rows"
        )
    for line in summaries[-1].lines() + _closing_lines(summaries[-1]):
        click.echo(line)


@main.command()
@TARGET_OPTION
@click.option(
    "--warehouse",
    type=click.Path(path_type=Path),
    default=None,
    help="Warehouse to read, as for `loyalty run`: a DuckDB file (default: $LOYALTY_WAREHOUSE, else "
    "build/loyalty.duckdb), or with --target spark the Spark warehouse folder.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write report.html into (created if missing). Default: <warehouse>.report/ beside the warehouse.",
)
def report(target: str, warehouse: Path | None, out: Path | None) -> None:
    """Write the analysts' report: one HTML file of charts (retention, churn, segments, CLV) that opens
    offline in any browser, with no server."""
    from loyalty.report import write_report

    try:
        path = _warehouse(target, warehouse)
        if not path.exists():
            raise LoyaltyError(f"The warehouse {path} does not exist: build it with `loyalty run` first.")
        written = write_report(path, out.resolve() if out else None, target=target)
    except LoyaltyError as exc:
        _fail(exc)
    click.echo(f"Report: {written}")


def entry(args: list[str] | None = None) -> None:
    """The `loyalty` command: main(), then the interpreter's exit handlers (Prefect flushes its
    logs there), and an exit that skips the interpreter's teardown of the modules. There,
    DuckDB 2's bindings (nanobind) report every DuckDB object still referenced as a "leak",
    about 40 lines on stderr after a run whose data checks used GX's SQL data source (GX keeps
    DuckDB objects referenced to the end; nothing is open by then). tests_py/forked_cli.py
    ends the tests' commands here too. `args`: the command line (default: sys.argv)."""
    import atexit
    import os

    code: int | str | None = 0
    try:
        main(args=args, prog_name="loyalty")
    except SystemExit as exc:
        code = exc.code
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    entry()
