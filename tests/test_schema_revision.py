"""Schema vs revision: the tables the recorded revision implies are really there."""

from __future__ import annotations

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
    assert top.fix[0] == ("alembic -c netra_backend/alembic.ini stamp base   "
                          "# the last revision whose schema is really there")


def test_partly_stamped_restamps_to_the_last_complete_revision():
    d = diagnose(facts("linear", database(["users"], [HEAD])), "schema-revision")
    top = d.causes[0]
    assert top.fix[0].startswith("alembic -c netra_backend/alembic.ini stamp e9da6f30cc4c ")
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
    assert d.causes[0].fix[0].startswith("alembic -c netra_backend/alembic.ini stamp 3708be2128c8 ")


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
