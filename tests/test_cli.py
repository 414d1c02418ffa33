"""The command line's own checks: a malformed argument or a missing file is refused with a
one-line message naming it, exit code 1, before Spark starts (no metastore or warehouse
folder appears), never with a Python traceback; with --json, stdout holds the error as a
JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CASES = [
    (["run", "--date", "2026-13-01"], "--date must be a date as YYYY-MM-DD"),
    (["backfill", "--start", "2026-01-05", "--end", "2026/01/12"], "--end must be a date"),
    (["validate", "--layer", "gold", "--date", "2026-01-10"], "--layer must be bronze, silver or marts"),
    (["build-marts", "--start", "2026-01-05"], "give both --start and --end"),
    (["build-marts", "--start", "2026-01-05", "--end", "2026-01-01"], "--end 2026-01-01 is before --start"),
    (["generate", "--days", "0"], "generate needs days >= 1"),
    (["status", "--limit", "-1"], "--limit must be 1 or more"),
    (["generate", "--start-date", "nope"], "--start-date must be a date"),
    (["sql", "select 1", "--format", "xml"], "--format must be table, csv or json"),
    (["sql", "select 1", "--limit", "-1"], "--limit must be 0 or more"),
    (["forecast", "--pitch", "missing.yaml"], "--pitch missing.yaml: no such file"),
    (["forecast", "--pitch", "{bad}"], "column 'format' must be one of"),
    (["forecast", "--slate", "{slate}"], "line 2: column 'runtime_minutes' must be a number"),
    (["forecast", "--pitch", "{bad_date}"], "not valid YAML (month must be in 1..12)"),
    (["forecast", "--slate", "{header_only}"], "no pitches, only a header line"),
    (["forecast", "--slate", "{empty}"], "empty file"),
    (["forecast", "--slate", "{twice}"], "pitch id 'p1' appears twice"),
    (["erase", "--file", "missing.txt"], "--file missing.txt: no such file"),
    (["run", "--date", "2099-01-01"], "received date 2099-01-01 is in the future"),
    (["ingest", "--start", "2026-01-05", "--end", "2099-01-01"], "received date 2099-01-01 is in the future"),
    (["maintain", "--retention-hours", "-5"], "--retention-hours must be 0 or more"),
    (["force-unlock", "abc123"], "has no lease: only s3a:// warehouses do"),
]


def _cli(tmp_path, args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLATEHOUSE_")}
    environment.update(SLATEHOUSE_HOME=str(tmp_path), SLATEHOUSE_MODE="demo", **env)
    return subprocess.run([sys.executable, "-m", "slatehouse.cli", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a[:2]) for a, _ in CASES])
def test_a_bad_argument_is_refused_by_name_before_spark_starts(tmp_path, args, message):
    files = {"bad": ("bad.yaml", "format: miniseries\n"),
             "bad_date": ("bad-date.yaml", "format: film\nrelease_date: 2026-13-45\n"),
             "slate": ("slate.csv", "title_id,format,runtime_minutes\np1,film,fifty-two\n"),
             "header_only": ("header.csv", "title_id,format\n"),
             "empty": ("empty.csv", ""),
             "twice": ("twice.csv", "title_id,format\np1,film\np1,series\n")}
    for name, text in files.values():
        (tmp_path / name).write_text(text)
    args = [a.format(**{key: tmp_path / name for key, (name, _) in files.items()}) for a in args]
    done = _cli(tmp_path, args)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "metastore").exists() and not (tmp_path / "warehouse").exists()
    # With --json, a scheduler's stdout still holds one document.
    as_json = _cli(tmp_path, [*args, "--json"])
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and document["exit_code"] == 1 and message in document["error"], as_json


@pytest.mark.parametrize(("variable", "value"), [("SLATEHOUSE_SHUFFLE_PARTITIONS", "abc"),
                                                 ("SLATEHOUSE_SPARK_CONF", "{bad"),
                                                 # values that would silently change the results
                                                 ("SLATEHOUSE_HEARTBEAT_S", "0"),
                                                 ("SLATEHOUSE_MART_LOOKBACK_DAYS", "-1"),
                                                 ("SLATEHOUSE_MIN_AUDIENCE", "1")])
def test_a_bad_setting_names_its_environment_variable(tmp_path, variable, value):
    done = _cli(tmp_path, ["status"], **{variable: value})
    assert done.returncode == 1 and f"error: {variable}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["sql", "select 1"]])
def test_a_reader_beside_a_run_is_refused_by_the_lock_not_by_derby(tmp_path, args):
    """The embedded Derby metastore lets one process in: a command that only reads waits
    its turn like a run, and says who holds the catalogue (exit 4), before Spark starts."""
    from slatehouse.pipeline import pipeline_lock
    from slatehouse.settings import Settings

    with pipeline_lock(Settings(home=tmp_path, mode="demo"), "run-20260105"):
        done = _cli(tmp_path, args)
        as_json = _cli(tmp_path, [*args, "--json"])
    assert done.returncode == 4, done.stderr
    assert "run run-20260105" in done.stderr and "embedded Derby metastore" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "metastore").exists()
    # With --json, stdout still carries a document a scheduler can parse.
    assert as_json.returncode == 4 and json.loads(as_json.stdout)["exit_code"] == 4, as_json.stdout


def test_the_dashboard_refuses_an_address_it_cannot_listen_on(tmp_path):
    """A taken or impossible port is a one-line error (exit 1) before the app and its
    warm-up start, not a traceback and a crashed interpreter."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli(tmp_path, ["dashboard", "--port", str(port)])
    assert done.returncode == 1, done
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr and "Traceback" not in done.stderr
    out_of_range = _cli(tmp_path, ["dashboard", "--port", "99999"])
    assert out_of_range.returncode == 1 and "a port is a number from 1 to 65535" in out_of_range.stderr, out_of_range


def test_sql_prints_structs_dates_and_decimals_as_plain_values_and_says_when_it_cuts_rows(tmp_path):
    """`slatehouse sql` on a real Spark session: JSON keeps a struct's field names and gives
    dates as dates, CSV writes a struct or array cell as JSON text, and rows past --limit are
    cut with a note on stderr (stdout stays the result)."""
    query = ("select id, named_struct('talent_id', 'tal-1', 'role', 'actor') as credit, array('drama', 'crime') "
             "as genres, date'2026-05-04' as event_date, cast(1.25 as decimal(10, 2)) as share from range(3)")
    as_json = _cli(tmp_path, ["sql", query, "--limit", "2", "--json"])
    assert as_json.returncode == 0, as_json.stderr[-2000:]
    assert json.loads(as_json.stdout) == [
        {"id": i, "credit": {"talent_id": "tal-1", "role": "actor"}, "genres": ["drama", "crime"],
         "event_date": "2026-05-04", "share": 1.25} for i in range(2)]
    assert "showing the first 2 rows" in as_json.stderr
    as_csv = _cli(tmp_path, ["sql", query, "--limit", "5", "--format", "csv"])
    assert as_csv.returncode == 0, as_csv.stderr[-2000:]
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "id,credit,genres,event_date,share" and len(lines) == 4
    assert lines[1] == '0,"{""talent_id"": ""tal-1"", ""role"": ""actor""}","[""drama"", ""crime""]",2026-05-04,1.25'
    assert "showing the first" not in as_csv.stderr
