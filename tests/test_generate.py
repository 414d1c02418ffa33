"""The simulator: deterministic, contract-shaped, and honest about the faults it injects.

Pure Python and tiny sizes: no Spark. The fault oracle re-derives ingest's expected
outcome for every line straight from the files, independently of the simulator's own
bookkeeping, and compares it with ground_truth/faults.json.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slatehouse.contract.schema import DEVICE_TYPES, EVENT_TYPES
from slatehouse.generate import FaultRates, generate

CONTRACT = Path(__file__).resolve().parents[1] / "jobs" / "contract"
START = date(2026, 3, 2)
TINY = dict(start_date=START, days=2, members=60, titles=14, seed=5)
# Dirty enough that every fault kind shows up in a tiny run.
DIRTY = replace(FaultRates(), duplicate=0.02, late_session=0.08, too_late_session=0.04,
                unknown_title_session=0.04, clock_skew_profile=0.15, out_of_order=0.05,
                malformed=0.01, gzip_file_share=0.3)

try:
    import jsonschema
except ImportError:  # pragma: no cover - the venv has it; the hand-rolled check stays honest
    jsonschema = None


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return generate(out, faults=FaultRates.clean(), **TINY)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    return generate(out, faults=DIRTY, **TINY)


def read_raw_lines(path: Path) -> tuple[list[bytes], bool]:
    """The lines a reader gets from one landing file; True if a cut gzip left a partial line."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        d = zlib.decompressobj(wbits=31)
        data = d.decompress(data)
        if not d.eof:
            lines = data.split(b"\n")
            return lines[:-1], lines[-1] != b""
    assert data.endswith(b"\n") or data == b"", f"{path} does not end with a newline"
    return data.split(b"\n")[:-1], False


def event_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "events").rglob("part-*") if p.is_file())


def all_events(out: Path) -> pd.DataFrame:
    rows = []
    for f in event_files(out):
        for line in read_raw_lines(f)[0]:
            rows.append(json.loads(line))
    return pd.DataFrame(rows)


def ts(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


# --- determinism -----------------------------------------------------------------------------

def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_bytes(tmp_path):
    a = generate(tmp_path / "a", faults=DIRTY, **TINY)
    b = generate(tmp_path / "b", faults=DIRTY, **TINY)
    sa, sb = snapshot(a.out_dir), snapshot(b.out_dir)
    assert sa.keys() == sb.keys()
    assert [k for k in sa if sa[k] != sb[k]] == []
    assert any(k.endswith(".jsonl.gz") for k in sa)  # gzip headers are deterministic too


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path):
    generate(tmp_path, **{**TINY, "days": 3})
    r = generate(tmp_path, **TINY)
    dates = {p.name for p in (tmp_path / "catalog").iterdir()}
    assert dates == {f"snapshot_date={START + timedelta(days=i)}" for i in range(TINY["days"])}
    assert r.files == len(event_files(tmp_path))


def test_another_seed_gives_other_data(tmp_path):
    a = generate(tmp_path / "a", **TINY)
    b = generate(tmp_path / "b", **{**TINY, "seed": 6})
    assert snapshot(a.out_dir) != snapshot(b.out_dir)


# --- format ----------------------------------------------------------------------------------

def _check_event_by_hand(e: dict) -> None:
    str_fields = ("event_id", "account_id", "profile_id", "session_id", "title_id", "app_version")
    assert all(isinstance(e[f], str) and e[f] for f in str_fields)
    assert e["event_type"] in EVENT_TYPES and e["device_type"] in DEVICE_TYPES
    assert isinstance(e["position_s"], (int, float)) and e["position_s"] >= 0
    assert len(e["country"]) == 2 and e["country"].isupper() and e["schema_version"] == 1
    ts(e["event_ts"]), ts(e["received_ts"])


def test_every_line_of_a_clean_run_follows_the_contract(clean):
    schema = json.loads((CONTRACT / "events.v1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=None) if jsonschema else None
    n = 0
    for f in event_files(clean.out_dir):
        lines, partial = read_raw_lines(f)
        assert not partial
        folder_date = f.parent.parent.name.split("=")[1]
        folder_hour = int(f.parent.name.split("=")[1])
        for i, line in enumerate(lines):
            e = json.loads(line.decode("utf-8"))
            if validator and i % 10 == 0:  # the full schema on a sample; the hand check on all
                validator.validate(e)
            _check_event_by_hand(e)
            r = ts(e["received_ts"])
            assert (r.date().isoformat(), r.hour) == (folder_date, folder_hour), f"{f}: {line[:80]!r}"
            n += 1
    assert n == clean.lines == clean.events


def test_catalogue_lines_follow_the_contract(clean):
    schema = json.loads((CONTRACT / "catalog.v1.schema.json").read_text())
    snaps = sorted((clean.out_dir / "catalog").iterdir())
    assert [s.name for s in snaps] == [f"snapshot_date={START + timedelta(days=i)}" for i in range(TINY["days"])]
    for snap in snaps:
        day = snap.name.split("=")[1]
        for line in (snap / "titles.jsonl").read_text(encoding="utf-8").splitlines():
            t = json.loads(line)
            if jsonschema and snap == snaps[-1]:
                jsonschema.validate(t, schema)
            assert t["release_date"] <= day
            actors = [c["billing_order"] for c in t["credits"] if c["role"] == "actor"]
            assert sorted(actors) == list(range(1, len(actors) + 1))


def test_members_file(clean):
    members = [json.loads(x) for x in (clean.out_dir / "members.jsonl").read_text().splitlines()]
    assert len({m["account_id"] for m in members}) == TINY["members"]
    assert len(members) == clean.profiles
    for m in members:
        assert m["profile_id"].startswith(m["account_id"].replace("acc-", "prf-") + "-")
        assert m["preferred_device"] in DEVICE_TYPES and len(m["home_country"]) == 2


def test_a_clean_run_has_no_faults(clean):
    truth = json.loads((clean.out_dir / "ground_truth" / "faults.json").read_text())
    events = all_events(clean.out_dir)
    assert events.event_id.is_unique
    lateness = [ts(r) - ts(e) for e, r in zip(events.event_ts, events.received_ts)]
    assert max(lateness) < timedelta(minutes=1) and min(lateness) > timedelta(0)
    exp = truth["expected_ingest"]
    assert exp["accepted"] == exp["lines_read"] == clean.events and exp["quarantined_total"] == 0
    assert truth["truncated_gzip_files"] == [] and truth["malformed_lines"]["total"] == 0


# --- playback semantics ----------------------------------------------------------------------

def test_heartbeats_are_60_seconds_apart_while_playing(clean):
    ev = all_events(clean.out_dir)
    ev["t"] = ev.event_ts.map(ts)
    ev = ev.sort_values(["session_id", "t"])
    gaps, checked = [], 0
    for _, s in ev.groupby("session_id"):
        kinds = list(s.event_type)
        assert kinds[0] == "play_start"
        t = list(s.t)
        last_hb = None
        for k, when in zip(kinds, t):
            if k in ("pause", "resume"):
                last_hb = None  # the playing clock stops; spacing restarts from here
            elif k == "heartbeat":
                if last_hb is not None:
                    gaps.append((when - last_hb).total_seconds())
                last_hb = when
        checked += 1
    assert checked > 50 and len(gaps) > 1000
    assert set(gaps) == {60.0}


def test_ground_truth_sessions_match_the_events(clean):
    ev = all_events(clean.out_dir)
    truth = pd.read_parquet(clean.out_dir / "ground_truth" / "sessions.parquet")
    assert truth.session_id.is_unique and len(truth) == clean.sessions
    counts = ev.groupby("session_id").size()
    assert counts.reindex(truth.session_id).tolist() == truth.event_count.tolist()
    ev["t"] = ev.event_ts.map(ts)
    ev = ev.sort_values(["session_id", "t"])
    by_id = truth.set_index("session_id")
    for sid, s in ev.groupby("session_id"):
        row = by_id.loc[sid]
        assert s.event_type.iat[0] == "play_start"
        assert s.position_s.iat[0] == pytest.approx(row.start_position_s)
        assert (s.event_type.iat[-1] == "play_stop") == row.has_play_stop
        if row.has_play_stop:
            # Played time from the events alone: everything except paused stretches.
            t = s.t.tolist()
            paused = sum((b - a).total_seconds() for a, b, k in zip(t, t[1:], s.event_type)
                         if k == "pause")
            assert (t[-1] - t[0]).total_seconds() - paused == pytest.approx(row.true_play_s, abs=1e-6)
            assert s.position_s.iat[-1] == pytest.approx(row.end_position_s)
        runtime_ok = (s.position_s >= 0).all()
        assert runtime_ok


def test_some_members_resume_and_some_sessions_end_without_stop(clean):
    truth = pd.read_parquet(clean.out_dir / "ground_truth" / "sessions.parquet")
    assert (truth.start_position_s > 0).any()
    assert (~truth.has_play_stop).any()
    assert {"complete", "abandon", "interrupted"} <= set(truth.outcome)


def test_viewing_peaks_in_the_evening_and_binges(tmp_path):
    r = generate(tmp_path, start_date=START, days=2, members=250, titles=30, seed=9,
                 faults=FaultRates.clean())
    truth = pd.read_parquet(tmp_path / "ground_truth" / "sessions.parquet")
    titles = pd.read_json(tmp_path / "ground_truth" / "titles.jsonl", lines=True)
    members = pd.read_json(tmp_path / "members.jsonl", lines=True)
    assert r.sessions == len(truth)
    # Local hour of each session start, by the member's home country.
    offsets = {"US": -5, "BR": -3, "GB": 0, "FR": 1, "DE": 1, "MX": -6, "ES": 1, "IT": 1, "JP": 9,
               "KR": 9, "CA": -5, "IN": 5.5, "NL": 1, "SE": 1}
    home = truth.profile_id.map(members.set_index("profile_id").home_country)
    local_hour = (truth.start_ts.dt.hour + truth.start_ts.dt.minute / 60 + home.map(offsets)) % 24
    evening = ((local_hour >= 18) & (local_hour < 24)).mean()
    early = ((local_hour >= 3) & (local_hour < 9)).mean()
    assert evening > 0.4 > 0.1 > early
    # Binges: the same profile plays consecutive episodes of one show back to back.
    ep = truth.merge(titles[["title_id", "work_id", "episode_number"]], left_on="true_title_id",
                     right_on="title_id").sort_values(["profile_id", "start_ts"])
    nxt = ep.groupby("profile_id").shift(-1)
    chained = (nxt.work_id == ep.work_id) & (nxt.episode_number == ep.episode_number + 1) & (
        (nxt.start_ts - ep.end_ts) < pd.Timedelta(minutes=5))
    assert chained.sum() > 20


def test_popularity_is_heavy_tailed_and_driven_by_appeal(tmp_path):
    generate(tmp_path, start_date=START, days=2, members=250, titles=50, seed=21,
             faults=FaultRates.clean())
    truth = pd.read_parquet(tmp_path / "ground_truth" / "sessions.parquet")
    titles = pd.read_json(tmp_path / "ground_truth" / "titles.jsonl", lines=True)
    works = titles.drop_duplicates("work_id").set_index("work_id")
    per_work = truth.true_title_id.map(titles.set_index("title_id").work_id).value_counts()
    per_work = per_work.reindex(works.index, fill_value=0).sort_values(ascending=False)
    top_fifth = per_work.head(len(per_work) // 5).sum() / per_work.sum()
    assert top_fifth > 0.5, f"top 20% of works have only {top_fifth:.0%} of sessions"
    rho = pd.Series(works.log_appeal).corr(np.log1p(per_work.reindex(works.index)), method="spearman")
    assert rho > 0.3


def test_talent_is_reused_with_a_long_tail(clean):
    talent = pd.read_json(clean.out_dir / "ground_truth" / "talent.jsonl", lines=True)
    share_small = (talent.n_works <= 2).mean()
    assert share_small > 0.7 and talent.n_works.max() >= 3


def test_catalogue_changes_show_up_in_snapshots(tmp_path):
    generate(tmp_path, start_date=START, days=5, members=10, titles=30, seed=2)
    changes = [json.loads(x) for x in (tmp_path / "ground_truth" / "catalog_changes.jsonl").read_text().splitlines()]
    assert {c["kind"] for c in changes} >= {"availability_added", "credit_added"} or len(changes) >= 3

    def snap(d):
        path = tmp_path / f"catalog/snapshot_date={d}/titles.jsonl"
        return {t["title_id"]: t for t in map(json.loads, path.read_text().splitlines())}

    seen = 0
    for c in changes:
        d = date.fromisoformat(c["snapshot_date"])
        before, after = snap(d - timedelta(days=1)), snap(d)
        if c["title_id"] not in before:
            continue  # released that day: the change is part of its first snapshot
        if c["kind"] == "credit_added":
            assert c["detail"] in {x["talent_id"] for x in after[c["title_id"]]["credits"]}
            assert c["detail"] not in {x["talent_id"] for x in before[c["title_id"]]["credits"]}
        else:
            added = c["kind"] == "availability_added"
            assert (c["detail"] in after[c["title_id"]]["available_countries"]) == added
            assert (c["detail"] in before[c["title_id"]]["available_countries"]) != added
        seen += 1
    assert seen >= 1


# --- faults: an independent oracle -------------------------------------------------------

class _Everything:
    def __contains__(self, _):
        return True


ALL = _Everything()


def classify(raw: bytes, known_titles) -> str:
    """What ingest should do with one line, by the contract alone."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    try:
        e = json.loads(text)
    except ValueError:
        return "malformed_json"
    if not isinstance(e, dict):
        return "malformed_json"
    required = ("event_id", "event_type", "event_ts", "received_ts", "account_id", "profile_id",
                "session_id", "title_id", "position_s", "device_type", "country", "app_version",
                "schema_version")
    if any(e.get(f) is None for f in required):
        return "missing_field"
    if e["schema_version"] != 1:
        return "unsupported_schema_version"
    try:
        _check_event_by_hand(e)
    except (AssertionError, ValueError, TypeError):
        return "invalid_field"
    if e["title_id"] not in known_titles:
        return "unknown_title"
    lag = ts(e["received_ts"]) - ts(e["event_ts"])
    if lag > timedelta(days=3):
        return "too_late"
    if lag < -timedelta(minutes=5):
        return "future_event"
    return "ok"


def test_fault_counts_in_ground_truth_match_the_files(dirty):
    out = dirty.out_dir
    truth = json.loads((out / "ground_truth" / "faults.json").read_text())
    known = {json.loads(x)["title_id"] for p in (out / "catalog").rglob("titles.jsonl")
             for x in p.read_text().splitlines()}
    reasons, seen_ids, lines_read, truncated = Counter(), set(), 0, []
    for f in event_files(out):
        lines, partial = read_raw_lines(f)
        lines_read += len(lines) + partial
        if partial:
            truncated.append((str(f.relative_to(out)), len(lines)))
            reasons["truncated_file"] += 1
        for raw in lines:
            r = classify(raw, known)
            if r == "ok":
                eid = json.loads(raw)["event_id"]
                r = "duplicate" if eid in seen_ids else "accepted"
                seen_ids.add(eid)
            reasons[r] += 1
    exp = truth["expected_ingest"]
    assert lines_read == exp["lines_read"]
    assert reasons.pop("accepted") == exp["accepted"]
    assert reasons.pop("duplicate", 0) == exp["duplicates"]
    assert {k: v for k, v in reasons.items() if v} == {k: v for k, v in exp["quarantined"].items() if v}
    assert [(t["path"], t["complete_lines"]) for t in truth["truncated_gzip_files"]] == truncated
    # Every fault kind was really exercised by this run.
    assert min(exp["quarantined"][k] for k in ("too_late", "unknown_title", "malformed_json",
                                               "invalid_field", "truncated_file")) > 0
    assert exp["duplicates"] > 0 and truth["late"]["events"] > 0 and truth["clock_skew"]["events"] > 0


def test_malformed_lines_are_where_ground_truth_says(dirty):
    out = dirty.out_dir
    truth = json.loads((out / "ground_truth" / "faults.json").read_text())
    listed = [json.loads(x) for x in (out / "ground_truth" / "malformed_lines.jsonl").read_text().splitlines()]
    known = {json.loads(x)["title_id"] for p in (out / "catalog").rglob("titles.jsonl")
             for x in p.read_text().splitlines()}
    kept = [m for m in listed if not m["is_lost"]]
    assert Counter(m["kind"] for m in kept) == Counter({k: v for k, v in truth["malformed_lines"]["by_kind"].items() if v})
    for m in kept:
        lines, _ = read_raw_lines(out / m["path"])
        assert classify(lines[m["line_number"] - 1], known) == m["expected_reason"], m


def test_late_and_skewed_events_stay_inside_the_ingest_limits(dirty):
    truth = json.loads((dirty.out_dir / "ground_truth" / "faults.json").read_text())
    assert set(truth["late"]["by_lateness_days"]) <= {"0", "1", "2", "3"}
    assert all(int(d) >= 3 for d in truth["too_late"]["by_lateness_days"])
    assert truth["clock_skew"]["max_ahead_ms"] < 5 * 60_000
    sessions = pd.read_parquet(dirty.out_dir / "ground_truth" / "sessions.parquet")
    assert (sessions.clock_skew_s != 0).sum() == truth["clock_skew"]["sessions"]
    assert (sessions.fault == "unknown_title").sum() == truth["unknown_title"]["sessions"]


def test_duplicates_repeat_the_event_exactly(dirty):
    rows = []
    for f in event_files(dirty.out_dir):
        rows += [json.loads(x) for x in read_raw_lines(f)[0] if classify(x, ALL) == "ok"]
    ev = pd.DataFrame(rows)
    dups = ev[ev.event_id.duplicated(keep=False)]
    assert len(dups) > 0
    client_fields = [c for c in ev.columns if c != "received_ts"]
    assert (dups.groupby("event_id")[client_fields].nunique() == 1).all().all()


def test_out_of_order_lines_exist_only_when_asked(clean, dirty):
    def inversions(out):
        n = 0
        for f in event_files(out):
            received = [json.loads(x)["received_ts"] for x in read_raw_lines(f)[0] if x.startswith(b"{")
                        and b'"received_ts"' in x and _parses(x)]
            n += sum(b < a for a, b in zip(received, received[1:]))
        return n

    assert inversions(clean.out_dir) == 0
    assert inversions(dirty.out_dir) > 0


def _parses(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict) and isinstance(json.loads(raw).get("received_ts"), str)
    except ValueError:
        return False
