"""An independent, plain-Python reading of the landing files.

It follows docs/event-contract.md from scratch (json, gzip, hmac from the standard
library) and shares no code with the Spark jobs, so comparing the two checks both.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

EVENT_TYPES = {"play_start", "heartbeat", "pause", "resume", "seek", "play_stop"}
DEVICES = {"tv", "mobile", "tablet", "web", "console"}
STRING_FIELDS = ("event_id", "event_type", "account_id", "profile_id", "session_id", "title_id",
                 "device_type", "country", "app_version")
REQUIRED = STRING_FIELDS + ("event_ts", "received_ts", "position_s", "schema_version")


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _ts(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:  # to naive UTC, as the warehouse stores it
        parsed = parsed.replace(tzinfo=None) - parsed.utcoffset()
    return parsed


def read_lines(path: Path) -> list[bytes | None]:
    """Lines of one landing file; a truncated gzip's unreadable tail is one `None`."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(raw)
            tail = False
        except (EOFError, OSError, zlib.error):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(raw)
            data = data[: data.rfind(b"\n") + 1]
            tail = True
    else:
        data, tail = raw, False
    lines: list[bytes | None] = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if tail:
        lines.append(None)
    return lines


@dataclass
class Event:
    event_id: str
    event_type: str
    event_ts: datetime
    received_ts: datetime
    received_date: date
    account_id: str
    profile_id: str
    session_id: str
    title_id: str
    position_s: float
    device_type: str
    country: str


def classify(line: bytes | None) -> tuple[str | None, dict | None]:
    """(reason, record): reason is None for a line that passes the per-line checks."""
    if line is None:
        return "truncated_file", None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        rec = json.loads(text)
    except ValueError:
        return "malformed_json", None
    if not isinstance(rec, dict):
        return "malformed_json", None
    for name in REQUIRED:
        if rec.get(name) is None:
            return "missing_field", None
    if rec["schema_version"] != 1:
        return "unsupported_schema_version", None
    pos = rec["position_s"]
    if isinstance(pos, bool) or not isinstance(pos, (int, float)) or not math.isfinite(pos) or pos < 0:
        return "invalid_field", None
    if _ts(rec["event_ts"]) is None or _ts(rec["received_ts"]) is None:
        return "invalid_field", None
    if rec["event_type"] not in EVENT_TYPES or rec["device_type"] not in DEVICES:
        return "invalid_field", None
    c = rec["country"]
    if not (isinstance(c, str) and len(c) == 2 and c.isascii() and c.isupper()):
        return "invalid_field", None
    if any(not isinstance(rec[f], str) or rec[f] == "" for f in STRING_FIELDS):
        return "invalid_field", None
    return None, rec


def catalogue(landing: Path) -> dict[date, dict[str, dict]]:
    out = {}
    for folder in sorted((landing / "catalog").glob("snapshot_date=*")):
        day = date.fromisoformat(folder.name.split("=", 1)[1])
        rows = [json.loads(l) for l in (folder / "titles.jsonl").read_text().splitlines() if l.strip()]
        out[day] = {r["title_id"]: r for r in rows}
    return out


@dataclass
class DayCounts:
    lines_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0


def accept_events(landing: Path, key: bytes, received_dates: list[date], lateness_days: int = 3,
                  lookback_days: int = 3) -> tuple[list[Event], dict[date, DayCounts], dict[str, int]]:
    """Every accepted event over the received dates, in processing order, plus counts."""
    snaps = catalogue(landing)
    accepted: list[Event] = []
    accepted_on: dict[str, date] = {}
    counts: dict[date, DayCounts] = {}
    reasons: dict[str, int] = defaultdict(int)
    for day in received_dates:
        known = set()
        for snap_day, titles in snaps.items():
            if snap_day <= day:
                known.update(titles)
        c = counts[day] = DayCounts()
        candidates = []
        for path in sorted((landing / "events" / f"received_date={day}").glob("hour=*/*.jsonl*")):
            for n, line in enumerate(read_lines(path), start=1):
                c.lines_read += 1
                reason, rec = classify(line)
                if reason is None:
                    ets, rts = _ts(rec["event_ts"]), _ts(rec["received_ts"])
                    lag = (rts - ets).total_seconds()
                    if lag > lateness_days * 86400:
                        reason = "too_late"
                    elif lag < -300:
                        reason = "future_event"
                    elif rec["title_id"] not in known:
                        reason = "unknown_title"
                if reason is not None:
                    c.quarantined += 1
                    reasons[reason] += 1
                    continue
                candidates.append(((rts, str(path), n), rec, ets, rts))
        candidates.sort(key=lambda x: x[0])
        for _, rec, ets, rts in candidates:
            seen = accepted_on.get(rec["event_id"])
            if seen is not None and (seen == day or (day - seen).days <= lookback_days):
                c.duplicates += 1
                reasons["duplicate"] += 1
                continue
            accepted_on[rec["event_id"]] = day
            c.accepted += 1
            accepted.append(Event(
                rec["event_id"], rec["event_type"], ets, rts, day,
                pseudonym(key, rec["account_id"]), pseudonym(key, rec["profile_id"]),
                rec["session_id"], rec["title_id"], float(rec["position_s"]), rec["device_type"], rec["country"],
            ))
    return accepted, counts, dict(reasons)


STATE = {"play_start": True, "resume": True, "heartbeat": True, "pause": False, "play_stop": False}


def sessions(events: list[Event], runtimes: dict[str, int], heartbeat_s: int = 60) -> dict[str, dict]:
    by_session: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_session[e.session_id].append(e)
    out = {}
    for sid, evs in by_session.items():
        evs.sort(key=lambda e: (e.event_ts, e.event_id))
        runtime = runtimes[evs[0].title_id]
        playing = False
        play = 0.0
        segments = []
        for i, e in enumerate(evs):
            if e.event_type in STATE:
                playing = STATE[e.event_type]
            if playing and i + 1 < len(evs):
                credit = min((evs[i + 1].event_ts - e.event_ts).total_seconds(), 2.0 * heartbeat_s)
                play += credit
                start, end = min(e.position_s, runtime), min(e.position_s + credit, runtime)
                if end > start:
                    segments.append((start, end))
        merged: list[list[float]] = []
        for s, t in sorted(segments):
            if merged and merged[-1][1] >= s:
                merged[-1][1] = max(merged[-1][1], t)
            else:
                merged.append([s, t])
        first = evs[0]
        out[sid] = {
            "title_id": first.title_id, "profile_id": first.profile_id, "account_id": first.account_id,
            "device_type": first.device_type, "country": first.country,
            "session_start_ts": first.event_ts, "session_end_ts": evs[-1].event_ts,
            "event_date": first.event_ts.date(),
            "play_time_s": play,
            "content_watched_s": sum(t - s for s, t in merged),
            "contiguous_progress_s": _contiguous(merged),
            "max_position_s": max(e.position_s for e in evs),
            "runtime_s": runtime, "event_count": len(evs),
            "has_play_stop": any(e.event_type == "play_stop" for e in evs),
            "has_late_events": any(e.received_date > e.event_ts.date() for e in evs),
            "watched_segments": [tuple(m) for m in merged],
        }
    return out


def _contiguous(merged: list[list[float]], tolerance_s: float = 1.0) -> float:
    """How far from 0 the viewer got without a hole longer than the tolerance."""
    if not merged or merged[0][0] > 0:
        return 0.0
    reach = 0.0
    for start, end in merged:
        if start > reach + tolerance_s:
            break
        reach = max(reach, end)
    return reach


def received_dates(landing: Path) -> list[date]:
    return sorted(date.fromisoformat(p.name.split("=", 1)[1]) for p in (landing / "events").glob("received_date=*"))


def runtimes(landing: Path) -> dict[str, int]:
    latest = max(catalogue(landing).items())[1]
    return {t: r["runtime_s"] for t, r in latest.items()}
