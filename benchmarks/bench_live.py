"""Live-mode concurrency: the doctor's wall time against the sum of its calls and against its critical path.

Serves the seed incident (with its logs) from the fake gRPC server of the tests (tests/fakegcp.py),
in a process of its own as a real API would be, with LATENCY added to every call; then runs the
doctor in this process with the real client libraries (NETRA_DOCTOR_GCP_ENDPOINT), gathering and
diagnosis, after one warm-up run (the Google libraries are imported once per process). From the
fake's call log:

- sum: every call's latency added up (what a one-call-at-a-time doctor would wait);
- critical path: the longest chain of calls that must follow each other (GetService before
  GetRevision and before the secrets it names; GetJob before the secrets and the job's logs;
  each page after the one before).

Target: wall <= 1.3x the critical path. Also shown: the CLI in a fresh process (interpreter,
imports of the Google libraries, the same calls), as a user meets it. Always exits 0.

    python benchmarks/bench_live.py [LATENCY_SECONDS] [RUNS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

TARGET = 1.3
EXPORTS = ("service.yaml", "job.yaml", "executions.yaml", "secrets.yaml", "logs.json")


def critical_path(calls: list) -> float:
    """Longest chain of dependent calls, each weighted by how long the fake took to answer it."""
    finish: dict[int, float] = {}
    done: dict[str, list[float]] = {}  # method -> chain lengths of its finished calls
    pages: dict[str, float] = {}  # a paged query (by its request minus the token) -> chain so far
    for i, call in enumerate(sorted(calls, key=lambda c: c.started)):
        after = {"GetRevision": ["GetService"], "AccessSecretVersion": ["GetService", "GetJob"],
                 "ListLogEntries": ["GetService", "GetJob"]}.get(call.method, [])
        start = max((max(done.get(m, [0.0])) for m in after), default=0.0)
        query = f"{call.method}:{sorted((k, str(v)) for k, v in call.request.items() if k != 'page_token')}"
        if call.request.get("page_token"):
            start = max(start, pages.get(query, 0.0))
        finish[i] = start + call.seconds
        pages[query] = finish[i]
        done.setdefault(call.method, []).append(finish[i])
    return max(finish.values(), default=0.0)


def main(latency: float = 0.1, runs: int = 5) -> None:
    from netra_doctor import engine
    from netra_doctor.core.config import load_target
    from netra_doctor.sources.live_api import ENDPOINT_ENV

    from tests.fakegcp import FakeProcess

    work = Path(tempfile.mkdtemp(prefix="netra-doctor-bench-"))
    exports = work / "exports"
    exports.mkdir()
    for name in EXPORTS:
        shutil.copy(ROOT / "doctor" / "demo" / "data" / name, exports / name)
    cwd = work / "repo"
    cwd.mkdir()
    os.chdir(cwd)
    rows = []
    try:
        with FakeProcess(exports, latency=latency) as fake:
            os.environ[ENDPOINT_ENV] = fake.endpoint
            target = load_target("staging")
            engine.run(target)  # warm-up: imports the client libraries
            for run in range(1, runs + 1):
                fake.clear()
                start = time.perf_counter()
                result = engine.run(target)
                wall = time.perf_counter() - start
                assert {s.name: s.status for s in result.facts.sources}["cloudrun"] == "ok"
                calls = fake.calls()
                rows.append((f"in-process {run}", len(calls), sum(c.seconds for c in calls), critical_path(calls),
                             wall))
            for run in range(1, 4):
                fake.clear()
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "--format", "json"], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - start
                calls = fake.calls()
                rows.append((f"CLI, fresh {run}", len(calls), sum(c.seconds for c in calls), critical_path(calls),
                             wall))
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    print(f"latency per call: {latency * 1000:.0f} ms")
    print(f"{'run':15} {'calls':>5} {'sum s':>7} {'path s':>7} {'wall s':>7} {'wall/sum':>8} {'wall/path':>9}")
    for name, count, total, path, wall in rows:
        print(f"{name:15} {count:5d} {total:7.3f} {path:7.3f} {wall:7.3f} {wall / total:8.2f} {wall / path:9.2f}")
    warm = rows[:runs]
    ratio = statistics.median(w / p for _, _, _, p, w in warm)
    print()
    print(f"in-process wall / critical path, median of {len(warm)}: {ratio:.2f}x (target <= {TARGET}x): "
          f"{'ok' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
