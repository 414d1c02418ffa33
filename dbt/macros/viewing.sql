{#- Viewing tiers (Netflix's definitions given to the UK Parliament): a starter has played
    at least 120 s; a watcher has watched 70% and a completer 90% of the runtime as distinct
    seconds. Each tier implies the one before it. -#}
{% macro is_starter(play_time_s) -%}
    ({{ play_time_s }} >= {{ var('starter_min_play_s') }})
{%- endmacro %}

{% macro is_watcher(play_time_s, content_watched_s, runtime_s) -%}
    ({{ is_starter(play_time_s) }} and {{ content_watched_s }} >= {{ var('watcher_share') }} * {{ runtime_s }})
{%- endmacro %}

{% macro is_completer(play_time_s, content_watched_s, runtime_s) -%}
    ({{ is_starter(play_time_s) }} and {{ content_watched_s }} >= {{ var('completer_share') }} * {{ runtime_s }})
{%- endmacro %}

{#- Top 10 language split: English-language originals versus the rest. -#}
{% macro language_group(original_language) -%}
    case when lower({{ original_language }}) = 'en' then 'english' else 'non_english' end
{%- endmacro %}

{#- Where a work comes from, seen from the market it is offered or watched in. -#}
{% macro origin_group(origin_country, market_country) -%}
    case
        when {{ origin_country }} = {{ market_country }} then 'domestic'
        when {{ origin_country }} in ({{ european_country_list() }}) then 'other_european'
        when {{ origin_country }} = 'US' then 'us'
        else 'rest_of_world'
    end
{%- endmacro %}

{% macro european_country_list() -%}
    {%- for code in var('european_countries') -%}
        '{{ code }}'{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{% macro safe_divide(numerator, denominator) -%}
    case when {{ denominator }} > 0 then {{ numerator }} / {{ denominator }} end
{%- endmacro %}
