-- Watchers are starters and completers are watchers, for every profile and in every mart.
select 'int_profile_title_progress_accumulated' as model, count(*) as bad_rows
from {{ ref('int_profile_title_progress_accumulated') }}
where (is_watcher and not is_starter) or (is_completer and not is_watcher)
having count(*) > 0
union all
select 'int_profile_programme_progress_accumulated' as model, count(*) as bad_rows
from {{ ref('int_profile_programme_progress_accumulated') }}
where (is_watcher and not is_starter) or (is_completer and not is_watcher)
having count(*) > 0
union all
select 'fct_title_daily' as model, count(*) as bad_rows
from {{ ref('fct_title_daily') }}
where watchers > starters or completers > watchers or starters > unique_profiles
having count(*) > 0
union all
select 'fct_title_release_windows' as model, count(*) as bad_rows
from {{ ref('fct_title_release_windows') }}
where watchers > starters or completers > watchers or starters > unique_profiles
having count(*) > 0
