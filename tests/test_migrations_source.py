"""The migrations source against real Alembic projects (written by `alembic init` / `alembic revision`).

What it reads must be what Alembic itself does: the same heads and order as `alembic heads` /
`alembic history`, and, checked against a real PostgreSQL, the same tables `alembic upgrade` leaves.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from netra_doctor.core.errors import SourceError
from netra_doctor.migrations.expected import origin_of, tables_at
from netra_doctor.sources.migrations import ini_path, read_migrations, read_ops

from tests import alembic_projects
from tests.helpers import DATA, run_cli

ALEMBIC = DATA / "alembic"


def migrations(project: str):
    return read_migrations(ALEMBIC / project / "alembic.ini")


def ops(source: str, problems: list[str] | None = None):
    return read_ops(ast.parse(textwrap.dedent(source)), "rev.py", problems)


def test_linear_chain_base_first_with_the_tables_each_creates():
    m = migrations("linear")
    assert m.heads == ["dc4fa32fd495"]
    assert [(r.revision, r.down_revisions, r.message, r.creates) for r in m.revisions] == [
        ("e9da6f30cc4c", [], "create users", ["users"]),
        ("68b6b9884261", ["e9da6f30cc4c"], "create subscriptions", ["subscriptions"]),
        ("dc4fa32fd495", ["68b6b9884261"], "create credit transactions", ["credit_transactions"]),
    ]
    assert all(not (r.drops or r.renames or r.drops_columns) for r in m.revisions)  # downgrade() is not read
    assert Path(m.revisions[0].path).name == "e9da6f30cc4c_create_users.py"
    assert m.script_location == str(ALEMBIC / "linear" / "migrations")
    assert m.problems == []


def test_two_heads_are_both_reported_after_their_common_parent():
    m = migrations("two_heads")
    assert sorted(m.heads) == ["0349095c0898", "33ee7ca6e52a"]
    order = [r.revision for r in m.revisions]
    assert order[0] == "8bfd07ffb207"
    assert sorted(order[1:]) == sorted(m.heads)


def test_rename_drop_batch_and_schema_keyword():
    m = migrations("rename_drop")
    create, rename, drop = m.revisions
    assert create.creates == ["users", "legacy_sessions", "audit.events"]
    assert rename.renames == [["users", "accounts"]]
    assert drop.drops == ["legacy_sessions"]
    assert drop.drops_columns == [["accounts", "nickname"], ["audit.events", "payload"]]
    assert sorted(tables_at(m, m.heads)) == ["accounts", "audit.events"]


def test_operations_within_one_revision_count_in_the_order_upgrade_runs_them():
    """rename accounts -> legacy_accounts then create accounts: both stand; a staging table created
    and dropped: gone; sessions dropped and created again, and `DROP ...; CREATE audit_log` in one
    SQL string: there. The real-upgrade test below runs the same files against PostgreSQL."""
    m = migrations("same_revision_order")
    first, second = m.revisions
    assert second.ops == [
        ["rename", "accounts", "legacy_accounts"], ["create", "accounts"], ["create", "account_import"],
        ["drop", "account_import"], ["drop", "sessions"], ["create", "sessions"], ["drop", "audit_log"],
        ["create", "audit_log"],
    ]
    standing = tables_at(m, m.heads)
    assert sorted(standing) == ["accounts", "audit_log", "legacy_accounts", "sessions"]
    assert origin_of("accounts", standing["accounts"]).startswith(f"created by revision {second.revision}")
    assert standing["legacy_accounts"] is second and standing["sessions"] is second
    assert sorted(tables_at(m, [first.revision])) == ["accounts", "sessions"]


def test_order_is_kept_through_helpers_and_sql():
    found = ops("""
        from alembic import op

        def _rebuild(name):
            op.drop_table('t')
            op.create_table('t')

        def upgrade():
            op.create_table('tmp')
            _rebuild('t')
            op.execute("CREATE TABLE x (id int); DROP TABLE tmp, y")
    """)
    assert found.order == [["create", "tmp"], ["drop", "t"], ["create", "t"], ["create", "x"], ["drop", "tmp"],
                           ["drop", "y"]]


def test_seed_chain_ends_at_add_deleted_at_001_and_creates_none_of_the_incident_tables():
    m = migrations("seed")
    assert m.heads == ["add_deleted_at_001"]
    assert [r.revision for r in m.revisions] == ["bb39e1c49e2d", "66e0e5d9662d", "add_deleted_at_001"]
    # the middle revision does its work in helper functions that upgrade() calls, as the real one does
    assert sorted(m.revisions[1].creates) == ["agent_state_snapshots", "corpus_audit_logs", "mcp_external_servers"]
    created = {t for r in m.revisions for t in r.creates}
    assert not created & {"subscriptions", "credit_transactions", "agent_executions"}


def test_missing_ini_is_one_clear_line():
    with pytest.raises(SourceError) as err:
        read_migrations(Path("/nowhere/netra_backend/alembic.ini"))
    assert str(err.value) == (
        "no alembic.ini at /nowhere/netra_backend/alembic.ini "
        "(pass --alembic-ini PATH, or --script-location DIR for a project without one, or set alembic_ini in "
        "netra-doctor.toml)"
    )


def test_missing_ini_through_the_cli_fails_the_source_and_skips_the_checks(seed, repo):
    """The configured alembic.ini missing is the migrations source's error (exit 3); a missing
    --alembic-ini is bad input (exit 2: the user named a file that is not there)."""
    (repo / "netra-doctor.toml").write_text('alembic_ini = "nope.ini"\n')
    result = run_cli("staging", "--from", str(seed), "--format", "json", "--only", "revision")
    report = json.loads(result.stdout)
    source = next(s for s in report["sources"] if s["name"] == "migrations")
    assert source["status"] == "error"
    assert "no alembic.ini at" in source["error"]
    assert next(c for c in report["checks"] if c["id"] == "revision")["status"] == "skip"
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    bad = run_cli("staging", "--from", str(seed), "--only", "revision", "--alembic-ini", str(repo / "nope.ini"))
    assert bad.exit_code == 2 and bad.stdout == ""
    assert bad.stderr == f"netra-doctor: --alembic-ini {repo / 'nope.ini'}: no such file\n"


def test_ini_without_script_location_is_a_source_error(tmp_path):
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nsqlalchemy.url = driver://u:p@h/db\n")
    with pytest.raises(SourceError, match="script_location"):
        read_migrations(ini)


def test_relative_ini_resolves_against_the_repository_root(tmp_path, monkeypatch):
    project = tmp_path / "repo" / "netra_backend"
    shutil.copytree(ALEMBIC / "linear", project)
    monkeypatch.chdir(tmp_path)  # elsewhere: %(here)s still points into the project
    path = ini_path("netra_backend/alembic.ini", tmp_path / "repo")
    assert path == project / "alembic.ini"
    assert read_migrations(path).heads == ["dc4fa32fd495"]


def test_revision_importing_the_app_does_not_hide_the_graph(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(ALEMBIC / "linear", project)
    rev = next((project / "migrations" / "versions").glob("68b6b9884261_*.py"))
    rev.write_text(rev.read_text().replace(
        "import sqlalchemy as sa\n", "import sqlalchemy as sa\nfrom netra_backend.app.db.models import Base\n", 1))
    path_before = list(sys.path)
    m = read_migrations(project / "alembic.ini")
    assert m.heads == ["dc4fa32fd495"]
    assert [r.revision for r in m.revisions] == ["e9da6f30cc4c", "68b6b9884261", "dc4fa32fd495"]
    assert m.revisions[1].creates == ["subscriptions"]
    assert m.problems == [] and m.revisions[1].opaque == []  # the import is never run; upgrade() does not use it
    assert sys.path == path_before  # prepend_sys_path does not leak into the doctor's process
    assert not list(project.rglob("__pycache__"))  # the checkout is left as found


def test_broken_graph_is_a_source_error(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(ALEMBIC / "linear", project)
    rev = next((project / "migrations" / "versions").glob("e9da6f30cc4c_*.py"))
    rev.unlink()  # 68b6b9884261 now revises a revision no file defines
    with pytest.raises(SourceError, match=r"graph is broken: 68b6b9884261_create_subscriptions\.py revises "
                       r"e9da6f30cc4c, which no revision file defines"):
        read_migrations(project / "alembic.ini")


# --- upgrade() bodies ---------------------------------------------------------------------------


def test_only_upgrade_is_read_and_helpers_it_calls_are_followed():
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        def _make_ledger():
            op.create_table("ledger", sa.Column("id", sa.Integer()))
            _make_ledger()  # recursion must not loop

        def unused():
            op.drop_table("never_called")

        def upgrade():
            _make_ledger()

        def downgrade():
            op.drop_table("ledger")
    """)
    assert (found.creates, found.drops) == (["ledger"], [])


def test_keywords_aliases_constants_and_schema():
    found = ops("""
        from alembic import op as migrate
        import alembic
        TABLE = "plans"

        def upgrade():
            migrate.create_table(table_name=TABLE, schema="billing")
            alembic.op.rename_table(old_table_name="a", new_table_name="b", schema="s")
            migrate.drop_table("gone", schema=None)
            migrate.drop_column(table_name="plans", column_name="legacy", schema="billing")
            with migrate.batch_alter_table("users", schema="auth") as b:
                b.add_column(None)
                b.drop_column("nickname")
    """)
    assert found.creates == ["billing.plans"]
    assert found.renames == [["s.a", "s.b"]]
    assert found.drops == ["gone"]
    assert found.drops_columns == [["billing.plans", "legacy"], ["auth.users", "nickname"]]


def test_plain_sql_in_op_execute_counts():
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.execute("CREATE TABLE IF NOT EXISTS Audit_Log (id int)")
            op.execute(sa.text('DROP TABLE IF EXISTS old_a, "Old_B"'))
            op.execute("ALTER TABLE ONLY public.users DROP COLUMN IF EXISTS nickname")
            op.execute("ALTER TABLE users DROP CONSTRAINT users_pkey")
    """)
    assert found.creates == ["audit_log"]
    assert found.drops == ["old_a", "Old_B"]
    assert found.drops_columns == [["public.users", "nickname"]]


def test_sql_text_held_in_a_variable_is_read_like_sql_passed_directly():
    """Prefect's data migrations bind `sql = sa.text(\"\"\"WITH ... UPDATE ...\"\"\")`, then `op.execute(sql)`:
    fixed text, read as such (it was called SQL built at run time, which made the revision opaque)."""
    problems: list[str] = []
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            sql = sa.text("WITH m AS (SELECT id FROM t) UPDATE t SET a = 1 FROM m WHERE t.id = m.id")
            op.execute(sql)
            stmt = sa.text("CREATE TABLE audit (id int)").bindparams()
            op.get_bind().execute(stmt)
            made = sa.text(f"DROP TABLE {op.get_context().opts['x']}")
            op.execute(made)
    """, problems)
    assert found.creates == ["audit"]
    assert problems == found.opaque == ["rev.py:11: runs SQL built at run time (made)"]


def test_a_loop_over_constants_is_unrolled_and_a_run_time_name_is_opaque():
    problems: list[str] = []
    found = ops("""
        from alembic import op
        NAMES = ("a", "b")

        def upgrade():
            for name in NAMES:
                op.create_table(name)
            for row in op.get_bind().execute("SELECT name FROM todo"):
                op.drop_table(row.name)
    """, problems)
    assert found.creates == ["a", "b"]
    assert found.drops == []
    assert found.opaque == problems == [
        "rev.py:9: op.drop_table() names its table with a value known only at run time (row.name)"]


# --- against a real PostgreSQL: what the source says each revision leaves is what Alembic leaves ------


def upgrade_each(ini: Path, dsn: str, revisions: list[str]) -> dict[str, list[str]]:
    """The tables after each revision of a real upgrade (tests/alembic_projects.py runs it)."""
    return alembic_projects.upgrade_each(ini.parent, str(ini), dsn, revisions)


@pytest.mark.parametrize("project", ["seed", "rename_drop", "same_revision_order"])
def test_tables_after_each_revision_match_a_real_upgrade(project, pg):
    m = migrations(project)
    after = upgrade_each(ALEMBIC / project / "alembic.ini", pg.dsn(), [r.revision for r in m.revisions])
    assert after == {r.revision: sorted(tables_at(m, [r.revision])) for r in m.revisions}


def test_a_revision_that_is_not_python_names_the_file(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(ALEMBIC / "linear", project)
    rev = next((project / "migrations" / "versions").glob("dc4fa32fd495_*.py"))
    rev.write_text(rev.read_text().replace("def upgrade() -> None:", "def upgrade( -> None:"))
    with pytest.raises(SourceError, match=r"dc4fa32fd495_create_credit_transactions.py: not readable Python"):
        read_migrations(project / "alembic.ini")


# --- columns: built anywhere, carried as values; what cannot be read is said --------------------------


def test_a_column_bound_returned_or_passed_through_star_args_is_read_with_its_table():
    """Superset's shared create_table(name, *columns) / add_columns(table, *columns), mlflow's
    `_workspace_column()` and `col = sa.Column(...); op.add_column("t", col)`: the column counts."""
    problems: list[str] = []
    found = ops("""
        from alembic import op
        import sqlalchemy as sa
        from sqlalchemy import Column as C

        def _workspace_column():
            \"\"\"The same column on every table.\"\"\"
            return sa.Column("workspace", sa.String(63), nullable=False)

        def named(name, kind=sa.Text):
            return C(name, kind())

        def create_table(table_name, *columns, **kwargs):
            op.create_table(table_name, *columns, **kwargs)

        def add_columns(table_name, *columns):
            cols_to_add = []
            for col in columns:
                if col.name in ("x",):
                    continue
                cols_to_add.append(col)
            with op.batch_alter_table(table_name) as batch_op:
                for col in cols_to_add:
                    batch_op.add_column(col)

        def upgrade():
            generation = sa.Column("db_payload_generation", sa.Integer())
            op.add_column("trace_info", generation)
            op.add_column("experiments", _workspace_column())
            create_table("reports", sa.Column("id", sa.Integer), named("title"), sa.PrimaryKeyConstraint("id"))
            add_columns("dashboards", sa.Column("theme", sa.Text()), named("owner"))
            create_table("audit_log", sa.Column("id", sa.Integer), schema="audit")
            shared = [sa.Column("a", sa.Text()), sa.Column("b", sa.Text())]
            op.create_table("pairs", *shared, sa.UniqueConstraint("a"), sa.Index("ix", "b"))
    """, problems)
    assert found.creates == ["reports", "audit.audit_log", "pairs"]
    assert found.adds_columns == [
        ["trace_info", "db_payload_generation"], ["experiments", "workspace"], ["reports", "id"],
        ["reports", "title"], ["dashboards", "theme"], ["dashboards", "owner"], ["audit.audit_log", "id"],
        ["pairs", "a"], ["pairs", "b"]]
    assert found.opaque == problems == []


def test_a_column_or_column_list_that_cannot_be_read_is_said_never_dropped():
    """A create_table whose columns come from code the doctor cannot read still creates its table, and
    the revision says its columns are unknown (file:line and what), so no check reads "no columns"."""
    found = ops("""
        from alembic import op
        import sqlalchemy as sa
        from vendor.schema import standard_columns

        def upgrade():
            op.create_table("audit", *standard_columns())
            name = op.get_context().opts["column"]
            op.add_column("audit", sa.Column(name, sa.Text()))
            with op.batch_alter_table("users") as b:
                for col in op.get_bind().execute(sa.text("SELECT 1")):
                    b.add_column(col)
            op.create_table("events", sa.Column("id", sa.Integer), standard_columns()[0])
    """)
    assert found.creates == ["audit", "events"]
    assert found.adds_columns == [["events", "id"]]
    assert found.columns_unknown == ["audit", "users", "events"]
    assert found.opaque == [
        "rev.py:7: op.create_table() creates audit with columns the doctor cannot read (*standard_columns()): "
        "which columns it has is unknown",
        "rev.py:9: op.add_column() adds to audit a column the doctor cannot read (sa.Column(name, sa.Text())): "
        "its name is unknown",
        "rev.py:12: b.add_column() adds to users a column the doctor cannot read (col): its name is unknown",
        "rev.py:13: op.create_table() creates events with columns the doctor cannot read (standard_columns()[0]): "
        "which columns it has is unknown",
    ]


def test_loops_over_literal_tables_columns_and_dicts_are_unrolled():
    """open-webui's `for name, columns, constraints in _INITIAL_TABLES: op.create_table(name, *columns,
    *constraints)` and `for col_name, col_type in [("x", sa.Text()), ...]`, jupyterhub's `for item in
    COL_DATA: sa.Column(item["name"], item["type"])` and a local helper called in a loop."""
    problems: list[str] = []
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        _TABLES = [
            ("auth", [sa.Column("id", sa.String()), sa.Column("email", sa.String())], [sa.PrimaryKeyConstraint("id")]),
            ("chat", [sa.Column("id", sa.String())], []),
        ]
        class JSONDict(sa.TypeDecorator):
            impl = sa.Text

        COL_DATA = [{"name": "last_activity", "type": sa.DateTime()}, {"name": "state", "type": JSONDict()},
                    {"name": "display", "type": sa.Boolean}]
        KINDS = {"note": sa.Text(), "score": sa.Integer()}
        tables = ("oauth_codes", "oauth_access_tokens")

        def add_column_if_table_exists(table, column):
            op.add_column(table, column)

        def upgrade():
            for name, columns, constraints in _TABLES:
                op.create_table(name, *columns, *constraints)
            for col_name, col_type in [("oauth", sa.JSON()), ("scim", sa.JSON())]:
                op.add_column("user", sa.Column(col_name, col_type, nullable=True))
            for item in COL_DATA:
                op.add_column("services", sa.Column(item["name"], item["type"]))
            for key, kind in KINDS.items():
                op.add_column("feedback", sa.Column(key, kind))
            for t in tables:
                add_column_if_table_exists(t, sa.Column("session_id", sa.Unicode(255)))
    """, problems)
    assert found.creates == ["auth", "chat"]
    assert found.adds_columns == [
        ["auth", "id"], ["auth", "email"], ["chat", "id"], ["user", "oauth"], ["user", "scim"],
        ["services", "last_activity"], ["services", "state"], ["services", "display"], ["feedback", "note"],
        ["feedback", "score"],
        ["oauth_codes", "session_id"], ["oauth_access_tokens", "session_id"]]
    assert found.opaque == problems == []


def test_a_helper_defined_inside_upgrade_is_followed_where_it_is_called():
    """mlflow's upgrade() defines `_create_workspace_indexes_and_catalog()` and calls it last: its
    create_table counts (it was skipped as an unknown call)."""
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            bind = op.get_bind()
            schema = None

            def _column(name):
                return sa.Column(name, sa.Text())

            def _create_catalog():
                op.create_table("workspaces", _column("name"), sa.Column("description", sa.Text()), schema=schema)

            def unused():
                op.drop_table("never_called")

            op.add_column("experiments", _column("workspace"))
            _create_catalog()
    """)
    assert found.creates == ["workspaces"]
    assert found.drops == []
    assert found.adds_columns == [["experiments", "workspace"], ["workspaces", "name"], ["workspaces", "description"]]
    assert found.opaque == []


def test_sql_an_outside_module_built_is_still_run_time_sql():
    """A name bound to what another package returns is not SQLAlchemy's row construct: its SQL is unknown."""
    found = ops("""
        from alembic import op
        import sqlalchemy as sa
        from vendor.sqlgen import build_ddl

        def upgrade():
            rows = sa.update(sa.table("t", sa.column("a"))).values(a=1)
            op.execute(rows)
            ddl = build_ddl("events")
            op.execute(ddl)
    """)
    assert found.opaque == ["rev.py:10: runs SQL built at run time (ddl)"]


def test_a_batch_from_a_helper_or_handed_to_one_keeps_its_table():
    """mlflow's `with _with_batch("experiments") as batch_op:` (a helper returning op.batch_alter_table)
    and a batch handed to a helper: add_column names the batch's table; a receiver the doctor cannot
    follow to op or a batch is said, not skipped."""
    problems: list[str] = []
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        def _with_batch(table_name):
            return op.batch_alter_table(table_name, recreate="auto")

        def _add_workspace(batch_op, column=None):
            batch_op.add_column(column or sa.Column("workspace", sa.String(63)))

        def _drop_legacy(batch):
            batch.drop_column("legacy")

        def upgrade():
            with _with_batch("experiments") as batch_op:
                batch_op.add_column(sa.Column("workspace", sa.String(63)))
            with op.batch_alter_table("runs") as b:
                _add_workspace(b, sa.Column("workspace", sa.String(63)))
            _drop_legacy(op.get_context())
    """, problems)
    assert found.adds_columns == [["experiments", "workspace"], ["runs", "workspace"]]
    assert found.opaque == problems == [
        "rev.py:12: batch.drop_column() on batch, which the doctor cannot follow to alembic's op or a batch: what "
        "it changes is unknown"]


COLUMN_CONSTRUCTS = {
    "alembic.ini": alembic_projects.ini("migrations"),
    **alembic_projects.scripts_folder("migrations"),
    "migrations/shared.py": '''
        from alembic import op


        def create_table(table_name, *columns, **kwargs):
            op.create_table(table_name, *columns, **kwargs)


        def add_columns(table_name, *columns):
            cols_to_add = []
            for col in columns:
                cols_to_add.append(col)
            with op.batch_alter_table(table_name) as batch_op:
                for col in cols_to_add:
                    batch_op.add_column(col)
    ''',
    "migrations/versions/c1_constructs.py": '''
        """columns built every way the trial projects build them"""
        import sqlalchemy as sa
        from alembic import op

        from migrations.shared import add_columns, create_table

        revision = "c1"
        down_revision = None

        _TABLES = [
            ("auth", [sa.Column("id", sa.String(), nullable=False), sa.Column("email", sa.String())],
             [sa.PrimaryKeyConstraint("id")]),
            ("chat", [sa.Column("id", sa.String())], []),
        ]
        COL_DATA = [{"name": "url", "type": sa.Unicode(length=255)}, {"name": "display", "type": sa.Boolean}]
        tables = ("auth", "chat")


        def _workspace_column():
            return sa.Column("workspace", sa.String(63), nullable=False, server_default="default")


        def add_column_if_table_exists(table, column):
            op.add_column(table, column)


        def _with_batch(table_name):
            return op.batch_alter_table(table_name)


        def upgrade():
            def _create_catalog():
                op.create_table("workspaces", sa.Column("name", sa.String(63), primary_key=True))

            for name, columns, constraints in _TABLES:
                op.create_table(name, *columns, *constraints)
            create_table("services", sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Text()))
            for item in COL_DATA:
                op.add_column("services", sa.Column(item["name"], item["type"], nullable=True))
            for col_name, col_type in [("oauth", sa.JSON()), ("scim", sa.JSON())]:
                op.add_column("auth", sa.Column(col_name, col_type, nullable=True))
            for t in tables:
                add_column_if_table_exists(t, sa.Column("session_id", sa.Unicode(255)))
            generation = sa.Column("generation", sa.Integer())
            op.add_column("chat", generation)
            op.add_column("chat", _workspace_column())
            add_columns("services", sa.Column("theme", sa.Text()), _workspace_column())
            with _with_batch("services") as batch_op:
                batch_op.drop_column("kind")
            _create_catalog()
    ''',
}


def test_columns_built_every_way_are_the_columns_a_real_upgrade_leaves(tmp_path, pg):
    """The reader's columns for each table against `alembic upgrade head` on PostgreSQL, table for table."""
    import psycopg
    from netra_doctor.migrations.plan import standing_columns

    root = alembic_projects.write(tmp_path / "proj", COLUMN_CONSTRUCTS)
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert m.revisions[0].opaque == [] and m.problems == []
    upgrade = alembic_projects.alembic(root, "-c", "alembic.ini", "upgrade", "head", dsn=pg.dsn())
    assert upgrade.returncode == 0, upgrade.stderr
    with psycopg.connect(pg.dsn()) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'public' AND table_name <> 'alembic_version'").fetchall()
    real: dict[str, set[str]] = {}
    for table, column in rows:
        real.setdefault(table, set()).add(column)
    assert standing_columns(m, m.heads) == real
    assert real["services"] == {"id", "url", "display", "theme", "workspace"}


def test_keywords_spread_into_op_may_carry_the_schema():
    """`op.create_table(name, *columns, **kwargs)` in a shared helper: a known dict gives the schema; one
    known only at run time leaves the table's name unknown, and the revision says so."""
    found = ops("""
        from alembic import op
        import sqlalchemy as sa
        from vendor.settings import table_options

        def create_table(table_name, *columns, **kwargs):
            op.create_table(table_name, *columns, **kwargs)

        def upgrade():
            create_table("events", sa.Column("id", sa.Integer), **{"schema": "audit"})
            create_table("plain", sa.Column("id", sa.Integer))
            create_table("tuned", sa.Column("id", sa.Integer), **table_options())
    """)
    assert found.creates == ["audit.events", "plain"]
    assert found.opaque == ["rev.py:7: op.create_table() names its table with a value known only at run time "
                            "(**kwargs)"]


def test_a_comprehension_over_a_literal_list_is_worked_out():
    """superset's `models = {name: type(name, (Mixin, Base), {...}) for name in table_names}`, then
    `for table_name, model in models.items(): with op.batch_alter_table(table_name) as b: b.add_column(...)`:
    each table gets its column (its table was a run-time value)."""
    problems: list[str] = []
    found = ops("""
        from alembic import op
        import sqlalchemy as sa

        table_names = ["dbs", "slices"]
        models = {table_name: type(table_name, (object,), {"__tablename__": table_name}) for table_name in table_names}
        SHADOWS = [f"{t}_shadow" for t in table_names]

        def upgrade():
            for table_name, model in models.items():
                with op.batch_alter_table(table_name) as batch_op:
                    batch_op.add_column(sa.Column("uuid", sa.String(36)))
            for name in SHADOWS:
                op.create_table(name, sa.Column("id", sa.Integer))
            for name in [t for t in table_names if t != "dbs"]:
                op.drop_table(name)
    """, problems)
    assert found.adds_columns == [["dbs", "uuid"], ["slices", "uuid"], ["dbs_shadow", "id"], ["slices_shadow", "id"]]
    assert found.creates == ["dbs_shadow", "slices_shadow"]
    assert found.opaque == problems == [
        "rev.py:16: op.drop_table() names its table with a value known only at run time (name)"]
