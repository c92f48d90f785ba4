"""`netra-doctor staging --repo-only` on a large generated checkout, against `alembic heads` + `alembic history`.

The checkout: MODELS declarative model classes (in modules of 25, imported by the models package that
env.py's target_metadata comes from) and REVISIONS revisions in one chain: one create_table per model,
the rest add_column. `alembic heads` and `alembic history` are what a CI job runs today to look at the
same scripts without a database (both import every revision file); the doctor reads the graph, every
revision's operations and every model. Each command runs RUNS times, taking turns; medians are compared.
Target: the doctor <= 1.5x the two alembic commands together. Always exits 0.

    python benchmarks/bench_repo_only.py [RUNS] [MODELS] [REVISIONS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5
PER_MODULE = 25

INI = """[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
"""

ENV = """from alembic import context
from app.models.base import Base
import app.models  # registers every model

target_metadata = Base.metadata
"""

REVISION = '''"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''


def generate(root: Path, models: int, revisions: int) -> None:
    app = root / "app" / "models"
    app.mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (app / "base.py").write_text("from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n"
                                 "    pass\n")
    modules = []
    for m in range(0, models, PER_MODULE):
        name = f"m{m // PER_MODULE:03d}"
        modules.append(name)
        lines = ["from sqlalchemy import Column, Integer, String", "from sqlalchemy.orm import Mapped, mapped_column",
                 "from app.models.base import Base", ""]
        for i in range(m, min(m + PER_MODULE, models)):
            lines += [f"class Model{i}(Base):", f"    __tablename__ = 'table_{i}'",
                      "    id = Column(Integer, primary_key=True)", "    name: Mapped[str] = mapped_column(String)",
                      "    extra: Mapped[int]", ""]
        (app / f"{name}.py").write_text("\n".join(lines))
    (app / "__init__.py").write_text("".join(f"from app.models import {n}  # noqa: F401\n" for n in modules))
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(INI)
    (root / "migrations" / "env.py").write_text(ENV)
    (root / "migrations" / "script.py.mako").write_text("")
    down = "None"
    for r in range(revisions):
        rev = f"{r:012x}"
        if r < models:
            body = (f"    op.create_table('table_{r}', sa.Column('id', sa.Integer(), primary_key=True),\n"
                    f"                    sa.Column('name', sa.String()))")
        else:
            body = f"    op.add_column('table_{r % models}', sa.Column('extra', sa.Integer()))"
        (versions / f"{rev}_step_{r}.py").write_text(REVISION.format(message=f"step {r}", rev=rev, down=down,
                                                                     body=body))
        down = repr(rev)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout


def main(runs: int = 3, models: int = 1000, revisions: int = 3000) -> None:
    work = Path(tempfile.mkdtemp(prefix="netra-doctor-bench-repo-"))
    try:
        generate(work, models, revisions)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        script = Path(sys.executable).with_name("netra-doctor")
        doctor = [str(script)] if script.exists() else [sys.executable, "-m", "netra_doctor.cli"]
        commands = {
            "netra-doctor staging --repo-only": [*doctor, "staging", "--repo-only", "--alembic-ini", "alembic.ini",
                                                 "--format", "json"],
            "alembic heads": [sys.executable, "-m", "alembic", "-c", "alembic.ini", "heads"],
            "alembic history": [sys.executable, "-m", "alembic", "-c", "alembic.ini", "history"],
        }
        times: dict[str, list[float]] = {k: [] for k in commands}
        report = ""
        for _ in range(runs):
            for name, cmd in commands.items():
                elapsed, out = timed(cmd, work, env)
                times[name].append(elapsed)
                if name.startswith("netra-doctor"):
                    report = out
        data = json.loads(report)
        models_check = next(c for c in data["checks"] if c["id"] == "models")
        print(f"checkout: {models} model classes in {models // PER_MODULE} modules, {revisions} revisions "
              f"(one chain); {runs} runs each, median (best)")
        for name, ts in times.items():
            print(f"  {name:36s} {statistics.median(ts):7.2f} s ({min(ts):.2f} s)")
        doctor_s = statistics.median(times["netra-doctor staging --repo-only"])
        alembic_s = statistics.median(times["alembic heads"]) + statistics.median(times["alembic history"])
        ratio = doctor_s / alembic_s
        print(f"  doctor / (heads + history) = {ratio:.2f}x (target <= {TARGET}x: "
              f"{'met' if ratio <= TARGET else 'NOT met'})")
        print(f"  models check: {models_check['status']}: {models_check['message']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
