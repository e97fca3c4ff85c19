"""The Spark target: a local Spark session per warehouse folder, Spark's own raw loader,
in-process dbt-spark runs, read access and Parquet export (see README, "When you outgrow
one machine (Spark)")."""
