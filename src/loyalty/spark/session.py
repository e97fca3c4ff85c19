"""The local Spark session of one warehouse folder.

With the `spark` target, `--warehouse DIR` names a folder that holds everything of one
warehouse, so that separate runs never share state:

    DIR/tables/         Spark's table files (spark.sql.warehouse.dir), one folder per table
    DIR/metastore_db/   the Hive metastore (embedded Derby) that names the tables
    DIR/derby.log       Derby's log

An embedded Derby metastore admits one process at a time, so a whole run (load, the dbt
build phases, the CLV step, the summary, the export) happens in one process and one
Spark session: dbt-spark's `session` method picks up the session this module started
(SparkSession.builder.getOrCreate), and dbt runs in-process (loyalty.spark.dbt).

The settings that decide results live in `spark_conf` and are mirrored by the `spark`
output of profiles.yml (tests_py/test_spark_parity.py checks that they agree), so that a
plain `dbt build --target spark` and `loyalty run --target spark` build the same tables.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.errors import LoyaltyError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")

_lock = threading.Lock()
_current: tuple[Path, SparkSession] | None = None


class SparkUnavailableError(LoyaltyError):
    """pyspark or Java is missing, or the warehouse folder is held by another process."""


def spark_conf(warehouse: Path) -> dict[str, str]:
    """The Spark settings of a local session on this warehouse folder (mirrored in profiles.yml)."""
    folder = str(warehouse)
    return {
        "spark.master": os.environ.get("LOYALTY_SPARK_MASTER", "local[*]"),
        "spark.driver.memory": os.environ.get("LOYALTY_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": f"{folder}/tables",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={folder}/derby.log",
        # Timestamps are read, shown and truncated to dates in UTC, so that they are the
        # wall-clock times of the input, like DuckDB's timestamp (no time zone). (Spark's
        # TIMESTAMP_NTZ type would be closer, but dbt-spark's dateadd returns null with it.)
        "spark.sql.session.timeZone": "UTC",
        # dbt-spark sets ANSI off for every session it uses; the loader agrees.
        "spark.sql.ansi.enabled": "false",
        # Speed on one machine: few shuffle partitions (AQE coalesces further), no web UI.
        "spark.sql.shuffle.partitions": os.environ.get("LOYALTY_SPARK_SHUFFLE_PARTITIONS", "8"),
        "spark.ui.enabled": "false",
        # The embedded metastore stores a column comment in VARCHAR(256): a longer description
        # (persist_docs) fails there, and Hive retried it 10 times, 2 s apart, before Spark fell
        # back to keeping the schema, comments whole, in the table's properties: 20 s per
        # table or view with a long description (~80 s of every Spark run's clv phase). The
        # retries stay (the metastore's first connection needs one) but follow each other at once.
        "spark.hadoop.hive.hmshandler.retry.interval": "10ms",
    }


def _session_conf(warehouse: Path) -> dict[str, str]:
    conf = spark_conf(warehouse)
    # Quiet logs (errors only) and no console progress bar: the CLI reports for itself.
    conf["spark.driver.extraJavaOptions"] += f" -Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"
    conf["spark.ui.showConsoleProgress"] = "false"
    return conf


def _check_requirements() -> None:
    try:
        import pyspark  # noqa: F401 - only checks that the spark extra is installed
    except ImportError:
        raise SparkUnavailableError(
            "The spark target needs pyspark and dbt-spark: install the project with its spark extra "
            "(uv sync --extra spark)."
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        raise SparkUnavailableError(
            "The spark target needs Java 17 or later: java is not on PATH and JAVA_HOME is not set."
        )


def get_session(warehouse: Path) -> SparkSession:
    """The process's Spark session on this warehouse folder (started on first use).

    A session on another folder is stopped first: one process works on one warehouse at a time.
    """
    global _current
    warehouse = warehouse.resolve()
    with _lock:
        if _current is not None:
            folder, session = _current
            if folder == warehouse and session._sc._jsc is not None:
                return session
            session.stop()
            _current = None
        _check_requirements()
        warehouse.mkdir(parents=True, exist_ok=True)
        if _conf_is_local(warehouse):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers (the CLV step's scoring, loyalty.spark.clv_io) run this interpreter,
        # which has the loyalty package; pyspark's default is whatever `python3` is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName("loyalty").enableHiveSupport()
        for key, value in _session_conf(warehouse).items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # pyspark reports a missing or broken JVM as a generic runtime error
            reason = " ".join(str(exc).split())[:300]
            raise SparkUnavailableError(f"Could not start Spark: {reason}") from None
        try:
            # Touch the metastore now, so a folder held by another process fails here, clearly.
            session.sql("show databases").collect()
        except Exception as exc:
            session.stop()
            text = str(exc)
            if (
                "Another instance of Derby" in text
                or "metastore" in text.lower()
                or "SessionHiveMetaStoreClient" in text
            ):
                raise SparkUnavailableError(
                    f"The Spark warehouse {warehouse} is in use by another process "
                    "(its embedded metastore admits one process at a time)."
                ) from None
            reason = " ".join(text.split())[:300]
            raise SparkUnavailableError(f"Could not open the Spark warehouse {warehouse}: {reason}") from None
        _quiet_python_loggers()
        _current = (warehouse, session)
        return session


def _quiet_python_loggers() -> None:
    """pyspark logs every SQL error it raises as JSON on stderr; the CLI reports errors itself."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _conf_is_local(warehouse: Path) -> bool:
    return spark_conf(warehouse)["spark.master"].startswith("local")


def stop_session() -> None:
    """Stop the process's Spark session, if any (the JVM stays up for a later session)."""
    global _current
    with _lock:
        if _current is not None:
            _current[1].stop()
            _current = None
