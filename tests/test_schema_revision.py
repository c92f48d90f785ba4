"""Schema vs revision: the tables the recorded revision implies are really there."""

from __future__ import annotations

from netra_doctor.core.causes import fix_kind

from tests.migration_facts import cause_ids, database, diagnose, facts, findings, ruled_out_ids, status

LINEAR = ["users", "subscriptions", "credit_transactions"]
HEAD = "dc4fa32fd495"


def test_all_tables_present_rules_out_a_stamp():
    d = diagnose(facts("linear", database(LINEAR, [HEAD])), "schema-revision")
    assert status(d, "schema-revision") == "pass"
    assert "revision-stamped-without-schema" in ruled_out_ids(d)
    assert findings(d, "schema-revision")[0].message.startswith(
        "all 3 tables that the revisions up to dc4fa32fd495 create exist in netra_staging")


def test_stamped_to_head_with_no_tables_names_each_and_restamps_base():
    d = diagnose(facts("linear", database([], [HEAD])), "schema-revision")
    top = d.causes[0]
    assert top.id == "revision-stamped-without-schema"
    assert "credit_transactions, subscriptions, users (created by revisions it includes) are not in" in top.evidence[0]
    assert any(e.strip().startswith("subscriptions: created by 68b6b9884261 (create subscriptions")
               for e in top.evidence)
    # the stamp comes after a guard that must answer "head | 0", and says what the upgrade reruns
    assert top.fix == [
        "SELECT (SELECT string_agg(version_num, ',') FROM \"public\".alembic_version) AS recorded, (SELECT count(*) "
        "FROM pg_catalog.pg_tables WHERE tablename = 'credit_transactions' OR tablename = 'subscriptions' OR "
        "tablename = 'users') AS present;  -- stamp only if this returns dc4fa32fd495 | 0",
        "alembic -c netra_backend/alembic.ini stamp base   # the next upgrade reruns 3 revision(s): e9da6f30cc4c, "
        "68b6b9884261, dc4fa32fd495",
        "gcloud run jobs execute netra-migrations-staging --region us-central1 --project netra-staging --wait   "
        "# the upgrade creates credit_transactions, subscriptions, users again",
    ]
    assert [fix_kind(f) for f in top.fix] == ["sql", "command", "command"]


def test_partly_stamped_restamps_to_the_last_complete_revision():
    d = diagnose(facts("linear", database(["users"], [HEAD])), "schema-revision")
    top = d.causes[0]
    assert top.fix[1] == ("alembic -c netra_backend/alembic.ini stamp e9da6f30cc4c   # the next upgrade reruns 2 "
                          "revision(s): 68b6b9884261, dc4fa32fd495")
    assert any("1 of the 3 tables those revisions create exist" in e for e in top.evidence)


def test_only_revisions_up_to_the_recorded_one_count():
    d = diagnose(facts("linear", database(["users"], ["e9da6f30cc4c"])), "schema-revision")
    assert status(d, "schema-revision") == "pass"  # behind, not stamped: the revision check's business


def test_renames_and_drops_are_followed():
    # at head of rename_drop: users became accounts, legacy_sessions was dropped, audit.events stays
    d = diagnose(facts("rename_drop", database(["accounts", "audit.events"], ["7b50319b41a4"])), "schema-revision")
    assert status(d, "schema-revision") == "pass"
    d = diagnose(facts("rename_drop", database(["users", "legacy_sessions", "audit.events"], ["7b50319b41a4"])),
                 "schema-revision")
    assert cause_ids(d) == ["revision-stamped-without-schema"]
    assert "accounts (created by revisions it includes) is not in" in d.causes[0].evidence[0]
    # rerunning the rename would fail (users is there, accounts is not): no stamp on this evidence
    assert [fix_kind(f) for f in d.causes[0].fix] == ["step"]
    assert d.causes[0].fix[0].startswith("do not stamp on this evidence (7b62c3df8eda also renames or drops")


def test_a_schema_qualified_table_must_be_in_that_schema():
    d = diagnose(facts("rename_drop", database(["users", "legacy_sessions", "events"], ["3708be2128c8"])),
                 "schema-revision")
    assert cause_ids(d) == ["revision-stamped-without-schema"]
    assert "audit.events" in d.causes[0].evidence[0]


def test_a_table_in_another_schema_still_counts_as_created():
    """Where it lives is the tables check's question; this one asks whether it was created at all."""
    d = diagnose(facts("linear", database(["migrator.users", "subscriptions", "credit_transactions"], [HEAD])),
                 "schema-revision")
    assert status(d, "schema-revision") == "pass"


def test_nothing_to_compare_without_a_known_recorded_revision():
    for versions in (None, [], ["f00dfeed1234"]):
        d = diagnose(facts("linear", database([], versions)), "schema-revision")
        assert status(d, "schema-revision") == "skip" and cause_ids(d) == []
        assert not findings(d, "schema-revision")[0].blocked  # nothing to examine, not a failure to gather


def test_unreached_database_is_a_blocking_skip():
    d = diagnose(facts("linear", database(reached=False, error_kind="auth", error="password authentication failed")),
                 "schema-revision")
    assert status(d, "schema-revision") == "skip" and d.status == "incomplete"
    assert "password authentication failed" in findings(d, "schema-revision")[0].message


def test_a_stamp_that_would_rerun_a_revision_whose_tables_exist_is_not_printed():
    """users is there and subscriptions is not: stamping before 68b6... reruns dc4f..., whose table exists."""
    d = diagnose(facts("linear", database(["users", "credit_transactions"], [HEAD])), "schema-revision")
    (fix,) = d.causes[0].fix
    assert fix_kind(fix) == "step"
    assert "dc4fa32fd495 creates credit_transactions, which exist: rerunning it would fail" in fix


def test_a_missing_table_an_opaque_later_revision_could_have_dropped_is_not_claimed():
    f = facts("linear", database(["users", "credit_transactions"], [HEAD]))
    f.migrations.revisions[2].opaque = ["rev.py:9: a DO block using DROP (procedural code: ...)"]
    d = diagnose(f, "schema-revision")
    assert cause_ids(d) == []
    (finding,) = findings(d, "schema-revision")
    assert finding.status == "warn" and finding.cause is None
    assert "subscriptions (created by revisions up to dc4fa32fd495) is not in" in finding.message
    assert any(e.startswith("revision dc4fa32fd495 could not be fully read (rev.py:9: a DO block")
               for e in finding.evidence)
    # an opaque revision before the one that creates the table cannot have removed it
    f = facts("linear", database(["users", "credit_transactions"], [HEAD]))
    f.migrations.revisions[0].opaque = ["rev.py:9: a DO block using DROP"]
    assert cause_ids(diagnose(f, "schema-revision")) == ["revision-stamped-without-schema"]
