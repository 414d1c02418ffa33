"""The demand forecaster (slatehouse.forecast), on a synthetic history with known effects.

The generator below is deliberately NOT the model's functional form: genres act through
the maximum of their effects plus a thriller-and-crime interaction, the cast adds up as a
sum (cast size varies), film runtime has a quadratic optimum, December and summer are
steps, and 4% of titles get a heavy-tailed shock. Pure pandas/numpy; no Spark.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from slatehouse import forecast, forecast_job
from slatehouse.forecast import ForecastInputError, Hyperparameters

ROOT = Path(__file__).resolve().parents[1]
GENRES = ["drama", "comedy", "thriller", "documentary", "animation", "horror", "romance", "scifi", "crime", "family"]
LANGUAGES = {"en": ("US", 0.3), "es": ("ES", 0.0), "ko": ("KR", 0.2), "fr": ("FR", -0.2), "de": ("DE", -0.3)}
ROLE_WEIGHT = {"director": 1.0, "actor": 0.6, "writer": 0.5}  # true per-title lift = weight * quality
NOISE = 0.3  # sd of the Gaussian part of the log-scale noise; docs/forecasting.md quotes its figures
POOL_SIZE = {"director": 300, "actor": 900, "writer": 300}


def make_history(n_titles: int = 1000, seed: int = 7, years: float = 5.0):
    """Released titles with views_28d and completion_rate, and the true talent effects."""
    rng = np.random.default_rng(seed)
    quality = {role: rng.standard_t(5, size=n) * 0.45 for role, n in POOL_SIZE.items()}
    # Zipf-like popularity: most talent gets 1-2 titles, a few get many.
    popularity = {role: 1.0 / np.arange(1, n + 1) ** 0.9 for role, n in POOL_SIZE.items()}
    genre_effect = dict(zip(GENRES, rng.normal(0, 0.5, len(GENRES))))
    start = pd.Timestamp("2019-01-01")
    days = np.sort(rng.uniform(0, years * 365.25, n_titles))
    rows = []
    for i in range(n_titles):
        release = start + pd.Timedelta(days=int(days[i]))
        is_series = rng.random() < 0.35
        genres = [str(g) for g in rng.choice(GENRES, size=rng.integers(1, 4), replace=False)]
        credits = []
        for role, k in (("director", 1), ("actor", int(rng.integers(2, 6))), ("writer", 1)):
            p = popularity[role] / popularity[role].sum()
            for j in rng.choice(POOL_SIZE[role], size=k, replace=False, p=p):
                credits.append((f"{role[0]}-{j:04d}", role, quality[role][j]))
        runtime = float(rng.normal(50, 8) if is_series else rng.normal(105, 18))
        episodes = int(rng.integers(4, 13)) if is_series else 1
        language = str(rng.choice(list(LANGUAGES), p=[0.5, 0.15, 0.1, 0.15, 0.1]))
        country, language_effect = LANGUAGES[language]

        eta = 11.0 + max(genre_effect[g] for g in genres)
        eta += 0.25 if {"thriller", "crime"} <= set(genres) else 0.0
        eta += sum(ROLE_WEIGHT[role] * q for _, role, q in credits)
        eta += (0.3 + 0.35 * np.log(episodes)) if is_series else -0.00015 * (runtime - 100) ** 2
        eta += 0.3 if release.month == 12 else (0.15 if release.month in (6, 7) else 0.0)
        eta += 0.08 * (release - start).days / 365.25 + language_effect
        eta += rng.normal(0, NOISE) if rng.random() > 0.04 else rng.normal(0, 1.2)

        director_quality = credits[0][2]
        logit = 0.4 + 0.8 * director_quality + 0.3 * genre_effect[genres[0]] + rng.normal(0, 0.4)
        logit -= 0.0 if is_series else 0.01 * (runtime - 100)
        rows.append({
            "title_id": f"tt-{i:05d}",
            "release_date": release.date().isoformat(),
            "format": "series" if is_series else "film",
            "genres": genres,
            "talent": [{"talent_id": t, "role": role} for t, role, _ in credits],
            "runtime_minutes": round(runtime),
            "episodes": episodes,
            "original_language": language,
            "origin_country": country,
            "views_28d": int(rng.poisson(np.exp(eta))),
            "completion_rate": float(1 / (1 + np.exp(-logit))),
        })
    truth = {
        f"{role[0]}-{j:04d}": ROLE_WEIGHT[role] * quality[role][j]
        for role in POOL_SIZE for j in range(POOL_SIZE[role])
    }
    return pd.DataFrame(rows), truth


@pytest.fixture(scope="module")
def synthetic():
    return make_history()


@pytest.fixture(scope="module")
def history(synthetic):
    return synthetic[0]


@pytest.fixture(scope="module")
def model(history):
    return forecast.fit(history, "views_28d")


def pitch(**fields):
    base = {
        "title_id": "p-1",
        "format": "film",
        "genres": ["drama"],
        "talent": [{"talent_id": "d-0000", "role": "director"}],
        "runtime_minutes": 100,
        "episodes": 1,
        "original_language": "en",
        "origin_country": "US",
        "release_date": "2024-03-01",
    }
    base.update(fields)
    return pd.DataFrame([base])


# --- shapes and basic guarantees ------------------------------------------------------------

def test_predict_returns_one_row_per_pitch_with_the_documented_columns(model, history):
    pitches = history.tail(7).drop(columns=["views_28d", "completion_rate"])
    result = model.predict(pitches)
    assert list(result.columns) == forecast.PREDICTION_COLUMNS
    assert len(result) == 7
    assert result["title_id"].tolist() == pitches["title_id"].tolist()
    assert (result["target"] == "views_28d").all()
    for comparables in result["comparables"]:
        assert len(comparables) == 5
        assert set(comparables[0]) == {"title_id", "release_date", "similarity", "actual"}
        known = set(history["title_id"])
        assert all(c["title_id"] in known for c in comparables)


def test_predict_keeps_the_pitches_index_order_and_title_ids(model, history):
    pitches = history.drop(columns=["views_28d", "completion_rate"]).iloc[[5, 2, 9]].copy()
    pitches.index = ["x", "y", "z"]
    pitches["title_id"] = [7, 3, 11]  # ids as the caller has them, not as text
    result = model.predict(pitches, n_comparables=0)
    assert result.index.tolist() == ["x", "y", "z"]
    assert result["title_id"].tolist() == [7, 3, 11]
    one_at_a_time = [model.predict(pitches.loc[[i]], n_comparables=0)["point"].item() for i in pitches.index]
    assert pitches.join(result[["point"]])["point"].tolist() == pytest.approx(one_at_a_time)


def test_interval_brackets_the_point_forecast(model, history):
    result = model.predict(history.sample(200, random_state=1), n_comparables=0)
    assert (result["p10"] <= result["point"]).all()
    assert (result["point"] <= result["p90"]).all()
    assert (result["p10"] >= 0).all()
    assert (result["p90"] > result["p10"]).all()


def test_small_counts_never_get_a_negative_interval_end(history):
    # Views of a few units (a small service): the log1p-scale interval reaches below 0,
    # which stands for 0 views, never for a negative number.
    small = history.assign(views_28d=np.random.default_rng(5).poisson(1.0, len(history)).astype(float))
    result = forecast.fit(small, "views_28d").predict(small.head(100), n_comparables=0)
    assert (result["p10"] == 0).any(), "the interval should reach down to no views at all"
    assert (result["p10"] >= 0).all() and (result["point"] >= 0).all()
    scores = forecast.backtest(small, "views_28d", ["2022-01-01"])
    assert scores["coverage_80"].notna().all()


def test_unseen_talent_unseen_genre_empty_lists_and_missing_fields_all_forecast(model, history):
    pitches = pd.concat([
        pitch(title_id="new-talent", talent=[{"talent_id": "nobody-1", "role": "director"},
                                             {"talent_id": "nobody-2", "role": "gaffer"}]),
        pitch(title_id="new-genre", genres=["telenovela-noir"]),
        pitch(title_id="empty", genres=[], talent=[]),
        pitch(title_id="series", format="series", runtime_minutes=None, episodes=None),
        pitch(title_id="undated", release_date=None, original_language=None, origin_country="ZZ"),
    ], ignore_index=True)
    result = model.predict(pitches)
    assert result["point"].notna().all() and np.isfinite(result["point"]).all()
    assert result.loc[result["title_id"] == "new-talent", "n_known_talent"].item() == 0
    # What the history never had is listed (a typo shows there); new people are not.
    assert dict(zip(result["title_id"], result["unseen"])) == {
        "new-talent": ["role 'gaffer'"], "new-genre": ["genre 'telenovela-noir'"], "empty": [], "series": [],
        "undated": ["origin_country 'ZZ'"]}
    assert "no effect (a typo?): genre 'telenovela-noir'" in forecast.format_forecast(result)
    # Pitches with only optional columns missing work too.
    minimal = model.predict(pd.DataFrame([{"format": "film"}]))
    assert minimal["title_id"].item() == "pitch-1" and np.isfinite(minimal["point"].item())
    # A new director gets no wild forecast: the talent term is exactly the prior (0).
    explanation = model.explain(pitches.iloc[0])
    talent = explanation[explanation["component"] == "talent"]
    assert talent["is_unseen"].all() and (talent["contribution"] == 0).all()
    views = history["views_28d"]
    assert views.quantile(0.05) < result.loc[0, "point"] < views.quantile(0.95)


def test_a_pitch_file_field_nothing_reads_is_warned_about(tmp_path, caplog):
    path = tmp_path / "pitch.yaml"
    path.write_text("format: film\ngenre: drama\ntitle: Harbour\n")
    with caplog.at_level("WARNING", logger="slatehouse.forecast.inputs"):
        forecast.load_pitch(path)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [f"{path}: ignored 'genre'"]


def test_the_trend_is_flat_outside_the_training_releases(model, history):
    """A pitch dated long before (or after) the history gets the trend's level at its first
    (last) release, not a straight line carried back or forward for decades."""
    first, last = history["release_date"].min(), history["release_date"].max()

    def trend(release_date):
        explanation = model.explain(pitch(release_date=release_date).iloc[0])
        return explanation.loc[explanation["component"] == "trend", "contribution"].sum()

    assert trend("1850-06-01") == pytest.approx(trend(first)) and trend("2090-06-01") == pytest.approx(trend(last))
    assert trend(first) != pytest.approx(trend(last))
    result = model.predict(pd.concat([pitch(release_date="1850-06-01"), pitch(release_date="2000-01-01")]),
                           n_comparables=0)
    assert (result["point"] < history["views_28d"].max()).all()


def test_a_runtime_beyond_every_past_title_is_held_at_the_nearest_and_named(model, history):
    """A log-runtime slope fitted on ordinary films says nothing about a 0.001-minute title
    (it once forecast 38 times the audience): the input is held at the training range's edge."""
    low, high = history["runtime_minutes"].min(), history["runtime_minutes"].max()
    result = model.predict(pd.concat([
        pitch(title_id="tiny", runtime_minutes=0.001), pitch(title_id="shortest", runtime_minutes=low),
        pitch(title_id="endless", runtime_minutes=10_000), pitch(title_id="longest", runtime_minutes=high),
        pitch(title_id="ordinary")]), n_comparables=0).set_index("title_id")
    assert result.at["tiny", "point"] == pytest.approx(result.at["shortest", "point"])
    assert result.at["endless", "point"] == pytest.approx(result.at["longest", "point"])
    assert result.at["tiny", "held_to_range"] == [
        f"runtime_minutes 0.001 outside the training range {low:g}-{high:g}, held at {low:g}"]
    assert result.at["endless", "held_to_range"] == [
        f"runtime_minutes 10000 outside the training range {low:g}-{high:g}, held at {high:g}"]
    assert result.loc[["shortest", "longest", "ordinary"], "held_to_range"].map(len).eq(0).all()
    assert "held at the nearest: runtime_minutes 0.001" in forecast.format_forecast(result.loc[["tiny"]].reset_index())


def test_a_dated_pitchs_comparables_were_all_released_before_it(model, history):
    source = history.iloc[len(history) // 2]
    twin = dict(format=source["format"], genres=source["genres"], talent=source["talent"],
                runtime_minutes=source["runtime_minutes"], original_language=source["original_language"],
                origin_country=source["origin_country"])
    dated = model.predict(pitch(title_id="as-released", release_date=source["release_date"], **twin))
    comparables = dated["comparables"].item()
    assert len(comparables) == 5 and source["title_id"] not in {c["title_id"] for c in comparables}
    assert all(pd.Timestamp(c["release_date"]) < pd.Timestamp(source["release_date"]) for c in comparables)
    undated = model.predict(pitch(title_id="undated", release_date=None, **twin))
    assert undated["comparables"].item()[0]["title_id"] == source["title_id"]


def test_history_without_the_optional_budget_and_with_it_both_fit(history):
    small = history.head(300).copy()
    assert "budget" not in small.columns
    forecast.fit(small, hyperparameters=Hyperparameters())
    rng = np.random.default_rng(0)
    small["budget"] = np.where(rng.random(len(small)) < 0.3, np.nan, rng.lognormal(16, 1, len(small)))
    model = forecast.fit(small, hyperparameters=Hyperparameters())
    assert "budget" in set(model.effects()["feature"].map(lambda f: str(f).split("_")[-1]))


def _with_availability(history, n=300, seed=0):
    """The first n titles with a release_availability_share: two in three released
    everywhere, the rest in markets holding 15-95 % of members, whose views scale with it."""
    rng = np.random.default_rng(seed)
    small = history.head(n).copy()
    share = np.where(rng.random(n) < 2 / 3, 1.0, rng.uniform(0.15, 0.95, n))
    small["release_availability_share"] = share
    small["views_28d"] = np.round(small["views_28d"] * share).astype(int)
    return small


def test_availability_at_release_is_a_term_when_the_history_has_it(history):
    with_share = _with_availability(history)
    model = forecast.fit(with_share, hyperparameters=Hyperparameters())
    assert "log_availability" in model.design.numeric_names
    coefficient = model.effects().set_index("feature").loc["log_availability", "coefficient"]
    assert coefficient > 0
    # A regional release is forecast below the same pitch released everywhere, and explain
    # names the term; its contributions still add up to the point forecast.
    regional, global_ = (pitch(title_id=t, release_availability_share=s) for t, s in (("r", 0.3), ("g", 1.0)))
    points = model.predict(pd.concat([regional, global_]), n_comparables=0)["point"].tolist()
    assert points[0] < points[1]
    explanation = model.explain(regional)
    assert "availability" in set(explanation["component"])
    assert explanation["contribution"].sum() == pytest.approx(
        model.predict(regional, n_comparables=0)["point_model_scale"].item(), abs=1e-9)
    # A pitch that does not say gets the training median (here 1.0, a global release).
    assert model.design.availability_median == 1.0
    silent = model.explain(pitch())
    said = model.explain(pitch(release_availability_share=1.0))
    assert silent.set_index("component").loc["availability", "contribution"] == pytest.approx(
        said.set_index("component").loc["availability", "contribution"])


def test_availability_at_release_is_optional_and_unused_when_rare(history):
    without = forecast.fit(history.head(300), hyperparameters=Hyperparameters())
    assert "log_availability" not in without.design.numeric_names
    assert "availability" not in set(without.explain(pitch(release_availability_share=0.5))["component"])
    # Fewer than 20 % of the titles carry it: left out, as budget is.
    rare = _with_availability(history)
    rare.loc[rare.index[30:], "release_availability_share"] = np.nan
    assert "log_availability" not in forecast.fit(rare, hyperparameters=Hyperparameters()).design.numeric_names


@pytest.mark.parametrize("value", [1.5, -0.1, "global"])
def test_an_availability_outside_0_1_or_not_a_number_is_refused_naming_the_title(history, model, value):
    bad = _with_availability(history, n=100)
    bad["release_availability_share"] = bad["release_availability_share"].astype(object)
    bad.loc[bad.index[7], "release_availability_share"] = value
    title = bad["title_id"].iloc[7]
    with pytest.raises(ForecastInputError, match=rf"'release_availability_share'.*'{title}'"):
        forecast.fit(bad)
    with pytest.raises(ForecastInputError, match=r"'release_availability_share'.*'p-1'"):
        model.predict(pitch(release_availability_share=value))


def test_billing_order_is_optional_and_survives_a_second_normalisation():
    from slatehouse.forecast.inputs import normalise_titles

    frame = pd.DataFrame({
        "format": ["film", "film"],
        "talent": [
            [{"talent_id": "a", "role": "Actor", "billing_order": 2}, "b:actor:1", "c:director",
             {"talent_id": "a", "role": "actor", "billing_order": None}],
            "d:actor;e:writer",
        ],
    })
    once = normalise_titles(frame, who="pitches", is_history=False)
    assert once["talent"][0] == [("a", "actor"), ("b", "actor"), ("c", "director")]
    assert once["billing"][0][:2] == [2.0, 1.0] and np.isnan(once["billing"][0][2])
    assert all(np.isnan(once["billing"][1]))
    # backtest normalises, then fit normalises the canonical frame again: billing must not be lost
    twice = normalise_titles(once, who="pitches", is_history=False)
    assert twice["billing"][0][:2] == [2.0, 1.0] and twice["talent"].tolist() == once["talent"].tolist()


def test_a_release_date_may_be_a_year_a_date_or_a_date_and_time():
    given = [2009, "2010-05-01", date(2001, 5, 3), datetime(2012, 1, 2, 23, 30), "2013-04-05 20:15", None]
    pitches = pd.DataFrame({"format": ["film"] * 6, "release_date": given})
    dates = forecast.normalise_titles(pitches, who="pitches", is_history=False)["release_date"]
    assert dates[:5].tolist() == [pd.Timestamp(d) for d in
                                  ("2009-01-01", "2010-05-01", "2001-05-03", "2012-01-02", "2013-04-05")]
    assert pd.isna(dates[5])
    alone = pd.DataFrame({"format": ["film"], "release_date": ["May 3 2001"]})
    assert forecast.normalise_titles(alone, is_history=False)["release_date"].item() == pd.Timestamp("2001-05-03")


def test_a_release_date_column_in_two_day_month_orders_is_refused():
    # Read one by one, the first would be 9 January and the second 13 September.
    pitches = pd.DataFrame({"format": ["film"] * 3, "release_date": ["01/09/2022", "13/09/2022", "02/09/2022"]})
    with pytest.raises(ForecastInputError, match=r"'release_date'.*same format.*'pitch-2' has '13/09/2022'"):
        forecast.normalise_titles(pitches, who="pitches", is_history=False)


def test_a_zero_runtime_episodes_or_budget_is_unknown_and_a_negative_one_is_refused(history):
    pitches = pd.DataFrame({"format": ["film", "series"], "runtime_minutes": [0, 45], "episodes": [1, 0],
                            "budget": [0.0, 2e6]})
    titles = forecast.normalise_titles(pitches, who="pitches", is_history=False)
    assert titles["runtime_minutes"].isna().tolist() == [True, False]
    assert titles["episodes"].isna().tolist() == [False, True]  # a film is 1 episode whatever the source says
    assert titles["budget"].isna().tolist() == [True, False]
    with pytest.raises(ForecastInputError, match=r"'budget' must be positive.*'pitch-2'"):
        forecast.normalise_titles(pitches.assign(budget=[0.0, -1.0]), who="pitches", is_history=False)


def test_genres_may_be_mappings_with_a_name_as_catalogue_apis_give_them():
    pitch = pd.DataFrame([{"format": "film", "genres": [{"id": 18, "name": "Drama"}, "Crime"]}])
    assert forecast.normalise_titles(pitch, who="pitches", is_history=False)["genres"][0] == ["drama", "crime"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Drama;Crime", ["drama", "crime"]),
    ("Drama|Crime", ["drama", "crime"]),  # MovieLens
    ("Drama, Crime", ["drama", "crime"]),  # IMDb
    ('[{"id": 18, "name": "Drama"}, {"id": 80, "name": "Crime"}]', ["drama", "crime"]),  # catalogue APIs' JSON
    ("['Drama', 'Crime']", ["drama", "crime"]),  # a Python list after a CSV file
    ("[]", []),
])
def test_genres_written_as_text_are_read_as_their_list(text, expected):
    pitch = pd.DataFrame([{"format": "film", "genres": text}])
    assert forecast.normalise_titles(pitch, who="pitches", is_history=False)["genres"][0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("['comedy' 'drama']", ["comedy", "drama"]),  # a numpy array of strings after a CSV file
    ("['comedy'\n 'drama']", ["comedy", "drama"]),  # numpy wraps a long one
    ("('drama', 'thriller')", ["drama", "thriller"]),  # a tuple after a CSV file
    ("(no genres listed)", ["(no genres listed)"]),  # MovieLens: a name, not a tuple
])
def test_genres_written_by_numpy_or_as_a_tuple_are_read_as_their_list(text, expected):
    pitch = pd.DataFrame([{"format": "film", "genres": text, "talent": "(('d-1', 'director'),)"}])
    titles = forecast.normalise_titles(pitch, who="pitches", is_history=False)
    assert titles["genres"][0] == expected
    assert titles["talent"][0] == [("d-1", "director")]


def test_a_json_list_is_read_as_json():
    # PHP's json_encode escapes slashes; Python would keep the backslash.
    pitch = pd.DataFrame([{"format": "film", "genres": '["Action\\/Adventure", "Drama"]'}])
    assert forecast.normalise_titles(pitch, who="pitches", is_history=False)["genres"][0] == ["action/adventure", "drama"]


def test_strings_side_by_side_in_a_list_written_as_text_are_never_fused():
    pitch = pd.DataFrame([{"format": "film", "genres": "['comedy' 'drama', 'crime']"}])
    with pytest.raises(ForecastInputError, match="'genres' must be a list"):
        forecast.normalise_titles(pitch, who="pitches", is_history=False)


def test_ids_pandas_turned_into_floats_match_the_same_ids_as_integers():
    # An integer column with a gap becomes float: 101 is 101.0 there.
    as_floats = pd.DataFrame({"title_id": [7.0, 8.0], "format": ["series", "film"], "show_id": [101.0, np.nan],
                              "talent": [[{"talent_id": 12.0, "role": "actor"}], [(13, "director")]]})
    as_ints = as_floats.assign(title_id=[7, 8], show_id=[101, None],
                               talent=[[{"talent_id": 12, "role": "actor"}], [(13, "director")]])
    floats, ints = (forecast.normalise_titles(f, who="pitches", is_history=False) for f in (as_floats, as_ints))
    assert floats["title_id"].tolist() == ints["title_id"].tolist() == ["7", "8"]
    assert floats["show_id"].tolist() == ints["show_id"].tolist() == ["101", None]
    assert floats["talent"].tolist() == ints["talent"].tolist() == [[("12", "actor")], [("13", "director")]]


def test_a_history_that_went_through_a_csv_file_fits_the_same_model(history, tmp_path):
    """pandas writes a list column to CSV as the lists' Python text; read back, every cell
    is a string, which must not become one genre (or one credit) per title."""
    sample = history.head(200)
    path = tmp_path / "history.csv"
    sample.to_csv(path, index=False)
    again = pd.read_csv(path)
    assert isinstance(again["genres"].iloc[0], str) and isinstance(again["talent"].iloc[0], str)
    direct = forecast.normalise_titles(sample, target="views_28d")
    via_csv = forecast.normalise_titles(again, target="views_28d")
    assert via_csv["genres"].tolist() == direct["genres"].tolist()
    assert via_csv["talent"].tolist() == direct["talent"].tolist()
    pitches = sample.tail(5).drop(columns=["views_28d"])
    assert np.allclose(forecast.fit(again).predict(pitches)["point"], forecast.fit(sample).predict(pitches)["point"])
    with pytest.raises(ForecastInputError, match="'genres' must be a list"):
        forecast.normalise_titles(again.assign(genres="[drama, crime]"), target="views_28d")


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda h: h.drop(columns=["genres"]), "'genres'"),
        (lambda h: h.drop(columns=["views_28d"]), "'views_28d'"),
        (lambda h: h.assign(format=["film"] * (len(h) - 1) + ["musical"]), "'format'"),
        (lambda h: h.assign(release_date=["2020-01-01"] * (len(h) - 1) + ["not a date"]), "'release_date'"),
        (lambda h: h.assign(views_28d=[-1] + h["views_28d"].tolist()[1:]), "'views_28d'"),
        (lambda h: h.assign(talent=[[{"role": "actor"}]] + h["talent"].tolist()[1:]), "'talent'"),
        (lambda h: h.assign(talent=[[{"talent_id": "x", "role": "actor", "billing_order": 0}]]
                            + h["talent"].tolist()[1:]), "'talent'"),
        (lambda h: h.assign(runtime_minutes=["long"] + h["runtime_minutes"].tolist()[1:]), "'runtime_minutes'"),
        (lambda h: h.assign(title_id="same"), "'title_id'"),
        (lambda h: h.assign(views_28d=[np.inf] + h["views_28d"].tolist()[1:]), "'views_28d' must be a finite"),
        (lambda h: h.assign(runtime_minutes=h["runtime_minutes"].tolist()[:-1] + [np.inf]), "'runtime_minutes'"),
        (lambda h: h.head(0), "at least 20 released titles"),
        (lambda h: h.assign(release_date=[1.5e18] + h["release_date"].tolist()[1:]), "'release_date' must be a date"),
        (lambda h: h.assign(genres=[[{"id": 18}]] + h["genres"].tolist()[1:]), "'genres' must hold genre names"),
        (lambda h: h.assign(episodes=np.where(h["format"] == "series", 2.5, h["episodes"])),
         "'episodes' must be a whole number"),
    ],
)
def test_a_malformed_history_is_refused_with_the_column_named(history, change, column):
    with pytest.raises(ForecastInputError, match=column):
        forecast.fit(change(history.head(100).copy()))


@pytest.mark.parametrize(("call", "message"), [
    (lambda h: forecast.fit(h, interval_level=80), "interval_level must be a share strictly between 0 and 1"),
    (lambda h: forecast.fit(h, interval_level=True), "interval_level"),
    (lambda h: forecast.fit(h, n_folds=0), "n_folds must be a whole number >= 1"),
    (lambda h: forecast.backtest(h, "views_28d", ["2020-01-01"], horizon_days=0), "horizon_days"),
    (lambda h: forecast.backtest(h, "views_28d", ["2020-01-01"], outcome_days=-1), "outcome_days"),
    (lambda h: forecast.fit(pd.concat([h, h[["genres"]]], axis=1)), "column 'genres' appears more than once"),
    (lambda h: forecast.fit(h.assign(runtime_minutes=[True] + h["runtime_minutes"].tolist()[1:])),
     "'runtime_minutes' must be a finite number.*has True"),
])
def test_a_bad_argument_is_refused_naming_it(history, call, message):
    with pytest.raises(ValueError, match=message):
        call(history.head(100).copy())


@pytest.mark.parametrize(("target", "kind"), [
    ("watch_duration", "log"),  # 'duration' holds 'ratio'
    ("revenue_generated", "log"),  # 'generated' holds 'rate'
    ("completion_rate_28d", "logit"),
    ("release_availability_share", "logit"),
    ("pct_complete", "logit"),
    ("completionRate", "logit"),  # camelCase
    ("completion-rate", "logit"),
])
def test_the_automatic_scale_reads_whole_words_of_the_targets_name(target, kind):
    from slatehouse.forecast.features import scale_for

    assert scale_for(target).kind == kind


def test_a_completion_rate_point_stays_inside_its_interval_at_the_clip(history):
    # Mostly exact 1.0 (few starters): the linear predictor passes logit(1 - eps), where
    # the interval ends snap to 1; the point must not stay just below them.
    rng = np.random.default_rng(3)
    rates = np.where(rng.random(len(history)) < 0.95, 1.0, rng.uniform(0.5, 1, len(history)))
    small = history.assign(completion_rate=rates).head(200)
    result = forecast.fit(small, "completion_rate").predict(small, n_comparables=0)
    assert (result["p10"] == 1).any()
    assert ((result["p10"] <= result["point"]) & (result["point"] <= result["p90"])).all()


def test_completion_rate_is_forecast_on_the_logit_scale_and_stays_in_0_1(history):
    model = forecast.fit(history, "completion_rate")
    assert model.scale.kind == "logit"
    result = model.predict(history.tail(100))
    for column in ("point", "p10", "p90"):
        assert result[column].between(0, 1).all()
    assert (result["p10"] <= result["point"]).all() and (result["point"] <= result["p90"]).all()
    scores = forecast.backtest(history, "completion_rate", ["2022-06-01"])
    overall = scores[scores["scope"] == "overall"].set_index("model")
    assert overall.loc["demand_model", "rmsle"] < overall.loc["global_median", "rmsle"]
    with pytest.raises(ForecastInputError, match="'completion_rate'"):
        forecast.fit(history.assign(completion_rate=history["completion_rate"] * 2), "completion_rate")


# --- explanations and effects ---------------------------------------------------------------

def test_explanation_is_additive_and_names_each_genre_and_talent(model, history):
    row = history.iloc[[-1]]
    explanation = model.explain(row)
    predicted = model.predict(row, n_comparables=0)
    assert explanation["contribution"].sum() == pytest.approx(predicted["point_model_scale"].item(), abs=1e-9)
    credits = {f"{c['talent_id']} ({c['role']})" for c in row["talent"].item()}
    assert credits <= set(explanation.loc[explanation["component"] == "talent", "feature"])
    assert set(row["genres"].item()) <= set(explanation.loc[explanation["component"] == "genre", "feature"])
    assert {"baseline", "format", "runtime", "season"} <= set(explanation["component"])


def test_explain_lists_unseen_genres_and_talent_with_no_effect(model):
    new = pitch(genres=["drama", "space-opera"],
                talent=[{"talent_id": "d-0000", "role": "director"}, {"talent_id": "nobody-1", "role": "actor"}])
    explanation = model.explain(new)
    assert list(explanation.columns) == forecast.EXPLANATION_COLUMNS
    unseen = explanation[explanation["is_unseen"]]
    assert unseen[["component", "feature", "contribution"]].values.tolist() == [
        ["genre", "space-opera", 0.0], ["talent", "nobody-1 (actor)", 0.0]]
    assert {"drama", "d-0000 (director)"} <= set(explanation.loc[~explanation["is_unseen"], "feature"])
    predicted = model.predict(new, n_comparables=0)
    assert explanation["contribution"].sum() == pytest.approx(predicted["point_model_scale"].item(), abs=1e-9)
    assert predicted["explanation"].item() == explanation.to_dict("records")


def _raw_talent_residuals(model, history):
    """For each talent with one title: that title's residual with the talent's own term
    put back, i.e. the unshrunk estimate of what the talent added."""
    effects = model.talent_effects()
    single = effects[effects["n_titles"] == 1].set_index(["talent_id", "role"])
    predicted = model.predict(history, n_comparables=0).set_index("title_id")
    y = np.log1p(history.set_index("title_id")["views_28d"])
    raw, shrunk = [], []
    for title_id, credits in zip(history["title_id"], history["talent"]):
        residual = y[title_id] - predicted.at[title_id, "point_model_scale"]
        for credit in credits:
            key = (credit["talent_id"], credit["role"])
            if key in single.index:
                contribution = single.at[key, "effect"]
                raw.append(residual + contribution)
                shrunk.append(contribution)
    return np.abs(np.array(raw)), np.abs(np.array(shrunk))


def test_a_talent_with_one_title_is_shrunk_towards_zero(model, history):
    raw, shrunk = _raw_talent_residuals(model, history)
    assert len(raw) > 100
    assert (shrunk < raw).mean() > 0.95
    assert shrunk.mean() < 0.5 * raw.mean()


def test_talent_effects_recover_the_true_ranking_for_talent_with_three_titles(model, synthetic):
    _, truth = synthetic
    effects = model.talent_effects()
    assert list(effects.columns) == ["talent_id", "role", "effect", "coefficient", "n_titles"]
    established = effects[effects["n_titles"] >= 3]
    assert len(established) > 100
    rho = spearmanr(established["effect"], established["talent_id"].map(truth)).statistic
    assert rho >= 0.7, rho


# --- returning shows -------------------------------------------------------------------------

def with_shows(history: pd.DataFrame, seasons: int = 3, sd: float = 0.5, seed: int = 3):
    """The series of `history` grouped into shows of `seasons` seasons each, spread across
    time, every show's views scaled by its own true effect (log scale, sd `sd`)."""
    rng = np.random.default_rng(seed)
    out = history.copy()
    series = np.flatnonzero(out["format"].to_numpy() == "series")
    n_shows = len(series) // seasons
    show_of = rng.permutation(len(series)) % n_shows
    effect = rng.normal(0, sd, n_shows)
    out["show_id"] = None
    out.loc[series, "show_id"] = [f"show-{k:03d}" for k in show_of]
    views = out.loc[series, "views_28d"].to_numpy() * np.exp(effect[show_of])
    out.loc[series, "views_28d"] = np.round(views).astype(int)
    return out, {f"show-{k:03d}": e for k, e in enumerate(effect)}


@pytest.fixture(scope="module")
def shows(history):
    return with_shows(history)


def test_a_returning_shows_earlier_seasons_carry_to_its_next_season(shows):
    history, truth = shows
    model = forecast.fit(history, "views_28d")
    assert model.hyperparameters.show_penalty is not None  # estimated by REML, like genre
    effects = model.effects()
    estimated = effects[effects["block"] == "show"].set_index("feature")["coefficient"]
    assert len(estimated) == len(truth)
    assert spearmanr(estimated, estimated.index.map(truth)).statistic > 0.6

    best = estimated.idxmax()
    next_season = dict(format="series", episodes=8, runtime_minutes=50, genres=["drama"])
    returning, new, unseen = (
        model.predict(pitch(title_id=name, show_id=show, **next_season), n_comparables=0).iloc[0]
        for name, show in (("returning", best), ("new", None), ("unseen", "show-never-made")))
    assert returning["point"] > new["point"]
    assert unseen["point"] == new["point"]  # a show never seen is the average show: 0
    # Its comparables start with the show's own earlier seasons.
    earlier = set(history.loc[history["show_id"] == best, "title_id"])
    comparables = model.predict(pitch(show_id=best, **next_season)).iloc[0]["comparables"]
    assert {c["title_id"] for c in comparables[:len(earlier)]} == earlier
    explanation = model.explain(pitch(show_id=best, **next_season))
    term = explanation[explanation["component"] == "show"]
    assert term["feature"].tolist() == [best]
    assert term["contribution"].item() == pytest.approx(estimated[best])


def test_the_show_term_improves_the_backtest_where_shows_carry_their_quality(shows):
    history, _ = shows
    cutoffs = ["2022-01-01", "2023-01-01"]
    rmsle = {}
    for name, frame in (("with", history), ("without", history.drop(columns="show_id"))):
        scores = forecast.backtest(frame, "views_28d", cutoffs)
        overall = scores[(scores["scope"] == "overall") & (scores["model"] == "demand_model")]
        rmsle[name] = overall["rmsle"].item()
    assert rmsle["with"] < 0.98 * rmsle["without"], rmsle


def test_a_history_without_shows_has_no_show_term(model):
    assert not any(block == "show" for block, _ in model.design.columns)
    assert model.hyperparameters.show_penalty is None


# --- time: leakage and backtest -------------------------------------------------------------

def test_predictions_after_the_cutoff_ignore_post_cutoff_outcomes(history):
    small = history.head(500)
    cutoff = pd.Timestamp(small["release_date"].iloc[350])
    altered = small.copy()
    after = pd.to_datetime(altered["release_date"]) >= cutoff
    altered.loc[after, "views_28d"] = altered.loc[after, "views_28d"] * 50 + 7

    def model_rows(frame):
        p = forecast.backtest_predictions(frame, "views_28d", [cutoff])
        return p[p["model"] == "demand_model"].set_index("title_id")

    original, changed = model_rows(small), model_rows(altered)
    # A title released on the cutoff day is scored, not trained on.
    assert set(original.index) == set(small.loc[after, "title_id"])
    outcome_known = pd.to_datetime(small["release_date"]) + pd.Timedelta(days=28) <= cutoff
    assert (original["n_train"] == outcome_known.sum()).all()
    pd.testing.assert_frame_equal(original[["point", "p10", "p90"]], changed[["point", "p10", "p90"]])
    assert not np.allclose(original["actual"], changed["actual"])


def test_the_backtest_trains_only_on_outcomes_known_at_the_cutoff(history):
    """views_28d covers a title's first 28 days: on the cutoff day, a title released 10
    days earlier has no outcome yet, so it must not be trained on."""
    small = history.head(300)
    released = pd.to_datetime(small["release_date"])
    cutoff = released.iloc[200]
    accruing = (released < cutoff) & (released + pd.Timedelta(days=28) > cutoff)
    assert accruing.sum() > 5
    altered = small.assign(views_28d=np.where(accruing, small["views_28d"] * 50 + 7, small["views_28d"]))
    hp = Hyperparameters()

    def model_rows(frame, **kwargs):
        p = forecast.backtest_predictions(frame, "views_28d", [cutoff], hyperparameters=hp, **kwargs)
        return p[p["model"] == "demand_model"].reset_index(drop=True)

    original = model_rows(small)
    pd.testing.assert_frame_equal(original, model_rows(altered))
    assert set(original["title_id"]) == set(small.loc[released >= cutoff, "title_id"])  # scored as before
    assert (original["n_train"] == (released + pd.Timedelta(days=28) <= cutoff).sum()).all()
    assert (model_rows(small, outcome_days=0)["n_train"] == (released < cutoff).sum()).all()


def test_cutoffs_may_be_one_date_a_year_or_a_list_and_anything_else_is_refused(history):
    small, hp = history.head(300), Hyperparameters()  # released 2019-01 to 2020-06

    def cutoffs_scored(cutoffs):
        p = forecast.backtest_predictions(small, "views_28d", cutoffs, hyperparameters=hp)
        return sorted(p["cutoff"].unique()), len(p)

    one = cutoffs_scored(["2020-01-01"])
    assert one[0] == [pd.Timestamp("2020-01-01")]
    assert cutoffs_scored("2020-01-01") == one  # one date, not the characters of one
    assert cutoffs_scored(2020) == one  # a year is its 1 January
    assert cutoffs_scored([pd.Timestamp("2020-01-01", tz="UTC"), date(2020, 1, 1), "2020-01-01"]) == one
    for bad in ([pd.NaT], [None, "2020-01-01"], ["soon"], [], [True]):
        with pytest.raises(ForecastInputError, match="cutoffs"):
            forecast.backtest(small, "views_28d", bad)


def test_a_cutoff_that_cannot_be_scored_is_skipped_and_none_left_is_an_error_saying_why(history):
    small = history.head(300)
    first, last = pd.to_datetime(small["release_date"]).agg(["min", "max"])
    too_early, usable = first + pd.Timedelta(days=3), pd.to_datetime(small["release_date"]).iloc[200]
    too_late = last + pd.Timedelta(days=1)
    scores = forecast.backtest(small, "views_28d", [too_early, usable, too_late])
    assert set(scores["cutoff"].dropna()) == {usable.date()}
    with pytest.raises(ForecastInputError, match=r"no cutoff could be scored.*at least 20.*no titles released"):
        forecast.backtest(small, "views_28d", [first - pd.Timedelta(days=1), too_late])


def test_backtest_beats_the_genre_median_by_30_percent_with_calibrated_intervals(history):
    scores = forecast.backtest(history, "views_28d", ["2021-09-01", "2022-09-01"])
    assert list(scores.columns) == forecast.BACKTEST_COLUMNS
    assert len(scores) == 3 * 2 + 3  # cutoffs x models, plus one overall row per model
    assert set(scores["model"]) == {"demand_model", "global_median", "genre_median"}
    overall = scores[scores["scope"] == "overall"].set_index("model")
    assert overall.loc["demand_model", "rmsle"] <= 0.7 * overall.loc["genre_median", "rmsle"]
    assert overall.loc["demand_model", "mdape"] < overall.loc["genre_median", "mdape"]
    assert 0.72 <= overall.loc["demand_model", "coverage_80"] <= 0.88
    model_rows = scores[(scores["scope"] == "cutoff") & (scores["model"] == "demand_model")]
    assert model_rows["coverage_80"].between(0.65, 0.92).all()



def test_the_interval_is_wider_where_out_of_time_errors_are_larger(history, model):
    # Catalogue data is like this: small titles are far noisier on the log scale than big
    # ones. Here the titles the model expects to be smaller get extra noise; one width for
    # every pitch would under-cover them and over-cover the rest.
    expected = model.predict(history, n_comparables=0)["point_model_scale"].to_numpy()
    small = expected < np.median(expected)
    noise = np.random.default_rng(11).normal(0.0, 1.0, len(history)) * small
    noisy = history.assign(views_28d=np.expm1(np.log1p(history["views_28d"]) + noise))

    fitted = forecast.fit(noisy, "views_28d")
    assert fitted.residual_scale.coef[1] < 0, "a smaller forecast should get a wider interval"
    result = fitted.predict(noisy, n_comparables=0)
    width = np.log1p(result["p90"]) - np.log1p(result["p10"])
    assert width[small].median() > 1.15 * width[~small].median()

    predictions = forecast.backtest_predictions(noisy, "views_28d", ["2021-09-01", "2022-09-01"])
    rows = predictions[predictions["model"] == "demand_model"].merge(
        pd.DataFrame({"title_id": noisy["title_id"], "small": small}), on="title_id")
    covered = (rows["p10"] <= rows["actual"]) & (rows["actual"] <= rows["p90"])
    for is_small, group in covered.groupby(rows["small"]):
        assert 0.7 <= group.mean() <= 0.9, (is_small, group.mean(), len(group))


def test_conformal_ranks_are_exact_where_n_plus_1_is_a_multiple_of_ten():
    from slatehouse.forecast.model import _conformal_quantiles

    residuals = np.arange(99, dtype=float) - 49  # -49 .. 49: ranks 10 and 90 of n + 1 = 100
    assert _conformal_quantiles(residuals, 0.8) == (-40.0, 40.0)


def test_one_interval_width_where_errors_do_not_depend_on_size(model):
    # The synthetic history's noise does not depend on the title: no width term is kept.
    assert model.residual_scale.coef[1:] == (0.0, 0.0, 0.0)
    widths = model.interval[1] - model.interval[0]
    assert widths > 0

# --- files and terminal output --------------------------------------------------------------

def test_example_pitch_and_slate_load_and_format(model):
    one = forecast.load_pitch(ROOT / "docs/examples/pitch.yaml")
    slate = forecast.load_slate(ROOT / "docs/examples/slate.csv")
    assert len(one) == 1 and len(slate) == 4
    assert slate["show_id"].isna().tolist() == [True, True, True, False]  # the last: a next season
    assert slate.loc[0, "talent"] == ["tal-01067:showrunner", "tal-00029:actor:1", "tal-00183:actor:2"]
    assert slate.loc[2, "talent"] == [] and slate.loc[0, "genres"] == ["drama", "crime"]
    # The release plan: the pitch and the first slate row say where they will be available.
    assert one.loc[0, "release_availability_share"] == 1.0
    assert slate["release_availability_share"].tolist()[:2] == [1.0, 0.45]
    assert np.isnan(slate.loc[2, "release_availability_share"])
    result = model.predict(pd.concat([one, slate], ignore_index=True))
    assert result["title_id"].tolist()[:2] == ["pitch-harbour-lights", "pitch-harbour-lights"]
    text = forecast.format_forecast(result)
    assert text.count("views_28d forecast") == 5
    assert "80% interval" in text and "most comparable past titles" in text and "baseline" in text


def test_terminal_output_shows_a_small_count_as_a_count_and_a_rate_as_a_percentage():
    def line(target, point, p10, p90):
        result = pd.DataFrame([dict(title_id="p", target=target, point=point, p10=p10, p90=p90,
                                    n_known_talent=0, n_talent=0, explanation=[], comparables=[])])
        return forecast.format_forecast(result).splitlines()[0]

    assert line("views_28d", 4.56, 0.71, 17.0) == "p: views_28d forecast 4.56 (80% interval 0.71 to 17)"
    assert line("views_28d", 2.5e6, 9e5, 7.25e6) == "p: views_28d forecast 2.5M (80% interval 900k to 7.25M)"
    assert line("completion_rate_28d", 0.42, 0.3, 1.0) == (
        "p: completion_rate_28d forecast 42.0% (80% interval 30.0% to 100.0%)")


def test_terminal_explanation_lines_up_and_names_a_numeric_term_once():
    explanation = [dict(component="baseline", feature="average past title", contribution=2.0),
                   dict(component="availability", feature="availability", contribution=-0.4),
                   dict(component="talent", feature="t-1 (director)", contribution=0.9)]
    result = pd.DataFrame([dict(title_id="p", target="views_28d", point=9.0, p10=2.0, p90=30.0, n_known_talent=1,
                                n_talent=1, explanation=explanation, comparables=[])])
    why = forecast.format_forecast(result).splitlines()[3:]
    assert why == ["     +2.000  baseline     average past title",
                   "     -0.400  availability",
                   "     +0.900  talent       t-1 (director)"]


def test_slate_reader_names_the_line_of_a_bad_number(tmp_path):
    path = tmp_path / "slate.csv"
    path.write_text("title_id,format,runtime_minutes\na,film,90\nb,film,ninety\n")
    with pytest.raises(ForecastInputError, match=r"line 3.*'runtime_minutes'"):
        forecast.load_slate(path)
    path.write_text("title_id,format,release_availability_share\na,film,0.4\nb,film,most\n")
    with pytest.raises(ForecastInputError, match=r"line 3.*'release_availability_share'"):
        forecast.load_slate(path)
    path.write_text("title_id,format,release_availability_share\na,film,0.4\nb,film,40\n")
    with pytest.raises(ForecastInputError, match=r"'release_availability_share'.*\[0, 1\].*'b'"):
        forecast.load_slate(path)
    path.write_text("title_id,format\na,film\n,film\n")
    with pytest.raises(ForecastInputError, match=r"line 3: column 'title_id' is empty"):
        forecast.load_slate(path)


def test_the_closest_comparable_shares_talent_and_genre(model, history):
    source = history.iloc[-1]
    result = model.predict(pitch(
        title_id="remake", format=source["format"], genres=source["genres"], talent=source["talent"],
        runtime_minutes=source["runtime_minutes"], original_language=source["original_language"],
        origin_country=source["origin_country"],
    ))
    top = result["comparables"].item()[0]
    assert top["title_id"] == source["title_id"]
    assert top["similarity"] == pytest.approx(1.0)
    assert top["actual"] == source["views_28d"]


# --- evidence on the project's simulator --------------------------------------------------
# Issue 5's bars, on training rows derived from the simulator's ground truth with the mart's
# definitions (slatehouse.generate.truth; bench/bench_forecast.py checks them against the real
# marts). One seed of the benchmark's setting; bench/results/forecast.json has four.

EVIDENCE_SIMULATION = dict(start_date=date(2026, 1, 5), days=180, members=1500, titles=450, seed=11)


def test_backtest_cutoffs_wait_until_enough_outcomes_to_train_on_are_known():
    # A young history: a title every other day for 90 days. At the usual first cutoff (60 %
    # of the release dates, day 54) only 14 titles had their 28 days behind them.
    young = pd.Series(pd.date_range("2024-01-01", periods=45, freq="2D"))
    cutoffs, horizon = forecast_job.backtest_cutoffs(young)
    assert ((young + pd.Timedelta(days=28)) <= cutoffs[0]).sum() >= forecast.model.MIN_TITLES
    assert (young >= cutoffs[0]).sum() > 0
    # A long history keeps the usual first cutoff.
    long = pd.Series(pd.date_range("2024-01-01", periods=300, freq="D"))
    assert forecast_job.backtest_cutoffs(long)[0][0] == long.iloc[180]


@pytest.fixture(scope="module")
def simulated():
    from slatehouse.generate import simulate
    from slatehouse.generate.truth import talent_truth, training_rows

    sim = simulate(**EVIDENCE_SIMULATION)
    history = training_rows(sim)
    scores, _, _ = forecast_job.run_backtest(history, "views_28d")
    overall = scores[scores["scope"] == "overall"].set_index("model")
    model = forecast.fit(history, "views_28d")
    effects = model.talent_effects().merge(talent_truth(sim), on=["talent_id", "role"])
    established = effects[effects["n_titles"] >= 3]
    return {
        "history": history,
        "improvement": 1 - overall.loc["demand_model", "rmsle"] / overall.loc["genre_median", "rmsle"],
        "coverage": overall.loc["demand_model", "coverage_80"],
        "n_scored": overall.loc["demand_model", "n_test"],
        "spearman": spearmanr(established["effect"], established["true_effect"]).statistic,
        "n_established": len(established),
        "billing_exponent": model.hyperparameters.billing_exponent,
        "model": model,
    }


def test_the_simulator_gives_hundreds_of_complete_titles_and_recurring_talent(simulated):
    assert len(simulated["history"]) >= 250
    assert simulated["n_scored"] >= 100
    assert simulated["n_established"] >= 100


def test_the_simulators_seasons_carry_their_show_into_the_model(simulated):
    history = simulated["history"]
    assert (history["show_id"].notna() == (history["format"] == "series")).all()
    shows = {key for block, key in simulated["model"].design.columns if block == "show"}
    assert shows == set(history["show_id"].dropna())


def test_the_simulators_billing_order_reaches_the_model_and_reml_uses_it(simulated):
    # The simulator weights an actor by billing; a history that carries billing_order
    # should lead REML to a billing exponent above 0 (0 = billing ignored).
    assert any("billing_order" in c for cs in simulated["history"]["talent"] for c in cs)
    assert simulated["billing_exponent"] > 0


def test_the_simulators_availability_at_release_reaches_the_model(simulated):
    # About a third of the simulator's works are released in some countries only; the
    # truth rows carry the mart's release_availability_share, and the fit uses it with
    # the sign a share of the audience must have.
    shares = simulated["history"]["release_availability_share"]
    assert shares.notna().all() and shares.between(0, 1).all() and (shares < 1).mean() > 0.2
    model = simulated["model"]
    assert "log_availability" in model.design.numeric_names
    assert model.effects().set_index("feature").loc["log_availability", "coefficient"] > 0
    row = simulated["history"].loc[shares.idxmin()]
    assert model.explain(row).set_index("component").loc["availability", "contribution"] < 0


def test_evidence_80_percent_interval_covers_75_to_85_percent_on_the_simulator(simulated):
    # About 110 titles are scored, so a calibrated interval's coverage has a sampling sd of
    # sqrt(0.8 * 0.2 / 110) = 0.04: the band is widened by two of them. The benchmark's mean
    # over four seeds is held to 0.75-0.85 itself.
    margin = 2 * np.sqrt(0.8 * 0.2 / simulated["n_scored"])
    assert 0.75 - margin <= simulated["coverage"] <= 0.85 + margin, simulated["coverage"]


def test_evidence_model_beats_the_genre_median_clearly_on_the_simulator(simulated):
    # Not the bar (next test): what the model reliably does today, so a regression shows.
    assert simulated["improvement"] >= 0.15, simulated["improvement"]
    assert simulated["spearman"] >= 0.4, simulated["spearman"]


# The four seeds' mean is below the RMSLE bar (27.3 %; one seed of four clears it) and
# talent ranking is well short on every seed (0.52-0.58).
@pytest.mark.xfail(strict=True, reason="issue 5's bars are not met on the simulator: 26% below the genre median "
                                       "(four seeds: 27.3% on average, one of four at the bar) and talent "
                                       "Spearman 0.58 on this seed (bar 0.7; docs/forecasting.md, 'Evidence'); "
                                       "remove this mark when they are")
def test_evidence_bars_on_the_simulator(simulated):
    assert simulated["improvement"] >= 0.30, simulated["improvement"]
    assert simulated["spearman"] >= 0.70, simulated["spearman"]
