{#- The snapshot materialization on Spark, also for plain (parquet) tables.
    dbt-spark's own snapshot needs Delta, Iceberg or Hudi (it merges into the table), and
    Delta's jars are not available offline. This copy of it keeps the merge for those
    formats; for any other format it computes the merged history into a new table
    (current rows closed by the staged updates and deletes, plus the staged inserts: the
    same result as dbt's merge) and writes it back with `insert overwrite`. That rewrites
    the whole history each run, which is fine for a snapshot of one row per customer
    per status change; use Delta on a cluster for very large histories. -#}
{% materialization snapshot, adapter='spark' %}

  {%- set target_table = model.get('alias', model.get('name')) -%}
  {%- set strategy_name = config.get('strategy') -%}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set mergeable = file_format in ['delta', 'iceberg', 'hudi'] -%}

  {% set target_relation_exists, target_relation = get_or_create_relation(
          database=none,
          schema=model.schema,
          identifier=target_table,
          type='table') -%}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}

  {%- if not target_relation.is_table -%}
    {% do exceptions.relation_wrong_type(target_relation, 'table') %}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy_macro = strategy_dispatch(strategy_name) %}
  {% set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

  {% if not target_relation_exists %}

      {% set build_sql = build_snapshot_table(strategy, model['compiled_code']) %}
      {% set final_sql = create_table_as(False, target_relation, build_sql) %}

  {% else %}

      {% set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() %}
      {{ adapter.valid_snapshot_target(target_relation, columns) }}

      {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}

      {% do adapter.expand_target_column_types(from_relation=staging_table, to_relation=target_relation) %}

      {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | list %}
      {% do create_columns(target_relation, missing_columns) %}

      {% set source_columns = adapter.get_columns_in_relation(staging_table)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | list %}
      {% set quoted_source_columns = [] %}
      {% for column in source_columns %}
        {% do quoted_source_columns.append(adapter.quote(column.name)) %}
      {% endfor %}

      {% if mergeable %}
        {% set final_sql = snapshot_merge_sql(target=target_relation, source=staging_table,
                                              insert_cols=quoted_source_columns) %}
      {% else %}
        {%- set merged_relation = api.Relation.create(identifier=target_table ~ '__dbt_merged',
                                                      schema=model.schema, database=none, type='table') -%}
        {%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
        {%- set valid_to = columns.dbt_valid_to -%}
        {%- set scd_id = columns.dbt_scd_id -%}
        {% do adapter.drop_relation(merged_relation) %}
        {% call statement('build_merged_snapshot') %}
          create table {{ merged_relation }} using {{ file_format }} as
          with changes as (
              select * from {{ staging_table }}
              where dbt_change_type in ('update', 'delete')
          ),
          closed as (
              select
                {%- for column in target_columns %}
                  {%- if column.name | lower == valid_to | lower %}
                  case
                      when changes.{{ scd_id }} is not null
                          {%- if config.get('dbt_valid_to_current') %}
                          and (destination.{{ valid_to }} = {{ config.get('dbt_valid_to_current') }}
                               or destination.{{ valid_to }} is null)
                          {%- else %}
                          and destination.{{ valid_to }} is null
                          {%- endif %}
                          then changes.{{ valid_to }}
                      else destination.{{ valid_to }}
                  end as {{ adapter.quote(column.name) }}
                  {%- else %}
                  destination.{{ adapter.quote(column.name) }}
                  {%- endif %}{{ ',' if not loop.last }}
                {%- endfor %}
              from {{ target_relation }} as destination
              left join changes on destination.{{ scd_id }} = changes.{{ scd_id }}
          ),
          inserts as (
              select
                {%- for column in target_columns %}
                  staged.{{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
                {%- endfor %}
              from {{ staging_table }} as staged
              left anti join {{ target_relation }} as destination
                  on staged.{{ scd_id }} = destination.{{ scd_id }}
              where staged.dbt_change_type = 'insert'
          )
          select * from closed
          union all
          select * from inserts
        {% endcall %}
        {% set final_sql %}
          insert overwrite table {{ target_relation }}
          select
            {%- for column in target_columns %}
              {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
            {%- endfor %}
          from {{ merged_relation }}
        {% endset %}
      {% endif %}

  {% endif %}

  {% call statement('main') %}
      {{ final_sql }}
  {% endcall %}

  {% if merged_relation is defined %}
    {% do adapter.drop_relation(merged_relation) %}
  {% endif %}

  {% set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {% if staging_table is defined %}
      {% do post_snapshot(staging_table) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
