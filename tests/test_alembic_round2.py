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
    if conn.dialect.name != "mysql":
        return
    op.execute("ALTER TABLE aspects ENGINE = InnoDB")
    op.execute("CREATE TABLE mysql_only (id INT) ENGINE = InnoDB")
"""


def test_parameterised_sql_bindparams_fstring_values_and_early_return_guards_are_read(tmp_path, pg):
    extra = "import enum\n\n\nclass Kind(enum.Enum):\n    big = 7\n"
    root = project(tmp_path, {"mig/versions/a1_aspects.py": rev("a1", None, SQL_REVISION, extra),
                              "models.py": model("Aspect", "aspects", "id", "is_default", "kind")})
    m = read_migrations(root / "alembic.ini")
    assert m.revisions[0].opaque == []  # fully read: every statement understood
    assert standing_columns(m, m.heads) == columns_after_upgrade(root, pg.dsn())
    assert diagnose(root).status == "healthy"


def test_an_fstring_naming_a_table_stays_not_fully_read(tmp_path):
    body = "    name = compute()\n    op.execute(f'CREATE TABLE {name} (id int)')\n"
    root = project(tmp_path, {"mig/versions/a1_x.py": rev("a1", None, body)})
    m = read_migrations(root / "alembic.ini")
    assert m.revisions[0].opaque and "built at run time" in m.revisions[0].opaque[0]
