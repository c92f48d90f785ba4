"""Pending migrations: the revisions the next `alembic upgrade head` runs, and what they destroy."""

from __future__ import annotations

from netra_doctor.core.diagnosis import Silence, exit_code
from netra_doctor.engine import replay

from tests.helpers import DATA, INSTANCE, diagnose_json, write_db_secrets
from tests.migration_facts import cause_ids, database, diagnose, facts, findings, ruled_out_ids, status

CREATED = ["users", "legacy_sessions", "audit.events"]  # rename_drop at its first revision


def test_a_pending_drop_is_a_warning_that_fails_a_warn_gate():
    d = diagnose(facts("rename_drop", database(CREATED, ["3708be2128c8"])), "pending-migrations")
    assert status(d, "pending-migrations") == "warn"
    top = d.causes[0]
    assert (top.id, top.severity) == ("destructive-migration", "warn")
    assert ("pending revision 7b50319b41a4 (drop legacy sessions and nickname) drops table legacy_sessions, "
            "drops column accounts.nickname, drops column audit.events.payload") in top.evidence[0]
    assert top.fix == [
        "review netra_backend/migrations/versions/7b50319b41a4_drop_legacy_sessions_and_nickname.py before deploying",
        "gcloud sql backups create --instance staging-shared-postgres --project netra-staging",
    ]
    assert exit_code([d], "warn") == 1  # the pre-deploy gate stops
    assert exit_code([d], "error") == 0  # a plain diagnosis does not fail on it


def test_the_rename_alone_is_not_destructive():
    d = diagnose(facts("rename_drop", database(CREATED, [])), "pending-migrations")
    assert [f.obj for f in findings(d, "pending-migrations")] == ["7b50319b41a4"]  # one warning, for the drop only


def test_nothing_destructive_pending_rules_it_out():
    d = diagnose(facts("linear", database(["users"], ["e9da6f30cc4c"])), "pending-migrations")
    assert status(d, "pending-migrations") == "pass"
    assert "destructive-migration" in ruled_out_ids(d)
    assert findings(d, "pending-migrations")[0].message == (
        "2 pending revision(s) from e9da6f30cc4c to head dc4fa32fd495, none drops a table or column")


def test_at_head_nothing_is_pending():
    d = diagnose(facts("rename_drop", database(["accounts", "audit.events"], ["7b50319b41a4"])), "pending-migrations")
    assert status(d, "pending-migrations") == "pass" and cause_ids(d) == []


def test_no_version_table_means_everything_is_pending():
    d = diagnose(facts("rename_drop", database([], None)), "pending-migrations")
    assert cause_ids(d) == ["destructive-migration"]
    assert "3 revision(s) pending from base to head 7b50319b41a4" in d.causes[0].evidence[1]


def test_a_reviewed_revision_can_be_silenced_by_id():
    f = facts("rename_drop", database(CREATED, ["3708be2128c8"]))
    d = replay(f, only=["pending-migrations"], silences=[Silence("destructive-migration", "backed up", "7b50319b41a4")])
    assert cause_ids(d) == [] and exit_code([d], "warn") == 0
    assert d.silenced == ["destructive-migration[7b50319b41a4]: backed up"]


def test_unknown_recorded_revision_cannot_say_what_is_pending():
    d = diagnose(facts("rename_drop", database(CREATED, ["f00dfeed1234"])), "pending-migrations")
    assert status(d, "pending-migrations") == "skip" and cause_ids(d) == []


def test_pre_deploy_gate_against_a_real_database(pg, seed, repo):
    """`netra-doctor staging --only pending-migrations --fail-on warn` before deploying rename_drop's head."""
    password = "gate-pw-3c1d"
    role = pg.role("app", password)
    pg.sql(f"""
        CREATE TABLE users (id SERIAL PRIMARY KEY, nickname VARCHAR(80));
        CREATE TABLE legacy_sessions (id SERIAL PRIMARY KEY, token VARCHAR(64) NOT NULL);
        CREATE SCHEMA audit;
        CREATE TABLE audit.events (id SERIAL PRIMARY KEY, payload TEXT);
        CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
        INSERT INTO alembic_version VALUES ('3708be2128c8');
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}";
    """)
    write_db_secrets(seed, pg.name, role, password)
    args = ["--only", "pending-migrations", "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}",
            "--alembic-ini", str(DATA / "alembic" / "rename_drop" / "alembic.ini")]
    report, code = diagnose_json(seed, *args, "--fail-on", "warn")
    assert code == 1
    assert [c["id"] for c in report["causes"]] == ["destructive-migration"]
    assert "drops table legacy_sessions" in report["causes"][0]["evidence"][0]
    _, code = diagnose_json(seed, *args)
    assert code == 0  # the default threshold (error) lets a plain diagnosis pass
