"""Prefect orchestration of the warehouse run: tasks, warehouse lock, retries, published summary.

The flows themselves are in flows/pipeline.py (a table of contents of the run); `runner`
loads and starts them for the CLI. Nothing here imports Prefect until a flow is run.
"""
