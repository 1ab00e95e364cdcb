"""Benchmarks that cannot rot (issue 13): every script in bench/ runs here at a tiny size (200
patients, a few seconds of load), in a subprocess against its own new database, and must exit 0
and print its ratio line. The numbers mean nothing at this size; what is tested is that each
benchmark still runs to the end, so one that breaks fails CI instead of being found broken when
someone next wants to measure.

On SQLite; on PostgreSQL when TANDEM_TEST_DATABASE_URL is set (each script gets `--postgres`
with a database of its own, dropped afterwards). bench/caseload_load.py needs wrk
(`apt-get install wrk`): without it the test fails under CI (CI set) and is skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TANDEM = [sys.executable, "-c", "from tandem.cli import main; main()"]
PATIENTS = "200"


@pytest.fixture
def bench(tmp_path):
    """A factory: (env, extra arguments) for a benchmark on a database of its own."""
    made = []
    pg_url = os.environ.get("TANDEM_TEST_DATABASE_URL")

    def new(name):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "DJANGO_"))}
        env["TANDEM_DATA_DIR"] = str(tmp_path / name)
        env["TANDEM_SECRET_KEY"] = "bench-test-" + "b" * 40
        env["TANDEM_HTTPS"] = "0"
        env["TMPDIR"] = str(tmp_path)  # the scripts' own temporary folders go here too
        (tmp_path / name).mkdir()
        if not pg_url:
            return env, []
        import psycopg

        db = f"tandem_bench_{name}_{uuid.uuid4().hex[:8]}"
        base = pg_url.rsplit("/", 1)[0]
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        made.append((base, db))
        env["TANDEM_DATABASE_URL"] = f"{base}/{db}"
        return env, ["--postgres", env["TANDEM_DATABASE_URL"]]

    yield new
    for base, db in made:
        import psycopg

        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def run(command: list[str], env: dict, timeout: float = 120) -> str:
    """Run to the end in a session of its own (a server it starts goes with it on a timeout);
    the output, after asserting a zero exit."""
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
        pytest.fail(f"{' '.join(command[:2])} took over {timeout} s:\n{out[-3000:]}")
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out[-3000:]}"
    return out


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(BENCH / name), *args]


def test_demo_load(bench):
    env, db = bench("demo")
    out = run(script("demo_load.py", "--patients", PATIENTS, *db), env)
    assert re.search(r"^tandem demo : +[\d,]+ rows", out, re.M), out
    assert re.search(r"^ratio +: \d+% of raw \(target >= 50%\): (PASS|FAIL)$", out, re.M), out


def test_checkup_submit(bench):
    env, db = bench("checkups")
    out = run(script("checkup_submit.py", "--patients", PATIENTS, "--checkups", "100",
                     "--batch", "50", "--singles", "10", *db), env)
    assert re.search(r"^check-ups stored: 100 for 25 patients", out, re.M), out
    assert len(re.findall(r"ratio API / raw: +[\d.]+%$", out, re.M)) == 2, out
    assert "one check-up per request (context)" in out, out


def test_nightly_sweep(bench):
    env, db = bench("sweep")
    out = run(script("nightly_sweep.py", "--data-dir", env["TANDEM_DATA_DIR"],
                     "--patients", PATIENTS, *db), env)
    assert re.search(r"^  ratio Python / SQL: +[\d.]+x$", out, re.M), out
    assert "DIFFERENT" not in out, out
    assert re.search(r"^sweep vs the SQL aggregate of four rules: [\d.]+x$", out, re.M), out


def test_caseload_load(bench):
    if not shutil.which("wrk"):
        message = "wrk is needed for bench/caseload_load.py: apt-get install wrk"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env, db = bench("caseload")
    run([*TANDEM, "demo", "--patients", PATIENTS, "--password", "bench-password"], env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run(script("caseload_load.py", "--data-dir", env["TANDEM_DATA_DIR"], "--clients", "2",
                     "--seconds", "2", "--pause", "1", "--workers", "2", "--port", str(port),
                     *db), env)
    assert re.search(r"^database: .*; signed in as keyworker, whose caseload holds [1-9]", out,
                     re.M), out
    ratios = re.findall(r"^caseload p95 / healthz p95 = [\d.]+x  \((meets|MISSES) <= 10x\)$",
                        out, re.M)
    assert len(ratios) == 2, out


def test_dispensing_import(bench):
    env, db = bench("dispensing")
    out = run(script("dispensing_import.py", "--patients", PATIENTS, "--runs", "1", *db), env)
    assert re.search(r"^days imported: 2,000 for 200 patients$", out, re.M), out
    assert re.search(r"^ratio import / raw: [\d.]+% \(target >= 25%\): (PASS|FAIL)$", out,
                     re.M), out
    # About 1% of the patients missed their last 3 days: each is named, and flagged.
    assert re.search(r"^missed runs named by the import: 2 patients .* \(made: 2\)$", out,
                     re.M), out
    assert re.search(r"^missed-dose flags \('missed-doses'\): 2 raised by the import .*; 2 open "
                     r"for the 2 patients given 3 missed days in a row$", out, re.M), out


def test_service_report(bench):
    env, db = bench("report")
    out = run(script("service_report.py", "--patients", PATIENTS, *db), env, timeout=300)
    assert re.search(r"^completed check-ups \(completed or amended questionnaire responses\): "
                     r"[\d,]+ ", out, re.M), out
    # Every figure of the report worked out by DuckDB too, and equal for both periods.
    assert "MISMATCH" not in out and "NOT COMPARED" not in out, out
    assert re.search(r"^figures compared: (\d+) of \1 \(each for both periods\); mismatches: 0$",
                     out, re.M), out
    assert re.search(r"^ratio report / DuckDB: [\d.]+x \(target <= 3x\): (PASS|FAIL)$", out,
                     re.M), out


def test_reminders(bench):
    env, db = bench("reminders")
    out = run(script("reminders.py", "--patients", PATIENTS, "--runs", "1", "--send", "50", *db),
              env)
    assert re.search(r"^reminders planned: [\d,]+ for [\d,]+ patients in or after treatment$",
                     out, re.M), out
    assert re.search(r"^ratio planning / raw: [\d.]+% \(target >= 25%\): (PASS|FAIL)$", out,
                     re.M), out
    assert re.search(r"^sent by one worker: 50 \(0 failed\) in [\d.]+ s = [\d,]+ messages/s "
                     r"\(target >= 200\): (PASS|FAIL)", out, re.M), out
