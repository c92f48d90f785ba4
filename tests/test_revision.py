"""The revision check: alembic_version in the service's database against the scripts' single head.

Migrations come from the real Alembic projects under tests/data/alembic; the database facts are
built by hand here (the real-PostgreSQL versions of these states are scenarios under tests/scenarios).
"""

from __future__ import annotations

from netra_doctor.core.facts import AlembicVersion, Facts

from tests.migration_facts import cause_ids, database, diagnose, facts, findings, ruled_out_ids, status

LINEAR = ["users", "subscriptions", "credit_transactions"]
HEAD = "dc4fa32fd495"
JOB_FIX = "gcloud run jobs execute netra-migrations-staging --region us-central1 --project netra-staging --wait"


def test_at_the_single_head_passes_and_rules_out_not_applied():
    d = diagnose(facts("linear", database(LINEAR, [HEAD])), "revision")
    assert status(d, "revision") == "pass"
    assert cause_ids(d) == []
    assert {"migration-not-applied", "revision-unknown-to-code", "multiple-heads"} <= set(ruled_out_ids(d))
    gone = next(r for r in d.ruled_out if r.id == "migration-not-applied")
    assert any(f"records {HEAD}" in line for line in gone.evidence)


def test_behind_head_lists_the_pending_revisions_and_the_job_command():
    d = diagnose(facts("linear", database(["users"], ["e9da6f30cc4c"])), "revision")
    assert status(d, "revision") == "fail"
    top = d.causes[0]
    assert top.id == "migration-not-applied"
    assert "the database is at e9da6f30cc4c, 2 revision(s) behind head dc4fa32fd495" in top.evidence[0]
    pending = [line for line in top.evidence if "pending:" in line]
    assert len(pending) == 2
    assert "68b6b9884261 (create subscriptions, 68b6b9884261_create_subscriptions.py)" in pending[0]
    assert "dc4fa32fd495 (create credit transactions" in pending[1]
    assert top.fix == [JOB_FIX]


def test_no_version_table_means_the_job_never_ran_here():
    d = diagnose(facts("linear", database([], None)), "revision")
    top = d.causes[0]
    assert top.id == "migration-not-applied"
    assert "no alembic_version table in netra_staging: the job never ran against this database" in top.evidence[0]


def test_empty_version_table_is_at_base():
    d = diagnose(facts("linear", database([], [])), "revision")
    assert d.causes[0].id == "migration-not-applied"
    assert "at base (alembic_version is empty), 3 revision(s) behind" in d.causes[0].evidence[0]


def test_a_revision_the_scripts_do_not_know():
    d = diagnose(facts("linear", database(LINEAR, ["f00dfeed1234"])), "revision")
    assert cause_ids(d) == ["revision-unknown-to-code"]
    top = d.causes[0]
    assert "records revision f00dfeed1234, which the migration scripts do not have (head dc4fa32fd495)" in (
        top.evidence[0])
    assert "f00dfeed1234" in top.fix[0] and "alembic -c netra_backend/alembic.ini stamp" in top.fix[0]
    assert "migration-not-applied" not in cause_ids(d)


def test_two_heads_ask_for_a_merge_with_both_ids():
    d = diagnose(facts("two_heads", database(["users", "orders"], ["33ee7ca6e52a"])), "revision")
    top = d.causes[0]
    assert top.id == "multiple-heads"
    assert top.fix[0] == "alembic -c netra_backend/alembic.ini merge -m 'merge heads' 0349095c0898 33ee7ca6e52a"
    # the other branch is pending too: upgrade head cannot apply it
    assert "migration-not-applied" in cause_ids(d)
    behind = next(c for c in d.causes if c.id == "migration-not-applied")
    assert any("pending: 0349095c0898 (create invoices" in line for line in behind.evidence)


def test_version_table_and_tables_in_another_schema_point_at_the_search_path():
    db = database(["migrator.users", "migrator.subscriptions", "migrator.credit_transactions"], [HEAD],
                  version_schema="migrator")
    d = diagnose(facts("linear", db), "revision")
    assert status(d, "revision") == "warn"
    assert cause_ids(d) == ["tables-in-other-schema"]
    top = d.causes[0]
    assert top.severity == "warn"
    assert "migrated schema migrator, outside netra_app's search_path (public)" in top.evidence[0]
    assert top.fix[0].startswith("ALTER ROLE netra_app SET search_path = migrator, public;")
    assert "migration-not-applied" in ruled_out_ids(d)  # the job did reach head, in its own schema


def test_version_table_elsewhere_but_tables_on_the_path_is_only_noted():
    """version_table_schema set on purpose: the tables are where the service looks."""
    d = diagnose(facts("linear", database(LINEAR, [HEAD], version_schema="alembic")), "revision")
    assert status(d, "revision") == "pass"
    assert cause_ids(d) == []
    evidence = [e for f in findings(d, "revision") for e in f.evidence]
    assert "schema alembic is not on netra_app's search_path (public)" in evidence


def test_a_version_table_on_the_path_wins_over_one_elsewhere():
    db = database(LINEAR, [HEAD])
    db.alembic_versions.append(AlembicVersion("old_copy", ["e9da6f30cc4c"]))
    d = diagnose(facts("linear", db), "revision")
    assert status(d, "revision") == "pass"
    assert any("also old_copy.alembic_version: e9da6f30cc4c" in e for f in findings(d, "revision") for e in f.evidence)


def test_unreadable_version_table_is_a_skip_not_a_verdict():
    db = database(LINEAR, [])
    db.alembic_versions[0].error = "permission denied for table alembic_version"
    d = diagnose(facts("linear", db), "revision")
    assert status(d, "revision") == "skip"
    assert cause_ids(d) == [] and d.status == "incomplete"


def test_unreached_database_skips_with_the_reason_but_still_judges_the_scripts():
    db = database(reached=False, error_kind="no-route",
                  error="no route to /cloudsql/netra-staging:us-central1:staging-shared-postgres: pass --proxy ...")
    d = diagnose(facts("two_heads", db), "revision")
    assert cause_ids(d) == ["multiple-heads"]
    skipped = [f for f in findings(d, "revision") if f.status == "skip"]
    assert skipped[0].message.startswith("no route to /cloudsql/")
    d = diagnose(facts("linear", db), "revision")
    assert status(d, "revision") == "skip" and d.status == "incomplete"


def test_the_job_reaching_another_database_is_shown():
    job = database(LINEAR, [HEAD], workload="job", current_database="netra_migrations",
                   target=f"{'netra-staging:us-central1:staging-shared-postgres'}/netra_migrations")
    d = diagnose(facts("linear", database([], None), job), "revision")
    top = d.causes[0]
    assert top.id == "migration-not-applied"
    assert any("the job's role reaches another database, netra_migrations" in e and "records dc4fa32fd495" in e
               for e in top.evidence)


def test_same_database_for_the_job_adds_nothing():
    d = diagnose(facts("linear", database(["users"], ["e9da6f30cc4c"]),
                       database(["users"], ["e9da6f30cc4c"], workload="job")), "revision")
    assert not any("another database" in e for e in d.causes[0].evidence)


def test_what_the_source_could_not_read_goes_with_the_verdict():
    f = facts("linear", database(["users"], ["e9da6f30cc4c"]))
    f.migrations.problems = ["Alembic could not load the revision files (ModuleNotFoundError: No module named "
                             "'netra_backend'); the graph was read from their source instead"]
    d = diagnose(f, "revision")
    assert any(e.strip().startswith("note on the scripts: Alembic could not load the revision files")
               for e in d.causes[0].evidence)


def test_a_saved_snapshot_replays_to_the_same_verdict():
    f = facts("rename_drop", database(["users"], ["3708be2128c8"]))
    again = Facts.from_dict(f.to_dict())
    assert again.migrations == f.migrations
    assert cause_ids(diagnose(again, "revision", "schema-revision", "pending-migrations")) == cause_ids(
        diagnose(f, "revision", "schema-revision", "pending-migrations"))
