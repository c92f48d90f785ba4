"""The log patterns: each one against the real message that produces it, and against its near misses.

Where a message can be produced here, it is: libpq's own errors from a real connection, Python's
own tracebacks from a real `python -c`, Alembic's own log lines from a real `alembic upgrade`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from netra_doctor.cloudrun import logparse
from netra_doctor.core.facts import Execution, LogEntry
from netra_doctor.sources.offline import log_entries

DEMO = Path(logparse.__file__).parents[1] / "demo" / "data"
TABLES = "{'subscriptions', 'credit_transactions', 'agent_executions'}"

# one real-shaped message per pattern, and the groups it must yield
MATCHES: dict[str, tuple[str, dict[str, str]]] = {
    "tables-create-failed": (
        "DeterministicStartupError: Startup failed in phase DATABASE: Failed to ensure database tables exist: "
        f"Failed to create tables: {TABLES}",
        {"tables": TABLES},
    ),
    "tables-missing": (
        "RuntimeError: Missing required database tables: ['subscriptions', 'credit_transactions']",
        {"tables": "['subscriptions', 'credit_transactions']"},
    ),
    "auth-failed": (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user '
        '"netra_app"',
        {"user": "netra_app"},
    ),
    "database-missing": ('FATAL:  database "netra_stagin" does not exist', {"database": "netra_stagin"}),
    "cloudsql-socket": (
        '(psycopg2.OperationalError) connection to server on socket "/cloudsql/netra-staging:us-central1:'
        'staging-shared-postgres/.s.PGSQL.5432" failed: No such file or directory',
        {"instance": "netra-staging:us-central1:staging-shared-postgres", "port": "5432",
         "reason": "No such file or directory"},
    ),
    "cloudsql-socket-legacy": (
        "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\t"
        'connections on Unix domain socket "/cloudsql/netra-staging:us-central1:pg/.s.PGSQL.5432"?',
        {"instance": "netra-staging:us-central1:pg", "reason": "No such file or directory"},
    ),
    "permission-denied": (
        "psycopg.errors.InsufficientPrivilege: permission denied for table subscriptions",
        {"kind": "table", "object": "subscriptions"},
    ),
    "relation-missing": ('psycopg.errors.UndefinedTable: relation "subscriptions" does not exist',
                         {"relation": "subscriptions"}),
    "alembic-upgrade": (
        "INFO  [alembic.runtime.migration] Running upgrade bb39e1c49e2d -> 66e0e5d9662d, add_missing_tables",
        {"from": "bb39e1c49e2d", "to": "66e0e5d9662d", "message": "add_missing_tables"},
    ),
    "alembic-context": ("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.", {"impl": "Postgresql"}),
    "python-syntax-error": ("SyntaxError: invalid syntax", {"detail": "invalid syntax"}),
    "module-not-found": ("ModuleNotFoundError: No module named 'netra_backend'", {"module": "netra_backend"}),
}

# text that looks close but must not match the named pattern
NEAR_MISSES: list[tuple[str, str]] = [
    ("tables-create-failed", "Failed to create tables in 0.2s"),
    ("tables-create-failed", "Created tables: {'users'}"),
    ("tables-missing", "Missing required database tables"),
    ("auth-failed", "password authentication failed"),  # no user: not the libpq message
    ("auth-failed", 'Ident authentication failed for user "netra_app"'),
    ("database-missing", 'relation "netra_staging" does not exist'),
    ("database-missing", 'role "netra_app" does not exist'),
    ("database-missing", 'template database "template9" does not exist'),
    ("cloudsql-socket", 'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file'),
    ("cloudsql-socket", 'connection to server at "10.0.0.3", port 5432 failed: Connection refused'),
    ("cloudsql-socket-legacy", "could not connect to server: Connection refused\n\tIs the server running on host"),
    ("permission-denied", "PermissionError: [Errno 13] Permission denied: '/app/netra_backend/alembic.ini'"),
    ("permission-denied", "permission denied to create database"),
    ("relation-missing", 'database "subscriptions" does not exist'),
    ("relation-missing", "relation subscriptions does not exist"),
    ("alembic-upgrade", "INFO  [alembic.runtime.migration] Running downgrade 66e0e5d9662d -> bb39e1c49e2d, x"),
    ("alembic-upgrade", "INFO  [alembic.runtime.migration] Running stamp_revision  -> add_deleted_at_001"),
    ("alembic-upgrade", "Running upgrade"),
    ("alembic-context", "INFO  [alembic.runtime.migration] Will assume transactional DDL."),
    ("python-syntax-error", 'ProgrammingError: (psycopg2.errors.SyntaxError) syntax error at or near "x"'),
    ("python-syntax-error", "raise SyntaxError('bad')"),
    ("module-not-found", "ImportError: cannot import name 'models' from 'netra_backend'"),
    ("module-not-found", "ModuleNotFoundError"),
]


def names(text: str) -> dict[str, dict[str, str]]:
    return {name: groups for name, groups in logparse.match_text(text)}


def entry(text: str, resource: str = "service", origin: str = "", timestamp: str = "2025-06-14T08:00:00Z",
          severity: str = "") -> LogEntry:
    return LogEntry(timestamp=timestamp, text=text, severity=severity, resource=resource, origin=origin)


def test_every_pattern_has_a_matching_example_and_a_near_miss():
    table = {p.name for p in logparse.PATTERNS}
    assert set(MATCHES) == table
    assert {name for name, _ in NEAR_MISSES} == table
    assert all(p.means for p in logparse.PATTERNS)


@pytest.mark.parametrize("name", sorted(MATCHES))
def test_pattern_matches_its_message(name):
    text, groups = MATCHES[name]
    found = names(text)
    assert name in found
    assert {k: found[name][k] for k in groups} == groups


@pytest.mark.parametrize(("name", "text"), NEAR_MISSES)
def test_pattern_ignores_near_misses(name, text):
    assert name not in names(text)


def test_alembic_base_upgrade_has_an_empty_from():
    found = names("INFO  [alembic.runtime.migration] Running upgrade  -> bb39e1c49e2d, initial schema")
    assert found["alembic-upgrade"] == {"from": "", "to": "bb39e1c49e2d", "message": "initial schema"}


def test_alembic_merge_upgrade_has_several_froms():
    found = names("INFO  [alembic.runtime.migration] Running upgrade 0349095c0898, 33ee7ca6e52a -> 5a1c, merge heads")
    assert found["alembic-upgrade"]["from"] == "0349095c0898, 33ee7ca6e52a"
    assert found["alembic-upgrade"]["to"] == "5a1c"


# --- the real producers of those messages --------------------------------------------------


def test_real_libpq_socket_error_without_a_connector():
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(host="/cloudsql/netra-staging:us-central1:staging-shared-postgres", dbname="netra_staging",
                        user="netra_app", connect_timeout=2)
    found = names(str(err.value))
    assert found["cloudsql-socket"]["instance"] == "netra-staging:us-central1:staging-shared-postgres"
    assert found["cloudsql-socket"]["reason"] == "No such file or directory"


def test_real_libpq_auth_and_database_errors(pg):
    role = pg.role("app", "right-pw-1")
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(pg.dsn(role, "wrong-pw"))
    assert names(str(err.value))["auth-failed"]["user"] == role
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(pg.dsn(role, "right-pw-1", dbname="netra_nowhere"))
    assert names(str(err.value))["database-missing"]["database"] == "netra_nowhere"
    assert "relation-missing" not in names(str(err.value))


def test_real_permission_and_relation_errors(pg):
    role = pg.role("app", "right-pw-2")
    pg.sql("CREATE TABLE subscriptions (id int)")
    with psycopg.connect(pg.dsn(role, "right-pw-2"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
            conn.execute("SELECT * FROM subscriptions")
        assert names(str(err.value))["permission-denied"] == {"kind": "table", "object": "subscriptions"}
        with pytest.raises(psycopg.errors.UndefinedTable) as err:
            conn.execute("SELECT * FROM credit_transactions")
        assert names(str(err.value))["relation-missing"] == {"relation": "credit_transactions"}
    pg.sql("CREATE SCHEMA billing; REVOKE ALL ON SCHEMA billing FROM PUBLIC; CREATE TABLE billing.t (id int)")
    with psycopg.connect(pg.dsn(role, "right-pw-2"), autocommit=True) as conn, pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM billing.t")
    assert names(str(err.value))["permission-denied"] == {"kind": "schema", "object": "billing"}


def test_real_python_c_given_shell_text_and_a_missing_module():
    script = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
    bad = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    lines = [entry(line, "job", "x") for line in bad.stderr.splitlines()]  # Cloud Logging: one entry per line
    hit = logparse.failure_line(lines)
    assert hit is not None and hit.pattern == "python-syntax-error"
    missing = subprocess.run([sys.executable, "-c", "import netra_backend_not_here"], capture_output=True, text=True)
    found = logparse.hits([entry(line, "job") for line in missing.stderr.splitlines()])
    assert [(h.pattern, h.groups) for h in found] == [("module-not-found", {"module": "netra_backend_not_here"})]


def _alembic(project: Path, dsn: str) -> list[str]:
    """`python -m alembic upgrade head` as the job runs it; its stderr, one line per log entry."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"],
        capture_output=True, text=True, cwd=project, timeout=60,
        env={**os.environ, "DATABASE_URL": dsn},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_real_alembic_upgrade_then_a_no_op_and_the_bundled_log_is_that_no_op(pg, tmp_path):
    project = tmp_path / "netra_backend"
    shutil.copytree(DEMO / "netra_backend", project)
    first = logparse.upgrade_log([entry(t, "job") for t in _alembic(project, pg.dsn())])
    assert first.steps == [("", "bb39e1c49e2d"), ("bb39e1c49e2d", "66e0e5d9662d"),
                           ("66e0e5d9662d", "add_deleted_at_001")]
    assert not first.noop
    again = _alembic(project, pg.dsn())
    second = logparse.upgrade_log([entry(t, "job") for t in again])
    assert second.ran and second.noop
    bundled = [e for e in log_entries(json.loads((DEMO / "logs.json").read_text()))
               if e.origin == "netra-migrations-staging-k7x2p" and "alembic" in e.text]
    assert [e.text for e in logparse.in_time_order(bundled)] == again


# --- which entries belong to what, and what they say -----------------------------------------


def test_tables_named_in_startup_errors_reads_the_service_not_the_job():
    logs = [
        entry(f"Failed to create tables: {TABLES}"),
        entry("Missing required database tables: {'users'}", resource=""),
        entry("Failed to create tables: {'job_only'}", resource="job"),
        entry('relation "audit" does not exist'),
    ]
    assert logparse.tables_named_in_startup_errors(logs) == {
        "subscriptions", "credit_transactions", "agent_executions", "users"}
    assert logparse.tables_named_in_startup_errors(None) == set()


def test_bundled_logs_json_is_read_from_both_payload_kinds():
    logs = log_entries(json.loads((DEMO / "logs.json").read_text()))
    assert logparse.tables_named_in_startup_errors(logs) == {"subscriptions", "credit_transactions",
                                                             "agent_executions"}
    assert {e.resource for e in logs} == {"service", "job"}
    assert any(e.text.startswith("Container called exit") for e in logs)  # textPayload
    assert any(e.text.startswith("DeterministicStartupError") for e in logs)  # jsonPayload.message


def test_execution_entries_by_label_then_by_time_window():
    run = Execution("job-abc", "failed", started="2025-06-14T07:00:00Z", completed="2025-06-14T07:05:00Z")
    labelled = [entry("a", "job", "job-abc"), entry("b", "job", "job-old")]
    assert [e.text for e in logparse.execution_entries(labelled, run)] == ["a"]
    unlabelled = [entry("in", "job", timestamp="2025-06-14T07:01:00.123456789Z"),
                  entry("after", "job", timestamp="2025-06-14T07:06:00Z"),
                  entry("service", "service", timestamp="2025-06-14T07:02:00Z")]
    assert [e.text for e in logparse.execution_entries(unlabelled, run)] == ["in"]


def test_latest_origin_keeps_only_the_newest_revision():
    logs = [entry("old", origin="rev-1", timestamp="2025-06-14T07:00:00Z"),
            entry("new", origin="rev-2", timestamp="2025-06-14T08:00:00Z"),
            entry("new too", origin="rev-2", timestamp="2025-06-14T07:59:00Z")]
    assert [e.text for e in logparse.latest_origin(logs)] == ["new too", "new"]


def test_failure_line_prefers_the_specific_message_over_the_last_line():
    logs = [
        entry("Traceback (most recent call last):", "job", timestamp="2025-06-14T08:00:00Z"),
        entry("ModuleNotFoundError: No module named 'netra_backend'", "job", timestamp="2025-06-14T08:00:01Z"),
        entry("Container called exit(1).", "job", timestamp="2025-06-14T08:00:02Z"),
    ]
    hit = logparse.failure_line(logs)
    assert hit.pattern == "module-not-found" and "netra_backend" in hit.quote()
    generic = logparse.failure_line([entry("all good", "job"), entry("boom", "job", severity="ERROR")])
    assert generic.pattern == "error-line" and generic.entry.text == "boom"
    assert logparse.failure_line([entry("Container called exit(0).", "job")]) is None


def test_parse_time_reads_cloud_logging_timestamps():
    assert logparse.parse_time("2025-06-14T07:49:36.442123456Z").microsecond == 442123
    assert logparse.parse_time("2025-06-14T07:49:36+02:00").hour == 5
    assert logparse.parse_time("yesterday") is None


_IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)


@given(st.lists(_IDENT, min_size=1, max_size=8, unique=True))
def test_table_set_reprs_parse_back(tables):
    for text in (repr(set(tables)), repr(list(tables)), repr(tuple(tables)) if len(tables) > 1 else repr(list(tables))):
        assert sorted(logparse.parse_table_names(text)) == sorted(tables)
        found = names(f"Failed to create tables: {text}")["tables-create-failed"]["tables"]
        assert sorted(logparse.parse_table_names(found)) == sorted(tables)
