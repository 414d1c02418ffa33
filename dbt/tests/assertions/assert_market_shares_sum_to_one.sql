-- Within a country, month and breakdown the groups partition the catalogue and the
-- viewing, so each kind of share adds up to 1 (or is null when there is nothing).
select
    country,
    month_start_date,
    breakdown,
    sum(programme_share) as programme_share,
    sum(runtime_share) as runtime_share,
    sum(demand_share) as demand_share
from {{ ref('fct_market_offer_vs_demand') }}
group by country, month_start_date, breakdown
having abs(coalesce(sum(programme_share), 1.0) - 1.0) > 1e-9
    or abs(coalesce(sum(runtime_share), 1.0) - 1.0) > 1e-9
    or abs(coalesce(sum(demand_share), 1.0) - 1.0) > 1e-9
