"""Pre-deploy lock weighing on a real PostgreSQL: each row of issue 21's table, the tables made with
generate_series and ANALYZE, sizes and use read from the catalog (never faked).

One database per module holds the tables every case reads (the doctor only reads it); each case writes
its own small Alembic checkout whose pending revision does one thing, and runs the gate in-process.
"""

from __future__ import annotations

import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.alembic_projects import MAKO, ini
from tests.helpers import INSTANCE, copy_seed, diagnose_json, write_db_secrets

PASSWORD = "locks-pw-3c9e"
BASE = '''
revision = "base0"
down_revision = None


def upgrade():
    pass
'''
ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        {extra}
        context.configure(connection=connection, target_metadata=None{configure})
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''


@pytest.fixture(scope="module")
def bigdb(pg_server):
    """events: 100,000 rows, in use; visits: 20,000 in use; archive: 20,000 unused since its counters were
    reset; notes: 20 rows; orgs: 10 rows referenced by events. alembic_version at base0."""
    import psycopg

    name, role = "t_locks_" + uuid.uuid4().hex[:8], "app_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD}'")
    with psycopg.connect(pg_server.dsn(name), autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE orgs (id integer PRIMARY KEY);
            INSERT INTO orgs SELECT g FROM generate_series(1, 10) g;
            CREATE TABLE events (id integer PRIMARY KEY, n integer, name varchar(20), org_id integer);
            INSERT INTO events SELECT g, g % 97, 'e' || g, 1 + g % 10 FROM generate_series(1, 100000) g;
            CREATE TABLE visits (id integer, n integer);
            INSERT INTO visits SELECT g, g FROM generate_series(1, 20000) g;
            CREATE TABLE archive (id integer, n integer);
            INSERT INTO archive SELECT g, g FROM generate_series(1, 20000) g;
            CREATE TABLE notes (id integer, n integer, body varchar(20));
            INSERT INTO notes SELECT g, g, 'n' FROM generate_series(1, 20) g;
            CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
            INSERT INTO alembic_version VALUES ('base0');
            ANALYZE;
        """)
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        _flushed(conn, "archive")
        conn.execute("SELECT pg_stat_reset_single_table_counters('archive'::regclass)")
    yield name, role, pg_server.port
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _flushed(conn, table: str) -> None:
    """Statistics reach pg_stat_user_tables when the backend that did the work flushes them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = conn.execute("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = %s", (table,)).fetchone()
        if row and row[0]:
            return
        time.sleep(0.1)
    raise AssertionError(f"no statistics for {table}")


def checkout(root: Path, *revisions: str, env_extra: str = "pass", configure: str = "") -> Path:
    """An Alembic project: base0 (recorded in the database) and the pending revisions, in order."""
    files = {"alembic.ini": ini("%(here)s/migrations"),
             "migrations/env.py": ENV.replace("{extra}", env_extra).replace("{configure}", configure),
             "migrations/script.py.mako": MAKO, "migrations/versions/base0.py": BASE}
    down = "base0"
    for i, body in enumerate(revisions, 1):
        head = f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "rev{i}"\ndown_revision = "{down}"\n\n\n'
        files[f"migrations/versions/rev{i}.py"] = head + "def upgrade():\n" + textwrap.indent(
            textwrap.dedent(body).strip("\n"), "    ") + "\n"
        down = f"rev{i}"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "alembic.ini"


def gate(tmp_path: Path, bigdb, *revisions: str, extra: tuple[str, ...] = (), **env) -> tuple[dict, int]:
    name, role, port = bigdb
    seed = copy_seed(tmp_path / "exports")
    write_db_secrets(seed, name, role, PASSWORD)
    alembic_ini = checkout(tmp_path / "repo", *revisions, **env)
    return diagnose_json(seed, "--only", "pre-deploy-plan", "--proxy", f"{INSTANCE}=127.0.0.1:{port}",
                         "--alembic-ini", str(alembic_ini), "--pre-deploy", "--fail-on", "warn", "-v", *extra)


def causes(report: dict, cause: str) -> list[dict]:
    return [c for c in report["causes"] if c["id"] == cause]


def lock_findings(report: dict) -> list[dict]:
    check = next(c for c in report["checks"] if c["id"] == "pre-deploy-plan")
    return [f for f in check["findings"] if (f.get("cause") or "").startswith("pending-lock")
            or f.get("cause") == "pending-rename-breaks-service"]


def risk(report: dict) -> dict:
    found = causes(report, "pending-lock-risk")
    assert found, (report["causes"], report["checks"])
    return found[0]


ON_EVENTS_WITH_TIMEOUT = "op.execute(\"SET LOCAL lock_timeout = '2s'\")\n"


# --- the risky forms: each an error on the 100,000-row table, with file:line and the safe fix ----------


@pytest.mark.parametrize(("body", "line", "says", "blocks", "fix"), [
    ("op.add_column('events', sa.Column('token', sa.UUID(), nullable=False, "
     "server_default=sa.text('gen_random_uuid()')))",
     9, "adds column events.token NOT NULL with a volatile default", "reads and writes", "backfill the existing rows"),
    ("op.alter_column('events', 'n', type_=sa.BigInteger())",
     9, "changes events.n to type BigInteger()", "reads and writes", "expand and contract"),
    ("op.create_index('ix_events_n', 'events', ['n'])",
     9, "creates index ix_events_n on events", "writes", "postgresql_concurrently=True"),
    ("op.alter_column('events', 'n', nullable=False)",
     9, "sets events.n NOT NULL", "reads and writes", "postgresql_not_valid=True"),
    ("with op.batch_alter_table('events') as batch_op:\n    batch_op.alter_column('n', nullable=False)",
     10, "sets events.n NOT NULL", "reads and writes", "postgresql_not_valid=True"),
    ("op.create_foreign_key('fk_events_org', 'events', 'orgs', ['org_id'], ['id'])",
     9, "adds a foreign key from events to orgs", "writes", "postgresql_not_valid=True"),
    ("op.create_check_constraint('ck_events_n', 'events', 'n >= 0')",
     9, "adds a check constraint on events", "reads and writes", "postgresql_not_valid=True"),
    ("op.create_unique_constraint('uq_events_name', 'events', ['name'])",
     9, "adds a unique constraint on events", "reads and writes", "USING INDEX"),
])
def test_a_blocking_statement_on_a_big_table_is_an_error(tmp_path, bigdb, body, line, says, blocks, fix):
    report, code = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT + body)
    assert code == 1
    cause = risk(report)
    assert cause["severity"] == "error"
    evidence = "\n".join(cause["evidence"])
    assert f"rev1.py:{line + 1}) {says}" in evidence, evidence
    assert f"blocks the service's {blocks}" in evidence
    assert "public.events: about 100000 rows (pg_class.reltuples)" in evidence
    assert "MB (pg_relation_size)" in evidence and "inserts" in evidence
    assert "estimate (rough, from the size; not used for the verdict)" in evidence
    assert fix in "\n".join(cause["fix"]) and f"rev1.py:{line + 1}" in "\n".join(cause["fix"])
    assert not causes(report, "pending-lock-no-timeout")  # the revision sets one first


def test_the_foreign_key_says_it_blocks_writes_on_both_tables(tmp_path, bigdb):
    report, _ = gate(tmp_path, bigdb, "op.create_foreign_key('fk', 'events', 'orgs', ['org_id'], ['id'])")
    assert "SHARE ROW EXCLUSIVE on events and orgs: blocks the service's writes" in "\n".join(risk(report)["evidence"])


# --- the safe forms, and what needs no rewrite, are healthy ------------------------------------------------


@pytest.mark.parametrize("body", [
    "op.alter_column('events', 'name', type_=sa.Text(), existing_type=sa.String(20))",  # binary-coercible
    "op.alter_column('events', 'name', type_=sa.Text())",  # the catalog says it is varchar(20) today
    "with op.get_context().autocommit_block():\n"
    "    op.create_index('ix_events_n', 'events', ['n'], postgresql_concurrently=True)",
    "op.create_foreign_key('fk', 'events', 'orgs', ['org_id'], ['id'], postgresql_not_valid=True)",
    "op.create_check_constraint('ck', 'events', 'n >= 0', postgresql_not_valid=True)",
    "op.add_column('events', sa.Column('note', sa.Text(), nullable=True, server_default='x'))",  # stored once
])
def test_the_safe_forms_are_healthy(tmp_path, bigdb, body):
    report, code = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT + body)
    assert code == 0, report["causes"]
    assert not [f for f in lock_findings(report) if f["status"] != "pass"]


def test_a_concurrent_index_outside_autocommit_block_fails_the_job_and_says_so(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, "op.create_index('ix', 'events', ['n'], postgresql_concurrently=True)")
    assert code == 1
    check = next(c for c in report["checks"] if c["id"] == "pre-deploy-plan")
    assert any("rev1.py:9 creates index ix on events concurrently inside the migration's transaction" in f["message"]
               and "autocommit_block()" in f["message"] for f in check["findings"] if f["status"] == "warn")


def test_a_validate_in_its_own_transaction_is_healthy(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb,
                        ON_EVENTS_WITH_TIMEOUT + "op.create_check_constraint('ck', 'events', 'n >= 0', "
                        "postgresql_not_valid=True)",
                        ON_EVENTS_WITH_TIMEOUT + "op.execute('ALTER TABLE events VALIDATE CONSTRAINT ck')",
                        configure=", transaction_per_migration=True")
    assert code == 0, report["causes"]


def test_not_valid_then_validate_in_the_same_transaction_is_an_error(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT
                        + "op.create_check_constraint('ck', 'events', 'n >= 0', postgresql_not_valid=True)\n"
                        "op.execute('ALTER TABLE events VALIDATE CONSTRAINT ck')")
    assert code == 1
    cause = risk(report)
    evidence = "\n".join(cause["evidence"])
    assert "rev1.py:10) adds a check constraint on events NOT VALID: ACCESS EXCLUSIVE" in evidence, evidence
    assert "then rev1 (" in evidence and "validates constraint ck of events" in evidence
    assert "transaction_per_migration=True" in "\n".join(cause["fix"])


def test_an_instant_alter_held_across_revisions_by_one_transaction_is_an_error(tmp_path, bigdb):
    revisions = ("op.add_column('visits', sa.Column('seen', sa.Boolean(), nullable=True))",
                 "op.execute('ALTER TABLE events VALIDATE CONSTRAINT ck_made_not_valid_before')")
    report, code = gate(tmp_path, bigdb, *revisions)
    assert code == 1
    evidence = "\n".join(risk(report)["evidence"])
    assert "rev1.py:9) adds column visits.seen" in evidence, evidence
    assert "in one transaction: env.py does not set transaction_per_migration=True" in evidence
    # with each revision committed on its own, the first lock is gone before the VALIDATE starts
    report, _ = gate(tmp_path / "per", bigdb, *revisions, configure=", transaction_per_migration=True")
    assert not [f for f in lock_findings(report) if f["status"] == "fail" and "visits" in f["message"]]


# --- sizes and use decide, never the statement alone -----------------------------------------------------


def test_a_tiny_table_is_ruled_out_with_its_size(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, "op.create_index('ix', 'notes', ['n'])\n"
                                         "op.alter_column('notes', 'n', nullable=False)")
    assert code == 0, report["causes"]
    ruled = next(r for r in report["ruled_out"] if r["id"] == "pending-lock-risk")
    assert any("notes is tiny (20 rows" in line for line in ruled["evidence"]), ruled


def test_a_revision_not_fully_read_says_its_locks_are_not_weighed(tmp_path, bigdb):
    report, _ = gate(tmp_path, bigdb, "op.execute(sa.text(build_sql()))")
    check = next(c for c in report["checks"] if c["id"] == "pre-deploy-plan")
    assert any(f["message"].startswith("revision rev1 (") and "the locks of what was not read are not weighed" in
               f["message"] for f in check["findings"])


def test_a_table_the_plan_creates_is_ruled_out(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, "op.create_table('fresh', sa.Column('id', sa.Integer()))\n"
                                         "op.create_index('ix_fresh', 'fresh', ['id'])")
    assert code == 0, report["causes"]
    assert any("a table the plan itself creates" in line
               for r in report["ruled_out"] if r["id"] == "pending-lock-risk" for line in r["evidence"])


def test_a_medium_table_in_use_is_an_error_and_unused_a_warning(tmp_path, bigdb):
    report, _ = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT + "op.create_index('ix', 'visits', ['n'])")
    assert risk(report)["severity"] == "error"
    report, code = gate(tmp_path / "unused", bigdb, ON_EVENTS_WITH_TIMEOUT + "op.create_index('ix', 'archive', ['n'])")
    cause = risk(report)
    assert cause["severity"] == "warn" and code == 1
    assert "unused since statistics were reset" in cause["evidence"][0]
    assert "0 inserts" in "\n".join(cause["evidence"])


# --- lock_timeout -----------------------------------------------------------------------------------


def test_an_instant_alter_with_no_lock_timeout_warns_with_the_exact_line(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, "op.add_column('events', sa.Column('seen', sa.Boolean(), nullable=True))")
    assert code == 1
    (cause,) = causes(report, "pending-lock-no-timeout")
    assert cause["severity"] == "warn"
    assert "rev1.py:9" in "\n".join(cause["evidence"])
    fix = "\n".join(cause["fix"])
    assert "op.execute(\"SET LOCAL lock_timeout = '5s'\")" in fix
    assert f'ALTER ROLE {bigdb[1]} SET lock_timeout' in fix and "changes state" in fix
    assert not causes(report, "pending-lock-risk")  # instant: no work grows with the table


def test_a_lock_timeout_in_the_revision_env_py_or_on_the_role_is_healthy(tmp_path, bigdb, pg_server):
    import psycopg

    body = "op.add_column('events', sa.Column('seen', sa.Boolean(), nullable=True))"
    assert gate(tmp_path / "rev", bigdb, ON_EVENTS_WITH_TIMEOUT + body)[1] == 0
    env = 'connection.execute(text("SET lock_timeout = \'3s\'"))'
    assert gate(tmp_path / "env", bigdb, body, env_extra=env)[1] == 0
    name, role, _ = bigdb
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE \"{role}\" IN DATABASE \"{name}\" SET lock_timeout = '4s'")
        try:
            report, code = gate(tmp_path / "role", bigdb, body)
        finally:
            conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{name}" RESET lock_timeout')
    assert code == 0, report["causes"]


def test_set_local_lock_timeout_lasts_only_its_transaction(tmp_path, bigdb):
    """Each revision in its own transaction: revision 1's SET LOCAL is gone when revision 2 runs."""
    report, _ = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT + "pass",
                     "op.add_column('events', sa.Column('seen', sa.Boolean(), nullable=True))",
                     configure=", transaction_per_migration=True")
    assert [c["id"] for c in report["causes"]] == ["pending-lock-no-timeout"]
    report, _ = gate(tmp_path / "one", bigdb, ON_EVENTS_WITH_TIMEOUT + "pass",
                     "op.add_column('events', sa.Column('seen', sa.Boolean(), nullable=True))")
    assert not report["causes"]


# --- renames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "old"), [
    ("op.alter_column('events', 'name', new_column_name='title')", "events.name"),
    ("op.rename_table('events', 'happenings')", "events"),
    ("op.execute('ALTER TABLE events RENAME COLUMN name TO title')", "events.name"),
])
def test_a_rename_of_what_the_service_uses_is_an_error(tmp_path, bigdb, body, old):
    report, code = gate(tmp_path, bigdb, ON_EVENTS_WITH_TIMEOUT + body)
    assert code == 1
    (cause,) = causes(report, "pending-rename-breaks-service")
    assert cause["severity"] == "error"
    assert "rev1.py:10" in cause["evidence"][0]
    assert f"beside {old}" in "\n".join(cause["fix"]) and "expand and contract" in "\n".join(cause["fix"])


def test_a_rename_of_an_unused_table_is_a_warning(tmp_path, bigdb):
    report, code = gate(tmp_path, bigdb, "op.rename_table('archive', 'archive_old')")
    (cause,) = causes(report, "pending-rename-breaks-service")
    assert cause["severity"] == "warn" and code == 1


# --- without a database -----------------------------------------------------------------------------


def test_repo_only_lists_what_would_be_weighed_and_names_no_cause(tmp_path):
    from tests.helpers import run_subprocess

    alembic_ini = checkout(tmp_path / "repo", "op.create_index('ix', 'events', ['n'])")
    result = run_subprocess("staging", "--repo-only", "--format", "json", "-v", "--alembic-ini", str(alembic_ini),
                            cwd=tmp_path / "repo")
    import json

    report = json.loads(result.stdout)
    assert not [c for c in report["causes"] if c["id"].startswith("pending-")]
    check = next(c for c in report["checks"] if c["id"] == "pre-deploy-plan")
    assert "--repo-only: 1 lock-taking statement(s) in the revisions, not weighed" in check["message"]
    assert any("rev1.py:9: creates index ix on events: SHARE, builds the index over every row" in line
               for f in check["findings"] for line in f["evidence"])


def test_a_saved_snapshot_replays_the_same_lock_verdicts(tmp_path, bigdb):
    from tests.helpers import run_cli

    report, code = gate(tmp_path, bigdb, "op.alter_column('events', 'name', type_=sa.Text())\n"
                                         "op.create_index('ix', 'events', ['n'])",
                        extra=("--save", str(tmp_path / "s.json")))
    replayed = run_cli("replay", str(tmp_path / "s.json"), "--format", "json", "--fail-on", "warn")
    again = __import__("json").loads(replayed.stdout)
    assert replayed.exit_code == code == 1
    assert [(c["id"], c["evidence"]) for c in again["causes"]] == [(c["id"], c["evidence"]) for c in report["causes"]]
    # the catalog's column type travelled with it: varchar(20) -> text is still no rewrite
    (risky,) = [c for c in again["causes"] if c["id"] == "pending-lock-risk"]
    assert "creates index ix on events" in risky["evidence"][0]


def test_sarif_annotates_the_revision_line_with_the_lock_rule(tmp_path, bigdb):
    import json

    from tests.helpers import run_cli

    name, role, port = bigdb
    seed = copy_seed(tmp_path / "exports")
    write_db_secrets(seed, name, role, PASSWORD)
    alembic_ini = checkout(tmp_path / "repo", ON_EVENTS_WITH_TIMEOUT + "op.create_index('ix', 'events', ['n'])")
    result = run_cli("staging", "--from", str(seed), "--only", "pre-deploy-plan", "--proxy",
                     f"{INSTANCE}=127.0.0.1:{port}", "--alembic-ini", str(alembic_ini), "--pre-deploy",
                     "--format", "sarif")
    run = json.loads(result.stdout)["runs"][0]
    assert "pending-lock-risk" in [r["id"] for r in run["tool"]["driver"]["rules"]]
    (hit,) = [r for r in run["results"] if r["ruleId"] == "pending-lock-risk"]
    where = hit["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"].endswith("rev1.py") and where["region"]["startLine"] == 10
    assert hit["level"] == "error"
