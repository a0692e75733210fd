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
3. Drain: one `python -m app.webhooks.job` run over those events,
   timed from process start to exit, then a second measure with two
   processors at once.
4. Memory, beside both: a sampler thread reads /proc/PID/smaps_rollup of the
   gunicorn tree (master and workers) every 0.2 s through the ingest runs, and
   of each processor every 0.1 s through the drains.  PSS, not only RSS: the
   forked workers share pages with the master (the interpreter, the libraries)
   and PSS counts each shared page once across the tree.
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from app.migrate import discover, migrate
from tests.app import helpers
from tests.app.pgserver import PostgresServer, find_bindir, free_port
from tests.fakemeta import FakeMeta, sign
from tests.sandbox.processes import children

REPO_ROOT = helpers.REPO_ROOT
REPORT = REPO_ROOT / "docs" / "performance.md"
ACCOUNTS = 20
TARGET_INGEST, TARGET_DRAIN = 1000, 3000
# Peak PSS in MiB of the gunicorn tree (master + the default 5 workers here) and of one processor; see report().
TARGET_APP_PSS_MIB, TARGET_PROCESSOR_PSS_MIB = 300, 100

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


def tree_memory(roots: list[int]) -> dict[int, tuple[int, int]]:
    """pid -> (RSS, PSS) in KiB, now, of the roots and all their descendants."""
    tree, memory = list(roots), {}
    for pid in tree:  # grows as it goes: children, grandchildren...
        tree += children(pid)
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = dict(re.findall(r"^(Rss|Pss):\s+(\d+) kB", rollup, re.M))
        if len(fields) == 2:  # a zombie has no pages left to show
            memory[pid] = (int(fields["Rss"]), int(fields["Pss"]))
    return memory


def settled_memory(roots: list[int], timeout: float = 15.0) -> dict[int, tuple[int, int]]:
    """tree_memory once two readings 0.5 s apart agree: a worker still booting reads 20 MiB higher."""
    def pss(memory: dict) -> int:
        return sum(p for _, p in memory.values())
    current, deadline = tree_memory(roots), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        previous, current = current, tree_memory(roots)
        if current.keys() == previous.keys() and abs(pss(current) - pss(previous)) < 1024:
            break
    return current


class MemorySampler(threading.Thread):
    """`with MemorySampler(pids) as sampler:` samples tree_memory(pids) every `interval` seconds."""

    def __init__(self, roots: list[int], interval: float):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.by_pid: dict[int, list[tuple[int, int]]] = {}
        self.totals: list[tuple[int, int]] = []  # the tree's sum at each sample
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            if memory := tree_memory(self.roots):
                for pid, reading in memory.items():
                    self.by_pid.setdefault(pid, []).append(reading)
                self.totals.append((sum(r for r, _ in memory.values()), sum(p for _, p in memory.values())))
            if self.done.wait(self.interval):
                return

    def __enter__(self) -> "MemorySampler":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()

    def figures(self) -> dict:
        """Peak and steady (median of the samples) RSS and PSS in MiB: per pid, and the tree's total."""
        def of(readings: list[tuple[int, int]]) -> dict:
            rss, pss = [r / 1024 for r, _ in readings], [p / 1024 for _, p in readings]
            return {"peak_rss": max(rss), "steady_rss": statistics.median(rss),
                    "peak_pss": max(pss), "steady_pss": statistics.median(pss)}
        return {"by_pid": {pid: of(readings) for pid, readings in self.by_pid.items()}, "total": of(self.totals)}


def drain(env: dict, processes: int) -> tuple[float, list[str], list[dict]]:
    """Seconds from start to the last exit, the stderr of those that failed and each processor's memory."""
    started = time.monotonic()
    jobs = [subprocess.Popen([sys.executable, "-m", "app.webhooks.job"], cwd=REPO_ROOT,
                             env=helpers.process_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True) for _ in range(processes)]
    with MemorySampler([job.pid for job in jobs], interval=0.1) as sampler:
        errors = [job.communicate(timeout=300)[1] for job in jobs if job.wait(timeout=300) != 0]
    return time.monotonic() - started, errors, list(sampler.figures()["by_pid"].values())


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
    seconds, errors, memory = drain(env, processes)
    with psycopg.connect(db_url, autocommit=True) as conn:
        done = queue_status(conn).get("done", 0)
        counted = conn.execute("SELECT sum(comments_count) FROM instagram_accounts").fetchone()[0]
        span = conn.execute("SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM job_runs "
                            "WHERE job = 'webhook_processor' AND started_at > now() - make_interval(secs => %s)",
                            (seconds,)).fetchone()[0]
    result = {"processes": processes, "done": done, "seconds": seconds, "rate": done / seconds,
              "inner_rate": done / float(span) if span else 0.0, "counted": counted, "memory": memory}
    peaks = ", ".join(f"{m['peak_pss']:.1f}" for m in memory)
    print(f"  {processes} processor(s): {done} events in {seconds:.2f}s = {result['rate']:.0f} events/s "
          f"({result['inner_rate']:.0f} events/s without process start-up); account counters sum {counted}; "
          f"peak PSS {peaks} MiB", flush=True)
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
        at_rest = settled_memory([server.process.pid])
        # Keep-alive runs go last each round: the final one leaves the events the processor drains.
        with MemorySampler([server.process.pid], interval=0.2) as app_sampler:
            ingests = [ingest_phase(server, db_url, bodies, args, workdir, keep_alive)
                       for _ in range(args.runs) for keep_alive in (False, True)]
        app_memory = gunicorn_memory(app_sampler, server.process.pid, at_rest)
        print(f"  gunicorn tree ({len(app_memory['workers'])} workers): PSS at rest {app_memory['rest_pss']:.1f} MiB, "
              f"under load steady {app_memory['total']['steady_pss']:.1f} MiB, peak "
              f"{app_memory['total']['peak_pss']:.1f} MiB", flush=True)
        server.stop()
        server = None
        print("drain:", flush=True)
        drains = [drain_phase(db_url, env, processes, reset=bool(run or processes > 1))
                  for processes in (1, 2) for run in range(args.runs)]

        measures = summarize(ingests, drains)
        memory = {"app": app_memory,
                  **{name: processor_memory(measures[name]["runs"]) for name in ("drain-1", "drain-2")}}
        met = targets(measures, memory, ingests, drains, args.events)
        medians = ", ".join(f"{name} {m['median']['rate']:.0f}/s" for name, m in measures.items())
        print(f"medians: {medians}")
        for target, measured, ok in met:
            print(f"target: {target}: {measured}, {'met' if ok else 'NOT met'}")
        if not args.no_report:
            REPORT.write_text(report(measures, memory, met, args, machine(), load_at_start))
            print(f"written to {REPORT.relative_to(REPO_ROOT)}")
        return 0
    finally:
        if server:
            server.stop()
        fake.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def gunicorn_memory(sampler: MemorySampler, master: int, at_rest: dict[int, tuple[int, int]]) -> dict:
    """The master's figures, each worker's and the tree's, with the PSS at rest (before the load)."""
    figures = sampler.figures()
    return {"master": figures["by_pid"][master], "total": figures["total"],
            "workers": [f for pid, f in figures["by_pid"].items() if pid != master],
            "rest_master": at_rest[master][1] / 1024,
            "rest_workers": [pss / 1024 for pid, (_, pss) in at_rest.items() if pid != master],
            "rest_pss": sum(pss for _, pss in at_rest.values()) / 1024}


def processor_memory(runs: list) -> dict:
    """The highest peak of any one processor over the runs of a drain measure."""
    processes = [m for run in runs for m in run["memory"]]
    return {key: max(m[key] for m in processes) for key in ("peak_pss", "peak_rss")}


def targets(measures: dict, memory: dict, ingests: list, drains: list, events: int) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each target; a rate counts only if every event arrived and was processed."""
    complete = (all(i["stored"] == events and i["non2xx"] == 0 for i in ingests)
                and all(d["counted"] == d["done"] == events for d in drains))
    ingest, drain_rate = measures["keep-alive"]["median"]["rate"], measures["drain-1"]["median"]["rate"]
    app_pss = memory["app"]["total"]["peak_pss"]
    processor_pss = max(memory[name]["peak_pss"] for name in ("drain-1", "drain-2"))
    workers = len(memory["app"]["workers"])
    return [(f"Ingest (keep-alive, median) at least {TARGET_INGEST} events/s", f"{ingest:.0f} events/s",
             complete and ingest >= TARGET_INGEST),
            (f"Drain (1 processor, median) at least {TARGET_DRAIN} events/s", f"{drain_rate:.0f} events/s",
             complete and drain_rate >= TARGET_DRAIN),
            (f"gunicorn tree (master + {workers} workers) at most {TARGET_APP_PSS_MIB} MiB PSS at its peak",
             f"{app_pss:.1f} MiB", app_pss <= TARGET_APP_PSS_MIB),
            (f"A processor at most {TARGET_PROCESSOR_PSS_MIB} MiB PSS at its peak", f"{processor_pss:.1f} MiB",
             processor_pss <= TARGET_PROCESSOR_PSS_MIB)]


def summarize(ingests: list, drains: list) -> dict:
    """Per measure: the runs, and the run with the median rate."""
    groups = {"keep-alive": [i for i in ingests if i["keep_alive"]],
              "new connection": [i for i in ingests if not i["keep_alive"]],
              "drain-1": [d for d in drains if d["processes"] == 1],
              "drain-2": [d for d in drains if d["processes"] == 2]}
    return {name: {"runs": runs, "median": sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]}
            for name, runs in groups.items()}


def report(measures: dict, memory: dict, met: list, args, m: dict, load_at_start: str) -> str:
    def spread(name: str) -> str:
        rates = sorted(r["rate"] for r in measures[name]["runs"])
        return f"{rates[0]:.0f} to {rates[-1]:.0f}"

    def mib(values: list[float]) -> str:
        low, high = f"{min(values):.1f}", f"{max(values):.1f}"
        return low if low == high else f"{low} to {high}"

    def under_load(figures: list[dict], measure: str) -> str:
        return f"{mib([f['steady_' + measure] for f in figures])} / {mib([f['peak_' + measure] for f in figures])}"

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
    app = memory["app"]
    workers = len(app["workers"])
    memory_rows = "\n".join([
        f"| gunicorn master | {app['rest_master']:.1f} | {under_load([app['master']], 'pss')} "
        f"| {under_load([app['master']], 'rss')} |",
        f"| gunicorn worker, each of {workers} | {mib(app['rest_workers'])} | {under_load(app['workers'], 'pss')} "
        f"| {under_load(app['workers'], 'rss')} |",
        f"| **gunicorn tree, total** (master + {workers} workers) | {app['rest_pss']:.1f} "
        f"| **{under_load([app['total']], 'pss')}** | {under_load([app['total']], 'rss')} |",
        *(f"| {label} | | - / **{memory[name]['peak_pss']:.1f}** | - / {memory[name]['peak_rss']:.1f} |"
          for name, label in (("drain-1", "Processor, 1 process"), ("drain-2", "Processor, each of 2 at once")))])
    left = 1024 - 256 - 150 - TARGET_APP_PSS_MIB - TARGET_PROCESSOR_PSS_MIB  # of 1 GiB, see the text
    headroom = TARGET_APP_PSS_MIB / app["total"]["peak_pss"] * 100 - 100
    per_worker = (TARGET_APP_PSS_MIB - app["master"]["peak_pss"]) / workers
    target_rows = "\n".join(f"| {target} | {measured} | {'yes' if ok else '**no**'} |" for target, measured, ok in met)
    return f"""# Performance

Baseline of the app (issue 3), measured by `make bench-app`, which runs
`.venv/bin/python -m tests.bench.app_bench` from the repository root
(options: `--events`, `--runs`, `--seconds`, `--connections`; see its docstring).

## Targets

On this 2-core machine, and whether the run below met them:

| Target | Measured | Met |
|---|---|---|
{target_rows}

The memory targets size the app for a 1 to 2 GB VPS with PostgreSQL beside it. On 1 GiB, PostgreSQL
takes 256 MiB of `shared_buffers` (25% of RAM, `deploys/postgres.py`) plus its backends, and the OS, sshd
and nginx about 150 MiB; {TARGET_APP_PSS_MIB} MiB for the web tree and {TARGET_PROCESSOR_PSS_MIB} MiB for the
processor (a timer job, every 5 minutes beside it) leave some {left} MiB for the backends and the page cache.
{TARGET_APP_PSS_MIB} MiB is {headroom:.0f}% above the measured peak of the {workers}-worker tree, room for the app
to grow: about {per_worker:.0f} MiB per worker. Fewer workers (hosts set `WEB_CONCURRENCY` in `group_data/all.py`)
need proportionally less. {TARGET_PROCESSOR_PSS_MIB} MiB leaves the processor room for larger payloads than the
benchmark's short comments (it holds a batch of 500 events).

## Results ({dt.date.today().isoformat()})

Median of {args.runs} runs each, with the range of the runs.

| Measure | Median | Range (events/s) | Median run: latency p50 / p90 / p99 / max | Answers 200 (repeats) / non-2xx / socket errors |
|---|---|---|---|---|
{table}

The machine may be shared: other work running beside the benchmark lowers the figures (the load
average was {load_at_start} when this run started).

### Memory

MiB. gunicorn: sampled every 0.2 s through all {2 * args.runs} ingest runs; at rest once the workers have booted,
before the first run; steady is the median of the samples, peak the highest. Processor: sampled every 0.1 s
through each drain run; the highest peak of any one process over the {args.runs} runs.

| Process | PSS at rest | PSS steady / peak under load | RSS steady / peak under load |
|---|---|---|---|
{memory_rows}

PSS (proportional set size, `/proc/PID/smaps_rollup`) charges a page that n processes share 1/n to each, so
the tree's PSS total is what it occupies in RAM; RSS counts a shared page in every process that maps it, so
the RSS total overstates it. The workers share little with the master: gunicorn does not preload the app, so
each worker imports it after the fork. Pages shared with processes outside the tree (the benchmark's own
Python maps the same interpreter and libraries) are split with them too, so on a host PSS reads slightly higher.

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
- Drain: `python -m app.webhooks.job` (default batch of 500) over the {args.events} events of the
  last keep-alive run; each event inserts a comment row, bumps its account's counters, is marked done and gets
  a `webhook_event_log` row. Between runs the same events are reset to pending; the two-process rows run two
  processors at once.
"""


if __name__ == "__main__":
    sys.exit(main())
