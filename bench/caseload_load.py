"""The caseload page under load, next to /healthz under the same load in the same run.

Run:  .venv/bin/python bench/caseload_load.py --data-dir DIR [--postgres URL]
                                               [--user keyworker] [--clients 20] [--seconds 30]
                                               [--workers 4] [--port 8765] [--pause 5]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/tandem demo --patients 200 --password bench-password   (TANDEM_DATA_DIR=DIR)
      .venv/bin/python bench/caseload_load.py --data-dir DIR --clients 2 --seconds 2 --pause 1

Needs wrk (Debian: `apt-get install wrk`) and a database holding `tandem demo --patients N`
(e.g. made by `bench/nightly_sweep.py --patients 100000`; password `bench-password`).

It serves Tandem with `tandem serve` (gunicorn), signs in through the real sign-in form, and
measures the caseload page ("who needs me today", sorted by need, as the signed-in user sees
it) with wrk, two ways in one run against one server:

1. the same load (issue 5's measure): 20 concurrent clients (--clients) for 30 seconds
   (--seconds), half on the caseload page and half on /healthz at the same time, so /healthz
   is measured under the load the caseload page makes. Target: caseload p95 ≤ 10 × /healthz p95.
2. each alone (stricter): 20 clients on the caseload page for 30 seconds, then 20 on /healthz.
   Here /healthz never waits behind a caseload request, so the ratio is close to the cost of
   the page against the cheapest request Tandem serves.

Before each wrk run it waits 5 seconds (--pause) for requests still queued to finish.
It prints requests, p50, p95 and p99 for each, and the ratios of the p95s; it exits non-zero
if any request failed.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--postgres", help="postgres:// URL of the demo database")
    parser.add_argument("--user", default="keyworker")
    parser.add_argument("--password", default="bench-password")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pause", type=float, default=5,
                        help="seconds to wait before each wrk run, for queued requests")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    env = {**os.environ, "TANDEM_DATA_DIR": args.data_dir, "TANDEM_HTTPS": "0",
           "TANDEM_SECRET_KEY": os.environ.get("TANDEM_SECRET_KEY", "bench-only-" + "b" * 50),
           "TANDEM_LOG_LEVEL": "WARNING"}
    if args.postgres:
        env["TANDEM_DATABASE_URL"] = args.postgres
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/tandem"), "serve", "--no-migrate", "--port", str(args.port),
         "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(base + "/healthz")
        cookie = sign_in(base, args.user, args.password)
        patients = check_page(base, cookie)
        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; signed in as "
              f"{args.user}, whose caseload holds {patients:,} patients; gunicorn "
              f"{args.workers} workers; {args.clients} clients for {args.seconds} s", flush=True)
        for _ in range(3):  # warm up each worker's caches
            fetch(base + "/patients/", cookie)
        together = run(base, cookie, args.clients, args.seconds, args.pause, together=True)
        alone = run(base, cookie, args.clients, args.seconds, args.pause, together=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
    failed = False
    for title, results in (("1. the same load: both at once, half the clients each", together),
                           ("2. each alone, all the clients", alone)):
        print(f"\n{title}")
        print(f"{'page':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'p99 ms':>9}")
        for name, (requests, errors, duration, p50, p95, p99) in results.items():
            print(f"{name:<22}{requests:>10,}{requests / (duration / 1e6):>9.1f}{p50:>9.1f}"
                  f"{p95:>9.1f}{p99:>9.1f}" + (f"  ({errors} errors)" if errors else ""))
            failed |= bool(errors)
        ratio = results["caseload /patients/"][4] / results["/healthz"][4]
        verdict = "meets" if ratio <= 10 else "MISSES"
        print(f"caseload p95 / healthz p95 = {ratio:.1f}x  ({verdict} <= 10x)")
    if failed:
        sys.exit("Some requests failed.")


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"Tandem did not start at {url}")


def sign_in(base: str, username: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username,
                                   "password": password}).encode()
    request = urllib.request.Request(base + "/accounts/login/", data=data,
                                     headers={"Referer": base + "/accounts/login/"})
    opener.open(request).read()
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if not session:
        sys.exit(f"Could not sign in as {username}")
    return f"sessionid={session}"


def fetch(url: str, cookie: str) -> str:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=120) as reply:
        return reply.read().decode()


def check_page(base: str, cookie: str) -> int:
    page = fetch(base + "/patients/", cookie)
    if "Who needs me today" not in page:
        sys.exit("The caseload page did not load (signed out?)")
    found = re.search(r"<strong>([\d,]+)</strong> patients?", page)
    return int(found.group(1).replace(",", "")) if found else 0


def run(base: str, cookie: str, clients: int, seconds: int, pause: float, *,
        together: bool) -> dict:
    script = Path(tempfile.mkdtemp(prefix="tandem-wrk-")) / "report.lua"
    script.write_text(REPORT)
    runs = {
        "caseload /patients/": ["-H", f"Cookie: {cookie}", base + "/patients/"],
        "/healthz": [base + "/healthz"],
    }
    each = max(1, clients // 2) if together else clients

    def wrk(extra):
        threads = 1 if together else min(2, each)  # wrk wants a connection per thread
        return subprocess.Popen(["wrk", f"-t{threads}", f"-c{each}",
                                 f"-d{seconds}s", "--timeout", "60s", "-s", str(script),
                                 *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    outputs = {}
    if together:
        time.sleep(pause)
        procs = {name: wrk(extra) for name, extra in runs.items()}
        outputs = {name: p.communicate(timeout=seconds + 120)[0] for name, p in procs.items()}
    else:
        for name, extra in runs.items():
            time.sleep(pause)  # requests still queued from the run before finish first
            outputs[name] = wrk(extra).communicate(timeout=seconds + 120)[0]
    results = {}
    for name, out in outputs.items():
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"wrk gave no result for {name}:\n{out}")
        requests, errors, duration, p50, p95, p99 = line.split()[1:]
        results[name] = (int(requests), int(errors), int(duration), float(p50), float(p95),
                         float(p99))
    return results


if __name__ == "__main__":
    main()
