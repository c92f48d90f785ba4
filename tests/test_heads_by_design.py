"""Several heads as the project intends them, and which cause the recorded revision's verdicts follow.

The two-heads project is upgraded for real (`alembic upgrade heads`); what the database then holds
is diagnosed with the job running `upgrade heads`, each branch, or `upgrade head`.
"""

from __future__ import annotations

import psycopg
import pytest
from netra_doctor.core.facts import Container, Workload

from tests.alembic_projects import alembic
from tests.helpers import DATA
from tests.migration_facts import cause_ids, database, diagnose, facts, findings, ruled_out_ids

HEADS = ["0349095c0898", "33ee7ca6e52a"]


def job(script: str) -> Workload:
    return Workload("job", "netra-migrations-staging", containers=[Container(command=["sh"], args=["-c", script])])


@pytest.fixture(scope="module")
def upgraded(pg_server):
    """The two-heads project after a real `alembic upgrade heads`: (tables, recorded versions)."""
    import uuid

    name = "heads_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg_server.dsn(name)
    result = alembic(DATA / "alembic" / "two_heads", "-c", "alembic.ini", "upgrade", "heads", dsn=dsn)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
                                             "tablename <> 'alembic_version'")]
        versions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    yield sorted(tables), sorted(versions)
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _diagnose(upgraded, script: str | None):
    tables, versions = upgraded
    f = facts("two_heads", database(tables, versions))
    f.job = job(script) if script else None
    return diagnose(f, "revision", "schema-revision", "tables")


@pytest.mark.parametrize("script", [
    "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade heads",
    "alembic upgrade 0349095c0898 && alembic upgrade 33ee7ca6e52a",
])
def test_heads_upgraded_by_design_and_all_recorded_are_not_a_cause(upgraded, script):
    tables, versions = upgraded
    assert versions == HEADS and tables == ["invoices", "orders", "users"]  # what Alembic really did
    d = _diagnose(upgraded, script)
    assert cause_ids(d) == []
    assert "multiple-heads" in ruled_out_ids(d)
    heads = next(f for f in findings(d, "revision") if f.cause == "multiple-heads")
    assert heads.message.startswith("the migration scripts have 2 heads by design: the job runs `alembic upgrade")
    assert heads.message.endswith("which upgrades each; the database records every head")


def test_branch_labels_at_head_cover_their_branches(upgraded):
    tables, versions = upgraded
    f = facts("two_heads", database(tables, versions))
    by_id = f.migrations.by_id()
    by_id["0349095c0898"].branch_labels = ["billing"]
    by_id["33ee7ca6e52a"].branch_labels = ["shop"]
    f.job = job("alembic upgrade billing@head; alembic upgrade shop@head")
    assert cause_ids(diagnose(f, "revision")) == []
    f.job = job("alembic upgrade billing@head")
    d = diagnose(f, "revision")
    assert cause_ids(d) == ["multiple-heads"]
    assert "it leaves 33ee7ca6e52a unapplied" in d.causes[0].evidence[0]


def test_upgrade_head_with_two_heads_is_the_cause(upgraded):
    d = _diagnose(upgraded, "cd /app && alembic -c netra_backend/alembic.ini upgrade head")
    assert cause_ids(d)[0] == "multiple-heads"
    assert "`alembic upgrade head` refuses to run when there are several heads" in d.causes[0].evidence[0]


def test_an_unknown_recorded_revision_outranks_what_is_derived_from_it():
    f = facts("linear", database(["users"], ["f00dfeed1234"]))
    d = diagnose(f, "revision", "tables", "schema-revision")
    assert cause_ids(d)[0] == "revision-unknown-to-code"
    assert "migration-not-applied" not in cause_ids(d)  # which revisions were applied is what is unknown
