"""Real Alembic projects, round two (issue 22): layouts and constructs seen in indico, keystone, ckan,
lemur, invenio and quay, each as a minimal project of our own. Where the truth can be run, the project
is upgraded for real on PostgreSQL and the tables and columns the doctor reads are compared with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg
import pytest
from netra_doctor.core.diagnosis import exit_code
from netra_doctor.core.facts import Facts, RepoFacts
from netra_doctor.engine import replay
from netra_doctor.migrations.models import read_models
from netra_doctor.migrations.plan import standing_columns
from netra_doctor.sources.migrations import read_migrations

from tests.alembic_projects import ENV_PY, alembic, ini, write
from tests.migration_facts import TARGET

REPO_ONLY = dataclasses.replace(TARGET, repo_only=True)
HEAD = "from alembic import op\nimport sqlalchemy as sa\n"


def rev(rid: str, down: str | None, body: str, extra: str = "") -> str:
    return f"{HEAD}\nrevision = {rid!r}\ndown_revision = {down!r}\n{extra}\n\ndef upgrade():\n{body}\n"


def diagnose(root: Path, ini_rel: str = "alembic.ini"):
    path = root / ini_rel
    facts = Facts(target=REPO_ONLY, migrations=read_migrations(path, cwd=root, checkout=root),
                  repo=RepoFacts(str(root), models=read_models(root, path, cwd=root)))
    return replay(facts)


def check(d, check_id):
    return next(r for r in d.checks if r.id == check_id)


def project(root: Path, files: dict[str, str], **options: str) -> Path:
    return write(root, {"alembic.ini": ini("mig", **options), "mig/env.py": ENV_PY, **files})


def columns_after_upgrade(root: Path, dsn: str, target: str = "head", ini_rel: str = "alembic.ini"
                          ) -> dict[str, set[str]]:
    """`alembic upgrade TARGET` for real, then every table (schema-qualified outside public) -> its columns."""
    result = alembic(root, "-c", ini_rel, "upgrade", target, dsn=dsn)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                            "AND table_name <> 'alembic_version'").fetchall()
    out: dict[str, set[str]] = {}
    for schema, table, column in rows:
        out.setdefault(table if schema == "public" else f"{schema}.{table}", set()).add(column)
    return out


MODEL = """
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class {cls}(Base):
    __tablename__ = {table!r}
{body}
"""


def model(cls: str, table: str, *columns: str, extra: str = "") -> str:
    body = "".join(f"    {c} = sa.Column(sa.Integer{', primary_key=True' if i == 0 else ''})\n"
                   for i, c in enumerate(columns))
    return MODEL.format(cls=cls, table=table, body=extra + body)


# --- revisions in subfolders beside one at the top (keystone) -------------------------------------


def test_revisions_in_subfolders_beside_a_top_level_one_are_said_not_read_as_missing(tmp_path, pg):
    root = project(tmp_path, {
        "mig/versions/a1_initial.py": rev("a1", None, "    op.create_table('mapping', sa.Column('id', "
                                          "sa.Integer, primary_key=True))"),
        "mig/versions/v2/expand/b2_schema_version.py": rev("b2", "a1", "    op.add_column('mapping', "
                                                           "sa.Column('schema_version', sa.String(5)))"),
        "models.py": model("Mapping", "mapping", "id", "schema_version"),
    })
    m = read_migrations(root / "alembic.ini")
    assert m.heads == ["a1"] and m.unknown and "v2/expand/" in m.unknown[0]
    # the truth: alembic with this ini runs a1 only (a wrapper adds the subfolders to version_locations)
    assert "a1 (head)" in alembic(root, "-c", "alembic.ini", "heads").stdout
    d = diagnose(root)
    assert d.causes == [] and d.status == "incomplete" and exit_code([d], "warn") == 3
    assert "v2/expand/" in check(d, "model-columns").message
    # with the subfolders read, as the wrapper runs them, the model's columns are all there for real
    root2 = project(tmp_path / "rec", {p: (tmp_path / p).read_text() for p in (
        "mig/versions/a1_initial.py", "mig/versions/v2/expand/b2_schema_version.py", "models.py")},
        recursive_version_locations="true")
    real = columns_after_upgrade(root2, pg.dsn())
    m2 = read_migrations(root2 / "alembic.ini")
    assert standing_columns(m2, m2.heads) == real == {"mapping": {"id", "schema_version"}}
    assert diagnose(root2).status == "healthy"


# --- a computed __table_args__ schema on a baseline made outside Alembic (indico) --------------------

SCHEMA_MODEL = """
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base, declared_attr

Base = declarative_base()


def table_args(**kw):
    return ({{"schema": kw["schema"]}},)


class Application(Base):
    __tablename__ = "applications"

    @declared_attr
    def __table_args__(cls):
        return {args}

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String)
    pkce = sa.Column(sa.Boolean)
"""


@pytest.mark.parametrize("args", ['(sa.Index("ix_app_name", "name"), {"schema": "oauth"})',
                                  'table_args(schema="oauth")'])
def test_a_declared_attr_table_args_schema_on_a_baseline_table_is_not_judged(tmp_path, args):
    root = project(tmp_path, {
        "mig/versions/b2_pkce.py": rev("b2", None, "    op.add_column('applications', sa.Column('pkce', "
                                       "sa.Boolean), schema='oauth')"),
        "models.py": SCHEMA_MODEL.format(args=args),
    })
    d = diagnose(root)
    assert d.causes == [], [c.evidence for c in d.causes]
    assert "not judged" in check(d, "model-columns").message and d.status == "incomplete"
    if "table_args(" in args:  # computed: said, never taken as "no schema"
        models = read_models(root, root / "alembic.ini", cwd=root)
        assert any("computed __table_args__" in p for p in models.problems)


# --- a baseline table altered, then renamed (indico's aspects -> areas) ------------------------------


def test_a_baseline_table_altered_then_renamed_keeps_its_columns_unjudged(tmp_path, pg):
    root = project(tmp_path, {
        "mig/versions/a1_areas.py": rev("a1", None, "    op.add_column('aspects', sa.Column('is_default', "
                                        "sa.Boolean))\n    op.rename_table('aspects', 'areas')"),
        "models.py": model("Area", "areas", "id", "name", "is_default"),
    })
    pg.sql("CREATE TABLE aspects (id integer PRIMARY KEY, name integer)")  # the baseline: create_all, stamp
    assert columns_after_upgrade(root, pg.dsn()) == {"areas": {"id", "name", "is_default"}}
    d = diagnose(root)
    assert d.causes == [], [c.evidence for c in d.causes]
    assert "not judged" in check(d, "model-columns").message


# --- a plug-in's own Alembic project in migration/<plugin>/ (ckan) ----------------------------------


def test_a_plugin_migration_folder_per_plugin_leaves_its_columns_unjudged(tmp_path):
    root = project(tmp_path, {
        "mig/versions/a1_activity.py": rev("a1", None, "    op.create_table('activity', sa.Column('id', "
                                           "sa.Integer, primary_key=True))"),
        "ext/__init__.py": "", "ext/activity/__init__.py": "",
        "ext/activity/model.py": model("Activity", "activity", "id", "permission_labels"),
        "ext/activity/migration/activity/alembic.ini": ini("%(here)s"),
        "ext/activity/migration/activity/versions/p1_labels.py": rev(
            "p1", None, "    op.add_column('activity', sa.Column('permission_labels', sa.Text))"),
    })
    d = diagnose(root)
    assert d.causes == [], [c.evidence for c in d.causes]
    assert "migration/activity/versions" in check(d, "model-columns").message


# --- depends_on = "" (invenio) ------------------------------------------------------------------------


def test_an_empty_depends_on_is_no_dependency_as_alembic_reads_it(tmp_path, pg):
    root = project(tmp_path, {
        "mig/versions/a1_users.py": rev("a1", None, "    op.create_table('accounts_user', sa.Column('id', "
                                        "sa.Integer, primary_key=True))"),
        "mig/versions/b2_blocked.py": rev("b2", "a1", "    op.add_column('accounts_user', sa.Column('blocked_at', "
                                          "sa.DateTime))", 'branch_labels = ()\ndepends_on = ""'),
        "models.py": model("User", "accounts_user", "id", "blocked_at"),
    })
    m = read_migrations(root / "alembic.ini")
    assert m.heads == ["b2"] and [r.revision for r in m.revisions] == ["a1", "b2"]
    assert "b2 (head)" in alembic(root, "-c", "alembic.ini", "heads").stdout
    assert standing_columns(m, m.heads) == columns_after_upgrade(root, pg.dsn())
    assert diagnose(root).status == "healthy"


# --- a reflected alembic_version Table (invenio-db, ckan) --------------------------------------------


def test_a_reflected_table_and_alembic_s_own_table_are_no_models(tmp_path):
    reflect = """

def drop_version(engine):
    t = sa.Table("alembic_version", Base.metadata, autoload_with=engine)
    t.drop(bind=engine)


legacy = sa.Table("legacy", Base.metadata, autoload=True)
version = sa.Table("alembic_version", Base.metadata, sa.Column("version_num", sa.String))
"""
    root = project(tmp_path, {
        "mig/versions/a1_items.py": rev("a1", None, "    op.create_table('items', sa.Column('id', sa.Integer, "
                                        "primary_key=True))"),
        "models.py": model("Item", "items", "id") + reflect,
    })
    d = diagnose(root)
    assert d.status == "healthy" and d.causes == [], [c.evidence for c in d.causes]


# --- target_metadata computed by a call (quay) ---------------------------------------------------------


def test_a_computed_target_metadata_is_incomplete_never_healthy(tmp_path):
    env = ENV_PY.replace("target_metadata = None", "from app.bridge import metadata_from\nfrom app.database import "
                         "all_models\ntarget_metadata = metadata_from(all_models)")
    root = project(tmp_path, {
        "mig/env.py": env,
        "mig/versions/a1_user.py": rev("a1", None, "    op.create_table('user', sa.Column('id', sa.Integer))"),
        "app/__init__.py": "",
        "app/database.py": "from peewee import CharField, Model\n\n\nclass User(Model):\n    name = CharField()\n\n\n"
                           "all_models = [User]\n",
        "app/bridge.py": "import sqlalchemy as sa\n\n\ndef metadata_from(models):\n    md = sa.MetaData()\n"
                         "    for m in models:\n        sa.Table(m.__name__.lower(), md, sa.Column('id', sa.Integer))\n"
                         "    return md\n",
    })
    d = diagnose(root)
    assert d.status == "incomplete" and exit_code([d], "error") == 3
    assert "metadata_from(all_models)" in check(d, "models").message and "computed" in check(d, "models").message


# --- source newer than the doctor's Python (indico's PEP 701 f-strings) -------------------------------


def test_a_model_file_in_newer_python_syntax_is_read(tmp_path):
    newer = model("Subscription", "subscriptions", "id", "plan") + (
        '\n    def __repr__(self):\n        return f"<Subscription {self.plan or "free"}>"\n\n\n'
        "type Alias = int\n\n\nclass Box[T]:\n    pass\n")
    root = project(tmp_path, {
        "mig/versions/a1_nothing.py": rev("a1", None, "    op.create_table('plans', sa.Column('id', sa.Integer))"),
        "models.py": newer,
    })
    d = diagnose(root)
    cause = next(c for c in d.causes if c.id == "model-without-migration")
    assert any("subscriptions" in line and "models.py:7" in line for line in cause.evidence)


# --- SQL the doctor reads rather than calls unreadable (indico, lemur) ---------------------------------

SQL_REVISION = """
    op.create_table("aspects", sa.Column("id", sa.Integer, primary_key=True), sa.Column("is_default", sa.Boolean),
                    sa.Column("kind", sa.Integer))
    conn = op.get_bind()
    conn.exec_driver_sql("UPDATE aspects SET is_default = true WHERE id = %s AND 1 %% 2 = 1", (1,))
    conn.exec_driver_sql("UPDATE aspects SET is_default = false WHERE id = %(id)s", {"id": 2})
    stmt = sa.text("update aspects set kind = :kind where id = :id")
    stmt = stmt.bindparams(kind=3, id=1)
    op.execute(stmt)
    op.execute(f"UPDATE aspects SET kind = {Kind.big.value} WHERE id = 1")
    order = []
    bisect.insort(order, 1)  # the standard library does not reach the database
    if conn.dialect.name != "mysql":
        return
    op.execute("ALTER TABLE aspects ENGINE = InnoDB")
    op.execute("CREATE TABLE mysql_only (id INT) ENGINE = InnoDB")
"""


def test_parameterised_sql_bindparams_fstring_values_and_early_return_guards_are_read(tmp_path, pg):
    extra = "import bisect\nimport enum\n\n\nclass Kind(enum.Enum):\n    big = 7\n"
    root = project(tmp_path, {"mig/versions/a1_aspects.py": rev("a1", None, SQL_REVISION, extra),
                              "models.py": model("Aspect", "aspects", "id", "is_default", "kind")})
    m = read_migrations(root / "alembic.ini")
    assert m.revisions[0].opaque == []  # fully read: every statement understood
    assert standing_columns(m, m.heads) == columns_after_upgrade(root, pg.dsn())
    assert diagnose(root).status == "healthy"


def test_psycopg2_in_tuple_parameters_are_read():
    from netra_doctor.migrations.sqlops import pyformat_text, read_sql

    text = pyformat_text("SELECT COUNT(*) FROM t WHERE id IN %s AND name = %(n)s AND pct LIKE '5%%'")
    assert text == "SELECT COUNT(*) FROM t WHERE id IN ($1) AND name = $1 AND pct LIKE '5%'"
    assert read_sql(text).opaque == []


DEDENT_REVISION = '''
    bind = op.get_bind()
    bind.execute(sa.text(dedent("""
        ALTER TABLE t RENAME TO u
    """)))
    query = sa.text(f"DELETE FROM {meta.tablename} WHERE {meta.pk} > 1")
    bind.execute(query)
    bind.execute(sa.text(f"SELECT id FROM {meta.tablename}"))
'''


def test_sql_in_dedent_and_row_statements_held_in_a_name_are_read(tmp_path):
    """mealie: sa.text(dedent(...)), and row statements built from names at run time, held in a name."""
    root = project(tmp_path, {"mig/versions/a1_x.py": rev("a1", None, DEDENT_REVISION, "from textwrap import dedent")})
    [r] = read_migrations(root / "alembic.ini").revisions
    assert r.opaque == [] and r.renames == [["t", "u"]]
    into = "    op.execute(f'SELECT * INTO {name} FROM t')\n"
    root = project(tmp_path / "into", {"mig/versions/a1_x.py": rev("a1", None, into)})
    assert read_migrations(root / "alembic.ini").revisions[0].opaque  # SELECT ... INTO makes a table


def test_an_fstring_naming_a_table_stays_not_fully_read(tmp_path):
    body = "    name = compute()\n    op.execute(f'CREATE TABLE {name} (id int)')\n"
    root = project(tmp_path, {"mig/versions/a1_x.py": rev("a1", None, body)})
    m = read_migrations(root / "alembic.ini")
    assert m.revisions[0].opaque and "built at run time" in m.revisions[0].opaque[0]


# --- script_location = . in Flask-Migrate's migrations/alembic.ini; naming the script folder -------------


def test_flask_migrate_script_location_dot_reads_the_ini_s_own_folder(tmp_path):
    root = write(tmp_path, {
        ".git/HEAD": "ref: refs/heads/main\n",
        "migrations/alembic.ini": ini("."),
        "migrations/env.py": ENV_PY,
        "migrations/versions/a1_user.py": rev("a1", None, "    op.create_table('user', sa.Column('id', sa.Integer, "
                                              "primary_key=True))"),
        "app/models.py": model("User", "user", "id") + "\n\nclass Order(Base):\n    __tablename__ = 'orders'\n"
                                                      "    id = sa.Column(sa.Integer, primary_key=True)\n",
    })
    m = read_migrations(root / "migrations" / "alembic.ini", cwd=root, checkout=root)
    assert [r.revision for r in m.revisions] == ["a1"] and not m.unknown
    assert any("Flask-Migrate" in p for p in m.problems)
    d = diagnose(root, "migrations/alembic.ini")
    assert [c.id for c in d.causes] == ["model-without-migration"]  # orders: read, not "nothing read"
    # started inside the script folder (no VCS marker there): never HEALTHY with "no models found"
    inside = write(tmp_path / "alone", {"alembic.ini": ini("."), "env.py": ENV_PY.replace(
        "target_metadata = None", "from app import db\ntarget_metadata = db.metadata"),
        "versions/a1_user.py": (root / "migrations/versions/a1_user.py").read_text()})
    d = diagnose(inside)
    assert d.status == "incomplete" and "script folder itself" in check(d, "models").message


def _truth(folders: list[Path], script: Path) -> tuple[list[str], int]:
    """Alembic's own heads and revision count for these version locations (as Flask-Alembic configures it)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(script))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", ":".join(str(f) for f in folders))
    directory = ScriptDirectory.from_config(cfg)
    return sorted(directory.get_heads()), len(list(directory.walk_revisions()))


def test_a_flask_alembic_project_without_an_ini_is_read_from_the_named_folders(tmp_path):
    import json

    from tests.helpers import run_cli

    root = write(tmp_path, {
        ".git/HEAD": "ref: refs/heads/main\n",
        "netra-doctor.toml": 'script_location = "migrations"\nversion_locations = ["accounts/alembic"]\n',
        "migrations/a1_base.py": rev("a1", None, "    op.create_table('base', sa.Column('id', sa.Integer))",
                                     "branch_labels = ('default',)"),
        "accounts/__init__.py": "",
        "accounts/alembic/b1_users.py": rev("b1", None, "    op.create_table('accounts_user', sa.Column('id', "
                                            "sa.Integer, primary_key=True))", "branch_labels = ('accounts',)\n"
                                            "depends_on = 'a1'"),
        "accounts/alembic/b2_blocked.py": rev("b2", "b1", "    op.add_column('accounts_user', sa.Column("
                                              "'blocked_at', sa.DateTime))", 'depends_on = ""'),
        "accounts/models.py": model("User", "accounts_user", "id", "blocked_at", "email"),
        "alembic_env/env.py": ENV_PY,
    })
    heads, count = _truth([root / "migrations", root / "accounts/alembic"], root / "alembic_env")
    m = read_migrations(root / "alembic.ini", cwd=root, checkout=root, script_location=root / "migrations",
                        version_locations=[root / "accounts/alembic"])
    assert (sorted(m.heads), len(m.revisions)) == (heads, count) == (["a1", "b2"], 3)
    result = run_cli("staging", "--repo-only", "--format", "json", cwd=root)
    report = json.loads(result.output)
    assert [c["id"] for c in report["causes"]] == ["model-columns-without-migration"]  # email: a real finding
    assert any("email of accounts_user" in e for e in report["causes"][0]["evidence"])
    # the flag names the folder (over the config's), relative to where it is typed
    (root / "netra-doctor.toml").write_text('version_locations = ["accounts/alembic"]\n')
    assert json.loads(run_cli("staging", "--repo-only", "--format", "json", cwd=root).output)["status"] == "incomplete"
    flagged = run_cli("staging", "--repo-only", "--format", "json", "--script-location", "migrations", cwd=root)
    assert json.loads(flagged.output)["causes"] == report["causes"]
    missing = run_cli("staging", "--repo-only", "--script-location", "nowhere", cwd=root)
    assert missing.exit_code == 2 and "--script-location nowhere: no such folder" in missing.output


# --- models that vanish: counted and listed, and a HEALTHY verdict says what it did not judge ------------


def test_models_the_reader_cannot_name_or_reach_are_listed_as_not_judged(tmp_path):
    env = ENV_PY.replace("target_metadata = None", "from app.db import Base\ntarget_metadata = Base.metadata")
    root = project(tmp_path, {
        "mig/env.py": env,
        "mig/versions/a1_items.py": rev("a1", None, "    op.create_table('items', sa.Column('id', sa.Integer, "
                                        "primary_key=True))"),
        "app/__init__.py": "",
        "app/db.py": model("Item", "items", "id"),
        # a model on a base from an installed package, whose declared_attr names the table
        "app/records.py": "import sqlalchemy as sa\nfrom invenio_records.models import RecordMetadataBase\n"
                          "from app.db import Item\n\n\nclass Record(RecordMetadataBase):\n"
                          "    id = sa.Column(sa.Integer, primary_key=True)\n",
        # loaded by the application at run time (import_modules_recursively): no import reaches it
        "app/plugins/__init__.py": "",
        "app/plugins/tags.py": model("Tag", "tags", "id"),
    })
    write(root, {"app/base.py": "import sqlalchemy as sa\nfrom flask_sqlalchemy.model import Model\n\n\n"
                                "class AppModel(Model):\n    query: object\n    flag = sa.Column(sa.Boolean)\n"})
    imports = "\nimport app.records  # noqa\nimport app.base\n"
    (root / "app/db.py").write_text((root / "app/db.py").read_text() + imports)
    d = diagnose(root)
    models = check(d, "models")
    assert d.causes == [] and models.status == "skip" and "2 model(s) or model module(s)" in models.message
    evidence = [e for f in models.findings for e in f.evidence]
    assert any("Record maps columns on RecordMetadataBase" in e for e in evidence)
    assert any("app/plugins/tags.py: declares models" in e for e in evidence)
    assert "model-without-migration" not in {r.id for r in d.ruled_out}  # not ruled out while parts are unknown
    from netra_doctor.output.report import render_table

    assert not any("AppModel" in e for e in evidence)  # flask_sqlalchemy's model_class: no model of its own
    text = render_table(d)
    assert text.startswith("netra-doctor: staging: HEALTHY in what it judged, 1 part not judged")
    # what was judged is said too: the passing part of the models check, and the closing count
    assert "the other 1 model table(s) are created by the 1 revision(s) up to head a1" in text
    assert "1 passed in part" in text.splitlines()[-1]


def test_a_warning_below_fail_on_error_is_headed_healthy_at_that_level(tmp_path):
    from netra_doctor.output.report import Look, render_table

    body = ("    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n"
            "    op.execute(os.environ['MORE_SQL'])\n")
    root = project(tmp_path, {"mig/versions/a1_t.py": rev("a1", None, body, "import os"),
                              "models.py": model("T", "t", "id", "extra")})
    d = diagnose(root)
    assert [(c.id, c.severity) for c in d.causes] == [("model-columns-without-migration", "warn")]
    assert exit_code([d], "error") == 0 and exit_code([d], "warn") == 1
    text = render_table(d, look=Look(fail_on="error"))
    assert text.splitlines()[0] == "netra-doctor: staging: HEALTHY at --fail-on error, 1 warning (1 cause: see below)"
    assert render_table(d, look=Look(fail_on="warn")).splitlines()[0] == "netra-doctor: staging: UNHEALTHY (1 cause)"
    from netra_doctor.output.report import render

    assert render([d], "markdown", fail_on="error").startswith(
        "## netra-doctor: `staging` is HEALTHY at --fail-on error, 1 warning")
    assert '"status": "unhealthy"' in render([d], "json")  # the JSON contract keeps its meaning


def test_a_plain_mixin_is_never_the_model_of_its_subclass_s_table(tmp_path):
    mixin = """
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base, declared_attr

Base = declarative_base()


class ApplicationMixin:
    __tablename__ = "applications"

    @declared_attr
    def __table_args__(cls):
        return ({"schema": "oauth"},)

    id = sa.Column(sa.Integer, primary_key=True)


class Application(ApplicationMixin, Base):
    name = sa.Column(sa.String)
"""
    root = project(tmp_path, {"mig/versions/a1.py": rev("a1", None, "    pass"), "models.py": mixin})
    [table] = read_models(root, root / "alembic.ini", cwd=root).tables
    assert (table.name, table.model, table.line, table.columns) == ("oauth.applications", "Application", 17,
                                                                     ["id", "name"])
