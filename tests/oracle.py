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
import re
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
    """A contract timestamp: ISO-8601 in UTC, seconds required, a Z suffix."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", value):
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
    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not part of the first line
        data = data[3:]
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
    if any(not isinstance(rec[f], str) or rec[f].strip() == "" for f in STRING_FIELDS):
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
                  lookback_days: int = 4) -> tuple[list[Event], dict[date, DayCounts], dict[str, int]]:
    """Every accepted event over the received dates, in processing order, plus counts."""
    snaps = catalogue(landing)
    accepted: list[Event] = []
    accepted_on: dict[str, date] = {}
    counts: dict[date, DayCounts] = {}
    reasons: dict[str, int] = defaultdict(int)
    for day in received_dates:
        known: dict[str, int] = {}  # title -> the longest runtime any snapshot so far gave it
        for snap_day, titles in snaps.items():
            if snap_day <= day:
                for title, row in titles.items():
                    known[title] = max(known.get(title, 0), row["runtime_s"])
        c = counts[day] = DayCounts()
        candidates = []
        folder = landing / "events" / f"received_date={day}"
        for path in sorted(p for p in folder.glob("hour=*/*") if p.name.endswith((".jsonl", ".jsonl.gz"))):
            for n, line in enumerate(read_lines(path), start=1):
                c.lines_read += 1
                reason, rec = classify(line)
                if reason is None:
                    ets, rts = _ts(rec["event_ts"]), _ts(rec["received_ts"])
                    lag = (rts - ets).total_seconds()
                    if rts.date() != day:  # the folder is the server's receipt date
                        reason = "invalid_field"
                    elif lag > lateness_days * 86400:
                        reason = "too_late"
                    elif lag < -300:
                        reason = "future_event"
                    elif rec["title_id"] not in known:
                        reason = "unknown_title"
                    elif rec["position_s"] > 1.1 * known[rec["title_id"]]:  # far past the runtime
                        reason = "invalid_field"
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
    """Each title's runtime as last listed."""
    out: dict[str, int] = {}
    for _, titles in sorted(catalogue(landing).items()):
        out.update({t: r["runtime_s"] for t, r in titles.items()})
    return out


# --- The marts, recomputed -----------------------------------------------------------------------
# Plain Python over `sessions()` and the catalogue snapshots, following docs/metrics.md. Nothing
# here reads the warehouse or the dbt SQL; the only thing taken from dbt/ is the list of
# European countries (a definition, the `european_countries` var).

WINDOWS = (1, 7, 28, 91)
STARTER_MIN_PLAY_S = 120
WATCHER_SHARE, COMPLETER_SHARE = 0.7, 0.9
TOP_BILLED_ACTORS = 3
ORIGIN_GROUPS = ("domestic", "other_european", "us", "rest_of_world")
FORMATS = ("film", "series")


def european_countries() -> set[str]:
    import yaml

    project = Path(__file__).resolve().parents[1] / "dbt" / "dbt_project.yml"
    return set(yaml.safe_load(project.read_text())["vars"]["european_countries"])


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def union(segments, runtime_s: float) -> tuple[float, float]:
    """(distinct seconds watched, contiguous progress from 0), clipped to the runtime.
    Touching stretches ([0, 60) and [60, 120)) join; contiguous progress also bridges a
    hole of up to a second (player jitter), as silver's does."""
    islands: list[list[float]] = []
    for s, e in sorted(segments):
        if e <= s:
            continue
        if islands and s <= islands[-1][1]:
            islands[-1][1] = max(islands[-1][1], e)
        else:
            islands.append([s, e])
    total = sum(max(min(e, runtime_s) - max(s, 0.0), 0.0) for s, e in islands)
    contiguous = min(_contiguous(islands), runtime_s) if islands and islands[0][0] <= 0 else 0.0
    return total, contiguous


def tiers(play_s: float, content_s: float, runtime_s: float) -> tuple[bool, bool, bool]:
    """(starter, watcher, completer)."""
    starter = play_s >= STARTER_MIN_PLAY_S
    return (starter, starter and content_s >= WATCHER_SHARE * runtime_s,
            starter and content_s >= COMPLETER_SHARE * runtime_s)


def median(values: list[float]) -> float | None:
    """Interpolated median (the mean of the middle two for an even count)."""
    if not values:
        return None
    v = sorted(values)
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def ratio(a, b):
    return a / b if b else None


@dataclass
class Programme:
    programme_id: str
    format: str  # film | series
    runtime_s: int
    release_date: date
    language: str
    origin_country: str
    titles: list[str]
    genre_places: dict[str, int]  # each genre's best place (0 = first) in any of its titles' lists

    @property
    def genres(self) -> list[str]:
        """In the catalogue's order: best place in any title's list, then name."""
        return sorted(self.genre_places, key=lambda g: (self.genre_places[g], g))


class Catalogue:
    """Every title as last listed (the latest snapshot that lists it: a title that left the
    catalogue keeps its last row) and every snapshot's availability."""

    def __init__(self, landing: Path, through: date):
        snaps = {d: rows for d, rows in catalogue(landing).items() if d <= through}
        self.snapshot_dates = sorted(snaps)
        self.snapshots = snaps
        self.titles: dict[str, dict] = {}
        for day in self.snapshot_dates:
            self.titles.update(snaps[day])
        # A show's language and origin are those of its first episode (release date, id).
        shows: dict[str, dict] = {}
        for t in sorted(self.titles.values(), key=lambda t: (t["release_date"], t["title_id"])):
            if t["title_type"] == "episode":
                shows.setdefault(t["show_id"], t)
        self.programme_of: dict[str, str] = {}
        self.programmes: dict[str, Programme] = {}
        for t in self.titles.values():
            film = t["title_type"] == "film"
            pid = t["title_id"] if film else f"{t['show_id']}-S{t['season_number']}"
            source = t if film else shows[t["show_id"]]
            p = self.programmes.setdefault(pid, Programme(
                pid, "film" if film else "series", 0, date.max, source["original_language"],
                source["origin_country"], [], {}))
            p.runtime_s += t["runtime_s"]
            p.release_date = min(p.release_date, date.fromisoformat(t["release_date"]))
            p.titles.append(t["title_id"])
            for place, genre in enumerate(dict.fromkeys(t["genres"])):
                p.genre_places[genre] = min(place, p.genre_places.get(genre, place))
            self.programme_of[t["title_id"]] = pid

    def runtime(self, title_id: str) -> int:
        return self.titles[title_id]["runtime_s"]

    def list_name(self, pid: str, market: str) -> str:
        """The global Top 10's lists split each format by original language; a country's do not."""
        p = self.programmes[pid]
        kind = "films" if p.format == "film" else "tv"
        return kind if market != "GLOBAL" else kind + ("_english" if p.language.lower() == "en" else "_non_english")

    def offered(self, month: date) -> dict[str, set[str]]:
        """country -> titles on offer in the month: released by its end, and listed as
        available in a snapshot whose validity [snapshot, next snapshot) overlaps it (the
        latest snapshot's listing holds until a later one says otherwise)."""
        first, last = month_start(month), month_end(month)
        out: dict[str, set[str]] = defaultdict(set)
        for i, snap in enumerate(self.snapshot_dates):
            following = self.snapshot_dates[i + 1] if i + 1 < len(self.snapshot_dates) else None
            if snap > last or (following is not None and following <= first):
                continue
            for t in self.snapshots[snap].values():
                if t["title_id"] in self.titles and date.fromisoformat(self.titles[t["title_id"]]["release_date"]) <= last:
                    for country in t["available_countries"]:
                        out[country].add(t["title_id"])
        return out


class Viewing:
    """Sessions indexed by profile and title, with cumulative progress as of any day."""

    def __init__(self, sessions: list[dict], cat: Catalogue):
        self.cat = cat
        self.all = sessions
        # Models that join sessions to the catalogue drop those of titles never listed.
        self.sessions = [s for s in sessions if s["title_id"] in cat.titles]
        self.by_pt: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for s in self.sessions:
            self.by_pt[(s["profile_id"], s["title_id"])].append(s)
        self.by_pp: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for s in self.sessions:
            self.by_pp[(s["profile_id"], cat.programme_of[s["title_id"]])].append(s)
        self.data_from = min(s["event_date"] for s in sessions)
        self.through = max(s["event_date"] for s in sessions)

    def title_progress(self, profile: str, title: str, day: date | None = None) -> tuple[float, float, float]:
        """(play_time_s, content_watched_s, contiguous_progress_s) up to the end of `day`."""
        mine = [s for s in self.by_pt[(profile, title)] if day is None or s["event_date"] <= day]
        content, contiguous = union([g for s in mine for g in s["watched_segments"]], self.cat.runtime(title))
        return sum(s["play_time_s"] for s in mine), content, contiguous

    def programme_progress(self, profile: str, pid: str, day: date | None = None) -> tuple[float, float]:
        """(play_time_s, content_watched_s) over the programme's titles up to the end of `day`."""
        play = content = 0.0
        for title in {s["title_id"] for s in self.by_pp[(profile, pid)]}:
            p, c, _ = self.title_progress(profile, title, day)
            play += p
            content += c
        return play, content

    def programme_tiers(self, profile: str, pid: str, day: date | None = None) -> tuple[bool, bool, bool]:
        play, content = self.programme_progress(profile, pid, day)
        return tiers(play, content, self.cat.programmes[pid].runtime_s)


def release_windows(v: Viewing) -> dict[tuple[str, int], dict]:
    """fct_title_release_windows: per released programme and window."""
    out = {}
    for pid, p in v.cat.programmes.items():
        if p.release_date > v.through:
            continue
        sessions = [s for (profile, prog), ss in v.by_pp.items() if prog == pid for s in ss]
        previous = 0
        for n in WINDOWS:
            end = p.release_date + timedelta(days=n - 1)
            inside = [s for s in sessions if p.release_date <= s["event_date"] <= end]
            # The days this window adds to the previous one: release + previous .. end.
            added = {s["profile_id"] for s in inside if s["event_date"] >= p.release_date + timedelta(days=previous)}
            previous = n
            hours = sum(s["play_time_s"] for s in inside) / 3600
            profiles = {s["profile_id"] for s in inside}
            # Tiers: every profile with any viewing in the window, its progress at the end.
            t, shares = [], []
            for profile in profiles:
                play, content = v.programme_progress(profile, pid, end)
                t.append(tiers(play, content, p.runtime_s))
                if t[-1][0]:
                    shares.append(min(content / p.runtime_s, 1.0))
            starters, watchers, completers = (sum(x[i] for x in t) for i in range(3))
            out[(pid, n)] = dict(
                window_end_date=end, is_window_complete=v.data_from <= p.release_date and end <= v.through,
                hours_viewed=hours,
                views=hours / (p.runtime_s / 3600), plays=len(inside), unique_profiles=len(profiles),
                unique_accounts=len({s["account_id"] for s in inside}), increment_profiles=len(added),
                starters=starters,
                watchers=watchers, completers=completers, completion_rate=ratio(completers, starters),
                avg_share_watched=sum(shares) / len(shares) if shares else None,
            )
    return out


def top10_weekly(v: Viewing) -> dict[tuple[date, str, str, int], dict]:
    """fct_top10_weekly: (week, market, list, rank) -> programme, hours, views, profiles."""
    hours: dict[tuple[date, str, str], float] = defaultdict(float)
    profiles: dict[tuple[date, str, str], set] = defaultdict(set)
    for s in v.sessions:
        week, pid = week_start(s["event_date"]), v.cat.programme_of[s["title_id"]]
        for market in ("GLOBAL", s["country"]):
            hours[(week, market, pid)] += s["play_time_s"] / 3600
            profiles[(week, market, pid)].add(s["profile_id"])
    lists = defaultdict(list)
    for (week, market, pid), h in hours.items():
        views = h / (v.cat.programmes[pid].runtime_s / 3600)
        lists[(week, market, v.cat.list_name(pid, market))].append((-views, -h, pid))
    out = {}
    for (week, market, name), rows in lists.items():
        for rank, (neg_views, neg_hours, pid) in enumerate(sorted(rows)[:10], start=1):
            out[(week, market, name, rank)] = dict(
                programme_id=pid, views=-neg_views, hours_viewed=-neg_hours,
                unique_profiles=len(profiles[(week, market, pid)]))
    return out


def title_retention(v: Viewing) -> dict[tuple[str, int], dict]:
    """fct_title_retention: lifetime starters of each title and how far they got contiguously."""
    starters: dict[str, int] = defaultdict(int)
    reached: dict[tuple[str, int], int] = defaultdict(int)
    for profile, title in v.by_pt:
        play, content, contiguous = v.title_progress(profile, title)
        if not tiers(play, content, v.cat.runtime(title))[0]:
            continue
        starters[title] += 1
        for pct in range(10, 101, 10):
            if contiguous >= pct / 100 * v.cat.runtime(title):
                reached[(title, pct)] += 1
    return {(t, pct): dict(starters=n, starters_reached=reached[(t, pct)],
                           share_reached=reached[(t, pct)] / n)
            for t, n in starters.items() for pct in range(10, 101, 10)}


def season_funnel(v: Viewing) -> dict[tuple[str, int], dict]:
    """fct_season_funnel: per season and episode, the funnel of episode-1 starters; per
    season, starters, completers, binge rate and median days to complete."""
    out = {}
    for pid, p in v.cat.programmes.items():
        if p.format != "series":
            continue
        episodes = {v.cat.titles[t]["episode_number"]: t for t in p.titles}
        viewers = {profile for (profile, prog) in v.by_pp if prog == pid}
        lifetime = {(profile, t): tiers(*v.title_progress(profile, t)[:2], v.cat.runtime(t))
                    for profile in viewers for t in p.titles if (profile, t) in v.by_pt}
        base = {profile for profile in viewers
                if 1 in episodes and lifetime.get((profile, episodes[1]), (False,))[0]}
        season_starters, days_to_complete = 0, []
        for profile in viewers:
            sessions = v.by_pp[(profile, pid)]
            first = min(s["event_date"] for s in sessions)
            if v.programme_tiers(profile, pid)[0]:
                season_starters += 1
            for day in sorted({s["event_date"] for s in sessions}):
                if v.programme_tiers(profile, pid, day)[2]:
                    days_to_complete.append((day - first).days)
                    break
        binge = sum(1 for d in days_to_complete if d < 7)
        for number, title in episodes.items():
            started = sum(1 for profile in base if lifetime.get((profile, title), (False,))[0])
            completed = sum(1 for profile in base if lifetime.get((profile, title), (False, False, False))[2])
            out[(pid, number)] = dict(
                title_id=title, episode_1_starters=len(base), episode_starters=started,
                episode_completers=completed, share_started=ratio(started, len(base)),
                share_completed=ratio(completed, len(base)), season_starters=season_starters,
                season_completers=len(days_to_complete), binge_rate=ratio(binge, len(days_to_complete)),
                median_days_to_complete=median(days_to_complete),
            )
    return out


def genre_weekly(v: Viewing) -> dict[tuple[str, date], dict]:
    """fct_genre_weekly: a programme counts fully in each of its genres; tiers are each
    active profile's progress at the end of its last day of viewing in the week."""
    hours: dict[tuple[date, str], float] = defaultdict(float)
    last_day: dict[tuple[date, str, str], date] = {}
    total: dict[date, float] = defaultdict(float)
    for s in v.sessions:
        week, pid = week_start(s["event_date"]), v.cat.programme_of[s["title_id"]]
        hours[(week, pid)] += s["play_time_s"] / 3600
        total[week] += s["play_time_s"] / 3600
        key = (week, pid, s["profile_id"])
        last_day[key] = max(last_day.get(key, s["event_date"]), s["event_date"])
    starters: dict[tuple[date, str], int] = defaultdict(int)
    completers: dict[tuple[date, str], int] = defaultdict(int)
    profiles: dict[tuple[date, str], set] = defaultdict(set)
    starting: dict[tuple[date, str], set] = defaultdict(set)
    completing: dict[tuple[date, str], set] = defaultdict(set)
    for (week, pid, profile), day in last_day.items():
        t = v.programme_tiers(profile, pid, day)
        starters[(week, pid)] += t[0]
        completers[(week, pid)] += t[2]
        profiles[(week, pid)].add(profile)
        if t[0]:
            starting[(week, pid)].add(profile)
        if t[2]:
            completing[(week, pid)].add(profile)
    out: dict[tuple[str, date], dict] = {}
    for (week, pid), h in hours.items():
        p = v.cat.programmes[pid]
        for genre in p.genres:
            row = out.setdefault((genre, week), dict(programmes_viewed=0, hours_viewed=0.0, views=0.0,
                                                     starters=0, completers=0, profiles=set(),
                                                     starting=set(), completing=set()))
            row["programmes_viewed"] += 1
            row["hours_viewed"] += h
            row["views"] += h / (p.runtime_s / 3600)
            row["starters"] += starters[(week, pid)]
            row["completers"] += completers[(week, pid)]
            row["profiles"] |= profiles[(week, pid)]
            row["starting"] |= starting[(week, pid)]
            row["completing"] |= completing[(week, pid)]
    for (genre, week), row in out.items():
        row["unique_profiles"] = len(row.pop("profiles"))
        row["starter_profiles"] = len(row.pop("starting"))
        row["completer_profiles"] = len(row.pop("completing"))
        row["completion_rate"] = ratio(row["completers"], row["starters"])
        row["share_of_hours"] = ratio(row["hours_viewed"], total[week])
    return out


def talent_track_record(v: Viewing, windows: dict[tuple[str, int], dict]) -> dict[tuple[str, str], dict]:
    """fct_talent_track_record from the credits as last listed and the 28-day windows."""
    names: dict[str, set] = defaultdict(set)
    credited: dict[tuple[str, str], set] = defaultdict(set)
    for t in v.cat.titles.values():
        for c in t["credits"]:
            names[c["talent_id"]].add(c["name"])
            billing = c.get("billing_order")
            if c["role"] != "actor" or (billing is not None and billing <= TOP_BILLED_ACTORS):
                credited[(c["talent_id"], c["role"])].add(v.cat.programme_of[t["title_id"]])
    out = {}
    for (talent, role), pids in credited.items():
        complete = [windows[(pid, 28)] for pid in pids
                    if (pid, 28) in windows and windows[(pid, 28)]["is_window_complete"]]
        genre_counts: dict[str, int] = defaultdict(int)
        for pid in pids:
            for g in v.cat.programmes[pid].genres:
                genre_counts[g] += 1
        views = [w["views"] for w in complete]
        starters = sum(w["starters"] for w in complete)
        out[(talent, role)] = dict(
            talent_name=min(names[talent]), programmes=len(pids), programmes_with_complete_28d=len(complete),
            median_views_28d=median(views), mean_views_28d=sum(views) / len(views) if views else None,
            completion_rate_28d=ratio(sum(w["completers"] for w in complete), starters) if complete else None,
            genre_mix=[(g, n) for g, n in sorted(genre_counts.items(), key=lambda x: (-x[1], x[0]))],
            latest_release_date=max(v.cat.programmes[pid].release_date for pid in pids),
        )
    return out


def market_offer_vs_demand(v: Viewing) -> dict[tuple[str, date, str, str], dict]:
    """fct_market_offer_vs_demand: per country and month (a month with any viewing), offer
    (programmes and runtime on offer) and demand (hours, profiles) by origin group and format."""
    european = european_countries()

    def origin(pid: str, market: str) -> str:
        country = v.cat.programmes[pid].origin_country
        if country == market:
            return "domestic"
        return "other_european" if country in european else ("us" if country == "US" else "rest_of_world")

    months = sorted({month_start(s["event_date"]) for s in v.all})
    offer: dict[tuple[str, date], set[str]] = {}
    for month in months:
        for country, titles in v.cat.offered(month).items():
            offer[(country, month)] = titles
    demand: dict[tuple[str, date, str, str], float] = defaultdict(float)
    viewers: dict[tuple[str, date, str, str], set] = defaultdict(set)
    markets = set(offer)
    for s in v.sessions:
        country, month, pid = s["country"], month_start(s["event_date"]), v.cat.programme_of[s["title_id"]]
        markets.add((country, month))
        for breakdown, group in (("origin_group", origin(pid, country)), ("format", v.cat.programmes[pid].format)):
            demand[(country, month, breakdown, group)] += s["play_time_s"] / 3600
            viewers[(country, month, breakdown, group)].add(s["profile_id"])
    out = {}
    for country, month in markets:
        titles = offer.get((country, month), set())
        pids = {v.cat.programme_of[t] for t in titles}
        euro_pids = {pid for pid in pids if v.cat.programmes[pid].origin_country in european}
        runtime = sum(v.cat.runtime(t) for t in titles)
        euro_runtime = sum(v.cat.runtime(t) for t in titles if v.cat.programmes[v.cat.programme_of[t]].origin_country in european)
        for breakdown, groups in (("origin_group", ORIGIN_GROUPS), ("format", FORMATS)):
            def group_of(pid):
                return origin(pid, country) if breakdown == "origin_group" else v.cat.programmes[pid].format
            rows = {}
            for g in groups:
                in_group = [t for t in titles if group_of(v.cat.programme_of[t]) == g]
                rows[g] = dict(
                    programmes_available=len({v.cat.programme_of[t] for t in in_group}),
                    runtime_hours_available=sum(v.cat.runtime(t) for t in in_group) / 3600,
                    hours_viewed=demand.get((country, month, breakdown, g), 0.0),
                    unique_profiles=len(viewers.get((country, month, breakdown, g), ())),
                )
            totals = {m: sum(r[m] for r in rows.values())
                      for m in ("programmes_available", "runtime_hours_available", "hours_viewed")}
            for g, r in rows.items():
                r["programme_share"] = ratio(r["programmes_available"], totals["programmes_available"])
                r["runtime_share"] = ratio(r["runtime_hours_available"], totals["runtime_hours_available"])
                r["demand_share"] = ratio(r["hours_viewed"], totals["hours_viewed"])
                r["demand_minus_offer_share"] = (None if r["demand_share"] is None or r["runtime_share"] is None
                                                 else r["demand_share"] - r["runtime_share"])
                r["european_works_programme_share"] = ratio(len(euro_pids), len(pids))
                r["european_works_runtime_share"] = ratio(euro_runtime, runtime)
                r["meets_avmsd_european_quota"] = bool(pids) and len(euro_pids) >= 0.3 * len(pids)
                out[(country, month, breakdown, g)] = r
    return out


def release_availability_share(v: Viewing) -> dict[str, float | None]:
    """fct_title_training.release_availability_share, per released programme: the share of
    the markets' profiles (distinct profiles with any session in the country in the 28 days
    up to and including the release date) in the markets where any of the programme's titles
    is listed as available by the snapshot in effect on the release date (the latest one on
    or before it). None without sessions in that window, or before the first snapshot."""
    out: dict[str, float | None] = {}
    for pid, p in v.cat.programmes.items():
        if p.release_date > v.through:
            continue
        first = p.release_date - timedelta(days=27)
        members: dict[str, set] = defaultdict(set)
        for s in v.all:
            if first <= s["event_date"] <= p.release_date:
                members[s["country"]].add(s["profile_id"])
        in_effect = [d for d in v.cat.snapshot_dates if d <= p.release_date]
        if not members or not in_effect:
            out[pid] = None
            continue
        listed = v.cat.snapshots[max(in_effect)]
        available = {c for t in p.titles if t in listed for c in listed[t]["available_countries"]}
        total = sum(len(profiles) for profiles in members.values())
        out[pid] = sum(len(profiles) for country, profiles in members.items() if country in available) / total
    return out


def title_training(v: Viewing, windows: dict[tuple[str, int], dict]) -> dict[str, dict]:
    """fct_title_training's catalogue facts and 28-day outcome, per released programme: the
    outcome is its 28-day release window's (the forecast's target), the runtime the
    programme's whole (a season's episodes added up), in minutes."""
    shares = release_availability_share(v)
    out = {}
    for pid, p in v.cat.programmes.items():
        if (pid, 28) not in windows:
            continue
        w = windows[(pid, 28)]
        out[pid] = dict(
            format=p.format, release_date=p.release_date, genres=p.genres,
            runtime_minutes=p.runtime_s / 60, episodes=1 if p.format == "film" else len(p.titles),
            original_language=p.language, origin_country=p.origin_country,
            release_availability_share=shares[pid],
            hours_viewed_28d=w["hours_viewed"], views_28d=w["views"], starters_28d=w["starters"],
            completion_rate_28d=w["completion_rate"], window_end_date=w["window_end_date"],
            is_window_complete=w["is_window_complete"],
        )
    return out


def genre_catalogue(v: Viewing) -> dict[str, dict]:
    """dim_genre: per genre, the titles and programmes that list it in the latest snapshot
    (the current catalogue)."""
    current = v.cat.snapshots[v.cat.snapshot_dates[-1]]
    titles: dict[str, set] = defaultdict(set)
    for t in current.values():
        for genre in t["genres"]:
            titles[genre].add(t["title_id"])
    return {g: dict(titles=len(ts), programmes=len({v.cat.programme_of[t] for t in ts})) for g, ts in titles.items()}


def talent_credits(v: Viewing) -> dict[str, dict]:
    """dim_talent: everyone any snapshot credits, with the roles and programmes of the
    credits on the titles as last listed (none left: no roles, 0 programmes)."""
    everyone = {c["talent_id"] for rows in v.cat.snapshots.values() for t in rows.values() for c in t["credits"]}
    roles: dict[str, set] = defaultdict(set)
    programmes: dict[str, set] = defaultdict(set)
    for t in v.cat.titles.values():
        for c in t["credits"]:
            roles[c["talent_id"]].add(c["role"])
            programmes[c["talent_id"]].add(v.cat.programme_of[t["title_id"]])
    return {p: dict(roles=sorted(roles[p]), programmes_credited=len(programmes[p])) for p in everyone}
