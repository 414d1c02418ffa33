"""Transforms for playback events: parse, validate, pseudonymise, deduplicate."""

from __future__ import annotations

import hashlib
from typing import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from slatehouse.contract.schema import (
    DEVICE_TYPES,
    EVENT_SCHEMA,
    EVENT_TYPES,
    SCHEMA_VERSION,
    UTC_TIMESTAMP_PATTERN,
)

Transform = Callable[[DataFrame], DataFrame]

# Parse every contract field as text first, so a wrong type is reported as such rather
# than turning into a silent null.
_RAW_SCHEMA = StructType(
    [StructField(f.name, StringType(), True) for f in EVENT_SCHEMA.fields]
    + [StructField("_corrupt_record", StringType(), True)]
)
# Reading every field as text also reads 12 as "12" and "12.5" as 12.5, so the JSON type
# of each value is checked too: a quoted number, or a bare number, boolean, list or object
# for a string. A pattern on the line finds the lines that may have one (cheap, and almost
# never true); only those are parsed again, as a variant, to check the kind of each
# top-level value, so an extra field's nested object may reuse a contract field's name.
_TEXT_FIELDS = [f.name for f in EVENT_SCHEMA.fields if isinstance(f.dataType, (StringType, TimestampType))]
_NUMBER_FIELDS = [f.name for f in EVENT_SCHEMA.fields if f.name not in _TEXT_FIELDS]
_WRONG_KIND = ('"(?:(?:' + "|".join(_NUMBER_FIELDS) + ')"\\s*:\\s*"|(?:'
               + "|".join(_TEXT_FIELDS) + ')"\\s*:\\s*[-0-9tf\\[{])')
# Spark's JSON reader accepts more than JSON by default: 'single quotes' (Python's
# str(dict)) and NaN/Infinity. A contract line is JSON.
_STRICT_JSON = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}


def _wrong_kind_field() -> Column:
    """The first contract field (in the contract's order) whose top-level JSON value is the
    wrong kind, or null."""
    suspect = F.regexp_extract("line", _WRONG_KIND, 0) != ""
    kinds = {name: F.expr(f"schema_of_variant(try_variant_get(try_parse_json(line), '$.{name}'))")
             for name in _NUMBER_FIELDS + _TEXT_FIELDS}
    wrong = [(kinds[name] == "STRING") if name in _NUMBER_FIELDS else ~kinds[name].isin("STRING", "VOID")
             for name in (f.name for f in EVENT_SCHEMA.fields)]
    first = F.coalesce(*[F.when(is_wrong, F.lit(f.name)) for f, is_wrong in zip(EVENT_SCHEMA.fields, wrong)])
    return F.when(suspect, first)
_TIMESTAMP_FIELDS = [f.name for f in EVENT_SCHEMA.fields if isinstance(f.dataType, TimestampType)]
FUTURE_TOLERANCE_S = 300
# A playhead may run a little past the catalogue's runtime (credits, rounding); beyond this
# multiple of it an event is refused. The silver gate's max_position_to_runtime bound.
POSITION_PAST_RUNTIME = 1.1


def parse_events(lines: DataFrame) -> DataFrame:
    """(file, line number, line, line_error) -> the contract's typed columns + reason.

    `reason_code` is null for a valid line; otherwise one of QUARANTINE_REASONS, with
    `reason_detail` naming the field or value at fault.
    """
    raw = F.from_json("line", _RAW_SCHEMA,
                      {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record", **_STRICT_JSON})
    df = lines.withColumn("_raw", raw)
    typed = {
        f.name: F.col(f"_raw.{f.name}").try_cast(f.dataType).alias(f.name) for f in EVENT_SCHEMA.fields
    }
    df = df.select(
        "*", *typed.values(),
        _wrong_kind_field().alias("_wrong_kind"),
    )
    wrong_name = F.col("_wrong_kind")
    quoted = wrong_name.isin(*_NUMBER_FIELDS)

    missing = [
        (F.col(f"_raw.{f.name}").isNull(), f.name) for f in EVENT_SCHEMA.fields
    ]
    invalid = [
        (F.col(f.name).isNull(), f.name) for f in EVENT_SCHEMA.fields  # present, did not cast
    ] + [
        (~F.col("event_type").isin(*EVENT_TYPES), "event_type"),
        (~F.col("device_type").isin(*DEVICE_TYPES), "device_type"),
        (~F.col("country").rlike("^[A-Z]{2}$"), "country"),
        (F.col("position_s") < 0, "position_s"),
        (F.isnan("position_s"), "position_s"),
        (F.length(F.trim("event_id")) == 0, "event_id"),
        (F.length(F.trim("session_id")) == 0, "session_id"),
        (F.length(F.trim("account_id")) == 0, "account_id"),
        (F.length(F.trim("profile_id")) == 0, "profile_id"),
        (F.length(F.trim("title_id")) == 0, "title_id"),
    ] + [
        (~F.col(f"_raw.{name}").rlike(UTC_TIMESTAMP_PATTERN), name) for name in _TIMESTAMP_FIELDS
    ]
    # The reader's verdict on the raw line: "reason" or "reason: detail".
    has_error = F.col("line_error").isNotNull()
    reason = F.when(has_error, F.substring_index("line_error", ": ", 1))
    detail = F.when(has_error, F.when(F.instr("line_error", ": ") > 0,
                                      F.expr("substr(line_error, instr(line_error, ': ') + 2)")))
    not_object = F.col("_raw").isNull() | F.col("_raw._corrupt_record").isNotNull()
    reason = reason.when(not_object, "malformed_json")
    detail = detail.when(not_object, F.lit("not a JSON object"))
    for cond, name in missing:
        reason = reason.when(cond, "missing_field")
        detail = detail.when(cond, F.lit(name))
    version_text = quoted & (wrong_name == "schema_version")
    version_bad = version_text | F.col("schema_version").isNull() | (F.col("schema_version") != SCHEMA_VERSION)
    reason = reason.when(version_bad, "unsupported_schema_version")
    detail = detail.when(version_text, F.concat(F.lit('schema_version="'), F.col("_raw.schema_version"), F.lit('"')))
    detail = detail.when(version_bad, F.concat(F.lit("schema_version="), F.col("_raw.schema_version")))
    wrong_kind = F.col("_wrong_kind").isNotNull()
    reason = reason.when(wrong_kind, "invalid_field")
    detail = detail.when(wrong_kind, F.concat(
        wrong_name, F.when(quoted, F.lit(" is a JSON string, not a number")).otherwise(F.lit(" is not a JSON string"))))
    for cond, name in invalid:
        reason = reason.when(cond, "invalid_field")
        detail = detail.when(cond, F.concat(F.lit(f"{name}="), F.coalesce(F.col(f"_raw.{name}"), F.lit("null"))))
    return (
        df.withColumn("reason_code", reason)
        .withColumn("reason_detail", detail)
        .withColumn("event_id", F.coalesce(F.col("event_id"), F.col("_raw.event_id")))
        .drop("_raw", "line_error", "_wrong_kind")
    )


def with_lateness(lateness_days: int) -> Transform:
    """Quarantine events too far behind or ahead of the server's clock, and events whose
    `received_ts` is not on the received date of their folder (UTC): the folder is the
    server's record of when it received them, so lateness and reruns go by it."""

    def transform(df: DataFrame) -> DataFrame:
        valid = F.col("reason_code").isNull()
        misfiled = valid & (F.to_date("received_ts") != F.col("received_date"))
        lag_s = F.col("received_ts").cast("double") - F.col("event_ts").cast("double")
        too_late = valid & ~misfiled & (lag_s > lateness_days * 86400)
        future = valid & ~misfiled & (lag_s < -FUTURE_TOLERANCE_S)
        return (
            df.withColumn(
                "reason_detail",
                F.when(misfiled, F.concat(F.lit("received_ts="), F.date_format("received_ts", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
                                          F.lit(" is not on the folder's received_date="), F.col("received_date")))
                .when(too_late | future, F.concat(F.lit("received_ts - event_ts = "), F.round(lag_s, 0).cast("long"), F.lit(" s")))
                .otherwise(F.col("reason_detail")),
            )
            .withColumn(
                "reason_code",
                F.when(misfiled, "invalid_field").when(too_late, "too_late").when(future, "future_event")
                .otherwise(F.col("reason_code")),
            )
        )

    return transform


def check_titles(catalog: DataFrame) -> Transform:
    """Quarantine events whose title_id no catalogue snapshot up to their received date
    lists (`unknown_title`), and events whose playhead is past the title's runtime by more
    than `POSITION_PAST_RUNTIME` (`invalid_field`: one broken client must not hold back the
    day at the silver gate). `catalog`: title_id, first_listed, and optionally
    max_runtime_s (the longest runtime any snapshot gave it)."""

    def transform(df: DataFrame) -> DataFrame:
        runtime = F.col("max_runtime_s") if "max_runtime_s" in catalog.columns else F.lit(None).cast("long")
        known = catalog.select(F.col("title_id").alias("_known_title"), F.col("first_listed").alias("_first_listed"),
                               runtime.alias("_max_runtime_s"))
        joined = df.join(F.broadcast(known), df["title_id"] == known["_known_title"], "left")
        unknown = F.col("reason_code").isNull() & (
            F.col("_first_listed").isNull() | (F.col("_first_listed") > F.col("received_date"))
        )
        past_end = F.col("reason_code").isNull() & ~unknown & (F.col("_max_runtime_s") > 0) & (
            F.col("position_s") > F.col("_max_runtime_s") * POSITION_PAST_RUNTIME)
        return (
            joined.withColumn(
                "reason_detail",
                F.when(unknown, F.concat(F.lit("title_id="), F.col("title_id")))
                .when(past_end, F.concat(F.lit("position_s="), F.col("position_s").cast("string"),
                                         F.lit(" past the runtime_s="), F.col("_max_runtime_s").cast("string")))
                .otherwise(F.col("reason_detail")))
            .withColumn("reason_code", F.when(unknown, "unknown_title").when(past_end, "invalid_field")
                        .otherwise(F.col("reason_code")))
            .drop("_known_title", "_first_listed", "_max_runtime_s")
        )

    return transform


def dedupe_events(prior: DataFrame, lookback_days: int) -> Transform:
    """Mark repeated deliveries of an event_id as `duplicate`.

    Within the batch the first delivery (by received_ts, file, line) is kept; a later one
    is a duplicate when it arrives within `lookback_days` of the first. A delivery is also
    a duplicate when the same event_id was accepted from another received date, before or
    after this batch's, within `lookback_days` of it (`prior`: event_id, received_date): a
    late file for a date that already ran does not accept again what a later date took.
    Only valid events take part; invalid ones keep their reason.
    """

    def transform(df: DataFrame) -> DataFrame:
        other = prior.groupBy(F.col("event_id").alias("_prior_id")).agg(
            F.min("received_date").alias("_prior_first"), F.max("received_date").alias("_prior_last"))
        valid = F.col("reason_code").isNull()
        order = Window.partitionBy("event_id", valid).orderBy("received_ts", "_source_file", "_line_number")
        marked = (
            df.withColumn("_rank", F.when(valid, F.row_number().over(order)))
            .withColumn("_first_received", F.when(valid, F.first("received_date").over(order)))
            .join(other, F.col("event_id") == F.col("_prior_id"), "left")
        )
        within = lambda other_date: F.abs(F.datediff("received_date", other_date)) <= lookback_days  # noqa: E731
        dup = valid & (
            ((F.col("_rank") > 1) & within(F.col("_first_received")))
            | (F.col("_prior_first").isNotNull() & (within(F.col("_prior_first")) | within(F.col("_prior_last"))))
        )
        return (
            marked.withColumn("reason_detail", F.when(dup, F.concat(F.lit("event_id="), F.col("event_id"))).otherwise(F.col("reason_detail")))
            .withColumn("reason_code", F.when(dup, "duplicate").otherwise(F.col("reason_code")))
            .drop("_rank", "_first_received", "_prior_id", "_prior_first", "_prior_last")
        )

    return transform


def hmac_sha256_hex(column: Column, key: bytes) -> Column:
    """HMAC-SHA256 (RFC 2104) of a string column, as lower-case hex, computed in the JVM."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    ipad = bytearray(b ^ 0x36 for b in key)
    opad = bytearray(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.encode(column, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


MEMBER_ID_FIELDS = ("account_id", "profile_id")


def pseudonymise(key: bytes) -> Transform:
    """Replace member ids with keyed pseudonyms, in the columns and in the raw lines that
    are kept (quarantined ones); accepted lines' raw text is dropped."""

    def transform(df: DataFrame) -> DataFrame:
        for name in MEMBER_ID_FIELDS:
            df = df.withColumn(name, F.when(F.col(name).isNotNull(), hmac_sha256_hex(F.col(name), key)))
        if "line" in df.columns:
            # Only quarantined lines are kept raw; the others need no redaction at all.
            kept = F.col("reason_code").isNotNull() if "reason_code" in df.columns else F.lit(True)
            df = df.withColumn("line", F.when(kept, redact_line(F.col("line"), key)))
        return df

    return transform


def redact_line(line: Column, key: bytes) -> Column:
    """Swap the values of member-id fields inside a raw line for their pseudonyms.

    Works on broken lines too (unquoted or unterminated values), because quarantined
    lines are exactly the ones that are not well-formed. A line that lacks a member-id
    field is left to `withhold_unredactable_lines`.
    """
    out = line
    for name in MEMBER_ID_FIELDS:
        pattern = _member_id_pattern(name)
        value = _json_text(F.regexp_extract(out, pattern, 2))
        out = F.when(
            F.regexp_extract(out, pattern, 0) != "",
            F.regexp_replace(out, pattern, F.concat(F.lit('$1"'), hmac_sha256_hex(value, key), F.lit('"'))),
        ).otherwise(out)
    return out


def withhold_unredactable_lines(df: DataFrame) -> DataFrame:
    """A kept raw line in which a member-id field cannot be found keeps no text (null): it
    may hold the id under a name redaction cannot know (a producer's `accountId`, an
    escaped key), where the id could be neither redacted nor found by an erasure. Runs
    after `flag_erased_members`, which reads the ids a broken line does carry. The line's
    reason and counts stay, and the landing file keeps it until landing retention."""
    found = F.lit(True)
    for name in MEMBER_ID_FIELDS:
        found = found & (F.regexp_extract(F.col("line"), _member_id_pattern(name), 0) != "")
    return df.withColumn("line", F.when(found, F.col("line")))


def with_event_date(df: DataFrame) -> DataFrame:
    return df.withColumn("event_date", F.to_date("event_ts"))


def _member_id_pattern(name: str) -> str:
    """A member-id field and its value inside a raw line: a JSON string (escapes such as
    `\\u002d` included, so no part of the id is left out), an unterminated one, or a bare
    token."""
    return f'("{name}"\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*"?|[^,}}\\s]+)'


def _json_text(value: Column) -> Column:
    """A matched value as the id it stands for: a JSON string decoded as a JSON parser
    would (so the pseudonym is the one the parsed column gets), else the text between the
    quotes."""
    decoded = F.from_json(F.concat(F.lit("["), value, F.lit("]")), "array<string>").getItem(0)
    return F.coalesce(decoded, F.regexp_replace(value, '^"|"$', ""))


def _member_id_in_line(line: Column, name: str) -> Column:
    """The (already pseudonymised) value of a member-id field inside a raw line, found the
    way `redact_line` finds it, for lines too broken to have parsed columns."""
    return F.nullif(_json_text(F.regexp_extract(line, _member_id_pattern(name), 2)), F.lit(""))


def flag_erased_members(erased: DataFrame) -> Transform:
    """Quarantine the lines of erased members as `erased_member`, without their raw text.

    `erased`: one column, `pseudonym`. Runs after `pseudonymise`, so ids are compared as
    pseudonyms. A rerun or backfill over landing files written before an erasure thus
    cannot bring an erased member back, and the lines are still counted.
    """

    def transform(df: DataFrame) -> DataFrame:
        out = df
        flags = []
        for name in MEMBER_ID_FIELDS:
            flag = f"_erased_{name}"
            ids = F.broadcast(erased.select(F.col("pseudonym").alias(flag)).distinct())
            value = F.coalesce(F.col(name), _member_id_in_line(F.col("line"), name))
            out = out.join(ids, value == F.col(flag), "left")
            flags.append(F.col(flag).isNotNull())
        hit = flags[0] | flags[1]
        return (
            out.withColumn("reason_detail", F.when(hit, F.lit(None).cast("string")).otherwise(F.col("reason_detail")))
            .withColumn("reason_code", F.when(hit, "erased_member").otherwise(F.col("reason_code")))
            .withColumn("line", F.when(~hit, F.col("line")))
            .drop(*[f"_erased_{n}" for n in MEMBER_ID_FIELDS])
        )

    return transform
