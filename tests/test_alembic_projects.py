"""Real Alembic projects' constructs, read from source only and checked against a real `alembic upgrade`.

Each project here is our own minimal reproduction of something real projects do: revision ids and
upgrade() imported from helper modules, a ``package:path`` script_location found through
``prepend_sys_path``, several version_locations, raw SQL renames and ``DO`` blocks, and revision
files whose module-level code must never run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from netra_doctor.core.errors import SourceError
from netra_doctor.migrations.expected import tables_at
from netra_doctor.sources.migrations import read_migrations

from tests.alembic_projects import alembic, ini, scripts_folder, upgrade_each, write
from tests.helpers import DATA, copy_seed

# --- a project that keeps its revision ids and its upgrade() in helper modules ---------------------

HELPERS = {
    "app/__init__.py": "",
    "app/alembic.ini": ini("app/migrations"),  # relative: to the directory alembic runs in
    **scripts_folder("app/migrations"),
    "app/migrations/__init__.py": "",
    "app/migrations/helpers/__init__.py": "",
    "app/migrations/helpers/meta.py": """
        from typing import Sequence, Union

        revision: str = "a1b2c3d4e5f6"
        down_revision: Union[str, Sequence[str], None] = None
        branch_labels: Union[str, Sequence[str], None] = None
        depends_on: Union[str, Sequence[str], None] = None
    """,
    "app/migrations/helpers/tables.py": """
        import sqlalchemy as sa
        from alembic import op

        BILLING = ("plans", "invoices")


        def _create_users():
            op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String))


        def create_simple(name, schema=None):
            op.create_table(name, sa.Column("id", sa.Integer, primary_key=True), schema=schema)


        def create_billing():
            for name in BILLING:
                create_simple(name)
    """,
    "app/migrations/helpers/workflow.py": """
        from app.migrations.helpers import tables as t
        from app.migrations.helpers.tables import _create_users, create_billing


        def upgrade() -> None:
            _create_users()
            create_billing()
            t.create_simple("block_data")
    """,
    "app/migrations/versions/a1b2c3d4e5f6_initial.py": '''
        """initial schema, from helper modules"""
        from app.migrations.helpers.meta import branch_labels, depends_on, down_revision, revision
        from app.migrations.helpers.workflow import upgrade

        __all__ = ["revision", "down_revision", "branch_labels", "depends_on", "upgrade", "downgrade"]


        def downgrade() -> None:
            pass
    ''',
    "app/migrations/versions/raw_sql_002.py": '''
        """raw SQL"""
        import sqlalchemy as sa
        from alembic import op

        from app.migrations.helpers import meta

        revision = "raw_sql_002"
        down_revision = meta.revision
        OLD = "block_data"


        def upgrade() -> None:
            op.execute("ALTER TABLE block_data RENAME TO block;")
            op.execute(sa.text('CREATE SCHEMA archive; CREATE TABLE IF NOT EXISTS "Audit Log" (id int); '
                               "ALTER TABLE invoices SET SCHEMA archive"))
            op.execute(f"CREATE TABLE {OLD}_copy AS SELECT * FROM block")
            op.execute("CREATE TABLE tmp_a (id int); CREATE TABLE tmp_b (id int); DROP TABLE IF EXISTS tmp_a, tmp_b")
            op.execute(sa.text("UPDATE users SET email = :e WHERE email IS NULL").bindparams(e="x"))
            op.execute(sa.text("CREATE TABLE tmp_c (id int); DROP TABLE tmp_c").execution_options(x=1))


        def downgrade() -> None:
            pass
    ''',
    "app/migrations/versions/rel_003.py": '''
        """constants and a DO block"""
        import sqlalchemy as sa
        from alembic import op

        PREFIX = "rel"
        revision = PREFIX + "_003"
        down_revision = ("raw_sql" + "_002",)


        def upgrade() -> None:
            op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))
            op.execute("""
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'extras') THEN
                        CREATE TABLE extras (id int);
                    END IF;
                END $$;
            """)


        def downgrade() -> None:
            pass
    ''',
}


@pytest.fixture
def helpers_project(tmp_path: Path) -> Path:
    return write(tmp_path / "helpers", HELPERS)


def test_revision_ids_and_upgrade_from_helper_modules_are_read(helpers_project):
    m = read_migrations(helpers_project / "app" / "alembic.ini", cwd=helpers_project)
    assert m.heads == ["rel_003"]
    first, raw, rel = m.revisions
    assert (first.revision, first.down_revisions, first.message) == ("a1b2c3d4e5f6", [], "initial schema, from helper "
                                                                     "modules")
    assert first.ops == [["create", "users"], ["create", "plans"], ["create", "invoices"], ["create", "block_data"]]
    assert ["users", "email"] in first.adds_columns
    assert first.opaque == []
    assert raw.down_revisions == ["a1b2c3d4e5f6"]
    assert raw.ops == [["rename", "block_data", "block"], ["create", "Audit Log"], ["rename", "invoices",
                       "archive.invoices"], ["create", "block_data_copy"], ["create", "tmp_a"], ["create", "tmp_b"],
                       ["drop", "tmp_a"], ["drop", "tmp_b"], ["create", "tmp_c"], ["drop", "tmp_c"]]
    assert raw.op_lines[0] == 13 and raw.opaque == []
    assert rel.revision == "rel_003" and rel.down_revisions == ["raw_sql_002"]
    assert rel.creates == ["events"]
    assert len(rel.opaque) == 1 and "rel_003.py:12: a DO block" in rel.opaque[0]
    assert m.problems == [] and m.warnings == []


def test_helper_project_tables_equal_a_real_upgrade_table_for_table(helpers_project, pg):
    m = read_migrations(helpers_project / "app" / "alembic.ini", cwd=helpers_project)
    heads = alembic(helpers_project, "-c", "app/alembic.ini", "heads")
    assert heads.returncode == 0, heads.stderr
    assert heads.stdout.split()[0] == m.heads[0]  # what Alembic itself says
    after = upgrade_each(helpers_project, "app/alembic.ini", pg.dsn(), [r.revision for r in m.revisions])
    predicted = {r.revision: sorted(tables_at(m, [r.revision])) for r in m.revisions}
    assert after["a1b2c3d4e5f6"] == predicted["a1b2c3d4e5f6"] == ["block_data", "invoices", "plans", "users"]
    assert after["raw_sql_002"] == predicted["raw_sql_002"]
    # the DO block's table is the only difference, and the revision says it is opaque
    assert set(after["rel_003"]) - set(predicted["rel_003"]) == {"extras"}
    assert set(predicted["rel_003"]) <= set(after["rel_003"])


# --- prepend_sys_path, a package:path script_location and two version locations ------------------

PACKAGED = {
    "alembic.ini": ini("dbpkg:migrations", prepend_sys_path="src", path_separator="os",
                       version_locations="%(here)s/src/dbpkg/migrations/versions:%(here)s/extra_versions"),
    **scripts_folder("src/dbpkg/migrations"),
    "src/dbpkg/__init__.py": "",
    "src/dbpkg/names.py": """
        TABLES = ["tenants", "projects"]
        SCHEMA = "analytics"
    """,
    "src/dbpkg/migrations/versions/p1.py": '''
        """tables named in the package"""
        import sqlalchemy as sa
        from alembic import op
        from dbpkg.names import TABLES

        revision = "p1"
        down_revision = None


        def upgrade():
            for name in TABLES:
                op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))
    ''',
    "extra_versions/p2.py": '''
        """a second folder"""
        import sqlalchemy as sa
        from alembic import op
        from dbpkg import names

        revision = "p2"
        down_revision = "p1"


        def upgrade():
            op.execute(f"CREATE SCHEMA IF NOT EXISTS {names.SCHEMA}")
            op.create_table("reports", sa.Column("id", sa.Integer, primary_key=True), schema=names.SCHEMA)
            with op.batch_alter_table("projects") as batch:
                batch.add_column(sa.Column("tenant_id", sa.Integer))
    ''',
}


def test_prepend_sys_path_package_location_and_version_locations(tmp_path, pg):
    root = write(tmp_path / "packaged", PACKAGED)
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert m.script_location == str(root / "src" / "dbpkg" / "migrations")
    assert [r.revision for r in m.revisions] == ["p1", "p2"] and m.heads == ["p2"]
    assert m.revisions[0].creates == ["tenants", "projects"]
    assert m.revisions[1].creates == ["analytics.reports"]
    assert ["projects", "tenant_id"] in m.revisions[1].adds_columns
    after = upgrade_each(root, "alembic.ini", pg.dsn(), ["p1", "p2"])
    assert after == {r.revision: sorted(tables_at(m, [r.revision])) for r in m.revisions}


def test_a_name_imported_from_outside_the_checkout_is_said_not_guessed(tmp_path):
    files = dict(HELPERS)
    files["app/migrations/versions/a1b2c3d4e5f6_initial.py"] = files[
        "app/migrations/versions/a1b2c3d4e5f6_initial.py"].replace("app.migrations.helpers.meta", "installed_pkg.meta")
    root = write(tmp_path / "p", files)
    with pytest.raises(SourceError, match=r"`revision` is imported from installed_pkg.meta, which is not a module of "
                                          "the checkout"):
        read_migrations(root / "app" / "alembic.ini", cwd=root)


def test_upgrade_calling_into_a_module_outside_the_checkout_is_opaque(tmp_path):
    files = dict(HELPERS)
    files["app/migrations/helpers/workflow.py"] = files["app/migrations/helpers/workflow.py"].replace(
        "from app.migrations.helpers import tables as t", "from vendor_tool import migrate_all").replace(
        "t.create_simple(\"block_data\")", "migrate_all(op=None)")
    root = write(tmp_path / "p", files)
    first = read_migrations(root / "app" / "alembic.ini", cwd=root).revisions[0]
    assert first.creates == ["users", "plans", "invoices"]
    assert first.opaque == ["app/migrations/helpers/workflow.py:8: calls migrate_all() from vendor_tool, outside the "
                            "checkout (its code is not read)"]


# --- where the scripts are -------------------------------------------------------------------------


def test_script_location_outside_the_checkout_is_a_warning_that_names_it(tmp_path):
    outside = write(tmp_path / "elsewhere", {**scripts_folder("migrations"), "migrations/versions/.keep": ""})
    checkout = tmp_path / "checkout"
    write(checkout, {"alembic.ini": ini(str(outside / "migrations"))})
    m = read_migrations(checkout / "alembic.ini", cwd=checkout)
    assert m.warnings == [f"script_location {outside / 'migrations'} (from alembic.ini) is outside the checkout "
                          f"{checkout}: the revisions read are not the ones this repository ships"]


def test_script_location_root_gives_no_revisions_and_says_why(tmp_path):
    checkout = write(tmp_path / "checkout", {"alembic.ini": ini("/")})
    m = read_migrations(checkout / "alembic.ini", cwd=checkout)
    assert m.revisions == []
    assert "script_location / (from alembic.ini) is outside the checkout" in m.warnings[0]
    assert m.warnings[1] == "the revision folder /versions does not exist: Alembic finds no revisions there"


# --- revision files are never run ------------------------------------------------------------------

HOSTILE = {
    "writes": "open({marker!r}, 'w').write('ran')\n",
    "exits": "import sys\nsys.exit(0)\n",
    "loops": "while True:\n    pass\n",
    "interrupts": "raise KeyboardInterrupt\n",
}


def _hostile_project(root: Path, marker: Path, hostile: bool) -> Path:
    """The linear project plus one revision per hostile construct, in a chain."""
    import shutil

    shutil.copytree(DATA / "alembic" / "linear", root)
    down = "dc4fa32fd495"
    for n, (name, code) in enumerate(HOSTILE.items()):
        rev = f"h{n}_{name}"
        body = code.format(marker=str(marker)) if hostile else ""
        (root / "migrations" / "versions" / f"{rev}.py").write_text(
            f'"""{name}"""\nfrom alembic import op\nimport sqlalchemy as sa\n{body}\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\n\n\ndef upgrade():\n"
            f"    op.create_table({name!r}, sa.Column('id', sa.Integer))\n")
        down = rev
    return root


def _run(project: Path, exports: Path, save: Path) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(exports), "--alembic-ini",
         str(project / "alembic.ini"), "--fail-on", "warn", "--format", "json", "--save", str(save)],
        capture_output=True, text=True, cwd=project, timeout=90,
    )
    report = json.loads(result.stdout)
    report.pop("generated_at", None)  # when the report was made: the one key two runs may differ in
    for item in [*report["checks"], *report["sources"]]:
        item.pop("duration_ms", None)
    # fingerprints are salted per run: compare their places, not their values
    return result.returncode, json.loads(re.sub(r"fp:[0-9a-f]+", "fp:*", json.dumps(report)))


def test_hostile_module_level_code_in_revision_files_changes_nothing(tmp_path):
    exports = copy_seed(tmp_path / "exports")
    marker = tmp_path / "marker"
    plain = _hostile_project(tmp_path / "plain", marker, hostile=False)
    hostile = _hostile_project(tmp_path / "hostile", marker, hostile=True)
    code_plain, report_plain = _run(plain, exports, tmp_path / "plain.json")
    code_hostile, report_hostile = _run(hostile, exports, tmp_path / "hostile.json")
    assert not marker.exists()
    assert (tmp_path / "hostile.json").is_file()
    assert code_hostile == code_plain
    assert json.dumps(report_hostile).replace(str(hostile), str(plain)) == json.dumps(report_plain)
    facts = json.loads((tmp_path / "hostile.json").read_text())["migrations"]
    assert facts["heads"] == ["h3_interrupts"]
    assert [r["creates"] for r in facts["revisions"]][-4:] == [["writes"], ["exits"], ["loops"], ["interrupts"]]
    assert not list(hostile.rglob("__pycache__"))


def test_branches_for_other_databases_are_not_read_as_postgresql():
    import ast
    import textwrap

    from netra_doctor.sources.migrations import read_ops

    found = read_ops(ast.parse(textwrap.dedent('''
        from alembic import op

        def upgrade():
            bind = op.get_bind()
            url = str(bind.engine.url)
            if url.startswith("mysql"):
                op.execute("SELECT `TABLE_NAME` FROM `information_schema`.`COLUMNS`")
                op.create_table("mysql_only")
            elif url.startswith("postgres"):
                op.create_table("pg_only")
            if bind.dialect.name != "sqlite":
                op.execute("ALTER TABLE pg_only RENAME TO pg_renamed")
            if op.get_context().dialect.name in ("mysql", "mssql"):
                op.drop_table("pg_renamed")
            if url.startswith("sqlite") is False:
                op.create_table("not_sqlite")
    ''')))
    assert found.order == [["create", "pg_only"], ["rename", "pg_only", "pg_renamed"], ["create", "not_sqlite"]]
    assert found.opaque == []


@pytest.mark.parametrize(("options", "expected"), [
    ({"version_locations": "%(here)s/a %(here)s/b,%(here)s/c"}, ["a", "b", "c"]),  # legacy: spaces and commas
    ({"version_locations": "%(here)s/a;%(here)s/b c", "version_path_separator": ";"}, ["a", "b c"]),
    ({"version_locations": "%(here)s/a\n%(here)s/b", "path_separator": "newline"}, ["a", "b"]),
])
def test_version_locations_split_as_alembic_splits_them(tmp_path, options, expected):
    from netra_doctor.migrations.layout import read_layout

    root = write(tmp_path / "p", {"alembic.ini": ini("%(here)s", **{k: v.replace("\n", "\n    ")
                                                                     for k, v in options.items()})})
    layout = read_layout(root / "alembic.ini", root)
    assert [p.name for p in layout.version_dirs] == expected


def test_a_relative_script_location_is_found_when_the_doctor_runs_elsewhere(helpers_project, tmp_path, seed):
    from tests.helpers import run_cli

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    snapshot = tmp_path / "s.json"
    run_cli("staging", "--from", str(seed), "--format", "json", "--only", "revision", "--save", str(snapshot),
            "--alembic-ini", str(helpers_project / "app" / "alembic.ini"), cwd=elsewhere)
    m = json.loads(snapshot.read_text())["migrations"]
    assert m["heads"] == ["rel_003"] and len(m["revisions"]) == 3
    assert m["problems"] == [f"script_location is relative to the directory alembic runs in; it is not under "
                             f"{helpers_project / 'app'} but under {helpers_project}, which was used"]
    assert m["warnings"] == []


def test_a_named_section_and_a_src_layout_package_location(tmp_path):
    """`alembic -n tenant` with `script_location = pkg:db/tenant`, the package installed from src/."""
    root = write(tmp_path / "p", {
        "src/pkg/alembic.ini": "[alembic]\n[tenant]\nscript_location = pkg:db/tenant\n",
        "src/pkg/__init__.py": "",
        "src/pkg/search.py": '''
            from alembic import op

            def sync(table):
                op.execute(f"CREATE TABLE {table}_index (id int)")
        ''',
        "src/pkg/db/tenant/versions/t1.py": '''
            from alembic import op
            from slugify import slugify
            from pkg.search import sync

            revision = "t1"
            down_revision = None


            def upgrade():
                name = slugify("Events")  # a value computed outside the checkout: it acts on nothing
                op.create_table("events")
                sync("events")
                op.get_bind().execute(f"UPDATE events SET name = '{name}'")  # rows only
        ''',
    })
    m = read_migrations(root / "src" / "pkg" / "alembic.ini", cwd=root, section="tenant")
    assert m.script_location == str(root / "src" / "pkg" / "db" / "tenant")
    (t1,) = m.revisions
    assert t1.creates == ["events", "events_index"] and t1.opaque == []


def test_branch_labels_and_depends_on_order_revisions_as_alembic_does(tmp_path, pg):
    def rev(rid: str, down: str | None, extra: str = "", table: str = "") -> str:
        return (f"import sqlalchemy as sa\nfrom alembic import op\nrevision = {rid!r}\ndown_revision = {down!r}\n"
                f"{extra}\n\ndef upgrade():\n    op.create_table({table or rid!r}, sa.Column('id', sa.Integer))\n")

    root = write(tmp_path / "deps", {
        "alembic.ini": ini("%(here)s/migrations"), **scripts_folder("migrations"),
        # file order puts the dependent revision first: only the dependency orders it after plans
        "migrations/versions/a_orders.py": rev("orders", None, "depends_on = 'billing'"),
        "migrations/versions/b_plans.py": rev("plans", None, "branch_labels = ('billing',)"),
        "migrations/versions/c_invoices.py": rev("invoices", "plans"),
    })
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert sorted(m.heads) == ["invoices", "orders"]
    order = [r.revision for r in m.revisions]
    assert order.index("plans") < order.index("orders") and order.index("plans") < order.index("invoices")
    assert m.by_id()["plans"].branch_labels == ["billing"]
    assert m.by_id()["orders"].depends_on == ["billing"]
    heads = alembic(root, "-c", "alembic.ini", "heads")
    assert sorted(line.split()[0] for line in heads.stdout.splitlines()) == sorted(m.heads)
    assert upgrade_each(root, "alembic.ini", pg.dsn(), ["heads"])["heads"] == sorted(tables_at(m, m.heads))


def test_pyproject_tool_alembic_answers_what_the_ini_does_not(tmp_path, pg):
    root = write(tmp_path / "toml", {
        "alembic.ini": ini("%(here)s/unused").replace("script_location = %(here)s/unused\n", ""),
        "pyproject.toml": '[tool.alembic]\nscript_location = "%(here)s/db"\n'
                          'version_locations = ["%(here)s/db/versions", "%(here)s/more"]\n',
        **scripts_folder("db"),
        "db/versions/r1.py": "from alembic import op\nrevision = 'r1'\ndown_revision = None\n\n\ndef upgrade():\n"
                             "    op.execute('CREATE TABLE one (id int)')\n",
        "more/r2.py": "from alembic import op\nrevision = 'r2'\ndown_revision = 'r1'\n\n\ndef upgrade():\n"
                      "    op.execute('CREATE TABLE two (id int)')\n",
    })
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert m.heads == ["r2"] and [r.creates for r in m.revisions] == [["one"], ["two"]]
    # the real alembic CLI, run from the same folder, agrees
    result = alembic(root, "-c", "alembic.ini", "upgrade", "head", dsn=pg.dsn())
    assert result.returncode == 0, result.stderr
    with __import__("psycopg").connect(pg.dsn()) as conn:
        real = sorted(r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                 "AND tablename <> 'alembic_version'"))
    assert real == sorted(tables_at(m, m.heads))


def test_the_flask_migrate_layout_reads_the_ini_s_own_folder(tmp_path: Path):
    """Flask-Migrate's migrations/alembic.ini has no script_location (`flask db upgrade` passes the folder):
    the scripts beside it are read, and the facts say so, instead of the run being incomplete."""
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "alembic.ini").write_text("[alembic]\n\n[loggers]\nkeys = root\n")
    (folder / "env.py").write_text("raise SystemExit('env.py is never run')\n")
    (folder / "versions" / "a1_users.py").write_text(
        'revision = "a1"\ndown_revision = None\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n'
        'def upgrade():\n    op.create_table("user", sa.Column("id", sa.Integer, primary_key=True))\n')
    m = read_migrations(folder / "alembic.ini", cwd=tmp_path)
    assert m.heads == ["a1"] and [r.creates for r in m.revisions] == [["user"]]
    assert any("Flask-Migrate" in p for p in m.problems), m.problems
    (folder / "env.py").unlink()  # not that layout: Alembic's own refusal, one line
    with pytest.raises(SourceError, match="No 'script_location' key"):
        read_migrations(folder / "alembic.ini", cwd=tmp_path)


def test_an_ini_whose_scripts_live_in_named_sections_is_read_with_alembic_name(tmp_path: Path):
    """Netflix/dispatch's layout: [core] and [tenant] sections, each with a script_location, run with
    `alembic -n NAME`. Without alembic_name the one line says which sections there are and what to set;
    with it, that section's scripts are read, and every printed alembic command carries `-n NAME`."""
    (tmp_path / "alembic.ini").write_text("[alembic]\n\n[core]\nscript_location = %(here)s/core\n\n"
                                          "[tenant]\nscript_location = %(here)s/tenant\n")
    with pytest.raises(SourceError, match=r"its sections core, tenant have one: this project runs `alembic -n NAME`: "
                                          r'set alembic_name = "core"'):
        read_migrations(tmp_path / "alembic.ini", cwd=tmp_path)
    (tmp_path / "tenant" / "versions").mkdir(parents=True)
    (tmp_path / "tenant" / "env.py").write_text("raise SystemExit('never run')\n")
    (tmp_path / "tenant" / "versions" / "t1_accounts.py").write_text(
        'revision = "t1"\ndown_revision = None\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n'
        'def upgrade():\n    op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True))\n')
    m = read_migrations(tmp_path / "alembic.ini", cwd=tmp_path, section="tenant")
    assert m.heads == ["t1"] and [r.creates for r in m.revisions] == [["accounts"]]

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "models.py").write_text(
        "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import DeclarativeBase\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\nclass Invoice(Base):\n    __tablename__ = 'invoices'\n"
        "    id = Column(Integer, primary_key=True)\n")
    (tmp_path / "netra-doctor.toml").write_text(
        '[environments.staging]\nalembic_ini = "alembic.ini"\nalembic_name = "tenant"\nmodels = ["app"]\n')
    result = subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "--repo-only", "--format", "json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=90)
    [cause] = json.loads(result.stdout)["causes"]
    assert cause["id"] == "model-without-migration"
    assert cause["fix"][0] == "alembic -c alembic.ini -n tenant revision --autogenerate -m 'create invoices'"
