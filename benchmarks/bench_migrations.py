"""Reading a long migration history: the doctor's source reader against `alembic heads` + `alembic history`.

Generates Alembic projects of 3,000 and 6,000 revisions in two shapes (a linear chain, and a
branch-and-merge every 10 revisions), each revision creating a table with a few columns, then
times, each in a fresh interpreter on the same project:

- the doctor: ``read_migrations`` (graph with Alembic's RevisionMap, order, every upgrade() read);
- Alembic: ``alembic heads`` plus ``alembic history`` (the venv's own alembic, which imports every
  revision file and walks the graph).

Prints seconds and the ratio doctor / alembic (target: at or below 1.0x). Always exits 0.

    python benchmarks/bench_migrations.py [SIZES...]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (3000, 6000)
INI = """[alembic]
script_location = %(here)s/migrations
path_separator = os
"""
REVISION = '''"""create t{i}

Revision ID: {rev}
"""
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("t{i}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)),
                    sa.Column("created_at", sa.DateTime()))
    op.create_index("ix_t{i}_name", "t{i}", ["name"])


def downgrade():
    op.drop_table("t{i}")
'''


def rev_id(i: int) -> str:
    return f"{i:012x}"


def generate(root: Path, n: int, merges: bool) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(INI)
    (root / "migrations" / "env.py").write_text("raise SystemExit('env.py is never run by these commands')\n")
    for i in range(n):
        if i == 0:
            down: str | tuple[str, ...] | None = None
        elif merges and i % 10 == 1 and i > 1:
            down = rev_id(i - 2)  # a sibling of revision i-1: a branch point at i-2
        elif merges and i % 10 == 2 and i > 2:
            down = (rev_id(i - 2), rev_id(i - 1))  # merge the two branches
        else:
            down = rev_id(i - 1)
        (versions / f"{rev_id(i)}_create_t{i}.py").write_text(REVISION.format(i=i, rev=rev_id(i), down=down))
    return root / "alembic.ini"


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {result.stderr[-500:]}")
    return took


def main(sizes: tuple[int, ...]) -> None:
    alembic = str(Path(sys.executable).with_name("alembic"))
    doctor = [sys.executable, "-c", "import sys; from pathlib import Path; from netra_doctor.sources.migrations import "
              "read_migrations; m = read_migrations(Path(sys.argv[1])); assert len(m.revisions) == int(sys.argv[2])"]
    print(f"{'revisions':>9} {'shape':<14} {'doctor s':>9} {'alembic s':>10} {'ratio':>6}")
    for n in sizes:
        for merges in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                ini = generate(Path(tmp), n, merges)
                ours = timed([*doctor, str(ini), str(n)], Path(tmp))
                theirs = (timed([alembic, "-c", str(ini), "heads"], Path(tmp))
                          + timed([alembic, "-c", str(ini), "history"], Path(tmp)))
            shape = "merge every 10" if merges else "linear"
            print(f"{n:>9} {shape:<14} {ours:>9.2f} {theirs:>10.2f} {ours / theirs:>5.2f}x", flush=True)


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
