"""`loyalty export` on a Spark warehouse: every mart as one Parquet file, `<out>/<mart>.parquet`.

The same file layout and column types as the DuckDB engine's export (BI tools that read
Parquet use it, and so does the engine parity test): Spark writes one file per mart from a
single partition (no collect to the driver) and the part file is moved to its name. A
mart's files are written beside the target first and moved into place, so an interrupted
export never leaves a half-written `<mart>.parquet`. (loyalty.engines.spark calls this.)
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty.errors import LoyaltyError
from loyalty.project import MARTS_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _wall_clock_timestamps(df: DataFrame) -> DataFrame:
    """Spark's timestamps are instants (shown in the session's UTC); write them as DuckDB does,
    as wall-clock timestamps without a time zone (Parquet isAdjustedToUTC=false)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    return df.select(
        *[
            F.col(f"`{field.name}`").cast("timestamp_ntz").alias(field.name)
            if isinstance(field.dataType, TimestampType)
            else F.col(f"`{field.name}`")
            for field in df.schema.fields
        ]
    )


def export_spark(warehouse: Path, marts: list[str], out: Path) -> dict[str, int]:
    from loyalty.spark.session import get_session

    spark = get_session(warehouse)
    rows: dict[str, int] = {}
    for mart in marts:
        table = _wall_clock_timestamps(spark.table(f"{MARTS_SCHEMA}.{mart}"))
        tmp = out / f".{mart}.{uuid.uuid4().hex}"
        try:
            table.coalesce(1).write.mode("overwrite").parquet(str(tmp))
            parts = sorted(tmp.glob("part-*.parquet"))
            if len(parts) != 1:
                raise LoyaltyError(f"Spark wrote {len(parts)} files for the mart {mart}, expected one.")
            parts[0].replace(out / f"{mart}.parquet")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows[mart] = int(table.count())
    return rows
