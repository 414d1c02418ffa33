"""`generate`: write a simulated landing folder and the ground truth behind it.

Inputs: the arguments below (and nothing else: no settings, no environment).
Outputs, under `out_dir`:

    events/received_date=YYYY-MM-DD/hour=HH/part-NNNNN.jsonl[.gz]   playback events
    catalog/snapshot_date=YYYY-MM-DD/titles.jsonl                   one snapshot per day
    members.jsonl                                                   accounts and profiles
    ground_truth/                                                   what really happened

The same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from slatehouse.contract.schema import DEVICE_TYPES, EVENT_TYPES
from slatehouse.generate import faults as F
from slatehouse.generate.audience import build_audience, schedule_sittings
from slatehouse.generate.catalog import Catalog, build_catalog
from slatehouse.generate.config import APP_VERSIONS, COUNTRY_CODES, GENRES, FaultRates
from slatehouse.generate.playback import expand_events
from slatehouse.generate.viewing import OUTCOMES, simulate_sessions
from slatehouse.generate.writer import (
    array_bytes,
    complete_lines_in_truncated,
    event_lines,
    gzip_bytes,
    iso_ms,
    seconds_str,
    uuid4_strings,
    write_bytes,
)

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_LINES_PER_FILE = 200_000


@dataclass(frozen=True)
class GenerateResult:
    out_dir: Path
    start_date: date
    days: int
    history_days: int
    seed: int
    accounts: int
    profiles: int
    works: int  # films and shows
    titles: int  # playable titles: films and episodes
    sessions: int
    events: int  # distinct playback events
    lines: int  # event lines written: events + duplicate deliveries + malformed lines
    files: int
    received_dates: tuple[str, str]  # first and last received_date folder
    snapshot_dates: tuple[str, str]
    elapsed_s: float
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.lines / self.elapsed_s if self.elapsed_s else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["start_date"] = self.start_date.isoformat()
        d["paths"] = {k: str(v) for k, v in self.paths.items()}
        d["events_per_s"] = round(self.events_per_s, 1)
        return d


@dataclass(frozen=True)
class Simulation:
    """The simulated world in memory, before any file is written: what `generate` writes
    out, minus the faults and the event expansion (`simulate` gives the same catalogue and
    sessions as `generate` with the same arguments)."""

    start_date: date
    days: int
    origin: date  # the catalogue's day 0 (start_date - history_days)
    first_day: int  # start_date as a catalogue day index
    catalog: Catalog
    audience: object  # slatehouse.generate.audience.Audience
    sittings: pd.DataFrame
    sessions: dict[str, np.ndarray]  # per true session, sorted by start time


def _streams(seed: int) -> list[np.random.Generator]:
    """One independent stream per stage: 0 catalogue, 1 audience, 2 sittings, 3 sessions,
    4 ids and app versions, 5 faults, 6-7 spare."""
    return [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(8)]


def _simulate(rng, *, start_date: date, days: int, members: int, titles: int, history_days: int) -> Simulation:
    origin = start_date - timedelta(days=history_days)
    first_day, n_cat_days = history_days, history_days + days
    cat = build_catalog(rng[0], n_works=titles, origin=origin, n_days=n_cat_days, history_days=history_days)
    aud = build_audience(rng[1], n_accounts=members, first_day=first_day, n_days=days, n_genres=len(GENRES))
    log.info("catalogue: %d works, %d playable titles, %d talent; audience: %d accounts, %d profiles",
             len(cat.works), len(cat.titles), len(cat.talent), members, len(aud.profiles))
    sittings = schedule_sittings(rng[2], aud, first_day=first_day, n_days=days, origin=origin)
    sessions = simulate_sessions(rng[3], cat, aud, sittings, first_day, days)
    return Simulation(start_date=start_date, days=days, origin=origin, first_day=first_day, catalog=cat,
                      audience=aud, sittings=sittings, sessions=sessions)


def simulate(*, start_date: date, days: int, members: int, titles: int, seed: int,
             history_days: int = 0) -> Simulation:
    """The catalogue, audience and true sessions that `generate` would write, in memory and
    without faults: for experiments on the ground truth (bench/bench_forecast.py) without
    writing gigabytes of events."""
    if days < 1 or members < 1 or titles < 1 or history_days < 0:
        raise ValueError(
            f"simulate needs days >= 1, members >= 1, titles >= 1 and history_days >= 0; "
            f"got days={days}, members={members}, titles={titles}, history_days={history_days}")
    return _simulate(_streams(seed), start_date=start_date, days=days, members=members, titles=titles,
                     history_days=history_days)


def generate(
    out_dir: Path,
    *,
    start_date: date,
    days: int,
    members: int,
    titles: int,
    seed: int,
    faults: FaultRates | None = None,
    history_days: int = 0,
) -> GenerateResult:
    """Simulate `days` days of viewing from `start_date` and write the landing files.

    `members` is the number of accounts (each has 1-5 profiles); `titles` the number of
    works (films and shows; each show adds its episodes as playable titles). With
    `history_days` the catalogue starts that many days earlier, with premieres spread
    over it, but events are only simulated from `start_date`.
    """
    t0 = time.perf_counter()
    if days < 1 or members < 1 or titles < 1 or history_days < 0:
        raise ValueError(
            f"generate needs days >= 1, members >= 1, titles >= 1 and history_days >= 0; "
            f"got days={days}, members={members}, titles={titles}, history_days={history_days}")
    rates = faults if faults is not None else FaultRates()
    out_dir = Path(out_dir)
    for stale in ("events", "catalog", "ground_truth"):
        shutil.rmtree(out_dir / stale, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    gt = out_dir / "ground_truth"
    gt.mkdir()

    rng = _streams(seed)
    sim = _simulate(rng, start_date=start_date, days=days, members=members, titles=titles,
                    history_days=history_days)
    cat, aud, sittings, sessions = sim.catalog, sim.audience, sim.sittings, sim.sessions
    origin, first_day = sim.origin, sim.first_day
    n_s = len(sessions["start_ms"])
    ev = expand_events(sessions)
    n_ev = len(ev["session"])
    log.info("simulated %d sittings, %d sessions, %d events", len(sittings), n_s, n_ev)

    sess_raw = np.frombuffer(rng[4].bytes(16 * n_s), np.uint8).reshape(n_s, 16)
    ev_raw = np.frombuffer(rng[4].bytes(16 * n_ev), np.uint8).reshape(n_ev, 16)
    frac = (sessions["day"] - first_day + 1) / days
    u = rng[4].random(n_s)
    version = sessions["device_idx"] * 3 + np.where(u < 0.5 * frac, 2, np.where(u < 0.5 * frac + 0.5, 1, 0))

    # --- faults --------------------------------------------------------------------------
    fr = rng[5]
    profiles = aud.profiles
    skew_prof = F.clock_skew(fr, len(profiles), rates)
    s_prof = sessions["profile_idx"]
    s_skew = np.where(sessions["device_idx"] == profiles.preferred_device_idx.to_numpy()[s_prof],
                      skew_prof[s_prof], 0)
    s_cat = F.session_faults(fr, n_s, rates)
    e_sess = ev["session"]
    first_ev = np.searchsorted(e_sess, np.arange(n_s), side="left")
    last_ev = np.searchsorted(e_sess, np.arange(n_s), side="right") - 1
    wall = ev["wall_ms"]
    event_ts = wall + s_skew[e_sess]
    received = F.received_times(fr, e_sess, wall, s_cat, wall[first_ev], wall[last_ev])

    title_strs = list(cat.titles.title_id)
    s_title_str = sessions["title_idx"].copy()
    unknown_s = np.flatnonzero(s_cat == F.SESSION_UNKNOWN_TITLE)
    unknown_ids = [f"film-u{k + 1:05d}" for k in range(len(unknown_s))]
    s_title_str[unknown_s] = len(title_strs) + np.arange(len(unknown_s))
    title_strs += unknown_ids

    clean_rows = np.flatnonzero(s_cat[e_sess] == F.SESSION_CLEAN)
    dup_rows, dup_recv = F.duplicate_rows(fr, clean_rows, rates.duplicate, received, event_ts)
    k_mal = min(fr.binomial(n_ev, rates.malformed), len(clean_rows)) if n_ev else 0
    mal_src = np.sort(fr.choice(clean_rows, size=k_mal, replace=False)) if k_mal else np.zeros(0, np.int64)
    mal_kinds = F.malformed_kinds(fr, k_mal)
    mal_ids = uuid4_strings(np.frombuffer(fr.bytes(16 * k_mal), np.uint8).reshape(k_mal, 16)).to_pylist()

    tables = dict(
        event_type=pa.array(EVENT_TYPES), device=pa.array(DEVICE_TYPES), country=pa.array(COUNTRY_CODES),
        title=pa.array(title_strs), account=pa.array(profiles.account_id), profile=pa.array(profiles.profile_id),
        version=pa.array([v for d in DEVICE_TYPES for v in APP_VERSIONS[d]]),
    )

    def lines_for(rows: np.ndarray, recv: np.ndarray) -> pa.Array:
        s = e_sess[rows]
        sp = s_prof[s]
        return event_lines(dict(
            event_id=uuid4_strings(ev_raw[rows]), event_type=tables["event_type"].take(ev["kind"][rows]),
            event_ts=iso_ms(event_ts[rows]), received_ts=iso_ms(recv),
            account_id=tables["account"].take(sp), profile_id=tables["profile"].take(sp),
            session_id=uuid4_strings(sess_raw[s]), title_id=tables["title"].take(s_title_str[s]),
            position_s=seconds_str(ev["position_ms"][rows]),
            device_type=tables["device"].take(sessions["device_idx"][s]),
            country=tables["country"].take(sessions["country_idx"][s]),
            app_version=tables["version"].take(version[s]),
        ))

    src_lines = lines_for(mal_src, received[mal_src]).to_pylist()
    mal_bytes, mal_detail = [], []
    for line, kind, new_id in zip(src_lines, mal_kinds, mal_ids):
        raw, detail = F.corrupt(fr, line, kind, new_id)
        mal_bytes.append(raw + b"\n")
        mal_detail.append(detail)

    # --- lines -> files ------------------------------------------------------------------
    n_dup, n_mal = len(dup_rows), k_mal
    line_row = np.concatenate([np.arange(n_ev), dup_rows, np.full(n_mal, -1)]).astype(np.int64)
    line_recv = np.concatenate([received, dup_recv, received[mal_src]]).astype(np.int64)
    n_lines = len(line_row)
    line_hour = line_recv // HOUR_MS
    key = line_recv.copy()
    moved = fr.random(n_lines) < rates.out_of_order
    jitter = fr.integers(-1_200_000, 1_200_000, n_lines)
    key = np.where(moved, np.clip(key + jitter, line_hour * HOUR_MS, line_hour * HOUR_MS + HOUR_MS - 1), key)
    order = np.lexsort((np.arange(n_lines), key, line_hour))
    hours, hour_start, hour_count = np.unique(line_hour[order], return_index=True, return_counts=True)
    is_gz = fr.random(len(hours)) < rates.gzip_file_share
    truncated_hours: dict[int, float] = {}
    if rates.truncated_gzip_files > 0 and len(hours):
        big = np.flatnonzero(hour_count >= 20)
        pool = np.intersect1d(big, np.flatnonzero(is_gz))
        if len(pool) < rates.truncated_gzip_files and len(big):
            extra = fr.choice(np.setdiff1d(big, pool), size=min(len(big) - len(pool),
                              rates.truncated_gzip_files - len(pool)), replace=False)
            is_gz[extra] = True
            pool = np.union1d(pool, extra)
        for h in fr.choice(pool, size=min(len(pool), rates.truncated_gzip_files), replace=False):
            truncated_hours[int(h)] = float(fr.uniform(0.35, 0.8))

    files, file_of_line, line_no = [], np.full(n_lines, -1, np.int64), np.zeros(n_lines, np.int64)
    truncation = []
    day_of_hour = hours * HOUR_MS // DAY_MS
    for d in np.unique(day_of_hour):
        hsel = np.flatnonzero(day_of_hour == d)
        lo, hi = hour_start[hsel[0]], hour_start[hsel[-1]] + hour_count[hsel[-1]]
        ids = order[lo:hi]
        valid = line_row[ids] >= 0
        v_ids = ids[valid]
        good = lines_for(line_row[v_ids], line_recv[v_ids]).cast(pa.binary())
        bad = pa.array([mal_bytes[i - n_ev - n_dup] for i in ids[~valid]], pa.binary())
        pos = np.empty(len(ids), np.int64)
        pos[valid] = np.arange(len(v_ids))
        pos[~valid] = len(v_ids) + np.arange(int((~valid).sum()))
        day_lines = pa.concat_arrays([good, bad]).take(pa.array(pos))
        date_str = str(np.datetime64(int(d), "D"))
        for h in hsel:
            a, c = hour_start[h] - lo, hour_count[h]
            for part, p0 in enumerate(range(0, c, MAX_LINES_PER_FILE)):
                p1 = min(p0 + MAX_LINES_PER_FILE, c)
                rel = (f"events/received_date={date_str}/hour={int(hours[h] % 24):02d}/"
                       f"part-{part:05d}.jsonl" + (".gz" if is_gz[h] else ""))
                data = array_bytes(day_lines.slice(a + p0, p1 - p0))
                f_ids = ids[a + p0:a + p1]
                file_of_line[f_ids] = len(files)
                line_no[f_ids] = np.arange(1, len(f_ids) + 1)
                if is_gz[h]:
                    data = gzip_bytes(data)
                    if int(h) in truncated_hours and part == 0:
                        cut = int(len(data) * truncated_hours[int(h)])
                        data = data[:cut]
                        complete, partial = complete_lines_in_truncated(data)
                        truncation.append(dict(path=rel, lines_before_truncation=int(len(f_ids)),
                                               complete_lines=int(complete), has_partial_line=bool(partial),
                                               lost_line_ids=f_ids[complete:]))
                write_bytes(out_dir / rel, data)
                files.append(rel)
    log.info("wrote %d event lines in %d files", n_lines, len(files))

    # --- ground truth ---------------------------------------------------------------------
    lost = np.zeros(n_lines, dtype=bool)
    partial_ids = []
    for t in truncation:
        lost[t["lost_line_ids"]] = True
        if t["has_partial_line"] and len(t["lost_line_ids"]):
            partial_ids.append(int(t["lost_line_ids"][0]))
    line_session_cat = np.where(line_row >= 0, s_cat[e_sess[np.maximum(line_row, 0)]], -1)
    faults_doc = _faults_doc(
        rates=rates, n_ev=n_ev, n_lines=n_lines, s_cat=s_cat, e_sess=e_sess, event_ts=event_ts,
        received=received, dup_rows=dup_rows, dup_recv=dup_recv, mal_kinds=mal_kinds, lost=lost,
        n_dup=n_dup, moved=moved, unknown_ids=unknown_ids, skew_prof=skew_prof, s_skew=s_skew,
        truncation=truncation, files=files, line_row=line_row, line_session_cat=line_session_cat,
        partial_ids=partial_ids,
    )
    (gt / "faults.json").write_text(json.dumps(faults_doc, indent=2, sort_keys=True) + "\n")
    mal_line_ids = n_ev + n_dup + np.arange(n_mal)
    _write_jsonl(gt / "malformed_lines.jsonl", [
        dict(path=files[file_of_line[i]], line_number=int(line_no[i]), kind=k,
             expected_reason=F.MALFORMED_KINDS[k][1], detail=det, is_lost=bool(lost[i]))
        for i, k, det in zip(mal_line_ids, mal_kinds, mal_detail)])
    lost_ids = np.flatnonzero(lost)
    pq.write_table(pa.table(dict(
        path=pa.array([files[file_of_line[i]] for i in lost_ids], pa.string()),
        line_number=pa.array(line_no[lost_ids]),
        event_id=uuid4_strings(ev_raw[np.maximum(line_row[lost_ids], 0)]).to_pylist() if len(lost_ids) else pa.array([], pa.string()),
        is_event=pa.array(line_row[lost_ids] >= 0),
    )), gt / "lost_lines.parquet")

    lost_per_session = np.bincount(e_sess[line_row[lost & (line_row >= 0)]], minlength=n_s)
    _write_sessions(gt / "sessions.parquet", sessions, ev, sess_raw, cat, profiles, title_strs,
                    s_title_str, tables, version, s_cat, s_skew, first_ev, last_ev, lost_per_session)
    _write_catalog(out_dir, cat, first_day, days)
    _write_truth_tables(gt, cat, profiles, skew_prof)
    _write_members(out_dir / "members.jsonl", profiles, origin)

    recv_days = [f.split("/")[1].split("=")[1] for f in files]
    result = GenerateResult(
        out_dir=out_dir, start_date=start_date, days=days, history_days=history_days, seed=seed,
        accounts=members, profiles=len(profiles), works=len(cat.works), titles=len(cat.titles),
        sessions=n_s, events=n_ev, lines=n_lines, files=len(files),
        received_dates=(min(recv_days), max(recv_days)) if recv_days else ("", ""),
        snapshot_dates=(start_date.isoformat(), (start_date + timedelta(days=days - 1)).isoformat()),
        elapsed_s=round(time.perf_counter() - t0, 3),
        paths=dict(events=out_dir / "events", catalog=out_dir / "catalog",
                   members=out_dir / "members.jsonl", ground_truth=gt),
    )
    log.info("generate done: %d lines in %.1f s (%.0f lines/s)", n_lines, result.elapsed_s, result.events_per_s)
    return result


def _lateness_days(event_ts: np.ndarray, received: np.ndarray) -> dict[str, int]:
    """Histogram of received_date - event_date, in calendar days (UTC)."""
    diff = received // DAY_MS - event_ts // DAY_MS
    if len(diff) == 0:
        return {}
    lo = int(diff.min())
    counts = np.bincount(diff - lo)
    return {str(lo + i): int(c) for i, c in enumerate(counts) if c}


def _faults_doc(*, rates, n_ev, n_lines, s_cat, e_sess, event_ts, received, dup_rows, dup_recv,
                mal_kinds, lost, n_dup, moved, unknown_ids, skew_prof, s_skew, truncation, files,
                line_row, line_session_cat, partial_ids) -> dict:
    ev_cat = s_cat[e_sess]
    late, too_late = ev_cat == F.SESSION_LATE, ev_cat == F.SESSION_TOO_LATE
    mal_is_lost = lost[n_ev + n_dup:]
    by_kind = {k: 0 for k in F.MALFORMED_KINDS}
    by_kind_lost = dict(by_kind)
    for k, is_lost in zip(mal_kinds, mal_is_lost):
        (by_kind_lost if is_lost else by_kind)[k] += 1

    # What ingest should report, line by line, after the truncated files lost their tails.
    surviving = ~lost
    quarantined = {r: 0 for r in ("invalid_utf8", "truncated_file", "malformed_json", "missing_field",
                                  "invalid_field", "unsupported_schema_version", "unknown_title",
                                  "too_late", "future_event")}
    quarantined["truncated_file"] = len(partial_ids)
    for k, n in by_kind.items():
        quarantined[F.MALFORMED_KINDS[k][1]] += n
    quarantined["too_late"] = int((surviving & (line_session_cat == F.SESSION_TOO_LATE)).sum())
    quarantined["unknown_title"] = int((surviving & (line_session_cat == F.SESSION_UNKNOWN_TITLE)).sum())
    candidate = surviving & np.isin(line_session_cat, (F.SESSION_CLEAN, F.SESSION_LATE))
    accepted = int(len(np.unique(line_row[candidate])))
    duplicates = int(candidate.sum()) - accepted
    lines_read = int(surviving.sum()) + len(partial_ids)

    skewed_events = s_skew[e_sess] != 0
    dup_hour_later = (dup_recv // HOUR_MS) > (received[dup_rows] // HOUR_MS)
    dup_day_later = (dup_recv // DAY_MS) > (received[dup_rows] // DAY_MS)
    return {
        "rates": rates.as_dict(),
        "events": int(n_ev),
        "lines_written": int(n_lines),
        "files_written": len(files),
        "duplicates": {"lines": int(n_dup), "in_later_hour_folder": int(dup_hour_later.sum()),
                       "in_later_day_folder": int(dup_day_later.sum())},
        "late": {"sessions": int((s_cat == F.SESSION_LATE).sum()), "events": int(late.sum()),
                 "by_lateness_days": _lateness_days(event_ts[late], received[late])},
        "too_late": {"sessions": int((s_cat == F.SESSION_TOO_LATE).sum()), "events": int(too_late.sum()),
                     "by_lateness_days": _lateness_days(event_ts[too_late], received[too_late])},
        "lateness_days_all_events": _lateness_days(event_ts, received),
        "out_of_order_lines": int(moved.sum()),
        "malformed_lines": {"total": int(sum(by_kind.values())), "by_kind": by_kind,
                            "lost_in_truncation_by_kind": by_kind_lost},
        "unknown_title": {"sessions": len(unknown_ids), "events": int((ev_cat == F.SESSION_UNKNOWN_TITLE).sum()),
                          "title_ids": unknown_ids},
        "clock_skew": {"profiles": int((skew_prof != 0).sum()), "sessions": int((s_skew != 0).sum()),
                       "events": int(skewed_events.sum()),
                       "max_ahead_ms": int(max(s_skew.max(initial=0), 0)),
                       "max_behind_ms": int(max(-s_skew.min(initial=0), 0))},
        "truncated_gzip_files": [
            {k: v for k, v in t.items() if k != "lost_line_ids"} | {"lost_lines": int(len(t["lost_line_ids"]))}
            for t in truncation],
        "expected_ingest": {"lines_read": lines_read, "accepted": accepted, "duplicates": duplicates,
                            "quarantined": quarantined,
                            "quarantined_total": int(sum(quarantined.values()))},
    }


def _write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n")


def _write_sessions(path, s, ev, sess_raw, cat, profiles, title_strs, s_title_str, tables, version,
                    s_cat, s_skew, first_ev, last_ev, lost_per_session) -> None:
    n = len(s["start_ms"])
    prof = s["profile_idx"]
    table = pa.table(dict(
        session_id=uuid4_strings(sess_raw),
        account_id=tables["account"].take(prof), profile_id=tables["profile"].take(prof),
        title_id=pa.array(title_strs).take(s_title_str),
        true_title_id=pa.array(list(cat.titles.title_id)).take(s["title_idx"]),
        device_type=tables["device"].take(s["device_idx"]),
        country=tables["country"].take(s["country_idx"]),
        app_version=tables["version"].take(version),
        start_ts=pa.array(s["start_ms"].astype("datetime64[ms]"), pa.timestamp("ms", tz="UTC")),
        end_ts=pa.array((s["start_ms"] + s["wall_ms"]).astype("datetime64[ms]"), pa.timestamp("ms", tz="UTC")),
        start_position_s=s["pos0_ms"] / 1000.0,
        end_position_s=(s["pos0_ms"] + s["content_ms"]) / 1000.0,
        content_advanced_s=s["content_ms"] / 1000.0,
        true_play_s=s["play_ms"] / 1000.0,
        pause_s=s["pause_b"].sum(axis=1) / 1000.0,
        n_pauses=s["n_pause"].astype(np.int32), n_seeks=s["n_seek"].astype(np.int32),
        has_play_stop=s["has_stop"],
        outcome=pa.array(OUTCOMES).take(s["outcome"]),
        event_count=(last_ev - first_ev + 1).astype(np.int32),
        fault=pa.array(F.SESSION_FAULTS).take(s_cat.astype(np.int64)),
        clock_skew_s=s_skew / 1000.0,
        events_lost_in_truncation=lost_per_session.astype(np.int32),
    ))
    assert table.num_rows == n
    pq.write_table(table, path)


def _credit_list(cat: Catalog) -> dict[int, list[tuple[int, dict]]]:
    """Per title: (from_day, credit) pairs in display order."""
    role_order = {"showrunner": 0, "director": 1, "writer": 2, "producer": 3, "actor": 4}
    c = cat.credits.merge(cat.talent[["talent_idx", "talent_id", "name"]], on="talent_idx")
    c = c.assign(_r=c.role.map(role_order), _b=c.billing_order.fillna(0).astype(int))
    c = c.sort_values(["title_idx", "_r", "_b", "talent_id"], kind="stable")
    out: dict[int, list] = {}
    for r in c.itertuples():
        out.setdefault(r.title_idx, []).append((r.from_day, dict(
            talent_id=r.talent_id, name=r.name, role=r.role,
            billing_order=None if pd.isna(r.billing_order) else int(r.billing_order))))
    return out


def _write_catalog(out_dir: Path, cat: Catalog, first_day: int, days: int) -> None:
    credits = _credit_list(cat)
    w = cat.works
    t = cat.titles
    cache: dict[tuple, str] = {}
    rows = list(t.itertuples())
    for d in range(first_day, first_day + days):
        released = t.title_idx[t.release_day <= d].to_numpy()
        lines = []
        for ti in released:
            row = rows[ti]
            wi = int(row.work_idx)
            avail = cat.availability[d, wi]
            cr = [c for since, c in credits.get(ti, []) if since <= d]
            k = (ti, avail.tobytes(), len(cr))
            if k not in cache:
                cache[k] = json.dumps(dict(
                    title_id=row.title_id, title_type=row.title_type, show_id=row.show_id,
                    show_title=row.show_title,
                    season_number=None if pd.isna(row.season_number) else int(row.season_number),
                    episode_number=None if pd.isna(row.episode_number) else int(row.episode_number),
                    title=row.title, runtime_s=int(row.runtime_s),
                    release_date=(cat.origin + timedelta(days=int(row.release_day))).isoformat(),
                    original_language=w.original_language.iat[wi], origin_country=w.origin_country.iat[wi],
                    genres=list(w.genres.iat[wi]), credits=cr,
                    available_countries=sorted(c for c, ok in zip(COUNTRY_CODES, avail) if ok),
                ), separators=(",", ":"), ensure_ascii=False)
            lines.append(cache[k])
        snap = cat.origin + timedelta(days=d)
        path = out_dir / f"catalog/snapshot_date={snap.isoformat()}/titles.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def _write_truth_tables(gt: Path, cat: Catalog, profiles: pd.DataFrame, skew_prof: np.ndarray) -> None:
    w, t = cat.works, cat.titles
    seasons = list(cat.seasons.itertuples())
    works = list(w.itertuples())
    rows = []
    for r in t.itertuples():
        wr = works[r.work_idx]
        s = seasons[r.season_idx] if r.season_idx >= 0 else None
        rows.append(dict(
            title_id=r.title_id, title_type=r.title_type, work_id=wr.work_id,
            season_number=None if s is None else int(s.season_number),
            episode_number=None if pd.isna(r.episode_number) else int(r.episode_number),
            release_date=(cat.origin + timedelta(days=int(r.release_day))).isoformat(),
            runtime_s=int(r.runtime_s), end_credits_s=int(r.credits_s),
            genres=list(wr.genres), latent_quality=round(float(wr.latent_quality), 6),
            genre_effect=round(float(wr.genre_effect), 6), talent_effect=round(float(wr.talent_effect), 6),
            log_appeal=round(float(wr.log_appeal), 6),
            decay_tau_days=round(float(wr.decay_tau_days), 4), decay_alpha=round(float(wr.decay_alpha), 4),
            decay_floor=round(float(wr.decay_floor), 4),
            abandon_hazard_per_h=round(float(r.abandon_hazard_per_h), 6),
            sample_prob=round(float(r.sample_prob), 6),
            next_episode_prob=None if pd.isna(r.next_episode_prob) else round(float(r.next_episode_prob), 6),
            season_is_weekly=None if s is None else bool(s.is_weekly),
            season_mid_sag=None if s is None else bool(s.mid_season_sag),
        ))
    _write_jsonl(gt / "titles.jsonl", rows)
    c = cat.credits.merge(cat.titles[["title_idx", "work_idx"]], on="title_idx")
    n_titles = c.groupby("talent_idx").title_idx.nunique()
    n_works = c.groupby("talent_idx").work_idx.nunique()
    _write_jsonl(gt / "talent.jsonl", [
        dict(talent_id=r.talent_id, name=r.name, role=r.role, true_effect=round(float(r.true_effect), 6),
             n_works=int(n_works.get(r.talent_idx, 0)), n_titles=int(n_titles.get(r.talent_idx, 0)))
        for r in cat.talent.itertuples() if r.talent_idx in n_titles.index])
    (gt / "genres.json").write_text(json.dumps(cat.genre_effects, indent=2, sort_keys=True) + "\n")
    _write_jsonl(gt / "catalog_changes.jsonl", [
        dict(snapshot_date=(cat.origin + timedelta(days=c["day"])).isoformat(),
             **{k: v for k, v in c.items() if k != "day"}) for c in cat.changes])
    pq.write_table(pa.table(dict(
        account_id=pa.array(profiles.account_id), profile_id=pa.array(profiles.profile_id),
        taste_segment=profiles.segment.to_numpy().astype(np.int32),
        sittings_per_day=profiles.activity.to_numpy(),
        clock_skew_s=skew_prof / 1000.0,
    )), gt / "profiles.parquet")


def _write_members(path: Path, profiles: pd.DataFrame, origin: date) -> None:
    _write_jsonl(path, [
        dict(account_id=r.account_id, profile_id=r.profile_id, home_country=COUNTRY_CODES[r.country_idx],
             preferred_device=DEVICE_TYPES[r.preferred_device_idx],
             signup_date=(origin + timedelta(days=int(r.signup_day))).isoformat())
        for r in profiles.itertuples()])
