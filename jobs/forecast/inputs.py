"""Reading and checking the frames the forecaster takes: released titles and pitches.

Both are one row per production with the columns in `TITLE_COLUMNS`. Released titles
(the history) also carry the target. Everything here is plain pandas so that the
forecaster can be used from a notebook without Spark.

`normalise_titles` turns whatever the caller has (lists, numpy arrays, Spark `Row`s,
`;`-, `|`- or `,`-separated strings, a list written out as text) into one canonical frame:

- `genres`: list of lower-case strings, de-duplicated, order kept (first = primary);
- `talent`: list of `(talent_id, role)` tuples, role lower-case;
- `billing`: per credit in `talent`, its optional `billing_order` (1 = top billed) as a
  float, NaN where the source has none (crew, or a source without cast order);
- `release_date`: `datetime64[ns]`, midnight (a bare year is its 1 January);
- `runtime_minutes`, `episodes`, `budget`: float (NaN where unknown; a 0 is read as unknown,
  as catalogue sources write it);
- `release_availability_share`: float in [0, 1], the share of members who can watch the
  title on its release day (1 = a global release; NaN where unknown);
- `original_language`, `origin_country`: str or None;
- `show_id`: str or None, the show a series season belongs to (or a film's franchise), so
  that a returning show's earlier seasons inform its next one.
"""

from __future__ import annotations

import ast
import io
import json
import math
import re
import logging
import tokenize
from collections.abc import Iterable, Mapping
from datetime import datetime
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FORMATS = ("film", "series")
REQUIRED_HISTORY_COLUMNS = (
    "title_id",
    "release_date",
    "format",
    "genres",
    "talent",
    "runtime_minutes",
    "episodes",
    "original_language",
    "origin_country",
)
AVAILABILITY = "release_availability_share"
SHOW = "show_id"
OPTIONAL_COLUMNS = ("budget", AVAILABILITY, SHOW)
# Numeric pitch fields a CSV slate carries as text.
NUMERIC_COLUMNS = ("runtime_minutes", "episodes", "budget", AVAILABILITY)
# A pitch needs only its format; every other field has a documented default.
REQUIRED_PITCH_COLUMNS = ("format",)
PITCH_FIELDS = ("pitch_id", *REQUIRED_HISTORY_COLUMNS, *OPTIONAL_COLUMNS)
# Fields for people that a pitch file may carry beside them (the model reads none).
DESCRIPTIVE_FIELDS = ("title", "name", "working_title", "pitch_name", "programme_name", "logline", "notes")
UNSPECIFIED_ROLE = "unspecified"


class ForecastInputError(ValueError):
    """A history or pitch frame is malformed. The message names the column and the row."""


class EmptySlateError(ForecastInputError):
    """A slate file with no pitches in it."""


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return value is pd.NA or value is pd.NaT


def _missing(values: pd.Series) -> np.ndarray:
    """Which cells of a column are missing, as a bool array (also for an empty column)."""
    return np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))


def _as_text(value: Any) -> str:
    """A cell as text, for ids and codes: a whole float is the integer it holds (101.0 is
    "101"), since pandas turns an integer column with a gap into floats."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# `drama;thriller` (the slate's CSV), `Drama|Thriller` (MovieLens), `Drama, Thriller` (IMDb).
_SEPARATORS = re.compile(r"[;|,]")
# str() of a numpy array of strings, which is what a CSV file keeps of one: quoted strings
# separated by whitespace, without commas, e.g. "['comedy' 'drama']".
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|" + r'"(?:[^"\\]|\\.)*"')
_NUMPY_STRINGS = re.compile(rf"\[\s*(?:(?:{_QUOTED.pattern})\s*)*\]")


def _fuses_strings(text: str) -> bool:
    """Whether Python would read two string literals side by side as one ('a' 'b' is 'ab')."""
    try:
        kinds = [token.type for token in tokenize.generate_tokens(io.StringIO(text).readline)
                 if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return False
    return any(a == b == tokenize.STRING for a, b in zip(kinds, kinds[1:]))


def _list_literal(text: str) -> list | None:
    """A list written out as text: JSON (`[{"id": 18, "name": "Drama"}]`, as catalogue APIs
    and their CSV exports give), a Python list or tuple, which is what a list column becomes
    when a frame goes through a CSV file, or a numpy array of strings (`['comedy' 'drama']`).
    None when it is none of them, or when it would fuse two strings into one."""
    try:  # JSON first: a valid JSON list never fuses strings, and its escapes are JSON's
        value = json.loads(text)
        return value if isinstance(value, list) else None
    except (ValueError, RecursionError):
        pass
    if _NUMPY_STRINGS.fullmatch(text):
        return [ast.literal_eval(item) for item in _QUOTED.findall(text)]
    if _fuses_strings(text):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return list(value) if isinstance(value, (list, tuple)) else None


def _as_list(value: Any) -> list | None:
    """A list from a list-like cell; None when the cell is not list-like."""
    if _is_missing(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            return _list_literal(text)
        if text.startswith("(") and text.endswith(")"):  # a tuple, or a name: "(no genres listed)" (MovieLens)
            items = _list_literal(text)
            if items is not None or _fuses_strings(text):
                return items
        return [part for part in (p.strip() for p in _SEPARATORS.split(text)) if part]
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        return list(value)
    return None


def parse_genres(value: Any, *, where: str) -> list[str]:
    items = _as_list(value)
    if items is None:
        raise ForecastInputError(
            f"{where}: column 'genres' must be a list of strings (or a ';'-separated "
            f"string, or a list written as JSON), got {type(value).__name__} {value!r}"
        )
    genres: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and "name" in item:  # {"id": 18, "name": "Drama"}, as catalogue APIs give
            item = item["name"]
        if _is_missing(item):
            continue
        if not isinstance(item, (str, int, np.integer)):
            raise ForecastInputError(
                f"{where}: column 'genres' must hold genre names (strings, or mappings with a "
                f"'name'), got {item!r}"
            )
        name = str(item).strip().lower()
        if name and name not in genres:
            genres.append(name)
    return genres


def _parse_billing(value: Any, item: Any, *, where: str) -> float:
    """A credit's billing order (1 = top billed) as a float; NaN when not given."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 1:
        raise ForecastInputError(
            f"{where}: column 'talent' has a billing_order that is not a number >= 1 "
            f"(1 = top billed): {item!r}"
        )
    return number


def _parse_credit(item: Any, *, where: str) -> tuple[tuple[str, str], float]:
    if hasattr(item, "asDict"):  # a Spark Row, e.g. from DataFrame.toPandas()
        item = item.asDict()
    billing: Any = None
    if isinstance(item, Mapping):
        talent_id, role, billing = item.get("talent_id"), item.get("role"), item.get("billing_order")
    elif isinstance(item, str):
        talent_id, _, rest = item.strip().partition(":")
        role, _, billing = rest.partition(":")
    elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
        talent_id, role = item[0], item[1]
        billing = item[2] if len(item) == 3 else None
    else:
        raise ForecastInputError(
            f"{where}: column 'talent' must hold {{talent_id, role[, billing_order]}} dicts or "
            f"'talent_id:role[:billing_order]' strings, got {item!r}"
        )
    if _is_missing(talent_id) or not _as_text(talent_id).strip():
        raise ForecastInputError(f"{where}: column 'talent' has an entry without talent_id: {item!r}")
    role = UNSPECIFIED_ROLE if _is_missing(role) or not str(role).strip() else str(role)
    return (_as_text(talent_id).strip(), role.strip().lower()), _parse_billing(billing, item, where=where)


def parse_credits(value: Any, *, where: str) -> tuple[list[tuple[str, str]], list[float]]:
    """The (talent_id, role) credits of one title, de-duplicated in order, and each credit's
    billing order (NaN where not given; the smallest when a credit repeats)."""
    items = _as_list(value)
    if items is None:
        raise ForecastInputError(
            f"{where}: column 'talent' must be a list of {{talent_id, role}} dicts "
            f"(or a ';'-separated 'talent_id:role' string, or a list written as JSON), got "
            f"{type(value).__name__} {value!r}"
        )
    credits: list[tuple[str, str]] = []
    billing: list[float] = []
    for item in items:
        credit, order = _parse_credit(item, where=where)
        if credit in credits:
            k = credits.index(credit)
            if not math.isnan(order) and not order >= billing[k]:
                billing[k] = order
            continue
        credits.append(credit)
        billing.append(order)
    return credits, billing


def parse_talent(value: Any, *, where: str) -> list[tuple[str, str]]:
    return parse_credits(value, where=where)[0]


def _numeric(frame: pd.DataFrame, column: str, *, who: str, labels: list[str]) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    bad = (values.isna().to_numpy() & ~_missing(frame[column])) | np.isinf(values.to_numpy())
    bad |= np.fromiter((isinstance(v, (bool, np.bool_)) for v in frame[column]), dtype=bool, count=len(frame))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = _plain(frame[column].iloc[i])
        raise ForecastInputError(
            f"{who}: column {column!r} must be a finite number; title {labels[i]!r} has {value!r}"
        )
    return values


def _text(frame: pd.DataFrame, column: str, case) -> pd.Series:
    """A text column with blanks as None, cased by `case` (str.lower or str.upper)."""
    if column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = [
        None if _is_missing(v) or not str(v).strip() else case(_as_text(v).strip()) for v in frame[column]
    ]
    return pd.Series(values, index=frame.index, dtype=object)


def is_number(value: Any, *, whole: bool = False) -> bool:
    """Whether an argument is a real number (a whole one with `whole`); a boolean is not."""
    kind = Integral if whole else Real
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for error messages."""
    return value.item() if isinstance(value, np.generic) else value


def _year_as_date(value: Any) -> Any:
    """A bare number as a release date: a whole year (2009 -> 2009-01-01); any other number
    NaT, so that it is refused (pandas would read it as nanoseconds after 1970). A date and
    time with a time zone is its local date and time there."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return value
    if _is_missing(value):
        return None
    return f"{int(value):04d}-01-01" if float(value).is_integer() and 1000 <= value <= 9999 else pd.NaT


def parse_dates(values: Iterable, *, what: str, labels: list[str]) -> pd.Series:
    """Dates at midnight (`datetime64[ns]`, NaT where a cell is empty), all read with one
    format: the one pandas infers from the first date, or ISO 8601 at any precision. A bare
    year is its 1 January. Reading each cell on its own would take 01/09/2022 as January
    and 13/09/2022 as September in the same column; such a column is refused, as is
    anything else that is not a date. `what` names the values in the error ("history:
    column 'release_date'") and `labels` each one ("title 'tt-1'")."""
    values = pd.Series(list(values), dtype=object)
    given, missing = values.map(_year_as_date), _missing(values)
    dates = pd.to_datetime(given, errors="coerce")
    bad = dates.isna().to_numpy() & ~missing
    if bad.any():  # e.g. a date and a date with a time: ISO 8601 at mixed precision is one format
        iso = pd.to_datetime(given, errors="coerce", format="ISO8601")
        iso_bad = iso.isna().to_numpy() & ~missing
        if not iso_bad.any():
            dates, bad = iso, iso_bad
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ForecastInputError(
            f"{what} must be a date (YYYY-MM-DD) or a year, every one in the same format; "
            f"{labels[i]} has {_plain(values.iloc[i])!r}"
        )
    if not pd.api.types.is_datetime64_any_dtype(dates):  # strings with different UTC offsets
        raise ForecastInputError(f"{what} mixes time zones; give dates without one")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    return dates.dt.normalize().astype("datetime64[ns]")


def _check_columns(frame: Any, required: Iterable[str], *, who: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ForecastInputError(f"{who}: expected a pandas DataFrame, got {type(frame).__name__}")
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise ForecastInputError(
            f"{who}: column {repeated[0]!r} appears more than once; keep one column of each name"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ForecastInputError(
            f"{who}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"the frame has {list(frame.columns)}. See docs/forecasting.md for the expected columns."
        )


def normalise_titles(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    target_kind: str | None = None,
    who: str = "history",
    is_history: bool = True,
) -> pd.DataFrame:
    """Check a history or pitch frame and return it in canonical form (see module doc).

    With `is_history`, every column in `REQUIRED_HISTORY_COLUMNS` and the target must be
    present, `release_date` must be set on every row and `title_id` must be unique.
    `target_kind` is "count" (non-negative) or "proportion" (in [0, 1]).
    """
    required = list(REQUIRED_HISTORY_COLUMNS) if is_history else list(REQUIRED_PITCH_COLUMNS)
    if target is not None:
        required.append(target)
    _check_columns(frame, required, who=who)
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)

    if "title_id" in frame.columns:
        ids = frame["title_id"]
        empty = _missing(ids)
        if empty.any():
            first = int(np.flatnonzero(empty)[0])
            raise ForecastInputError(f"{who}: column 'title_id' is empty on row {first}")
        out["title_id"] = ids.map(_as_text)
    else:
        out["title_id"] = [f"pitch-{i + 1}" for i in range(len(frame))]
    duplicated = out["title_id"].duplicated()
    if is_history and duplicated.any():
        raise ForecastInputError(
            f"{who}: column 'title_id' must be unique; {out['title_id'][duplicated].iloc[0]!r} repeats"
        )
    labels = out["title_id"].tolist()

    if "release_date" in frame.columns:
        out["release_date"] = parse_dates(frame["release_date"], what=f"{who}: column 'release_date'",
                                          labels=[f"title {t!r}" for t in labels])
        if is_history and out["release_date"].isna().any():
            i = int(np.flatnonzero(out["release_date"].isna().to_numpy())[0])
            raise ForecastInputError(f"{who}: column 'release_date' is empty for title {labels[i]!r}")
    else:
        out["release_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")

    formats = frame["format"].map(lambda v: None if _is_missing(v) else str(v).strip().lower())
    bad = ~formats.isin(FORMATS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ForecastInputError(
            f"{who}: column 'format' must be one of {FORMATS}; "
            f"title {labels[i]!r} has {frame['format'].iloc[i]!r}"
        )
    out["format"] = formats

    genres = frame["genres"] if "genres" in frame.columns else pd.Series([[]] * len(frame))
    out["genres"] = [parse_genres(v, where=f"{who}, title {t!r}") for v, t in zip(genres, labels)]
    talent = frame["talent"] if "talent" in frame.columns else pd.Series([[]] * len(frame))
    parsed = [parse_credits(v, where=f"{who}, title {t!r}") for v, t in zip(talent, labels)]
    out["talent"] = [credits for credits, _ in parsed]
    out["billing"] = [billing for _, billing in parsed]
    if "billing" in frame.columns:  # an already canonical frame: its credits are (talent_id, role)
        out["billing"] = [
            [float(b) for b in given] if isinstance(given, (list, tuple)) and len(given) == len(billing)
            and all(math.isnan(b) for b in billing) else billing
            for given, billing in zip(frame["billing"], out["billing"])
        ]

    for column in ("runtime_minutes", "episodes", "budget"):
        values = _numeric(frame, column, who=who, labels=labels)
        negative = values < 0
        if negative.any():
            i = int(np.flatnonzero(negative.to_numpy())[0])
            raise ForecastInputError(
                f"{who}: column {column!r} must be positive (0 = unknown); title {labels[i]!r} has {values.iloc[i]}"
            )
        fractional = values.notna() & (values % 1 != 0) & (out["format"] == "series") if column == "episodes" \
            else None
        if fractional is not None and fractional.any():
            i = int(np.flatnonzero(fractional.to_numpy())[0])
            raise ForecastInputError(
                f"{who}: column 'episodes' must be a whole number; title {labels[i]!r} has {values.iloc[i]}")
        # Catalogue sources write 0 for an unknown runtime or budget: no production has either.
        out[column] = values.mask(values == 0)
    share = _numeric(frame, AVAILABILITY, who=who, labels=labels)
    outside = (share < 0) | (share > 1)
    if outside.any():
        i = int(np.flatnonzero(outside.to_numpy())[0])
        raise ForecastInputError(
            f"{who}: column {AVAILABILITY!r} must be a share in [0, 1] (1 = available to every "
            f"member on the release day); title {labels[i]!r} has {share.iloc[i]}"
        )
    out[AVAILABILITY] = share
    # A film is one episode whatever the source says.
    out.loc[out["format"] == "film", "episodes"] = 1.0

    out["original_language"] = _text(frame, "original_language", str.lower)
    out["origin_country"] = _text(frame, "origin_country", str.upper)
    out[SHOW] = _text(frame, SHOW, str)

    if target is not None:
        values = _numeric(frame, target, who=who, labels=labels)
        if values.isna().any():
            i = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ForecastInputError(
                f"{who}: column {target!r} is empty for title {labels[i]!r} "
                f"({int(values.isna().sum())} empty in all); drop those titles or fill them"
            )
        if target_kind == "proportion":
            bad = (values < 0) | (values > 1)
            expected = "a proportion in [0, 1]"
        else:
            bad = values < 0
            expected = "a non-negative count"
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ForecastInputError(
                f"{who}: column {target!r} must be {expected}; title {labels[i]!r} has {values.iloc[i]}"
            )
        out[target] = values
    return out


# --- Files: one YAML pitch, or a CSV slate of pitches -------------------------------------

def _warn_unread(fields: Iterable[Any], who: str) -> None:
    """Warn about fields a pitch file has that nothing reads: a misspelt `genre` would
    otherwise pass for a pitch without genres."""
    unread = [str(f) for f in fields if f not in PITCH_FIELDS and f not in DESCRIPTIVE_FIELDS]
    if unread:
        log.warning("%s: ignored %s (not pitch fields; those are %s)", who, ", ".join(map(repr, unread)),
                    ", ".join(PITCH_FIELDS))


def load_pitch(path: str | Path) -> pd.DataFrame:
    """Read one production from a YAML file into a one-row pitch frame.

    The keys are the pitch columns (see docs/examples/pitch.yaml); `talent` may be a list
    of `{talent_id, role}` mappings or of `talent_id:role` strings.
    """
    import yaml  # pyyaml is a project dependency; imported here to keep module import light

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date like 2026-13-45
        raise ForecastInputError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(document, Mapping):
        raise ForecastInputError(f"{path}: expected a mapping of pitch fields at the top level")
    record = dict(document)
    _warn_unread(record, str(path))
    if "title_id" not in record and "pitch_id" in record:
        record["title_id"] = record.pop("pitch_id")
    record.setdefault("title_id", path.stem)
    frame = pd.DataFrame([{key: value for key, value in record.items()}])
    # Keep list fields as single cells (DataFrame([...]) already does for lists).
    normalise_titles(frame, who=str(path), is_history=False)  # fail early, naming the file
    return frame


def load_slate(path: str | Path) -> pd.DataFrame:
    """Read a slate of pitches from CSV: one row per pitch.

    `genres` and `talent` are `;`-separated, talent as `talent_id:role`, for example
    `drama;thriller` and `t-0001:director;t-0042:actor` (or as in a history: `|`- or
    `,`-separated, or a list written as JSON).
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise EmptySlateError(f"{path}: empty file; a slate is a header line, then one line per pitch") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ForecastInputError(f"{path}: not a CSV file this reader can parse ({error})") from None
    _check_columns(frame, REQUIRED_PITCH_COLUMNS, who=str(path))
    _warn_unread(frame.columns, str(path))
    if frame.empty:
        raise EmptySlateError(f"{path}: no pitches, only a header line")
    for column in ("genres", "talent"):
        if column in frame.columns:
            # A cell that is no list stays as it is, for normalise_titles to name below.
            lists = frame[column].map(_as_list)
            frame[column] = [v if items is None else items for v, items in zip(frame[column], lists)]
    if "title_id" not in frame.columns and "pitch_id" in frame.columns:
        frame = frame.rename(columns={"pitch_id": "title_id"})
    if "title_id" in frame.columns and frame["title_id"].isna().any():
        line = int(np.flatnonzero(frame["title_id"].isna().to_numpy())[0]) + 2  # header is line 1
        raise ForecastInputError(f"{path}, line {line}: column 'title_id' is empty")
    for column in NUMERIC_COLUMNS:
        if column in frame.columns:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            bad = numbers.isna() & frame[column].notna()
            if bad.any():
                line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # header is line 1
                raise ForecastInputError(
                    f"{path}, line {line}: column {column!r} must be a number, got {frame[column][bad].iloc[0]!r}"
                )
            frame[column] = numbers
    pitches = normalise_titles(frame, who=str(path), is_history=False)  # its errors name the pitch's title_id
    duplicated = pitches["title_id"].duplicated()
    if duplicated.any():
        raise ForecastInputError(f"{path}: pitch id {pitches['title_id'][duplicated].iloc[0]!r} appears twice; "
                                 "give every row its own title_id")
    return frame


# --- The warehouse's training mart --------------------------------------------------------
MART_TARGETS = ("views_28d", "completion_rate_28d")


def history_from_training_mart(training: pd.DataFrame, data_from=None) -> pd.DataFrame:
    """`marts.fct_title_training` (as a pandas frame, however it was read) as the history
    `fit` takes: its rows with a complete 28-day window, released on or after `data_from`
    (the warehouse's first event date: an older title's window closed inside the data, but
    its first days were never observed; the mart no longer calls it complete, and the
    filter keeps a mart built before that rule honest).

    One row per film or series season: `title_id` (the programme id), release_date, format,
    genres, talent (`{talent_id, role[, billing_order]}`; billing only where the mart has
    it), runtime_minutes per episode (the mart holds a season's total), episodes, language,
    origin, `release_availability_share` (NaN where the mart has none or no such column),
    `show_id` (a season's show; None for films, or with a mart that has no such column),
    views_28d and completion_rate_28d (NaN when nobody started). Outcomes are read, never
    recomputed. Sorted by release date.
    """
    rows = training[training["is_window_complete"].fillna(False).astype(bool)]
    if data_from is not None and not pd.isna(data_from):
        rows = rows[pd.to_datetime(rows["release_date"]) >= pd.Timestamp(data_from)]
    episodes = pd.to_numeric(rows["episodes"], errors="coerce").astype(float)
    runtime = pd.to_numeric(rows["runtime_minutes"], errors="coerce").astype(float)
    per_episode = (rows["format"] == "series") & episodes.gt(0)
    frame = pd.DataFrame({
        "title_id": rows["programme_id"].astype(str),
        "release_date": pd.to_datetime(rows["release_date"]),
        "format": rows["format"],
        "genres": rows["genres"].map(lambda g: [] if g is None else list(g)),
        "talent": rows["talent"].map(lambda t: [] if t is None else [_mart_credit(c) for c in t]),
        "runtime_minutes": runtime.where(~per_episode, runtime / episodes),
        "episodes": episodes,
        "original_language": rows["original_language"],
        "origin_country": rows["origin_country"],
        AVAILABILITY: pd.to_numeric(rows[AVAILABILITY], errors="coerce").astype(float)
        if AVAILABILITY in rows.columns else np.nan,
        SHOW: rows[SHOW] if SHOW in rows.columns else None,
        **{t: pd.to_numeric(rows[t], errors="coerce").astype(float) if t in rows.columns else np.nan
           for t in MART_TARGETS},
    })
    return frame.sort_values(["release_date", "title_id"], kind="mergesort").reset_index(drop=True)


def _mart_credit(credit) -> dict:
    """A mart credit (a dict, or a Spark Row) as the model takes it."""
    c = credit.asDict() if hasattr(credit, "asDict") else dict(credit)
    out = {"talent_id": c["talent_id"], "role": c["role"]}
    if c.get("billing_order") is not None and not pd.isna(c["billing_order"]):
        out["billing_order"] = int(c["billing_order"])
    return out
