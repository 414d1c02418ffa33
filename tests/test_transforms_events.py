"""Unit tests for the event transforms: tiny inline frames, one transform each."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from slatehouse.io import LINES_SCHEMA
from slatehouse.transforms.events import (
    check_titles,
    dedupe_events,
    parse_events,
    pseudonymise,
    with_lateness,
    withhold_unredactable_lines,
)

GOOD = {
    "event_id": "e1", "event_type": "heartbeat", "event_ts": "2026-03-01T20:01:00Z",
    "received_ts": "2026-03-01T20:01:02Z", "account_id": "acc-1", "profile_id": "prf-1",
    "session_id": "s1", "title_id": "f1", "position_s": 60.5, "device_type": "tv",
    "country": "FR", "app_version": "5.1", "schema_version": 1,
}


RECEIVED = date(2026, 3, 1)


def lines_df(spark, *lines, received=RECEIVED):
    rows = [("f.jsonl", i + 1, line, None) for i, line in enumerate(lines)]
    return spark.createDataFrame(rows, LINES_SCHEMA).withColumn("received_date", F.lit(received))


def with_(**changes):
    event = {**GOOD, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...})


def reasons(df):
    return [(r["_line_number"], r["reason_code"], r["reason_detail"]) for r in df.orderBy("_line_number").collect()]


def test_parse_events_types_a_valid_line(spark):
    out = lines_df(spark, with_(extra_field="ignored")).transform(parse_events).first()
    assert out["reason_code"] is None
    assert out["position_s"] == 60.5 and out["schema_version"] == 1
    assert out["event_ts"].isoformat() == "2026-03-01T20:01:00"


@pytest.mark.parametrize(
    "line, reason, detail",
    [
        ("not json", "malformed_json", "not a JSON object"),
        ('{"event_id": "e1", ', "malformed_json", "not a JSON object"),
        ("[1, 2]", "malformed_json", "not a JSON object"),
        (with_(session_id=...), "missing_field", "session_id"),
        (with_(title_id=None), "missing_field", "title_id"),
        (with_(position_s="abc"), "invalid_field", "position_s is a JSON string, not a number"),
        (with_(position_s="12.5"), "invalid_field", "position_s is a JSON string, not a number"),
        (with_(position_s=True), "invalid_field", "position_s=true"),
        (with_(account_id=12345), "invalid_field", "account_id is not a JSON string"),
        (with_(title_id=["f1"]), "invalid_field", "title_id is not a JSON string"),
        (with_(schema_version="1"), "unsupported_schema_version", 'schema_version="1"'),
        # The contract's timestamps are UTC with a Z: a zone-less or date-only value would
        # be read as UTC by guess, and an offset is not the contract's form.
        (with_(event_ts="2026-03-01T20:01:00"), "invalid_field", "event_ts=2026-03-01T20:01:00"),
        (with_(event_ts="2026-03-01"), "invalid_field", "event_ts=2026-03-01"),
        (with_(received_ts="2026-03-01T21:01:02+01:00"), "invalid_field", "received_ts=2026-03-01T21:01:02+01:00"),
        (with_(position_s=-3), "invalid_field", "position_s=-3"),
        (with_(event_type="rewind"), "invalid_field", "event_type=rewind"),
        (with_(device_type="fridge"), "invalid_field", "device_type=fridge"),
        (with_(country="france"), "invalid_field", "country=france"),
        (with_(event_ts="yesterday"), "invalid_field", "event_ts=yesterday"),
        (with_(schema_version=2), "unsupported_schema_version", "schema_version=2"),
        (with_(event_id="   "), "invalid_field", "event_id=   "),
    ],
)
def test_parse_events_names_the_reason(spark, line, reason, detail):
    out = lines_df(spark, line).transform(parse_events).first()
    assert (out["reason_code"], out["reason_detail"]) == (reason, detail)


def test_parse_events_is_not_misled_by_a_field_name_inside_a_value(spark):
    line = with_(app_version='5.1 "position_s": "x", "account_id": 7', event_ts="2026-03-01T20:01:00.250Z")
    out = lines_df(spark, line).transform(parse_events).first()
    assert (out["reason_code"], out["reason_detail"]) == (None, None)
    assert out["event_ts"].isoformat() == "2026-03-01T20:01:00.250000"


def test_parse_events_checks_only_the_top_level_values_kinds(spark):
    """An extra field may be an object that reuses a contract field's name with another kind
    (the contract ignores extra fields); a wrong kind at the top level is still refused."""
    nested = with_(ad={"title_id": 42, "position_s": "12"}, seek={"position_s": "12.5"})
    both = with_(ad={"title_id": 42}, position_s="12")
    out = reasons(lines_df(spark, nested, both).transform(parse_events))
    assert out == [(1, None, None), (2, "invalid_field", "position_s is a JSON string, not a number")]


def test_parse_events_reads_json_only_not_single_quotes_or_nan(spark):
    """Spark's reader accepts Python's str(dict) and a bare NaN unless told not to: such a
    line would skip the contract's type checks, and `{'a': 1}{'b': 2}` would lose its second
    event. Both are malformed JSON."""
    python_text = str({**GOOD, "position_s": "60.5"})
    two = str(GOOD) + str({**GOOD, "event_id": "e2"})
    nan = with_().replace('"position_s": 60.5', '"position_s": NaN')
    out = reasons(lines_df(spark, python_text, two, nan).transform(parse_events))
    assert out == [(n, "malformed_json", "not a JSON object") for n in (1, 2, 3)]


def test_parse_events_keeps_line_errors_from_the_reader(spark):
    rows = [("f.jsonl.gz", 7, '{"event_id": "e', "truncated_file"),
            ("f.jsonl", 8, "{}{}", "malformed_json: content after the JSON object")]
    out = spark.createDataFrame(rows, LINES_SCHEMA).transform(parse_events).orderBy("_line_number").collect()
    assert [(r["reason_code"], r["reason_detail"]) for r in out] == [
        ("truncated_file", None), ("malformed_json", "content after the JSON object")]


def test_with_lateness_refuses_a_received_ts_off_its_folders_date(spark):
    df = lines_df(
        spark,
        with_(received_ts="2001-01-01T00:00:00Z", event_ts="2001-01-01T00:00:00Z"),
        with_(received_ts="2026-03-02T00:00:01Z"),
        with_(),
    ).transform(parse_events).transform(with_lateness(3))
    assert reasons(df) == [
        (1, "invalid_field", "received_ts=2001-01-01T00:00:00Z is not on the folder's received_date=2026-03-01"),
        (2, "invalid_field", "received_ts=2026-03-02T00:00:01Z is not on the folder's received_date=2026-03-01"),
        (3, None, None),
    ]


def test_with_lateness_quarantines_too_late_and_future_events(spark):
    df = lines_df(
        spark,
        with_(event_ts="2026-02-26T20:00:00Z"),  # 3 days + 2 s late: too late
        with_(event_ts="2026-02-26T20:01:03Z"),  # 2 d 23 h 59 m 59 s: still on time
        with_(event_ts="2026-03-01T20:07:00Z"),  # 6 minutes ahead of the server
        with_(event_ts="2026-03-01T20:05:00Z"),  # 4 minutes ahead: clock skew, accepted
    ).transform(parse_events).transform(with_lateness(3))
    assert [r[1] for r in reasons(df)] == ["too_late", None, "future_event", None]


def test_check_titles(spark):
    catalog = spark.createDataFrame([("f1", RECEIVED), ("f2", date(2026, 3, 2))], "title_id string, first_listed date")
    df = lines_df(spark, with_(), with_(title_id="nope"), with_(title_id="f2")).transform(parse_events)
    out = df.transform(check_titles(catalog))
    # f2 is listed only from the next day's snapshot: unknown on this received date.
    assert reasons(out) == [(1, None, None), (2, "unknown_title", "title_id=nope"), (3, "unknown_title", "title_id=f2")]


def test_check_titles_refuses_a_playhead_far_past_the_runtime(spark):
    catalog = spark.createDataFrame([("f1", RECEIVED, 1000)], "title_id string, first_listed date, max_runtime_s long")
    df = lines_df(spark, with_(position_s=1100.0), with_(position_s=1100.5), with_(position_s=1e9))
    out = df.transform(parse_events).transform(check_titles(catalog))
    assert reasons(out) == [(1, None, None), (2, "invalid_field", "position_s=1100.5 past the runtime_s=1000"),
                            (3, "invalid_field", "position_s=1.0E9 past the runtime_s=1000")]


def test_dedupe_keeps_first_delivery_and_drops_ids_seen_before(spark):
    prior = spark.createDataFrame([("old", date(2026, 2, 27)), ("older", date(2026, 2, 25))],
                                  "event_id string, received_date date")
    df = lines_df(
        spark,
        with_(event_id="a", received_ts="2026-03-01T20:05:00Z"),
        with_(event_id="a", received_ts="2026-03-01T20:01:30Z"),  # earlier delivery wins
        with_(event_id="old"),
        with_(event_id="b", position_s="bad"),
        with_(event_id="b"),  # the invalid copy does not make this one a duplicate
        with_(event_id="older"),  # accepted 4 days ago: outside the 3-day lookback
    ).transform(parse_events).transform(dedupe_events(prior, 3))
    assert [r[1] for r in reasons(df)] == ["duplicate", None, "duplicate", "invalid_field", None, None]


def test_dedupe_across_received_dates_in_one_batch(spark):
    day = lambda n: f"2026-03-0{n}T10:00:00Z"  # noqa: E731
    lines = [
        ("f1.jsonl", 1, with_(event_id="a", received_ts=day(1), event_ts=day(1)), None, date(2026, 3, 1)),
        ("f2.jsonl", 1, with_(event_id="a", received_ts=day(3), event_ts=day(1)), None, date(2026, 3, 3)),
        ("f3.jsonl", 1, with_(event_id="a", received_ts=day(6), event_ts=day(6)), None, date(2026, 3, 6)),
    ]
    df = spark.createDataFrame(lines, "_source_file string, _line_number long, line string, "
                                      "line_error string, received_date date")
    empty = spark.createDataFrame([], "event_id string, received_date date")
    out = df.transform(parse_events).transform(dedupe_events(empty, 3)).orderBy("received_date").collect()
    # Two days after the first delivery: a duplicate. Five days after: a new delivery.
    assert [r["reason_code"] for r in out] == [None, "duplicate", None]


def test_dedupe_refuses_what_a_later_received_date_already_accepted(spark):
    # A late file for a date that already ran: "a" was accepted from the next day's folder.
    later = spark.createDataFrame([("a", date(2026, 3, 2)), ("far", date(2026, 3, 5))],
                                  "event_id string, received_date date")
    df = lines_df(spark, with_(event_id="a"), with_(event_id="far"), with_(event_id="new"))
    out = df.transform(parse_events).transform(dedupe_events(later, 3))
    assert [r[1] for r in reasons(out)] == ["duplicate", None, None]


def test_pseudonymise_is_keyed_hmac_sha256_and_redacts_raw_lines(spark):
    key = b"test-key"
    df = lines_df(spark, with_(), '{"account_id": 12345, "profile_id": "prf-9", broken')
    out = df.transform(parse_events).transform(pseudonymise(key)).orderBy("_line_number").collect()

    def expected(value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    assert out[0]["account_id"] == expected("acc-1")
    assert out[0]["profile_id"] == expected("prf-1")
    assert out[0]["line"] is None  # accepted: the raw line is not kept
    assert "prf-" not in out[1]["line"] and "12345" not in out[1]["line"]
    assert expected("12345") in out[1]["line"] and expected("prf-9") in out[1]["line"]



def test_a_quarantined_line_whose_member_ids_cannot_be_found_keeps_no_raw_text(spark):
    """A producer that renames a field (`accountId`) or escapes a key sends the raw id where
    redaction cannot find it: such a line is counted with its reason, without its text."""
    key = b"test-key"
    renamed = with_().replace('"account_id"', '"accountId"')
    escaped = with_(event_type="bogus").replace('"profile_id"', '"profile\\u005fid"')
    assert '"accountId": "acc-1"' in renamed and "profile\\u005fid" in escaped
    df = lines_df(spark, renamed, escaped, "not json at all")
    out = (df.transform(parse_events).transform(pseudonymise(key)).transform(withhold_unredactable_lines)
           .orderBy("_line_number").collect())
    assert all(row["reason_code"] is not None for row in out), [row["reason_code"] for row in out]
    assert [row["line"] for row in out] == [None, None, None]
    # A kept line with both fields keeps its (redacted) text.
    broken = lines_df(spark, '{"account_id": "acc-1", "profile_id": "prf-9", broken')
    kept = broken.transform(parse_events).transform(pseudonymise(key)).transform(withhold_unredactable_lines).first()
    assert kept["line"] is not None and "acc-1" not in kept["line"]


def test_a_raw_line_with_escaped_ids_is_redacted_whole_with_the_parsed_ids_pseudonym(spark):
    """`acc\\u002d000001` is acc-000001 to a JSON parser: the raw line gets that id's
    pseudonym (the one erasure looks for), and no part of the id stays in clear."""
    key = b"test-key"
    escaped = with_(event_type="bogus").replace('"acc-1"', '"acc\\u002d000001"').replace('"prf-1"', '"prf\\"-9"')
    assert "acc\\u002d000001" in escaped and 'prf\\"-9' in escaped
    df = lines_df(spark, escaped, '{"account_id": "acc\\u002d7", "profile_id": "prf-8')
    out = df.transform(parse_events).transform(pseudonymise(key)).orderBy("_line_number").collect()

    def expected(value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    assert out[0]["reason_code"] is not None and out[0]["account_id"] == expected("acc-000001")
    assert expected("acc-000001") in out[0]["line"] and expected('prf"-9') in out[0]["line"]
    assert out[1]["reason_code"] is not None
    assert expected("acc-7") in out[1]["line"] and expected("prf-8") in out[1]["line"]
    for row in out:
        assert "000001" not in row["line"] and "u002d" not in row["line"] and "-9" not in row["line"], row["line"]


def test_parse_then_select_matches_expected_frame(spark):
    df = lines_df(spark, with_()).transform(parse_events).select(
        "event_id", "title_id", "position_s", F.to_date("event_ts").alias("event_date")
    )
    expected = spark.createDataFrame([("e1", "f1", 60.5, date(2026, 3, 1))], df.schema)
    assertDataFrameEqual(df, expected)
