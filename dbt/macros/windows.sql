{#- The run's event-date window. On an incremental run the time-partitioned models
    recompute [start_date - lookback_days, end_date] so late events correct the days they
    belong to; a first build or --full-refresh reads every date. -#}
{% macro window_start_date() -%}
    date_sub(to_date('{{ var("start_date") }}'), {{ var("lookback_days") | int }})
{%- endmacro %}

{% macro window_end_date() -%}
    to_date('{{ var("end_date") }}')
{%- endmacro %}

{% macro has_run_window() -%}
    {{ return(is_incremental() and var("start_date") is not none and var("end_date") is not none) }}
{%- endmacro %}

{% macro in_event_date_window(column='event_date') -%}
    {%- if has_run_window() -%}
        {{ column }} between {{ window_start_date() }} and {{ window_end_date() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Weekly marts recompute every Monday-Sunday week that overlaps the window, whole. -#}
{% macro in_week_window(column='event_date') -%}
    {%- if has_run_window() -%}
        {{ week_start(column) }} between {{ week_start(window_start_date()) }}
            and {{ week_start(window_end_date()) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- ISO weeks: Monday to Sunday, as Netflix's Top 10 weeks. -#}
{% macro week_start(column) -%}
    cast(date_trunc('week', {{ column }}) as date)
{%- endmacro %}
