"""Benchmark of the app: `python -m tests.bench.app_bench` (what `make bench-app` runs).

1. Starts a throwaway PostgreSQL with durable settings (fsync and
   synchronous_commit on) and the app under gunicorn as the unit runs it,
   both on 127.0.0.1.
2. Ingest: wrk sends N distinct, pre-signed webhook POSTs (one comment event
   each) over C connections until the database holds all N events (or the
   time cap).  The app answers 200 only after the event's INSERT committed.
   wrk now and then drops a request it generated, so the bodies go round
   and the few repeats are answered as duplicates; events/s counts only
   distinct committed events.
3. Drain: one `python -m app.jobs.webhook_processor` run over those events,
   timed from process start to exit, then a second measure with two
   processors at once.
Writes the figures, the machine and the command to docs/performance.md.
Traffic goes to 127.0.0.1 only and every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from app.migrate import discover, migrate
from tests.app import helpers
from tests.app.pgserver import PostgresServer, find_bindir, free_port
from tests.fakemeta import FakeMeta, sign

REPO_ROOT = helpers.REPO_ROOT
REPORT = REPO_ROOT / "docs" / "performance.md"
ACCOUNTS = 20
TARGET_INGEST, TARGET_DRAIN = 1000, 3000

WRK_SCRIPT = r"""
-- Pre-signed bodies, one "signature<TAB>body" per line; each request takes the next one.
local bodies, sigs, n, limit = {}, {}, 0, 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local threads, index = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if index %% threads == id - 1 then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    index = index + 1
  end
  limit = #bodies
end

function request()
  -- Round and round: wrk sometimes drops a request it asked for (a write to a
  -- connection the server had closed), so the harness stops wrk once the
  -- database holds every event; repeats are deduplicated by the app.
  n = n %% limit + 1
  return wrk.format("POST", "/webhook", {["Content-Type"] = "application/json",
                                         ["X-Hub-Signature-256"] = sigs[n]}, bodies[n])
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d duration_us=%%d non2xx=%%d errors=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    pg_version = subprocess.check_output([find_bindir() / "postgres", "--version"], text=True).strip()
    os_name = next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.platform())
    return {"cpu": f"{os.cpu_count()} x {cpu}", "memory": f"{mem_kb // 1024 // 1024} GiB", "os": os_name,
            "python": platform.python_version(), "postgres": pg_version,
            "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()}


def write_bodies(path: Path, accounts: list[str], count: int) -> None:
    with open(path, "w") as out:
        for i in range(count):
            payload = helpers.comment_payload(accounts[i % len(accounts)], f"bench-{i}", text=f"comment {i}",
                                              time_=1_700_000_000 + i)
            body = json.dumps(payload, separators=(",", ":"))
            out.write(f"{sign(helpers.APP_SECRET, body.encode())}\t{body}\n")


def run_wrk(url: str, bodies: Path, threads: int, connections: int, seconds: int, workdir: Path,
            events_stored, target: int) -> dict:
    """wrk until the database holds `target` events or `seconds` pass.

    wrk always sleeps out its -d duration, so it is interrupted (SIGINT makes
    it print its summary) as soon as the last event is in."""
    script = workdir / "webhooks.lua"
    script.write_text(WRK_SCRIPT.replace("%%", "%"))
    wrk = subprocess.Popen(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(script), f"{url}/webhook", "--", str(bodies), str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + seconds
    while wrk.poll() is None and time.monotonic() < deadline and events_stored() < target:
        time.sleep(0.05)
    if wrk.poll() is None:
        wrk.send_signal(signal.SIGINT)
    stdout, stderr = wrk.communicate(timeout=30)
    match = re.search(r"^RESULT (.*)$", stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk failed: {stdout}\n{stderr}")
    return {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


def drain(env: dict, processes: int) -> tuple[float, list[str]]:
    started = time.monotonic()
    jobs = [subprocess.Popen([sys.executable, "-m", "app.jobs.webhook_processor"], cwd=REPO_ROOT,
                             env=helpers.process_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True) for _ in range(processes)]
    errors = [job.communicate(timeout=300)[1] for job in jobs if job.wait(timeout=300) != 0]
    return time.monotonic() - started, errors


def queue_status(conn) -> dict:
    return dict(conn.execute("SELECT status, count(*) FROM webhook_events GROUP BY status").fetchall())


def reset_for_second_drain(conn) -> None:
    with conn.transaction():
        conn.execute("TRUNCATE instagram_comments, webhook_event_log")
        conn.execute("UPDATE instagram_accounts SET comments_count = 0, last_event_at = NULL")
        conn.execute("UPDATE webhook_events SET status = 'pending', attempts = 0, processed_at = NULL, "
                     "locked_at = NULL, locked_by = NULL")
    conn.execute("VACUUM ANALYZE webhook_events")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=60, help="time cap of the ingest phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="WEB_CONCURRENCY (default: the app's)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="insta-bench-"))
    pg = PostgresServer(durable=True).start()
    fake = FakeMeta.start()
    server = None
    try:
        db_url = pg.create_database("bench")
        with psycopg.connect(db_url, autocommit=True) as conn:
            migrate(conn, discover())
            accounts = [helpers.seed_account(conn, fake, username=f"bench{i}")[0] for i in range(ACCOUNTS)]
        env = helpers.app_env(db_url, fake, workdir / "logs", PORT=free_port(), NODE_ENV="production",
                              LOG_LEVEL="info")
        extra = {"WEB_CONCURRENCY": str(args.workers)} if args.workers else {}
        server = helpers.Gunicorn(env, workdir / "gunicorn.out", **extra).start()
        bodies = workdir / "bodies.txt"
        write_bodies(bodies, accounts, args.events)

        print(f"ingest: {args.events} signed webhook POSTs, {args.connections} connections, cap {args.seconds}s",
              flush=True)
        with psycopg.connect(db_url, autocommit=True) as conn:
            def events_stored() -> int:
                return conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
            ingest = run_wrk(server.url, bodies, args.threads, args.connections, args.seconds, workdir,
                             events_stored, args.events)
            stored = events_stored()
        ok = ingest["requests"] - ingest["non2xx"]
        ingest_rate = stored / (ingest["duration_us"] / 1e6)
        server.stop()
        server = None
        print(f"  {stored} events committed in {ingest['duration_us'] / 1e6:.1f}s = {ingest_rate:.0f} events/s; "
              f"p50 {ingest['p50_us'] / 1000:.1f} ms, p99 {ingest['p99_us'] / 1000:.1f} ms; {ok} answers 200 "
              f"({ok - stored} repeats), non-2xx {ingest['non2xx']}, socket errors {ingest['errors']}", flush=True)

        drains = {}
        for processes in (1, 2):
            if processes > 1:
                with psycopg.connect(db_url, autocommit=True) as conn:
                    reset_for_second_drain(conn)
            seconds, errors = drain(env, processes)
            with psycopg.connect(db_url, autocommit=True) as conn:
                done = queue_status(conn).get("done", 0)
                comments = conn.execute("SELECT sum(comments_count) FROM instagram_accounts").fetchone()[0]
                span = conn.execute("SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM job_runs "
                                    "WHERE job = 'webhook_processor' AND started_at > now() - make_interval("
                                    "secs => %s)", (seconds,)).fetchone()[0]
            drains[processes] = {"done": done, "seconds": seconds, "rate": done / seconds,
                                 "inner_rate": done / float(span) if span else 0.0, "errors": errors,
                                 "counted": comments}
            print(f"drain with {processes} processor(s): {done} events in {seconds:.2f}s = "
                  f"{done / seconds:.0f} events/s ({drains[processes]['inner_rate']:.0f} events/s without process "
                  f"start-up); account counters sum {comments}", flush=True)
            for error in errors:
                print(error, file=sys.stderr)

        results = {"ingest": ingest, "ok": ok, "stored": stored, "ingest_rate": ingest_rate, "drains": drains,
                   "args": vars(args), "workers": args.workers or min(2 * (os.cpu_count() or 1) + 1, 8),
                   "machine": machine()}
        passed = (stored == args.events and ingest["non2xx"] == 0 and ingest_rate >= TARGET_INGEST
                  and drains[1]["rate"] >= TARGET_DRAIN and all(d["counted"] == d["done"] for d in drains.values()))
        print(f"targets (>= {TARGET_INGEST} ingested/s, >= {TARGET_DRAIN} processed/s): "
              f"{'met' if passed else 'NOT met'}")
        if not args.no_report:
            REPORT.write_text(report(results))
            print(f"written to {REPORT.relative_to(REPO_ROOT)}")
        return 0
    finally:
        if server:
            server.stop()
        fake.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True) if not os.environ.get("BENCH_KEEP") else print(workdir)


def report(r: dict) -> str:
    m, ingest, d1, d2 = r["machine"], r["ingest"], r["drains"][1], r["drains"][2]
    a = r["args"]
    today = dt.date.today().isoformat()
    return f"""# Performance

Baseline of the app (issue 3), measured by `make bench-app`, which runs
`.venv/bin/python -m tests.bench.app_bench` from the repository root
(options: `--events`, `--seconds`, `--connections`, `--workers`; see its docstring).

Design targets: at least {TARGET_INGEST} ingested webhook events/s and {TARGET_DRAIN} processed events/s on
this 2-core machine.

## Results ({today})

| Measure | Result |
|---|---|
| Webhook ingest (signed POST, one event each, 200 after commit) | **{r['ingest_rate']:.0f} events/s** ({r['stored']} events in {ingest['duration_us'] / 1e6:.1f} s) |
| Ingest latency p50 / p90 / p99 / max ({a['connections']} connections) | {ingest['p50_us'] / 1000:.1f} / {ingest['p90_us'] / 1000:.1f} / {ingest['p99_us'] / 1000:.1f} / {ingest['max_us'] / 1000:.1f} ms |
| Answers 200 (of which repeats) / non-2xx / socket errors | {r['ok']} ({r['ok'] - r['stored']}) / {ingest['non2xx']} / {ingest['errors']} |
| Processor drain, 1 process (process start to exit) | **{d1['rate']:.0f} events/s** ({d1['done']} in {d1['seconds']:.2f} s; {d1['inner_rate']:.0f}/s without start-up) |
| Processor drain, 2 processes at once | {d2['rate']:.0f} events/s ({d2['done']} in {d2['seconds']:.2f} s) |

Each figure is one run; on a shared machine expect some spread between runs.

## Set-up

- Machine: {m['cpu']}, {m['memory']} RAM, {m['os']}; Python {m['python']}; {m['postgres']}; {m['wrk']}.
- Everything on this one machine, over 127.0.0.1: PostgreSQL, gunicorn, wrk and the processor share the 2 cores.
- PostgreSQL: a fresh cluster with default durability (`fsync=on`, `synchronous_commit=on`), so every 200 means the event is on disk.
- gunicorn as the systemd unit starts it (`app/gunicorn.conf.py`): {r['workers']} sync workers, `NODE_ENV=production`,
  `LOG_LEVEL=info` (one JSON access line per request to stdout and the combined log file).
- Load: wrk, {a['threads']} thread, {a['connections']} connections, {a['events']} distinct pre-signed bodies
  (a `comments` event each, spread over {ACCOUNTS} accounts), stopped as soon as all {a['events']} events are
  committed (cap {a['seconds']} s). wrk now and then drops a request it generated, so the bodies go round; the
  few repeats are answered 200 as duplicates and not counted as events.
  gunicorn's sync workers close each connection, as behind nginx without upstream keep-alive.
- "200 after commit": `POST /webhook` stores a delivery with one INSERT on an autocommit connection, which
  returns only once PostgreSQL has flushed the commit to its WAL (`synchronous_commit=on`); the answer is
  built after that.
- Drain: `python -m app.jobs.webhook_processor` with the default batch of 500; each event inserts a comment row,
  bumps its account's counters, is marked done and gets a `webhook_event_log` row.
"""


if __name__ == "__main__":
    sys.exit(main())
