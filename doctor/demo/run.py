"""`netra-doctor demo`: the seed incident, end to end, on a throwaway PostgreSQL.

It rebuilds the staging database as the migration job left it (the bundled Alembic
project, head ``add_deleted_at_001``, upgraded for real through Alembic's command API),
writes gcloud-shaped exports of the service and the job next to it (a password generated
now, so none ships), and runs the ordinary diagnosis with the Cloud SQL instance routed
to the throwaway server. The only writes go to the demo's own database; the doctor itself
stays read-only. Everything is removed on the way out, also on Ctrl-C or SIGTERM, unless
``--keep`` asks to leave the server running for exploring.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from netra_doctor.core.config import ConfigError, Target
from netra_doctor.core.diagnosis import Diagnosis
from netra_doctor.safety.secrecy import remember

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PREFIX = "netra-doctor-demo-"  # then the demo's pid: which process a stray folder belongs to
INSTANCE = "netra-staging:us-central1:staging-shared-postgres"
DATABASE = "netra_staging"
ROLE = "netra_app"  # what the bundled postgres-user-staging secret names
HEAD = "add_deleted_at_001"
EXPORTS = ("service.yaml", "job.yaml", "executions.yaml", "logs.json")
PROJECT_DIR = "netra_backend"  # the job runs `alembic -c netra_backend/alembic.ini` from the repo root

Say = Callable[[str], None]

# `demo --scenario NAME`: the seed incident, or the seed's checkout before a deploy whose next revision
# builds an index, not concurrently, on a 150,000-row table (judged with --pre-deploy), or the seed's
# second incident, a backend revision that dropped the auth service's tables (auth-drop)
SCENARIOS = ("seed", "auth-drop", "big-table-lock")
BIG_TABLE_ROWS = 150_000
LOCK_REVISION = "add_messages_thread_index_002"
LOCK_REVISION_SOURCE = f'''"""index messages by thread

Revision ID: {LOCK_REVISION}
Revises: {HEAD}
"""
from alembic import op

revision = "{LOCK_REVISION}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_thread_id", "messages", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_thread_id", table_name="messages")
'''


def big_table_lock(server, folder: Path, say: Say) -> None:
    """The scenario's state: 150,000 messages (ANALYZEd, so the catalog knows), and the pending revision
    that indexes them in the checkout about to ship."""
    import psycopg

    say(f"demo: filling messages with {BIG_TABLE_ROWS:,} rows, and a pending revision that indexes them")
    with psycopg.connect(server.dsn(DATABASE), autocommit=True, connect_timeout=10) as conn:
        conn.execute("INSERT INTO threads (id) VALUES ('t1') ON CONFLICT DO NOTHING")
        conn.execute("INSERT INTO messages (id, thread_id, role, content) SELECT 'm' || g, 't1', 'user', "
                     "'{\"text\": \"hello\"}'::json FROM generate_series(1, %s) g", (BIG_TABLE_ROWS,))
        if conn.info.server_version >= 150000:
            # the INSERT's statistics are flushed now, before VACUUM counts the live rows: flushed after it
            # (up to a second later), they were added on top and n_live_tup read 300,000
            conn.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        conn.execute("VACUUM ANALYZE messages")  # every page counted: autovacuum cannot re-estimate it later
    versions = folder / PROJECT_DIR / "migrations" / "versions"
    (versions / f"{LOCK_REVISION}_index_messages_by_thread.py").write_text(LOCK_REVISION_SOURCE, encoding="utf-8")


def demo_data() -> Traversable:
    return files("netra_doctor.demo") / "data"


def _copy_tree(src: Traversable, dest: Path) -> None:
    """Package data to a real folder (works from a wheel, a zip or a checkout)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        else:
            (dest / item.name).write_bytes(item.read_bytes())


def write_exports(folder: Path, password: str, pre_deploy: bool = False) -> Path:
    """The gcloud exports, and secrets.yaml with this run's password (the folder is private, 0700).
    Before the deploy (``pre_deploy``) the crash has not happened: no logs yet."""
    exports = folder / "exports"
    exports.mkdir()
    data = demo_data()
    for name in EXPORTS:
        if pre_deploy and name == "logs.json":
            continue
        (exports / name).write_bytes((data / name).read_bytes())
    template = (data / "secrets.yaml").read_text(encoding="utf-8")
    (exports / "secrets.yaml").write_text(template.replace("{password}", password), encoding="utf-8")
    return exports


def create_database(server, password: str) -> None:
    """The role the secrets name, owning the staging database (so it may create tables in public)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.dsn(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), sql.Identifier(ROLE)))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _alembic_log() -> Iterator[_Capture]:
    """Alembic's INFO lines (`Running upgrade ...`), captured instead of printed."""
    logger = logging.getLogger("alembic")
    handler, level, propagate = _Capture(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def migrate(server, folder: Path, password: str, say: Say, to: str = "head", expect: str = HEAD,
            database: str = DATABASE, role: str = ROLE) -> list[str]:
    """`alembic upgrade TO` as the job's role, through Alembic's command API; returns its log lines."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    url = sa.engine.URL.create("postgresql+psycopg", username=role, password=password, host=server.host,
                               port=server.port, database=database)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    config = Config(str(folder / PROJECT_DIR / "alembic.ini"), attributes={"configure_logger": False})
    try:
        with _alembic_log() as log, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, to)
        with engine.connect() as conn:
            recorded = [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()
    for line in log.lines:
        say(f"  alembic: {line}")
    if recorded != [expect]:
        raise ConfigError(f"demo set-up: alembic left {recorded or 'no revision'}, expected {expect}")
    return log.lines


def demo_target(folder: Path, port: int) -> Target:
    """The seed's names, built directly so no stray netra-doctor.toml above /tmp can change them."""
    return Target(
        environment="staging", project="netra-staging", region="us-central1",
        service="netra-backend-staging", job="netra-migrations-staging",
        alembic_ini=f"{PROJECT_DIR}/alembic.ini", root=folder,
        proxies={INSTANCE: f"127.0.0.1:{port}"}, timeout=10.0,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (so `finally` cleans up); only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _deferred_signals() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM while the server starts, then act on them: interrupting pg_ctl half-way
    would leave a postmaster whose pid nobody knows yet. Yields the signals that arrived."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    arrived: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: arrived.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield arrived
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _uninterruptible() -> Iterator[None]:
    """Clean-up must finish: a second Ctrl-C while removing the server would leave it behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def keep_message(server, folder: Path) -> str:
    """How to connect, re-run and stop what --keep left running (no password: the superuser is trusted)."""
    psql = server.bindir / "psql"
    psql_cmd = str(psql) if psql.exists() else "psql"
    pg_ctl = f"{shlex.quote(str(server.bindir / 'pg_ctl'))} -D {shlex.quote(str(server.datadir))} -m fast -w stop"
    if server.as_postgres:  # the server runs as postgres, from a folder it can reach
        pg_ctl = f"(cd / && runuser -u postgres -- {pg_ctl})"
    return "\n".join([
        f"demo: PostgreSQL is still running on 127.0.0.1:{server.port} (--keep); the demo's files are in {folder}",
        f"  connect: {psql_cmd} -h 127.0.0.1 -p {server.port} -U {server.superuser} {DATABASE}",
        f"  re-run:  cd {shlex.quote(str(folder))} && netra-doctor staging --from exports "
        f"--proxy {INSTANCE}=127.0.0.1:{server.port}",
        f"  stop:    {pg_ctl} && rm -rf {shlex.quote(str(server.root))} {shlex.quote(str(folder))}",
    ])


def _auth_drop(server, folder: Path, exports: Path, password: str, say: Say, pre_deploy: bool) -> None:
    """The second incident (doctor/demo/auth_drop.py): the auth service's tables, then the backend's
    revision that drops them (applied, unless the gate runs before the deploy)."""
    import psycopg
    from netra_doctor.demo import auth_drop

    _copy_tree(demo_data() / "auth_drop", folder)
    auth_drop.write_exports(exports, pre_deploy)
    say(f"demo: the auth service creates its auth_* tables in {DATABASE}, as {ROLE}")
    with psycopg.connect(server.dsn(DATABASE, ROLE, password), autocommit=True, connect_timeout=10) as conn:
        conn.execute((folder / "auth_tables.sql").read_text(encoding="utf-8"))
    if not pre_deploy:
        say(f"demo: the job deploys {auth_drop.HEAD}: alembic upgrade head, as {ROLE}")
        migrate(server, folder, password, say, expect=auth_drop.HEAD)


def _scenario_target(folder: Path, port: int, scenario: str) -> Target:
    target = demo_target(folder, port)
    if scenario == "auth-drop":
        import tomli
        from netra_doctor.core.config import db_env_names, read_workloads

        data = tomli.loads((folder / "netra-doctor.toml").read_text(encoding="utf-8"))
        target.workloads = read_workloads([data], "demo", "staging", folder, db_env_names(target.db_envs))
    return target


def run_demo(keep: bool = False, progress: bool = False, pre_deploy: bool = False, scenario: str = "seed"
             ) -> Diagnosis:
    """Reproduce the seed incident on a throwaway server and diagnose it (see the module docstring).

    ``pre_deploy``: the gate on the seed's commit before it ships (models added, no revision): the
    same checkout and database, no crash logs yet, judged with --pre-deploy. ``scenario``
    ``big-table-lock``: that gate with a pending revision indexing a 150,000-row table; ``auth-drop``:
    the seed's second incident (doctor/demo/auth_drop.py)."""
    pre_deploy = pre_deploy or scenario == "big-table-lock"
    from netra_doctor import engine
    from netra_doctor.demo.pgserver import PostgresUnavailable, find_bindir, start
    from netra_doctor.output.progress import progress_line

    def say(line: str) -> None:
        if progress:
            print(line, file=sys.stderr, flush=True)

    try:
        find_bindir()  # before anything is created: no server binaries is one line, exit 2
    except PostgresUnavailable as exc:
        raise ConfigError(str(exc)) from None
    server = folder = None
    done = False
    with _signals_interrupt():
        try:
            with _deferred_signals() as arrived:
                try:
                    server = start(prefix=f"{PREFIX}{os.getpid()}-pg-")
                except (PostgresUnavailable, RuntimeError) as exc:
                    if arrived:  # a terminal's Ctrl-C also reaches initdb and pg_ctl: that is why they failed
                        raise KeyboardInterrupt from None
                    raise ConfigError(str(exc)) from None
            if arrived:
                raise KeyboardInterrupt
            say(f"demo: throwaway PostgreSQL on 127.0.0.1:{server.port} ({server.bindir})")
            folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
            password = secrets.token_urlsafe(18)
            remember(password)  # scrubbed from any output, like every secret
            create_database(server, password)
            _copy_tree(demo_data() / PROJECT_DIR, folder / PROJECT_DIR)
            say(f"demo: building {DATABASE} as the migration job left it: alembic upgrade head, as {ROLE}")
            migrate(server, folder, password, say, to=HEAD)
            if scenario == "big-table-lock":
                big_table_lock(server, folder, say)
            exports = write_exports(folder, password, pre_deploy or scenario == "auth-drop")
            if scenario == "auth-drop":
                _auth_drop(server, folder, exports, password, say, pre_deploy)
            say("demo: diagnosing staging from the exports, the instance routed to the throwaway server")
            with progress_line(enabled=progress) as report:
                target = _scenario_target(folder, server.port, scenario)
                target.pre_deploy = pre_deploy
                target.exports_label = ("the demo's exports (before the deploy: no start-up has run yet)"
                                        if pre_deploy else "the demo's exports")
                run = engine.run(target, exports, (), report)
            done = True
            if keep:
                print(keep_message(server, folder), file=sys.stderr, flush=True)
            return run.diagnosis
        finally:
            if not (keep and done):
                with _uninterruptible():
                    if server is not None:
                        server.stop()
                    if folder is not None:
                        shutil.rmtree(folder, ignore_errors=True)

