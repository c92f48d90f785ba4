"""The doctor's speed as users get it: an installed wheel, bytecode cached, on a project that already exists.

Builds a wheel of this checkout (setuptools' build_meta, as tests/test_house.py does) and, with
``--base REF``, one of another commit (default ``main``); installs each, not editable, into its own
temporary venv (the dependencies come from this interpreter's site-packages through a .pth file;
pip compiles the wheel's bytecode). Then runs whole processes, the commands of a group taking turns
so that a change in the shared machine's load hits all alike, and prints per command wall time
min / median / max with CPU (user + system) and peak memory beside, and per pair the ratios
min / median / max of the runs taken together.

- ``history``: 3,000 revisions (linear, and a branch-and-merge every 10): the doctor's
  ``--repo-only`` cold (its per-file cache emptied before each run: the first run on a project) and
  warm (the second), against ``alembic heads`` + ``alembic history`` (bytecode of the revision files
  cached too: one untimed run first). Targets: warm <= 0.2x, cold <= 1.0x.
- ``repo``: 1,000 models + 3,000 revisions (benchmarks/bench_repo_only.py's checkout), the same
  anchors. Targets: warm <= 0.3x, cold <= 1.2x.
- ``growth``: 1,000 and 10,000 revisions, both shapes: per-revision CPU of the cold and warm run
  (above what the same command costs on one revision); target 10k within 1.1x of 1k; peak memory
  at 10,000 against ``alembic history``'s (target <= 1.2x).
- ``startup``: ``replay`` of the seed snapshot against ``python -c 'import click'`` (target <= 2x);
  ``--help`` of this wheel against the base wheel's (target <= 1.2x).
- ``check``: with PostgreSQL's binaries, ``--repo-only`` (warm and cold) on a 100-model,
  300-revision checkout against ``alembic check`` on a database upgraded to head (a throwaway server,
  doctor/demo/pgserver.py) and, where it installs, pytest-alembic's ``test_single_head_revision`` +
  ``test_model_definitions_match_ddl``.

Every group is measured twice: bytecode cached (what users run) and compiling at every start
(``PYTHONDONTWRITEBYTECODE=1`` with an empty ``PYTHONPYCACHEPREFIX``: no .pyc is read or written,
for the doctor, Alembic and the revision files alike). Always exits 0.

    python benchmarks/bench_installed.py [--runs N] [--base REF] [--only GROUP ...] [--no-compile-figures]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_migrations  # noqa: E402  (the generated histories)
import bench_repo_only  # noqa: E402  (the generated checkout with models)

SEED = ROOT / "tests" / "data" / "seed"


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float


def run(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0, 1, 3)) -> Sample:
    """One whole process: wall time, its CPU (user + system) and peak resident memory, from wait4."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:  # 1: causes found; 3: the seed exports reach no database
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.read().decode()[-800:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


# --- the installed wheels ----------------------------------------------------------------------------


def build_wheel(src: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"],
                   cwd=src, check=True, capture_output=True, timeout=600)
    [wheel] = out.glob("*.whl")
    return wheel


def source_tree(work: Path, ref: str | None) -> Path:
    """This checkout's doctor/, checks/, pyproject.toml and README.md, or those of commit ``ref``."""
    src = work / f"src-{ref or 'here'}"
    src.mkdir()
    names = ["doctor", "checks", "pyproject.toml", "README.md"]
    if ref is None:
        for name in names:
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *names], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    return src


def install(work: Path, ref: str | None) -> Path:
    """A venv with the wheel of ``ref`` (None: this checkout) installed as users install it; its python."""
    wheel = build_wheel(source_tree(work, ref), work / f"dist-{ref or 'here'}")
    venv = work / f"venv-{ref or 'here'}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # its dependencies: this interpreter's
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, timeout=600)
    probe = subprocess.run([str(python), "-c", "import netra_doctor; print(netra_doctor.__file__)"], cwd=work,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not probe.startswith(str(venv)):
        raise SystemExit(f"the venv imports netra_doctor from {probe}, not from its wheel")
    return python


# --- measuring -----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, python: Path, work: Path, runs: int, compile_every_start: bool):
        self.python, self.work, self.runs = python, work, runs
        self.doctor = str(python.with_name("netra-doctor"))
        self.cache = work / ("cache-compile" if compile_every_start else "cache")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
        env["NETRA_DOCTOR_CACHE"] = str(self.cache)
        if compile_every_start:
            prefix = work / "no-pyc"
            prefix.mkdir(exist_ok=True)
            env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(prefix))
        self.env = env
        self.kind = "compiling at every start" if compile_every_start else "bytecode cached"

    def forget(self) -> None:
        """The doctor's first run on a project: its per-file stores gone (bashlex's tables stay, as after any
        earlier run of the doctor on this machine)."""
        for store in self.cache.glob("files-*.json"):
            store.unlink()

    def doctor_cmd(self, ini: str, *extra: str) -> list[str]:
        return [self.doctor, "staging", "--repo-only", "--alembic-ini", ini, "--format", "json", *extra]

    def alembic(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "alembic", "-c", "alembic.ini", *args]

    def rounds(self, cwd: Path, commands: dict[str, list[str]], ok: tuple[int, ...] = (0, 1, 3)
               ) -> dict[str, list[Sample]]:
        """Every command RUNS times, taking turns; a name starting with 'cold' runs after ``forget``."""
        for cmd in commands.values():  # untimed: Alembic compiles the revision files, the doctor fills its cache
            run(cmd, cwd, self.env, ok)
        out: dict[str, list[Sample]] = {name: [] for name in commands}
        for _ in range(self.runs):
            for name, cmd in commands.items():
                if name.startswith("cold"):
                    self.forget()
                out[name].append(run(cmd, cwd, self.env, ok))
        return out


def summary(samples: list[Sample]) -> str:
    walls = [s.wall for s in samples]
    return (f"{min(walls):6.3f} {statistics.median(walls):6.3f} {max(walls):6.3f}  "
            f"cpu {statistics.median(s.cpu for s in samples):6.3f}  {max(s.rss_mib for s in samples):5.0f} MiB")


def ratios(mine: list[Sample], anchor: list[list[Sample]], cpu: bool = False) -> tuple[float, float, float]:
    """Per run: mine / the sum of the anchors' same run (wall, or CPU)."""
    pick = (lambda s: s.cpu) if cpu else (lambda s: s.wall)
    each = [pick(m) / sum(pick(a[i]) for a in anchor) for i, m in enumerate(mine)]
    return min(each), statistics.median(each), max(each)


def verdict(name: str, value: float, target: float) -> str:
    return f"{name}: {value:.2f}x (target <= {target}x): {'met' if value <= target else 'NOT MET'}"


def print_table(title: str, results: dict[str, list[Sample]]) -> None:
    print(f"\n{title}")
    print(f"  {'command':44} {'min':>6} {'median':>6} {'max':>6}  {'cpu (median)':>12} {'peak':>9}")
    for name, samples in results.items():
        print(f"  {name:44} {summary(samples)}")


def print_pairs(results: dict[str, list[Sample]], anchors: list[str], targets: dict[str, float]) -> None:
    anchor = [results[a] for a in anchors]
    for name, target in targets.items():
        lo, mid, hi = ratios(results[name], anchor)
        _, cpu_mid, _ = ratios(results[name], anchor, cpu=True)
        print(f"  {name} / ({' + '.join(anchors)}): {lo:.2f} / {mid:.2f} / {hi:.2f} (cpu {cpu_mid:.2f})  "
              f"{verdict('median', mid, target)}")


def against_alembic(bench: Bench, root: Path, title: str, warm: float, cold: float) -> None:
    """The doctor's --repo-only, cold and warm, against `alembic heads` + `alembic history` on ``root``."""
    results = bench.rounds(root, {
        "cold: netra-doctor --repo-only": bench.doctor_cmd("alembic.ini"),
        "warm: netra-doctor --repo-only": bench.doctor_cmd("alembic.ini"),
        "alembic heads": bench.alembic("heads"),
        "alembic history": bench.alembic("history"),
    })
    print_table(f"{title} ({bench.kind})", results)
    print_pairs(results, ["alembic heads", "alembic history"],
                {"warm: netra-doctor --repo-only": warm, "cold: netra-doctor --repo-only": cold})


def history(bench: Bench, size: int = 3000) -> None:
    for merges in (False, True):
        root = bench.work / f"history-{size}-{'merge' if merges else 'linear'}"
        if not root.exists():
            bench_migrations.generate(root, size, merges)
        shape = "a branch and merge every 10" if merges else "linear"
        against_alembic(bench, root, f"{size:,} revisions, {shape}", warm=0.2, cold=1.0)


def repo(bench: Bench, models: int = 1000, revisions: int = 3000) -> None:
    root = bench.work / f"repo-{models}-{revisions}"
    if not root.exists():
        root.mkdir()
        bench_repo_only.generate(root, models, revisions)
    against_alembic(bench, root, f"--repo-only, {models:,} models + {revisions:,} revisions", warm=0.3, cold=1.2)


def growth(bench: Bench, small: int = 1000, large: int = 10000) -> None:
    for merges in (False, True):
        shape = "merge" if merges else "linear"
        per: dict[str, dict[int, float]] = {"cold": {}, "warm": {}}
        memory: dict[str, float] = {}
        tables: dict[int, dict[str, list[Sample]]] = {}
        for n in (1, small, large):
            root = bench.work / f"growth-{n}-{shape}"
            if not root.exists():
                bench_migrations.generate(root, n, merges)
            tables[n] = bench.rounds(root, {
                "cold": bench.doctor_cmd("alembic.ini"),
                "warm": bench.doctor_cmd("alembic.ini"),
                "alembic history": bench.alembic("history"),
            })
        # the least CPU of the runs: the per-revision cost at 1,000 is a few hundredths of a second above the
        # fixed cost, which the shared machine's load moves by as much; the least is what the work needs
        print(f"\ngrowth, {shape} ({bench.kind}): CPU s per process, least of the runs; per revision above one "
              "revision")
        for n in (small, large):
            cells = []
            for mode in ("cold", "warm", "alembic history"):
                cpu = min(s.cpu for s in tables[n][mode])
                base = min(s.cpu for s in tables[1][mode])
                per.setdefault(mode, {})[n] = (cpu - base) / (n - 1)
                cells.append(f"{mode} {cpu:6.2f} s ({per[mode][n] * 1e6:6.0f} us/rev)")
            print(f"  {n:>6} revisions: " + ", ".join(cells))
        for mode in ("cold", "warm", "alembic history"):
            growth_ratio = per[mode][large] / per[mode][small]
            total = [min(s.cpu for s in tables[n][mode]) for n in (small, large)]
            exponent = math.log(total[1] / total[0]) / math.log(large / small)
            line = f"  per-revision CPU {mode}, {large:,} against {small:,}: "
            line += verdict("", growth_ratio, 1.1).lstrip(": ") if mode != "alembic history" else f"{growth_ratio:.2f}x"
            print(f"{line} (whole process: CPU grows as n^{exponent:.2f})")
        for mode in ("cold", "warm", "alembic history"):
            memory[mode] = max(s.rss_mib for s in tables[large][mode])
        for mode in ("cold", "warm"):
            print(f"  peak memory at {large:,}, {mode}: {memory[mode]:.0f} MiB against alembic history's "
                  f"{memory['alembic history']:.0f} MiB: " + verdict("", memory[mode] / memory["alembic history"],
                                                                       1.2).lstrip(": "))


def startup(bench: Bench, base: Bench | None) -> None:
    snapshot = bench.work / "seed-snapshot.json"
    if not snapshot.exists():
        subprocess.run([bench.doctor, "staging", "--from", str(SEED), "--save", str(snapshot)], cwd=bench.work,
                       env=bench.env, capture_output=True)
    commands = {
        "python -c 'import click'": [str(bench.python), "-c", "import click"],
        "netra-doctor replay SNAPSHOT": [bench.doctor, "replay", str(snapshot), "--format", "json"],
        "netra-doctor --help": [bench.doctor, "--help"],
    }
    if base is not None:
        commands["netra-doctor --help (base)"] = [base.doctor, "--help"]
    results = bench.rounds(bench.work, commands)
    print_table(f"start-up ({bench.kind})", results)
    print_pairs(results, ["python -c 'import click'"], {"netra-doctor replay SNAPSHOT": 2.0})
    if base is not None:
        print_pairs(results, ["netra-doctor --help (base)"], {"netra-doctor --help": 1.2})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", default="main", help="the commit whose --help is the baseline ('' for none)")
    parser.add_argument("--only", nargs="*", default=["history", "repo", "growth", "startup", "check"])
    parser.add_argument("--no-compile-figures", action="store_true", help="skip the compile-every-start figures")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="netra-doctor-bench-installed-"))
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = " (with uncommitted changes)" if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                                                 "doctor", "checks"], capture_output=True,
                                                                text=True).stdout.strip() else ""
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}{dirty}, "
              f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.runs} runs per command, in turns")
        python = install(work, None)
        base_python = install(work, args.base) if args.base else None
        modes = [False] if args.no_compile_figures else [False, True]
        for compile_every_start in modes:
            bench = Bench(python, work, args.runs, compile_every_start)
            base = Bench(base_python, work, args.runs, compile_every_start) if base_python else None
            print(f"\n=== {bench.kind} ===")
            if "startup" in args.only:
                startup(bench, base)
            if "history" in args.only:
                history(bench)
            if "repo" in args.only:
                repo(bench)
            if "check" in args.only and not compile_every_start:
                import bench_check  # PostgreSQL and pytest-alembic: only when asked

                bench_check.check(bench, run, print_table, print_pairs)
            if "growth" in args.only and not compile_every_start:
                growth(bench)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
