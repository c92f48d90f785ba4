"""Revisions that could not be fully read: what they weaken, and what is never claimed because of them."""

from __future__ import annotations

from tests.migration_facts import cause_ids, database, diagnose, facts, findings

HEAD = "dc4fa32fd495"
DO_BLOCK = "x.py:12: a DO block using CREATE (procedural code: what it does to tables is decided when it runs)"


def test_a_table_no_readable_revision_creates_is_not_blamed_on_a_missing_migration_when_one_is_opaque():
    f = facts("linear", database(["users", "subscriptions", "credit_transactions"], [HEAD]))
    f.target.expected_tables = ["users", "agent_executions"]
    assert "migration-missing-for-tables" in cause_ids(diagnose(f, "tables"))
    f.migrations.revisions[1].opaque = [DO_BLOCK]
    d = diagnose(f, "tables")
    assert "migration-missing-for-tables" not in cause_ids(d)
    warned = next(x for x in findings(d, "tables") if x.status == "warn")
    assert warned.message.startswith("agent_executions exist nowhere on the server and no revision that could be read "
                                     "creates them, but 1 revision(s) could not be fully read and may")
    assert any(e.startswith("revision 68b6b9884261 could not be fully read (x.py:12: a DO block") for e in
               warned.evidence)


def test_causes_resting_on_opaque_revisions_carry_less_confidence_and_say_why():
    plain = diagnose(facts("linear", database(["users"], [HEAD])), "schema-revision")
    f = facts("linear", database(["users"], [HEAD]))
    f.migrations.revisions[0].opaque = [DO_BLOCK]  # before the tables it misses: the claim stands, weaker
    doubted = diagnose(f, "schema-revision")
    assert cause_ids(doubted) == cause_ids(plain) == ["revision-stamped-without-schema"]
    assert doubted.causes[0].confidence < plain.causes[0].confidence
    assert doubted.causes[0].evidence[-1].startswith("what 1 revision(s) do to tables could not be fully read "
                                                     "(e9da6f30cc4c)")


def test_the_revision_check_lists_opaque_revisions_and_where_the_scripts_are_doubtful():
    f = facts("linear", database(["users", "subscriptions", "credit_transactions"], [HEAD]))
    f.migrations.revisions[2].opaque = [DO_BLOCK]
    f.migrations.warnings = ["script_location / (from alembic.ini) is outside the checkout /repo"]
    d = diagnose(f, "revision")
    assert cause_ids(d) == []
    got = {x.message: x for x in findings(d, "revision") if x.cause is None}
    assert got["script_location / (from alembic.ini) is outside the checkout /repo"].status == "warn"
    listed = got["3 revisions read from source; what 1 of them do to tables could not be fully read (causes resting "
                 "on them carry less confidence)"]
    assert listed.evidence == [f"revision dc4fa32fd495 could not be fully read ({DO_BLOCK})"]


def test_a_noop_upgrade_blames_no_missing_migration_while_a_revision_is_opaque(seed, repo, tmp_path):
    import shutil

    from tests import logs_json as L
    from tests.helpers import DATA, diagnose_json

    project = tmp_path / "seed_project"
    shutil.copytree(DATA / "alembic" / "seed", project)
    (project / "migrations" / "versions" / "zz_opaque.py").write_text(
        'from alembic import op\nrevision = "zz_opaque"\ndown_revision = "add_deleted_at_001"\n\n\ndef upgrade():\n'
        '    op.execute("DO $$ BEGIN EXECUTE format(\'CREATE TABLE %I (id int)\', \'subscriptions\'); END $$")\n')
    missing = "Failed to create tables: {'subscriptions', 'credit_transactions', 'agent_executions'}"
    L.write(seed, [*L.alembic_noop(), L.service(f"DeterministicStartupError: {missing}", "2025-06-14T08:02:38Z")])
    report, _ = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", str(project / "alembic.ini"))
    assert "migration-missing-for-tables" not in [c["id"] for c in report["causes"]]
    check = next(c for c in report["checks"] if c["id"] == "migration-log")
    assert check["status"] == "warn" and "1 revision(s) could not be fully read (zz_opaque)" in check["message"]
