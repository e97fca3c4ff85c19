"""Imported once by the fork server of forked_cli.py: what `loyalty run` imports before and
during its steps, so that each forked command starts with them in memory."""

from loyalty.quality.project import import_gx

import_gx()  # first: GX under a `python -c` __main__ needs loyalty's guard (see import_gx)

import dbt.adapters.duckdb  # noqa: E402,F401
import dbt.cli.main  # noqa: E402,F401
import duckdb  # noqa: E402,F401
import pandas  # noqa: E402,F401
import prefect  # noqa: E402,F401
import scipy.optimize  # noqa: E402,F401
import scipy.special  # noqa: E402,F401

import loyalty.cli  # noqa: E402,F401
import loyalty.clv  # noqa: E402,F401
import loyalty.clv_step  # noqa: E402,F401
import loyalty.orchestration.runner  # noqa: E402,F401
import loyalty.pipeline  # noqa: E402,F401
import loyalty.quality.runner  # noqa: E402,F401
import loyalty.report  # noqa: E402,F401
