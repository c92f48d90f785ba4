"""Growth: how the doctor's cost grows with what it reads. Prints each curve (size, time, peak memory).

Targets (issue 13), each compared with a baseline measured in the same run:
- 10,000 present and 10,000 expected tables: the whole run (`staging --from EXPORTS --dsn`, a real
  PostgreSQL holding the tables, the names in the config) within 1.2x the run with 100 of each; the
  checks over hand-built facts and a replay of their snapshot are printed beside it;
- 100,000 realistic Cloud Run log entries (the exports' 20 MiB cap raised for the benchmark): the
  offline loader linear, within 3x `json.load` of the same file;
- a 1 MB single log line through the secret scrubber: under 0.1 s of CPU;
- replay of a 20 MB snapshot: loading it within 3x `json.load` of it.

Peak memory is tracemalloc's peak over the operation (a separate pass: tracing slows the timing).
Always exits 0; the verdict column says whether a target was met.

    python benchmarks/bench_growth.py [scrub] [tables] [run] [logs] [replay]
"""

from __future__ import annotations

import json
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netra_doctor.core.facts import DatabaseFacts, Facts, LogEntry, SourceStatus, TableInfo, TargetInfo  # noqa: E402

SEED = ROOT / "tests" / "data" / "seed"


def best(fn: Callable[[], Any], runs: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(rows: list[tuple], headers: tuple) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        print("  " + "  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))


# --- tables ---------------------------------------------------------------------------------------


def tables_facts(n: int) -> Facts:
    """A service whose database holds n tables in three schemas, and a config expecting n tables:
    most present and usable, some in another schema, some hidden by grants, some nowhere."""
    schemas = ["public", "audit"]
    tables = [TableInfo("audit" if i % 20 == 1 else "public", f"t_{i:06d}", "app", True, i % 50 != 7, True)
              for i in range(n)]
    expected = [f"missing_{i:06d}" if i % 25 == 3 else f"t_{i:06d}" for i in range(n)]
    db = DatabaseFacts("service", "p:r:i/app", "proxy 127.0.0.1:5432", True, current_user="app",
                       current_database="app", search_path=["public"], search_path_setting='"$user", public',
                       databases=["app", "postgres"], schemas=schemas, tables=tables,
                       other_databases={"postgres": [f"public.other_{i}" for i in range(n // 10)]})
    target = TargetInfo("staging", "p", "r", "svc", "job", "alembic.ini", expected_tables=expected)
    return Facts(target=target, databases={"service": db}, migrations=None, logs=[],
                 sources=[SourceStatus("database", "ok")])


def process_seconds(commands: list[tuple[list[str], Path]], runs: int = 9) -> list[float]:
    """Median wall time of each command as a fresh process, the commands taking turns (so a busy
    machine slows them alike)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for i, (cmd, cwd) in enumerate(commands):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def bench_tables(work: Path) -> None:
    """The checks over hand-built facts, and `replay` of their snapshot as a process. The replay is
    shown beside the run, not held to its target: a replay's cost is the snapshot's JSON (its own
    target is loading within 3x json.load, below)."""
    from netra_doctor.checks.tables import tables
    from netra_doctor.engine import replay

    print("\nTables: n present and n expected tables (hand-built facts; the checks, and a replay of their snapshot)")
    sizes = (100, 1_000, 3_000, 10_000)
    measured, commands = [], []
    for n in sizes:
        facts = tables_facts(n)
        check = best(lambda f=facts: tables(f), runs=5)
        diagnosis = best(lambda f=facts: replay(f), runs=5)
        peak = peak_mib(lambda f=facts: replay(f))
        path = work / f"tables-{n}.json"
        path.write_text(json.dumps(facts.to_dict()))
        loading = best(lambda p=path: json.loads(p.read_bytes()), runs=5)
        commands.append(([sys.executable, "-m", "netra_doctor.cli", "replay", str(path), "--format", "json"], work))
        measured.append((check, diagnosis, peak, loading))
    wholes = process_seconds(commands)
    rows = [(n, f"{check * 1000:.1f} ms", f"{diagnosis * 1000:.1f} ms", f"{peak:.1f} MiB", f"{load * 1000:.1f} ms",
             f"{whole * 1000:.0f} ms", f"{whole / wholes[0]:.2f}x")
            for n, (check, diagnosis, peak, load), whole in zip(sizes, measured, wholes, strict=True)]
    table(rows, ("tables", "tables check", "all checks", "peak", "json.load", "replay (process)", "vs 100"))


def bench_tables_live_database(work: Path) -> None:
    """The target, as a user meets it: `netra-doctor staging --from EXPORTS --dsn ...` against a
    PostgreSQL whose database holds n tables, with n expected tables in the config. Each size has a
    server of its own, so no run also reads the other sizes' databases as "other databases"."""
    import psycopg
    from netra_doctor.demo.pgserver import PostgresUnavailable, start

    print("\nTables, whole offline run against a real PostgreSQL (n tables, n expected in the config)")
    sizes = (100, 1_000, 10_000)
    servers = []
    try:
        commands = []
        for n in sizes:
            server = start()
            servers.append(server)
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE growth")
            with psycopg.connect(server.dsn("growth"), autocommit=True) as conn:
                conn.execute(f"DO $$ BEGIN FOR i IN 0..{n - 1} LOOP "
                             "EXECUTE format('CREATE TABLE t_%s (id int)', lpad(i::text, 6, '0')); END LOOP; END $$")
            folder = work / f"run-{n}"
            folder.mkdir()
            names = ", ".join(f'"t_{i:06d}"' for i in range(n))
            (folder / "netra-doctor.toml").write_text(f"expected_tables = [{names}]\n")
            commands.append(([sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(SEED),
                              "--format", "json", "--dsn", server.dsn("growth")], folder))
        medians = process_seconds(commands)
    except (PostgresUnavailable, RuntimeError) as exc:
        print(f"  skipped: {exc}")
        return
    finally:
        for server in servers:
            server.stop()
    table([(n, f"{m * 1000:.0f} ms", f"{m / medians[0]:.2f}x") for n, m in zip(sizes, medians, strict=True)],
          ("tables", "offline run (process)", "vs 100"))
    ratio = medians[-1] / medians[0]
    print(f"  target: 10,000 of each within 1.2x of 100 of each ({ratio:.2f}x): {verdict(ratio <= 1.2)}")


# --- logs -------------------------------------------------------------------------------------------


def log_entries_doc(n: int) -> list[dict]:
    """Realistic Cloud Run entries (as `gcloud logging read --format=json` prints them): mostly the
    service's request and app lines, some of the job's, varied text, newest first."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        ts = f"2025-06-14T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z"
        words = " ".join("".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9))) for _ in range(12))
        if i % 10 == 9:
            out.append({
                "insertId": f"j{i:012x}",
                "labels": {"run.googleapis.com/execution_name": "netra-migrations-staging-k7x2p",
                           "run.googleapis.com/task_index": "0", "run.googleapis.com/task_attempt": "0"},
                "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
                "receiveTimestamp": ts, "resource": {"type": "cloud_run_job", "labels": {
                    "job_name": "netra-migrations-staging", "location": "us-central1", "project_id": "netra-staging"}},
                "textPayload": f"INFO [alembic.runtime.migration] {words}", "timestamp": ts})
        else:
            out.append({
                "insertId": f"s{i:012x}", "labels": {"instanceId": "00f2d8e4b1a7e9c34f0d5e2a7c1b9f8e6d4c2a0b3e5"},
                "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstdout",
                "receiveTimestamp": ts, "resource": {"type": "cloud_run_revision", "labels": {
                    "configuration_name": "netra-backend-staging", "location": "us-central1",
                    "project_id": "netra-staging", "revision_name": "netra-backend-staging-00042-xqv",
                    "service_name": "netra-backend-staging"}},
                "severity": rnd.choice(["INFO", "INFO", "INFO", "WARNING", "ERROR"]),
                "jsonPayload": {"message": f"request {i}: {words}", "logger": "netra_backend.app",
                                "trace_id": f"{rnd.getrandbits(64):016x}"},
                "timestamp": ts})
    return out


def bench_logs(work: Path) -> None:
    from netra_doctor.sources import offline

    offline.MAX_FILE_BYTES = 2**30  # the cap raised for the benchmark
    print("\nLogs: offline loader (read, parse, depth check, LogEntry) vs json.load of the same file")
    rows, ratio, per = [], 0.0, []
    for n in (10_000, 30_000, 100_000):
        folder = work / f"logs-{n}"
        folder.mkdir()
        path = folder / "logs.json"
        path.write_text(json.dumps(log_entries_doc(n), indent=2))
        size = path.stat().st_size / 2**20
        raw = best(lambda p=path: json.loads(p.read_text()), runs=5)
        load = best(lambda f=folder: offline._logs(f), runs=5)
        peak = peak_mib(lambda f=folder: offline._logs(f))
        ratio = load / raw
        per.append(load / n * 1e6)
        rows.append((n, f"{size:.1f} MiB", f"{raw * 1000:.0f} ms", f"{load * 1000:.0f} ms", f"{ratio:.2f}x",
                     f"{load / n * 1e6:.1f} us", f"{peak:.0f} MiB"))
    table(rows, ("entries", "file", "json.load", "loader", "ratio", "per entry", "peak"))
    linear = max(per) <= 1.5 * min(per)
    print(f"  target: linear (cost per entry within 1.5x across sizes): {verdict(linear)}; "
          f"100,000 entries within 3x json.load: {verdict(ratio <= 3)}")


# --- scrubber ---------------------------------------------------------------------------------------


def bench_scrub() -> None:
    from netra_doctor.safety import secrecy

    for i in range(20):
        secrecy.remember(f"Planted-{i:02d}-{''.join(random.Random(i).choices(string.ascii_letters, k=16))}")
    rnd = random.Random(3)
    print("\nScrubber: one log line, CPU seconds (20 known secrets; worst of the shapes below)")
    shapes = {
        "random token": lambda n: "".join(rnd.choices(string.ascii_letters + string.digits + "+/=", k=n)),
        "scheme run": lambda n: "a" * n,
        "dsn, no @": lambda n: "postgresql://user:" + "p" * n,
        "many ://": lambda n: "a://b:" * (n // 6),
        "prose with DSNs": lambda n: ("connect postgresql://app:pw@10.0.0.1/db failed; " * (n // 48)),
    }
    rows, worst_1mb = [], 0.0
    for size in (100 * 1024, 1024 * 1024, 10 * 1024 * 1024):
        cells = []
        for make in shapes.values():
            line = make(size)
            cpu = best(lambda t=line: secrecy.scrub(t), clock=time.process_time)
            cells.append(cpu)
            if size == 1024 * 1024:
                worst_1mb = max(worst_1mb, cpu)
        rows.append((f"{size // 1024} KiB", *(f"{c * 1000:.1f} ms" for c in cells)))
    table(rows, ("line", *shapes))
    print(f"  target: 1 MB line under 0.1 s CPU (worst {worst_1mb * 1000:.1f} ms): {verdict(worst_1mb < 0.1)}")


# --- replay -----------------------------------------------------------------------------------------


def bench_replay(work: Path) -> None:
    from netra_doctor.core.snapshot import load_snapshot
    from netra_doctor.engine import replay

    print("\nReplay: load a snapshot (read, parse, validate against the schema) vs json.load of it")
    rows, ratio = [], 0.0
    for n in (10_000, 40_000, 80_000):  # 80,000 entries: a 20 MB snapshot
        facts = tables_facts(100)
        text = "request served with status 200 in 12 ms from netra-backend-staging-00042-xqv"
        facts.logs = [LogEntry(f"2025-06-14T08:{(i // 60) % 60:02d}:{i % 60:02d}.{i:06d}Z", text, "INFO", "service",
                               "netra-backend-staging-00042-xqv") for i in range(n)]
        path = work / f"replay-{n}.json"
        path.write_text(json.dumps(facts.to_dict(), indent=2))
        size = path.stat().st_size / 2**20
        raw = best(lambda p=path: json.loads(p.read_text()), runs=5)
        load = best(lambda p=path: load_snapshot(p), runs=5)
        loaded = load_snapshot(path)[0]
        checks = best(lambda f=loaded: replay(f), runs=1)
        peak = peak_mib(lambda p=path: load_snapshot(p))
        ratio = load / raw
        rows.append((n, f"{size:.1f} MiB", f"{raw * 1000:.0f} ms", f"{load * 1000:.0f} ms", f"{ratio:.2f}x",
                     f"{checks * 1000:.0f} ms", f"{peak:.0f} MiB"))
    table(rows, ("log entries", "snapshot", "json.load", "load", "ratio", "checks", "peak"))
    print(f"  target: a ~20 MB snapshot loads within 3x json.load: {verdict(ratio <= 3)}")


def main() -> None:
    parts = {"scrub": lambda work: bench_scrub(), "tables": bench_tables, "run": bench_tables_live_database,
             "logs": bench_logs, "replay": bench_replay}
    chosen = sys.argv[1:] or list(parts)
    with tempfile.TemporaryDirectory(prefix="netra-doctor-growth-") as tmp:
        for name in chosen:
            parts[name](Path(tmp))


if __name__ == "__main__":
    main()
