"""Give every Great Expectations suite in gx/expectations/ its validation definition and checkpoint.

    .venv/bin/python scripts/gx_sync.py            # update gx/ in place
    .venv/bin/python scripts/gx_sync.py --check    # exit 1 when gx/ is not what this script makes

One suite = one data asset of the `warehouse` pandas data source (same name, batch
definition `whole_table`) = one validation definition = one checkpoint, all named after
the suite. The objects are made through GX's own API (`add_or_update`), so GX writes the
JSON and the ids: an object that exists keeps its id, a new one gets a fresh one from GX.
Running it twice changes nothing. The checkpoint's result format lists the rows that fail
by the columns named in the suite's `meta.key_columns` (none when absent).

Exit codes: 0 done (or --check found gx/ up to date), 1 --check found differences,
2 bad usage or a GX project that cannot be read.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from great_expectations.datasource.fluent import PandasDatasource

DATA_SOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
PARTIAL_UNEXPECTED_COUNT = 20
SYNCED_PARTS = ("great_expectations.yml", "expectations", "validation_definitions", "checkpoints")


def suite_names(project: Path) -> list[str]:
    """The suites of a GX project: the `name` of each gx/expectations/*.json."""
    names = []
    for path in sorted((project / "expectations").glob("*.json")):
        name = json.loads(path.read_text())["name"]
        if name != path.stem:
            raise ValueError(f"Suite file {path.name} holds the suite {name!r}: name the file {name}.json.")
        names.append(name)
    return names


def sync(project: Path) -> list[str]:
    """Add or update the asset, batch definition, validation definition and checkpoint of every
    suite of the GX project at `project`. Returns the suite names."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="file", context_root_dir=str(project))
    if DATA_SOURCE in context.data_sources.all():
        # get() is typed as any data source; this name is only ever given to add_pandas below
        source = cast("PandasDatasource", context.data_sources.get(DATA_SOURCE))
    else:
        source = context.data_sources.add_pandas(DATA_SOURCE)
    names = suite_names(project)
    for name in names:
        suite = context.suites.get(name)
        asset = source.get_asset(name) if name in source.get_asset_names() else source.add_dataframe_asset(name)
        try:
            batch = asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            batch = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        key_columns = list((suite.meta or {}).get("key_columns") or [])
        context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                actions=[],
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
                    "unexpected_index_column_names": key_columns,
                },
            )
        )
    for part in ("expectations", "validation_definitions", "checkpoints"):
        for path in (project / part).glob("*.json"):  # GX writes no final newline; the repository's files have one
            text = path.read_text()
            if not text.endswith("\n"):
                path.write_text(text + "\n")
    return names


def differences(committed: Path, synced: Path) -> list[str]:
    """Files of the synced parts that differ between two GX project folders."""
    out = []
    for part in SYNCED_PARTS:
        a, b = committed / part, synced / part
        if a.is_file() or b.is_file():
            if not (a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)):
                out.append(part)
            continue
        names = {p.name for p in a.glob("*.json")} | {p.name for p in b.glob("*.json")}
        for name in sorted(names):
            x, y = a / name, b / name
            if not (x.is_file() and y.is_file() and filecmp.cmp(x, y, shallow=False)):
                out.append(f"{part}/{name}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--project",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "gx",
        help="GX project folder (default: gx/ of this repository).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Change nothing; exit 1 when the project differs from what the script makes.",
    )
    args = parser.parse_args(argv)
    project: Path = args.project.resolve()
    if not (project / "great_expectations.yml").is_file():
        print(f"error: {project} is not a GX project folder (no great_expectations.yml).", file=sys.stderr)
        return 2
    if not args.check:
        names = sync(project)
        print(f"{len(names)} suites: validation definitions and checkpoints up to date in {project}.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "gx"
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns("uncommitted", "assets"))
        sync(copy)
        changed = differences(project, copy)
    if changed:
        print("gx/ is not in sync with its suites; run scripts/gx_sync.py. Differs: " + ", ".join(changed))
        return 1
    print("gx/ is in sync with its suites.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
