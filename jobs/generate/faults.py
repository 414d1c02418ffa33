"""Dirt, injected on purpose and counted exactly.

Faults are disjoint so that each broken line has exactly one expected ingest outcome:
a session is at most one of late / too late / unknown title; duplicates and malformed
lines are drawn only from clean sessions. Clock skew can combine with lateness, but it
never crosses an ingest threshold on its own (skew is -10 min .. +4 min, below the 5
minute future tolerance, and late deliveries stay under 71 h).
"""

from __future__ import annotations

import json

import numpy as np

from slatehouse.generate.config import FaultRates

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

SESSION_CLEAN, SESSION_LATE, SESSION_TOO_LATE, SESSION_UNKNOWN_TITLE = 0, 1, 2, 3
SESSION_FAULTS = ("none", "late", "too_late", "unknown_title")

# kind -> (share of malformed lines, the reason_code ingest should give it)
MALFORMED_KINDS: dict[str, tuple[float, str]] = {
    "not_json": (0.12, "malformed_json"),
    "truncated_json": (0.14, "malformed_json"),
    "json_not_object": (0.05, "malformed_json"),
    "empty_line": (0.04, "malformed_json"),
    "missing_field": (0.12, "missing_field"),
    "null_field": (0.06, "missing_field"),
    "position_not_number": (0.08, "invalid_field"),
    "negative_position": (0.07, "invalid_field"),
    "bad_event_type": (0.07, "invalid_field"),
    "bad_device_type": (0.07, "invalid_field"),
    "invalid_timestamp": (0.08, "invalid_field"),
    "schema_version_2": (0.05, "unsupported_schema_version"),
    "invalid_utf8": (0.05, "invalid_utf8"),
}
REQUIRED_FIELDS = ("event_id", "event_type", "event_ts", "received_ts", "account_id", "profile_id",
                   "session_id", "title_id", "position_s", "device_type", "country",
                   "app_version", "schema_version")


def session_faults(rng: np.random.Generator, n_sessions: int, rates: FaultRates) -> np.ndarray:
    """One category per session: clean, late, too late or unknown title."""
    u = rng.random(n_sessions)
    edges = np.cumsum([rates.late_session, rates.too_late_session, rates.unknown_title_session])
    cat = np.searchsorted(edges, u, side="right").astype(np.int8) + 1
    return np.where(cat > 3, SESSION_CLEAN, cat).astype(np.int8)


def clock_skew(rng: np.random.Generator, n_profiles: int, rates: FaultRates) -> np.ndarray:
    """Per profile, how far its preferred device's clock is off (ms); 0 for most."""
    skewed = rng.random(n_profiles) < rates.clock_skew_profile
    mag = rng.integers(2_000, 240_000, n_profiles)
    # Slow clocks can lag by up to 10 minutes; fast ones stay under 4 minutes ahead.
    fast = rng.random(n_profiles) < 0.4
    skew = np.where(fast, mag, -np.minimum(mag * 2.5, 600_000).astype(np.int64))
    return np.where(skewed, skew, 0).astype(np.int64)


def received_times(rng: np.random.Generator, ev_session: np.ndarray, wall_ms: np.ndarray,
                   session_cat: np.ndarray, sess_first_ms: np.ndarray, sess_last_ms: np.ndarray) -> np.ndarray:
    """Server receipt: a network delay after the event, or an upload burst for offline sessions."""
    n = len(wall_ms)
    delay = np.minimum(rng.lognormal(np.log(250), 0.8, n), 20_000).astype(np.int64) + 20
    received = wall_ms + delay
    n_s = len(session_cat)
    span = sess_last_ms - sess_first_ms
    late_max = np.maximum(71 * HOUR_MS - span, 2 * HOUR_MS + 1)
    reconnect = np.where(
        session_cat == SESSION_LATE, sess_last_ms + rng.integers(2 * HOUR_MS, late_max),
        sess_last_ms + rng.integers(73 * HOUR_MS, 8 * DAY_MS, n_s))
    offline = np.isin(session_cat, (SESSION_LATE, SESSION_TOO_LATE))[ev_session]
    # The burst keeps the session's order, a few milliseconds apart.
    seq = np.arange(n) - np.searchsorted(ev_session, ev_session, side="left")
    burst = reconnect[ev_session] + seq * 7
    return np.where(offline, burst, received)


def duplicate_rows(rng: np.random.Generator, candidates: np.ndarray, rate: float,
                   received: np.ndarray, event_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-deliveries of clean events: which rows, and when each copy is received.

    Most retries land within minutes; some hours or a day later, in another folder. They
    stay inside the 3-day dedupe window and the lateness limit.
    """
    k = rng.binomial(len(candidates), rate) if len(candidates) else 0
    rows = np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.zeros(0, np.int64)
    u = rng.random(k)
    delay = np.where(u < 0.6, rng.integers(1_000, 600_000, k),
                     np.where(u < 0.9, rng.integers(600_000, 6 * HOUR_MS, k),
                              rng.integers(6 * HOUR_MS, 36 * HOUR_MS, k)))
    recv = np.minimum(received[rows] + delay, event_ts[rows] + 71 * HOUR_MS)
    recv = np.maximum(recv, received[rows] + 1)
    return rows, recv


def malformed_kinds(rng: np.random.Generator, k: int) -> list[str]:
    names = list(MALFORMED_KINDS)
    p = np.array([MALFORMED_KINDS[n][0] for n in names])
    return [names[i] for i in rng.choice(len(names), size=k, p=p / p.sum())]


def corrupt(rng: np.random.Generator, line: str, kind: str, new_event_id: str) -> tuple[bytes, str]:
    """A broken version of a valid event line, under a fresh event_id. Returns the raw
    bytes (no newline) and a detail naming what is wrong."""
    obj = json.loads(line)
    obj["event_id"] = new_event_id

    def dump(o) -> bytes:
        return json.dumps(o, separators=(",", ":")).encode()

    if kind == "not_json":
        choices = [b"<html><body>502 Bad Gateway</body></html>", b"heartbeat ok",
                   b"event_id=" + new_event_id.encode() + b"&event_type=heartbeat", b"{{{{"]
        return choices[int(rng.integers(len(choices)))], "not json"
    if kind == "truncated_json":
        raw = dump(obj)
        cut = int(rng.integers(10, len(raw) - 2))
        return raw[:cut], f"cut at byte {cut}"
    if kind == "json_not_object":
        return dump([obj["event_type"], obj["event_ts"], obj["position_s"]]), "json array"
    if kind == "empty_line":
        return b"", "empty line"
    if kind == "missing_field":
        f = REQUIRED_FIELDS[int(rng.integers(len(REQUIRED_FIELDS)))]
        del obj[f]
        return dump(obj), f
    if kind == "null_field":
        f = REQUIRED_FIELDS[1 + int(rng.integers(len(REQUIRED_FIELDS) - 1))]
        obj[f] = None
        return dump(obj), f
    if kind == "position_not_number":
        obj["position_s"] = ["abc", "12:30", "NaN"][int(rng.integers(3))]
        return dump(obj), "position_s"
    if kind == "negative_position":
        obj["position_s"] = -float(rng.integers(1, 5000))
        return dump(obj), "position_s"
    if kind == "bad_event_type":
        obj["event_type"] = ["buffering", "PLAY_START", "stop", "ad_start"][int(rng.integers(4))]
        return dump(obj), "event_type"
    if kind == "bad_device_type":
        obj["device_type"] = ["smartwatch", "TV", "car", "fridge"][int(rng.integers(4))]
        return dump(obj), "device_type"
    if kind == "invalid_timestamp":
        ts = obj["event_ts"]
        obj["event_ts"] = [ts[:10] + "T25:61:00.000Z", "yesterday", ts[:5] + "13-45" + ts[10:],
                           "1772400000"][int(rng.integers(4))]
        return dump(obj), "event_ts"
    if kind == "schema_version_2":
        obj["schema_version"] = 2
        return dump(obj), "schema_version"
    if kind == "invalid_utf8":
        raw = dump(obj)
        at = raw.index(b'"app_version":"') + len(b'"app_version":"')
        return raw[:at] + b"\xff\xfe" + raw[at:], "app_version"
    raise ValueError(f"unknown malformed kind {kind!r}; expected one of {sorted(MALFORMED_KINDS)}")
