"""`loyalty export` on a Spark warehouse: every mart as one Parquet file, `<out>/<mart>.parquet`.

The same file layout and column types as the DuckDB engine's export (BI tools that read
Parquet use it, and so does the engine parity test): Spark writes one file per mart from a
single partition (no collect to the driver) and the part file is moved to its name. A
mart's files are written beside the target first and moved into place, so an interrupted
export never leaves a half-written `<mart>.parquet`. (loyalty.engines.spark calls this.)

Like the DuckDB export, each file carries the mart's description and a JSON object
`{column: description}` in its key-value metadata (keys `description`, `column_descriptions`).
Spark cannot add key-value metadata to the files it writes, and on plain Parquet tables
dbt-spark persists the table comment but no column comments; so the descriptions come from
dbt's manifest of the warehouse's runs (the same rendered text that persist_docs writes as
DuckDB comments) and are added with pyarrow to the written file before it is moved into
place, streamed one record batch at a time.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty.errors import LoyaltyError
from loyalty.project import MARTS_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# the key-value metadata keys of an exported file: the same as the DuckDB engine's export
DESCRIPTION_KEY = "description"
COLUMN_DESCRIPTIONS_KEY = "column_descriptions"


def manifest_descriptions(manifest: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """mart -> (its description, {column: description}) from dbt's manifest.json; {} without one."""
    if not manifest.is_file():
        return {}
    nodes: dict[str, Any] = json.loads(manifest.read_text()).get("nodes", {})
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for node in nodes.values():
        if node.get("resource_type") != "model" or node.get("schema") != MARTS_SCHEMA:
            continue
        columns = {name: str(c.get("description") or "") for name, c in (node.get("columns") or {}).items()}
        found[str(node.get("alias") or node["name"])] = (str(node.get("description") or ""), columns)
    return found


def write_descriptions(path: Path, description: str, columns: dict[str, str]) -> None:
    """Rewrite the Parquet file with the descriptions in its key-value metadata, as DuckDB's export
    writes them: the described columns only, in the file's column order."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    described = {name: columns[name] for name in schema.names if columns.get(name)}
    metadata = dict(schema.metadata or {})
    metadata[DESCRIPTION_KEY.encode()] = description.encode()
    metadata[COLUMN_DESCRIPTIONS_KEY.encode()] = json.dumps(described).encode()
    tmp = path.with_name(f".{path.name}.described")
    try:
        with source, pq.ParquetWriter(tmp, schema.with_metadata(metadata)) as writer:
            for batch in source.iter_batches():
                writer.write_batch(batch)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


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
    from loyalty.dbt import state_dir
    from loyalty.spark.session import get_session

    spark = get_session(warehouse)
    descriptions = manifest_descriptions(state_dir(warehouse) / "target" / "manifest.json")
    rows: dict[str, int] = {}
    for mart in marts:
        table = _wall_clock_timestamps(spark.table(f"{MARTS_SCHEMA}.{mart}"))
        tmp = out / f".{mart}.{uuid.uuid4().hex}"
        try:
            table.coalesce(1).write.mode("overwrite").parquet(str(tmp))
            parts = sorted(tmp.glob("part-*.parquet"))
            if len(parts) != 1:
                raise LoyaltyError(f"Spark wrote {len(parts)} files for the mart {mart}, expected one.")
            description, columns = descriptions.get(mart, ("", {}))
            write_descriptions(parts[0], description, columns)
            parts[0].replace(out / f"{mart}.parquet")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows[mart] = int(table.count())
    return rows
