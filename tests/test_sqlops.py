"""SQL given to op.execute, read with PostgreSQL's own grammar (pglast), and the pattern fallback."""

from __future__ import annotations

import pytest
from netra_doctor.migrations import sqlops
from netra_doctor.migrations.sqlops import read_sql, sql_text


def test_statements_that_make_rename_move_and_drop_tables_in_text_order():
    effect = read_sql("""
        CREATE TABLE IF NOT EXISTS Audit_Log (id int);   -- folded to lower case
        CREATE UNLOGGED TABLE "Mixed Case" (id int);
        CREATE TEMP TABLE scratch (id int);               -- gone with the session
        CREATE TABLE billing.plans AS SELECT 1 AS id;
        CREATE MATERIALIZED VIEW mv AS SELECT 1;          -- not a table
        ALTER TABLE block_data RENAME TO block;
        ALTER TABLE IF EXISTS billing.plans RENAME TO tiers;
        ALTER TABLE users RENAME COLUMN a TO b;           -- a column, not the table: its data stays
        ALTER TABLE invoices SET SCHEMA archive;
        DROP TABLE IF EXISTS old_a, "Old_B", s.c CASCADE;
        ALTER TABLE ONLY public.users DROP COLUMN IF EXISTS nickname, ADD COLUMN email text;
        SELECT 'CREATE TABLE not_real (id int)';          -- a string, not a statement
    """)
    assert effect.opaque == []
    assert effect.ops == [
        ["create", "audit_log"], ["add_column", "audit_log", "id"], ["create", "Mixed Case"],
        ["add_column", "Mixed Case", "id"], ["create", "billing.plans"], ["rename", "block_data", "block"],
        ["rename", "billing.plans", "billing.tiers"], ["rename_column", "users", "a", "b"],
        ["rename", "invoices", "archive.invoices"],
        ["drop", "old_a"], ["drop", "Old_B"], ["drop", "s.c"], ["drop_column", "public.users", "nickname"],
        ["add_column", "public.users", "email"],
    ]


def test_a_do_block_that_can_touch_tables_is_opaque_one_that_cannot_is_read():
    alter_only = read_sql("DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = "
                          "'create table x') THEN ALTER TABLE a ALTER COLUMN b TYPE json USING b::json; "
                          "END IF; END $$;")
    assert alter_only.opaque == [] and alter_only.ops == []
    creating = read_sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1) THEN CREATE TABLE x (id int); END IF; END $$;")
    assert creating.opaque == ["a DO block using CREATE (procedural code: what it does to tables is decided when it "
                               "runs)"]
    dynamic = read_sql("DO $$ DECLARE t text; BEGIN FOR t IN SELECT 1 LOOP EXECUTE format('DROP TABLE %I', t); "
                       "END LOOP; END $$;")
    assert "EXECUTE" in dynamic.opaque[0]


def test_sql_the_grammar_rejects_is_opaque_not_guessed():
    effect = read_sql("CREATE TABLE (")
    assert effect.ops == [] and effect.opaque[0].startswith("SQL PostgreSQL's grammar rejects")


def test_text_bind_parameters_reach_the_parser_as_placeholders():
    sql = sql_text("UPDATE t SET a = :value, b = c::text WHERE d = '12\\:30'")
    assert sql == "UPDATE t SET a = $1, b = c::text WHERE d = '12:30'"
    assert read_sql(sql).opaque == []


def test_without_pglast_common_statements_are_read_with_patterns(monkeypatch):
    monkeypatch.setattr(sqlops, "PGLAST", False)
    effect = read_sql('CREATE TABLE IF NOT EXISTS a (id int); ALTER TABLE s.b RENAME TO c; DROP TABLE x, "Y"; '
                      "DO $$ BEGIN END $$;")
    assert effect.ops == [["create", "a"], ["rename", "s.b", "s.c"], ["drop", "x"], ["drop", "Y"]]
    assert len(effect.opaque) == 1


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_empty_sql_does_nothing(sql):
    assert read_sql(sql).ops == [] and read_sql(sql).opaque == []


def test_the_facts_say_when_sql_was_read_without_pglast(monkeypatch, tmp_path):
    from netra_doctor.sources import migrations

    from tests.alembic_projects import write
    from tests.test_alembic_projects import HELPERS

    root = write(tmp_path / "p", HELPERS)
    assert sqlops.FALLBACK_NOTE not in migrations.read_migrations(root / "app" / "alembic.ini", cwd=root).problems
    monkeypatch.setattr(sqlops, "PGLAST", False)
    monkeypatch.setattr(migrations, "PGLAST", False)
    m = migrations.read_migrations(root / "app" / "alembic.ini", cwd=root)
    assert sqlops.FALLBACK_NOTE in m.problems
    assert ["rename", "block_data", "block"] in m.revisions[1].ops
