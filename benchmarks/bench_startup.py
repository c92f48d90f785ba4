"""Start-up cost: `netra-doctor --help`, an offline run and a replay against the floor of `import click`.

click alone costs several times a bare interpreter, so it is the floor the CLI is measured
against. Run it with the interpreter of a regular install (`pip install .`), which is what users
run: an editable install (`pip install -e .`) adds setuptools' import hook to every start (~25 ms
here), and the output says which kind it measured. Each command runs RUNS times in a fresh
interpreter, the commands taking turns; the table shows the median and the best.
Targets: --help <= 1.5x the click floor; replay <= 0.3 s. Always exits 0.

    python benchmarks/bench_startup.py [RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
HELP_TARGET = 1.5  # x the click floor
REPLAY_TARGET = 0.3  # seconds


def _doctor() -> list[str]:
    """The installed console script when there is one (what users run), else the module."""
    script = Path(sys.executable).with_name("netra-doctor")
    found = str(script) if script.exists() else shutil.which("netra-doctor")
    return [found] if found else [sys.executable, "-m", "netra_doctor.cli"]


def _install_kind() -> str:
    where = subprocess.run([sys.executable, "-c", "import doctor; print(doctor.__file__)"],
                           capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.strip()
    return f"regular ({where})" if "site-packages" in where else f"editable ({where})"


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main(runs: int = 7) -> None:
    work = Path(tempfile.mkdtemp(prefix="netra-doctor-bench-"))
    try:
        doctor = _doctor()
        snapshot = work / "staging.json"
        subprocess.run([*doctor, "staging", "--from", str(SEED), "--save", str(snapshot)], cwd=work,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import click' (floor)", [sys.executable, "-c", "import click"]),
            ("netra-doctor --help", [*doctor, "--help"]),
            ("netra-doctor replay FILE", [*doctor, "replay", str(snapshot), "--format", "json"]),
            ("netra-doctor staging --from seed", [*doctor, "staging", "--from", str(SEED), "--format", "json"]),
        ]
        results: dict[str, list[float]] = {name: [] for name, _ in rows}
        for _ in range(runs):  # round-robin, so a change in machine load hits every command alike
            for name, cmd in rows:
                results[name].append(timed(cmd, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"install: {_install_kind()}")
    floor = statistics.median(results["python -c 'import click' (floor)"])
    print(f"{'command':36} {'median s':>9} {'best s':>7} {'x click':>8}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:36} {median:9.3f} {min(times):7.3f} {median / floor:8.2f}")
    help_ratio = statistics.median(results["netra-doctor --help"]) / floor
    replay = statistics.median(results["netra-doctor replay FILE"])
    print()
    print(f"--help: {help_ratio:.2f}x the click floor (target <= {HELP_TARGET}x): "
          f"{'ok' if help_ratio <= HELP_TARGET else 'MISSED'}")
    print(f"replay: {replay:.3f} s (target <= {REPLAY_TARGET} s): {'ok' if replay <= REPLAY_TARGET else 'MISSED'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
