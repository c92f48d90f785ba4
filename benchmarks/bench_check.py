"""bench_installed.py's ``check`` group: the doctor against the tools that need a database.

On 150 models + 300 revisions (bench_repo_only's checkout, with an env.py that connects):
``netra-doctor staging --repo-only`` cold and warm, against ``alembic check`` on a database already
upgraded to head (a throwaway server from doctor/demo/pgserver.py; the upgrade is not timed) and,
where pytest-alembic installs (with a pytest 8 of its own), its ``test_single_head_revision`` +
``test_model_definitions_match_ddl`` (which upgrade a fresh, empty database every run: its creation
is inside the timing, a few hundredths of a second). Skipped, with the reason, without PostgreSQL's binaries.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import bench_repo_only

MODELS, REVISIONS = 150, 300  # a create_table and then one add_column per model: an upgrade that runs

ENV = textwrap.dedent('''
    import os

    import sqlalchemy as sa
    from alembic import context

    import app.models  # noqa: F401  registers every model
    from app.models.base import Base

    target_metadata = Base.metadata
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = sa.create_engine(os.environ["BENCH_DATABASE_URL"], poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
''')

CONFTEST = textwrap.dedent('''
    import os

    import pytest
    import sqlalchemy as sa


    @pytest.fixture
    def alembic_engine():
        return sa.create_engine(os.environ["BENCH_FRESH_URL"], poolclass=sa.pool.NullPool)
''')

# a fresh database, then pytest in the same process (exec: one pid, one wait4)
FRESH_THEN_PYTEST = textwrap.dedent('''
    import os, sys
    import psycopg
    with psycopg.connect(os.environ["BENCH_ADMIN_DSN"], autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fresh WITH (FORCE)")
        conn.execute("CREATE DATABASE fresh")
    os.execv(sys.executable, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--test-alembic",
                              "-k", "test_single_head_revision or test_model_definitions_match_ddl"])
''')


def _sa_url(dsn: str, db: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0] + f"/{db}"


def check(bench, run, print_table, print_pairs) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from netra_doctor.demo.pgserver import PostgresUnavailable, start

    try:
        server = start(prefix="netra-doctor-bench-")
    except PostgresUnavailable as exc:
        print(f"\ncheck: skipped ({exc})")
        return
    try:
        root = bench.work / f"check-{MODELS}-{REVISIONS}"
        if not root.exists():
            root.mkdir()
            bench_repo_only.generate(root, MODELS, REVISIONS)
            (root / "migrations" / "env.py").write_text(ENV)
            (root / "tests").mkdir()
            (root / "tests" / "conftest.py").write_text(CONFTEST)
            (root / "pytest.ini").write_text("[pytest]\npytest_alembic_tests_folder = tests\n")
        admin = server.dsn()
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE upgraded")
        env = {**bench.env, "BENCH_DATABASE_URL": _sa_url(admin, "upgraded"),
               "BENCH_FRESH_URL": _sa_url(admin, "fresh"), "BENCH_ADMIN_DSN": admin}
        bench.env = env
        upgraded = subprocess.run(bench.alembic("upgrade", "head"), cwd=root, env=env, capture_output=True, text=True,
                                  timeout=1800)
        if upgraded.returncode:
            print(f"\ncheck: skipped (alembic upgrade head failed: {upgraded.stderr.strip()[-600:]})")
            return
        commands = {
            "cold: netra-doctor --repo-only": bench.doctor_cmd("alembic.ini"),
            "warm: netra-doctor --repo-only": bench.doctor_cmd("alembic.ini"),
            "alembic check (upgraded database)": bench.alembic("check"),
        }
        # pytest-alembic 0.13 does not collect under pytest 9: the venv gets a pytest 8 of its own
        installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(bench.python), "install", "-q",
                                    "pytest<9", "pytest-alembic"], capture_output=True, text=True, timeout=600)
        if installed.returncode == 0:
            commands["pytest-alembic: single head + models match"] = [str(bench.python), "-c", FRESH_THEN_PYTEST]
        else:
            print(f"\npytest-alembic did not install: {installed.stderr.strip()[-300:]}")
        results = bench.rounds(root, commands, ok=(0, 1, 255))
        print_table(f"against tools that need a database: {MODELS} models + {REVISIONS} revisions ({bench.kind})",
                    results)
        for anchor in [n for n in commands if not n.startswith(("cold", "warm"))]:
            print_pairs(results, [anchor], {"warm: netra-doctor --repo-only": 1.0,
                                            "cold: netra-doctor --repo-only": 1.0})
    finally:
        bench.env = {k: v for k, v in bench.env.items() if not k.startswith("BENCH_")}
        server.stop()
