"""Benchmark of the app: `python -m tests.bench.app_bench` (what `make bench-app` runs).

1. Starts a throwaway PostgreSQL with durable settings (fsync and
   synchronous_commit on) and the app under gunicorn as the unit runs it,
   both on 127.0.0.1.
2. Ingest, twice (a new connection per request, then keep-alive): wrk sends
   N distinct, pre-signed webhook POSTs (one comment event each) over C
   connections until the database holds all N events (or the time cap).
   The app answers 200 only after the event's INSERT committed.  wrk now
   and then drops a request it generated, so the bodies go round and the
   few repeats are answered as duplicates; events/s counts only distinct
   committed events.
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
  close = args[3] == "close"
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
  local headers = {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sigs[n]}
  if close then headers["Connection"] = "close" end
  return wrk.format("POST", "/webhook", headers, bodies[n])
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
            events_stored, target: int, keep_alive: bool = True) -> dict:
    """wrk until the database holds `target` events or `seconds` pass.

    wrk always sleeps out its -d duration, so it is interrupted (SIGINT makes
    it print its summary) as soon as the last event is in."""
    script = workdir / "webhooks.lua"
    script.write_text(WRK_SCRIPT.replace("%%", "%"))
    wrk = subprocess.Popen(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(script), f"{url}/webhook", "--", str(bodies), str(threads),
         "keep-alive" if keep_alive else "close"],
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


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ingest_phase(server, db_url: str, bodies: Path, args, workdir: Path, keep_alive: bool) -> dict:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE webhook_events CASCADE")

        def events_stored() -> int:
            return conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
        wrk = run_wrk(server.url, bodies, args.threads, args.connections, args.seconds, workdir,
                      events_stored, args.events, keep_alive)
        stored = events_stored()
    ok = wrk["requests"] - wrk["non2xx"]
    result = {**wrk, "ok": ok, "stored": stored, "rate": stored / (wrk["duration_us"] / 1e6),
              "keep_alive": keep_alive}
    print(f"  {'keep-alive' if keep_alive else 'connection per request'}: {stored} events committed in "
          f"{wrk['duration_us'] / 1e6:.1f}s = {result['rate']:.0f} events/s; p50 {wrk['p50_us'] / 1000:.1f} ms, "
          f"p99 {wrk['p99_us'] / 1000:.1f} ms; {ok} answers 200 ({ok - stored} repeats), non-2xx {wrk['non2xx']}, "
          f"socket errors {wrk['errors']}", flush=True)
    return result


def drain_phase(db_url: str, env: dict, processes: int, reset: bool) -> dict:
    if reset:
        with psycopg.connect(db_url, autocommit=True) as conn:
            reset_queue(conn)
    seconds, errors = drain(env, processes)
    with psycopg.connect(db_url, autocommit=True) as conn:
        done = queue_status(conn).get("done", 0)
        counted = conn.execute("SELECT sum(comments_count) FROM instagram_accounts").fetchone()[0]
        span = conn.execute("SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM job_runs "
                            "WHERE job = 'webhook_processor' AND started_at > now() - make_interval(secs => %s)",
                            (seconds,)).fetchone()[0]
    result = {"processes": processes, "done": done, "seconds": seconds, "rate": done / seconds,
              "inner_rate": done / float(span) if span else 0.0, "counted": counted}
    print(f"  {processes} processor(s): {done} events in {seconds:.2f}s = {result['rate']:.0f} events/s "
          f"({result['inner_rate']:.0f} events/s without process start-up); account counters sum {counted}",
          flush=True)
    for error in errors:
        print(error, file=sys.stderr)
    return result


def reset_queue(conn) -> None:
    """The drained events back to pending, their effects undone, for another run."""
    with conn.transaction():
        conn.execute("TRUNCATE instagram_comments, webhook_event_log")
        conn.execute("UPDATE instagram_accounts SET comments_count = 0, last_event_at = NULL")
        conn.execute("UPDATE webhook_events SET status = 'pending', attempts = 0, processed_at = NULL, "
                     "locked_at = NULL, locked_by = NULL")
    conn.execute("VACUUM ANALYZE webhook_events")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=60, help="time cap of each ingest phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (the median is reported)")
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
        server = helpers.Gunicorn(env, workdir / "gunicorn.out").start()
        bodies = workdir / "bodies.txt"
        write_bodies(bodies, accounts, args.events)

        load_at_start = load_average()
        print(f"ingest: {args.events} signed webhook POSTs over {args.connections} connections, cap {args.seconds}s,"
              f" {args.runs} runs; load average at start {load_at_start}", flush=True)
        # Keep-alive runs go last each round: the final one leaves the events the processor drains.
        ingests = [ingest_phase(server, db_url, bodies, args, workdir, keep_alive)
                   for _ in range(args.runs) for keep_alive in (False, True)]
        server.stop()
        server = None
        print("drain:", flush=True)
        drains = [drain_phase(db_url, env, processes, reset=bool(run or processes > 1))
                  for processes in (1, 2) for run in range(args.runs)]

        measures = summarize(ingests, drains)
        passed = (all(i["stored"] == args.events and i["non2xx"] == 0 for i in ingests)
                  and all(d["counted"] == d["done"] == args.events for d in drains)
                  and measures["keep-alive"]["median"]["rate"] >= TARGET_INGEST
                  and measures["drain-1"]["median"]["rate"] >= TARGET_DRAIN)
        medians = ", ".join(f"{name} {m['median']['rate']:.0f}/s" for name, m in measures.items())
        print(f"medians: {medians}")
        print(f"targets (>= {TARGET_INGEST} ingested/s, >= {TARGET_DRAIN} processed/s): "
              f"{'met' if passed else 'NOT met'}")
        if not args.no_report:
            REPORT.write_text(report(measures, args, machine(), load_at_start))
            print(f"written to {REPORT.relative_to(REPO_ROOT)}")
        return 0
    finally:
        if server:
            server.stop()
        fake.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def summarize(ingests: list, drains: list) -> dict:
    """Per measure: the runs, and the run with the median rate."""
    groups = {"keep-alive": [i for i in ingests if i["keep_alive"]],
              "new connection": [i for i in ingests if not i["keep_alive"]],
              "drain-1": [d for d in drains if d["processes"] == 1],
              "drain-2": [d for d in drains if d["processes"] == 2]}
    return {name: {"runs": runs, "median": sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]}
            for name, runs in groups.items()}


def report(measures: dict, args, m: dict, load_at_start: str) -> str:
    def spread(name: str) -> str:
        rates = sorted(r["rate"] for r in measures[name]["runs"])
        return f"{rates[0]:.0f} to {rates[-1]:.0f}"

    rows = []
    for name, label in (("keep-alive", "Ingest, keep-alive (nginx with upstream keepalive)"),
                        ("new connection", "Ingest, a new connection per request")):
        i = measures[name]["median"]
        rows.append(f"| {label} | **{i['rate']:.0f} events/s** | {spread(name)} | {i['p50_us'] / 1000:.1f} / "
                    f"{i['p90_us'] / 1000:.1f} / {i['p99_us'] / 1000:.1f} / {i['max_us'] / 1000:.1f} ms "
                    f"| {i['ok']} ({i['ok'] - i['stored']}) / {i['non2xx']} / {i['errors']} |")
    for name, label in (("drain-1", "Drain, 1 processor process"), ("drain-2", "Drain, 2 processor processes")):
        d = measures[name]["median"]
        rows.append(f"| {label} | **{d['rate']:.0f} events/s** | {spread(name)} | {d['done']} events in "
                    f"{d['seconds']:.2f} s, process start to exit ({d['inner_rate']:.0f}/s without start-up) | |")
    table = "\n".join(rows)
    return f"""# Performance

Baseline of the app (issue 3), measured by `make bench-app`, which runs
`.venv/bin/python -m tests.bench.app_bench` from the repository root
(options: `--events`, `--runs`, `--seconds`, `--connections`; see its docstring).

Design targets: at least {TARGET_INGEST} ingested webhook events/s and {TARGET_DRAIN} processed events/s on
this 2-core machine.

## Results ({dt.date.today().isoformat()})

Median of {args.runs} runs each, with the range of the runs.

| Measure | Median | Range (events/s) | Median run: latency p50 / p90 / p99 / max | Answers 200 (repeats) / non-2xx / socket errors |
|---|---|---|---|---|
{table}

The machine may be shared: other work running beside the benchmark lowers the figures (the load
average was {load_at_start} when this run started).

## Set-up

- Machine: {m['cpu']}, {m['memory']} RAM, {m['os']}; Python {m['python']}; {m['postgres']}; {m['wrk']}.
- Everything on this one machine, over 127.0.0.1: PostgreSQL, gunicorn, wrk and the processor share the 2 cores.
- PostgreSQL: a fresh cluster with default durability (`fsync=on`, `synchronous_commit=on`).
- gunicorn exactly as the systemd unit starts it (`app/gunicorn.conf.py` defaults: 2 x cores + 1 = 5 `gthread`
  workers with 4 threads each), `NODE_ENV=production`, `LOG_LEVEL=info`: one JSON access line per request to
  stdout and to the combined log file.
- "200 after commit": `POST /webhook` stores a delivery with one INSERT on an autocommit connection, which
  returns only once PostgreSQL has flushed the commit to its WAL; the answer is built after that.
- Load: wrk, {args.threads} thread, {args.connections} connections, {args.events} distinct pre-signed bodies (a
  `comments` event each, spread over {ACCOUNTS} accounts), stopped as soon as all {args.events} events are committed
  (cap {args.seconds} s). wrk now and then drops a request it generated, so the bodies go round; the few repeats are
  answered 200 as duplicates and are not counted as events. The two ingest rows differ only in the connection
  handling: behind nginx, the keep-alive row applies when the upstream block keeps connections alive
  (`keepalive`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`), the other row when it does not.
- Drain: `python -m app.jobs.webhook_processor` (default batch of 500) over the {args.events} events of the
  last keep-alive run; each event inserts a comment row, bumps its account's counters, is marked done and gets
  a `webhook_event_log` row. Between runs the same events are reset to pending; the two-process rows run two
  processors at once.
"""


if __name__ == "__main__":
    sys.exit(main())
