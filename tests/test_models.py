"""Models against migrations: the checkout's SQLAlchemy models, read with ast, against the revisions.

The seed's real cause: models for three tables were added with no revision creating them. These
tests write small checkouts in each declarative style and run the doctor on them as a CI job would.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from netra_doctor.core.facts import Facts, MigrationFacts, ModelFacts, ModelTable, RepoFacts, RevisionFacts
from netra_doctor.engine import replay
from netra_doctor.migrations.models import read_models

from tests.helpers import DATA, run_subprocess, write_tree
from tests.migration_facts import TARGET

SEED_MIGRATIONS = DATA / "alembic" / "seed"


write = write_tree


def checkout(root: Path, models: dict[str, str], env_py: str | None = None) -> Path:
    """A checkout shaped like the seed's: netra_backend/alembic.ini, its three revisions, and ``models``."""
    (root / "netra_backend").mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED_MIGRATIONS / "alembic.ini", root / "netra_backend" / "alembic.ini")
    shutil.copytree(SEED_MIGRATIONS / "migrations", root / "netra_backend" / "migrations", dirs_exist_ok=True)
    if env_py is not None:
        (root / "netra_backend" / "migrations" / "env.py").write_text(textwrap.dedent(env_py))
    return write(root, models)


BASE = """
    from sqlalchemy.orm import DeclarativeBase
    class Base(DeclarativeBase):
        pass
"""

SEED_MODELS = """
    from sqlalchemy import Column, String
    from sqlalchemy.orm import Mapped, mapped_column
    from netra_backend.app.db.base import Base

    class User(Base):
        __tablename__ = "userbase"
        id = Column(String, primary_key=True)

    class Subscription(Base):
        __tablename__ = "subscriptions"
        id: Mapped[str] = mapped_column(primary_key=True)

    class CreditTransaction(Base):
        __tablename__ = "credit_transactions"
        id: Mapped[str] = mapped_column(primary_key=True)

    class AgentExecution(Base):
        __tablename__ = "agent_executions"
        id: Mapped[str] = mapped_column(primary_key=True)
"""


def tables(models: ModelFacts) -> dict[str, list[str]]:
    return {t.name: t.columns for t in models.tables}


# --- reading the models ------------------------------------------------------------------------


def test_each_declarative_style_yields_its_tables_and_columns(tmp_path):
    root = write(tmp_path, {"app/__init__.py": "", "app/base.py": BASE, "app/models.py": """
        import sqlalchemy as sa
        from typing import ClassVar, Optional
        from sqlalchemy import Column, ForeignKey, Integer, String, Table
        from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship
        from sqlmodel import Field, Relationship, SQLModel
        from app.base import Base

        SCHEMA = "billing"

        class Timestamps:                      # a mixin: its columns go to every model using it
            created_at = Column(sa.DateTime)
            updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime)

        class Subscription(Timestamps, Base):
            __tablename__ = "subscriptions"
            __table_args__ = (sa.UniqueConstraint("user_id"), {"schema": SCHEMA})
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[str]               # a bare Mapped annotation is a column
            plan = Column("plan_name", String)  # the column's own name wins
            user = relationship("User")         # not a column
            kind: ClassVar[str] = "x"           # not a column

        class Employee(Base):
            __tablename__ = "employees"
            id = Column(Integer, primary_key=True)

        class Manager(Employee):               # single-table inheritance: adds to employees
            level = Column(Integer)

        class Engineer(Employee):              # joined inheritance: its own table
            __tablename__ = "engineers"
            id = Column(Integer, ForeignKey("employees.id"), primary_key=True)

        groups = Table("user_groups", Base.metadata, Column("user_id", Integer), schema="auth")

        class Legacy(Base):
            __table__ = Table("legacy", Base.metadata, Column("id", Integer), Column("note", String))

        class Abstract(Base):
            __abstract__ = True
            id = Column(Integer, primary_key=True)

        class Concrete(Abstract):
            __tablename__ = "concrete"
            n = Column(Integer)

        class HeroBase(SQLModel):
            name: str
            age: Optional[int] = None

        class Hero(HeroBase, table=True):
            id: Optional[int] = Field(default=None, primary_key=True)
            team: Optional["Team"] = Relationship(back_populates="heroes")

        class HeroRead(HeroBase):              # no table=True: a pydantic model, no table
            id: int

        class Computed(Base):
            @declared_attr
            def __tablename__(cls):
                return cls.__module__ + cls.__name__.lower()  # known only at run time
            id = Column(Integer, primary_key=True)
    """})
    models = read_models(root, root / "alembic.ini", ["app"])
    assert tables(models) == {
        "billing.subscriptions": ["created_at", "updated_at", "id", "user_id", "plan_name"],
        "employees": ["id", "level"],
        "engineers": ["id"],
        "auth.user_groups": ["user_id"],
        "legacy": ["id", "note"],
        "concrete": ["id", "n"],
        "hero": ["name", "age", "id"],
    }
    assert any("Computed's __tablename__ is computed" in p for p in models.problems)
    sub = next(t for t in models.tables if t.model == "Subscription")
    assert (sub.path, sub.line) == ("app/models.py", 14)


def test_a_base_naming_tables_after_their_class_is_followed(tmp_path):
    root = write(tmp_path, {"app/db.py": """
        from typing import Any
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import as_declarative, declared_attr

        @as_declarative()
        class Base:
            id: Any
            __name__: str

            @declared_attr
            def __tablename__(cls) -> str:
                return cls.__name__.lower()

        class Item(Base):
            id = Column(Integer, primary_key=True)
            title = Column(String)

        class Snake(Base):
            @declared_attr
            def __tablename__(cls):
                return re.sub("(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
            id = Column(Integer, primary_key=True)
    """})
    models = read_models(root, root / "alembic.ini", ["app"])
    assert tables(models) == {"item": ["id", "title"]}
    assert any("Snake's __tablename__ is computed" in p for p in models.problems)


def test_env_py_target_metadata_is_followed_through_its_imports(tmp_path):
    root = checkout(tmp_path, {
        "netra_backend/__init__.py": "", "netra_backend/app/__init__.py": "",
        "netra_backend/app/db/__init__.py": "from .models_postgres import *  # noqa\n",
        "netra_backend/app/db/base.py": BASE,
        "netra_backend/app/db/models_postgres.py": SEED_MODELS,
        # models elsewhere that env.py never imports: not in target_metadata, so not compared
        "scripts/old_models.py": "from sqlalchemy import Column\nclass Old:\n    __tablename__ = 'old'\n"
                                 "    id = Column('id')\n",
    }, env_py="""
        from netra_backend.app.db.base import Base
        import netra_backend.app.db
        target_metadata = Base.metadata
    """)
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    assert sorted(tables(models)) == ["agent_executions", "credit_transactions", "subscriptions", "userbase"]
    assert models.where.startswith("target_metadata = Base.metadata in netra_backend/migrations/env.py")


def test_without_target_metadata_the_checkout_is_scanned_minus_migrations_tests_and_venvs(tmp_path):
    model = "from sqlalchemy import Column\nclass M:\n    __tablename__ = '{}'\n    id = Column('id')\n"
    root = checkout(tmp_path, {
        "app/models.py": model.format("kept"),
        "tests/test_models.py": model.format("from_tests"),
        ".venv/lib/site.py": model.format("from_venv"),
        "venv2/pyvenv.cfg": "", "venv2/lib/x.py": model.format("from_other_venv"),
        "netra_backend/migrations/helpers.py": model.format("from_migrations"),
    })
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    assert sorted(tables(models)) == ["kept"]
    assert "sets no target_metadata" in models.where


def test_configured_model_paths_are_read_alone(tmp_path):
    model = "from sqlalchemy import Column\nclass M:\n    __tablename__ = '{}'\n    id = Column('id')\n"
    root = write(tmp_path, {"a/models.py": model.format("a_table"), "b/models.py": model.format("b_table")})
    models = read_models(root, root / "alembic.ini", ["b/models.py", "missing/"])
    assert sorted(tables(models)) == ["b_table"]
    assert any("missing/ does not exist" in p for p in models.problems)


def test_models_import_reads_the_real_metadata_in_a_subprocess(tmp_path):
    pytest.importorskip("sqlalchemy")
    root = write(tmp_path, {"app/__init__.py": "", "app/models.py": """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import DeclarativeBase
        class Base(DeclarativeBase):
            pass
        def _columns():                          # built at import time: ast cannot see these columns
            return {f"c{i}": Column(Integer) for i in range(2)}
        Dynamic = type("Dynamic", (Base,), {"__tablename__": "dynamic", "id": Column(Integer, primary_key=True),
                                             **_columns()})
        class Plain(Base):
            __tablename__ = "plain"
            id = Column(Integer, primary_key=True)
    """})
    from netra_doctor.sources.models_import import read_imported

    models = read_imported(root, root / "alembic.ini", "app.models:Base.metadata", timeout=60, paths=["app"])
    assert models.reading == "import app.models:Base.metadata"
    assert tables(models) == {"dynamic": ["id", "c0", "c1"], "plain": ["id"]}
    assert next(t for t in models.tables if t.name == "plain").line == 9  # placed by the ast reading
    assert not list(root.rglob("__pycache__"))  # the checkout is left as found

    failed = read_imported(root, root / "alembic.ini", "app.nowhere:Base.metadata", timeout=60, paths=["app"])
    assert failed.reading == "ast" and "models_import: importing app.nowhere:Base.metadata failed" in failed.problems[0]


# --- the checks, on hand-built facts -------------------------------------------------------------


def _facts(model_tables: list[ModelTable], revisions: list[RevisionFacts]) -> Facts:
    heads = [revisions[-1].revision] if revisions else []
    return Facts(target=TARGET, migrations=MigrationFacts("netra_backend/alembic.ini", heads=heads,
                                                          revisions=revisions),
                 repo=RepoFacts("/repo", models=ModelFacts(where="config", files=["m.py"], tables=model_tables)))


def _rev(rid: str, down: list[str], creates=(), adds=(), drops_columns=()) -> RevisionFacts:
    return RevisionFacts(rid, down, creates=list(creates), ops=[["create", t] for t in creates],
                         adds_columns=[list(p) for p in adds], drops_columns=[list(p) for p in drops_columns])


def test_model_columns_without_migration_uses_the_columns_revisions_add():
    revisions = [
        _rev("a1", [], ["research_sessions"], [("research_sessions", "id"), ("research_sessions", "topic")]),
        _rev("b2", ["a1"], adds=[("research_sessions", "completed_at")]),
        _rev("c3", ["b2"], drops_columns=[("research_sessions", "topic")]),
    ]
    model = ModelTable("research_sessions", "app/models.py", 12, "ResearchSession",
                       ["id", "topic", "completed_at", "error_message"], [13, 14, 15, 16])
    d = replay(_facts([model], revisions), only=["model-columns"])
    cause = d.causes[0]
    assert (cause.id, cause.severity) == ("model-columns-without-migration", "error")
    assert cause.evidence[0] == ("model ResearchSession (app/models.py:12) declares column(s) topic, error_message "
                                 "of research_sessions, which no revision adds [model-columns]")
    assert "leave research_sessions with completed_at, id" in cause.evidence[2]
    assert cause.fix[0] == ("alembic -c netra_backend/alembic.ini revision --autogenerate -m "
                            "'add research_sessions.topic, research_sessions.error_message'")

    model.columns = ["id", "completed_at"]
    d = replay(_facts([model], revisions), only=["model-columns"])
    assert d.causes == [] and [r.id for r in d.ruled_out] == ["model-columns-without-migration"]


def test_a_cause_several_findings_support_gives_each_step_of_its_fix_once_in_order():
    """mlflow gave five model-columns findings: the fix listed the first `alembic revision`, the review, the
    job run, then the other four revisions. Each catalog step now comes once, every finding's version together."""
    from netra_doctor.core.causes import fix_kind

    revisions = [_rev("a1", [], ["a", "b"], [("a", "id"), ("b", "id")])]
    models = [ModelTable("a", "m.py", 1, "A", ["id", "x"]), ModelTable("b", "m.py", 9, "B", ["id", "y"])]
    [cause] = replay(_facts(models, revisions), only=["model-columns"]).causes
    # one `alembic revision --autogenerate` for every table (issue 22): autogenerate adds them all at once
    assert [fix_kind(item) for item in cause.fix] == ["command", "step", "command"]
    assert cause.fix[0].endswith("-m 'add a.x, b.y'")
    assert cause.fix[2].startswith("gcloud run jobs execute ")


def test_many_tables_get_one_short_autogenerate_command_with_the_list_as_evidence():
    """indico's fix was one `alembic revision` per table, each message listing up to 30 table.column names."""
    names = [f"t{i}" for i in range(12)]
    revisions = [_rev("a1", [], names, [(n, "id") for n in names])]
    models = [ModelTable(n, "m.py", i + 1, n.upper(), ["id", "a", "b", "c"]) for i, n in enumerate(names)]
    [cause] = replay(_facts(models, revisions), only=["model-columns"]).causes
    commands = [item for item in cause.fix if "revision --autogenerate" in item]
    assert commands == ["alembic -c netra_backend/alembic.ini revision --autogenerate -m 'add 36 columns to 12 tables'"]
    assert all(any(f"declares column(s) a, b, c of {n}," in line for line in cause.evidence) for n in names)
    models = [ModelTable(n, "m.py", i + 1, n.upper(), ["id"]) for i, n in enumerate(names)]
    [cause] = replay(_facts(models, [_rev("a1", [], [])]), only=["models"]).causes
    assert next(item for item in cause.fix if "--autogenerate" in item).endswith("-m 'create 12 tables'")


def test_without_recorded_columns_the_column_check_says_it_cannot_compare():
    d = replay(_facts([ModelTable("t", "m.py", 1, "T", ["id"])], [_rev("a1", [], ["t"])]), only=["model-columns"])
    assert d.checks[0].status == "skip" and "record no columns" in d.checks[0].message
    assert d.status == "healthy"  # not knowing is said, and does not make a CI run incomplete


def test_an_unreadable_revision_turns_the_verdict_into_a_warning():
    revisions = [_rev("a1", [], ["userbase"])]
    revisions[0].opaque = ["op.create_table(name, *columns): the table name is computed"]
    d = replay(_facts([ModelTable("subscriptions", "m.py", 3, "Subscription")], revisions), only=["models"])
    assert (d.causes[0].id, d.causes[0].severity) == ("model-without-migration", "warn")
    assert any("not fully read: a1" in e for e in d.causes[0].evidence)


def test_a_table_created_then_dropped_says_so():
    revisions = [_rev("a1", [], ["legacy"]), RevisionFacts("b2", ["a1"], drops=["legacy"], ops=[["drop", "legacy"]])]
    d = replay(_facts([ModelTable("legacy", "m.py", 3, "Legacy")], revisions), only=["models"])
    assert d.causes[0].id == "model-table-dropped-by-migration"  # never "create it": the data is what was dropped
    assert d.causes[0].evidence[0].startswith("table legacy of model Legacy (m.py:3) is gone at head: revision b2 (b2) "
                                              "drops legacy")
    assert not any(f.startswith("alembic") for f in d.causes[0].fix)  # no autogenerate 'create legacy'


# --- --repo-only, as a CI job runs it ------------------------------------------------------------


def _no_cloud_env(tmp_path: Path) -> dict:
    """No credentials and no route: Google's variables unset, an endpoint that answers nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CLOUDSDK_"))}
    env.update({"NETRA_DOCTOR_GCP_ENDPOINT": "127.0.0.1:9", "HOME": str(tmp_path / "home"), "PGHOST": "/nonexistent"})
    return env


def _run(root: Path, *args: str, tmp_path: Path):
    import subprocess

    return subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "--repo-only", *args], cwd=root,
                          env=_no_cloud_env(tmp_path), capture_output=True, text=True, timeout=120)


SEED_CHECKOUT = {
    "netra_backend/__init__.py": "", "netra_backend/app/__init__.py": "", "netra_backend/app/db/__init__.py": "",
    "netra_backend/app/db/base.py": BASE,
    "netra_backend/app/db/models_postgres.py": SEED_MODELS,
}


def test_repo_only_on_the_seeds_commit_fails_the_gate_naming_the_three_tables(tmp_path):
    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    result = _run(root, "--fail-on", "warn", "--format", "json", tmp_path=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [c["id"] for c in report["causes"]] == ["model-without-migration"]
    evidence = "\n".join(report["causes"][0]["evidence"])
    for table, line in (("subscriptions", 9), ("credit_transactions", 13), ("agent_executions", 17)):
        assert f"declares table {table}" in evidence
        assert f"netra_backend/app/db/models_postgres.py:{line}" in evidence
    assert "none of the 3 revision(s) up to head add_deleted_at_001 creates subscriptions" in evidence
    assert [s["name"] for s in report["sources"]] == ["migrations", "repo"]  # no cloud, no database
    not_run = {c["id"] for c in report["checks"] if c["message"].startswith("not run: --repo-only")}
    assert {"secret-parity", "tables", "revision", "startup-errors", "job-command"} <= not_run
    assert result.stderr == ""


def test_repo_only_on_a_clean_checkout_exits_0(tmp_path):
    models = SEED_MODELS.split("class Subscription")[0]  # only userbase, which bb39e1c49e2d creates
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": models})
    result = _run(root, "--fail-on", "warn", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEALTHY" in result.stdout
    # the cloud and database checks are named as not examined (-v says why), and are no failures
    idle = next(line for line in result.stdout.splitlines() if line.startswith("not examined here"))
    assert "cloudsql-connector" in idle and "secret-parity" in idle


def test_repo_only_imports_no_google_client_library(tmp_path):
    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    code = ("import sys, runpy; sys.argv = ['netra-doctor', 'staging', '--repo-only', '--format', 'json'];\n"
            "import atexit; atexit.register(lambda: print('GOOGLE' if any(m.startswith('google.cloud') "
            "for m in sys.modules) else 'CLEAN', file=sys.stderr))\n"
            "runpy.run_module('netra_doctor.cli', run_name='__main__')")
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=_no_cloud_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.strip() == "CLEAN"


def test_models_and_pre_deploy_settings_come_from_config(tmp_path):
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra-doctor.toml": """
        models = ["netra_backend/app/db/base.py"]
        [environments.staging]
        pre_deploy = true
    """})
    result = _run(root, "--format", "json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr  # base.py declares no table
    bad = run_subprocess("staging", "--repo-only", cwd=write(tmp_path / "bad", {"netra-doctor.toml": "models = 3\n"}))
    assert bad.returncode == 2 and "models must be a list of paths" in bad.stderr


def test_run_from_above_the_checkout_reads_the_alembic_projects_folder_not_everything_below(tmp_path):
    model = "from sqlalchemy import Column\nclass M:\n    __tablename__ = '{}'\n    id = Column('id')\n"
    checkout(tmp_path / "home" / "code", {"netra_backend/app/models.py": model.format("subscriptions")})
    write(tmp_path / "home", {"other_project/models.py": model.format("someone_elses")})
    result = run_subprocess("staging", "--repo-only", "--format", "json", "--alembic-ini",
                            "code/netra_backend/alembic.ini", cwd=tmp_path / "home")
    report = json.loads(result.stdout)
    assert result.returncode == 1
    evidence = "\n".join(report["causes"][0]["evidence"])
    assert "declares table subscriptions" in evidence and "someone_elses" not in evidence
    assert "a scan of code/netra_backend without migrations" in evidence


def test_a_model_file_that_does_not_parse_is_said_next_to_the_verdict(tmp_path):
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT,
                                        "netra_backend/app/db/models_postgres.py": SEED_MODELS.split("class Sub")[0],
                                        "netra_backend/app/db/broken.py": "import sqlalchemy\nclass X(:\n"})
    result = run_subprocess("staging", "--repo-only", "--format", "json", "-v", cwd=root)
    report = json.loads(result.stdout)
    models = next(c for c in report["checks"] if c["id"] == "models")
    # the file not read is a part not judged, beside the verdict on the tables that were read (issue 22)
    assert models["status"] == "skip" and "1 model(s) or model module(s) found are not judged" in models["message"]
    assert "broken.py: not read (SyntaxError" in models["message"]
    assert [f["status"] for f in models["findings"]] == ["skip", "pass"]
    assert "the other 1 model table(s) are created" in models["findings"][1]["message"]


def test_a_model_whose_schema_comes_from_its_metadata_matches_the_schema_qualified_create():
    """`MetaData(schema="app")` is not followed by ast: a bare model name matches app.subscriptions."""
    revisions = [_rev("a1", [], ["app.subscriptions"], [("app.subscriptions", "id")])]
    d = replay(_facts([ModelTable("subscriptions", "m.py", 3, "Subscription", ["id"])], revisions),
               only=["models", "model-columns"])
    assert d.causes == [] and {r.id for r in d.ruled_out} == {"model-without-migration",
                                                             "model-columns-without-migration"}
    d = replay(_facts([ModelTable("billing.subscriptions", "m.py", 3, "Subscription")], revisions), only=["models"])
    assert [c.id for c in d.causes] == ["model-without-migration"]  # an explicit other schema is another table


def test_flask_sqlalchemy_models_are_named_after_their_class(tmp_path):
    root = write(tmp_path, {"app/ext.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
                            "app/models.py": """
        from app.ext import db

        class CreditTransaction(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            amount = db.Column(db.Integer)

        class APIKey(db.Model):
            __tablename__ = "api_keys"
            id = db.Column(db.Integer, primary_key=True)

        class Admin(CreditTransaction):          # single-table: no table of its own
            level = db.Column(db.Integer)
    """})
    models = read_models(root, root / "alembic.ini", ["app"])
    assert tables(models) == {"credit_transaction": ["id", "amount", "level"], "api_keys": ["id"]}


def test_flask_sqlalchemy_subclasses_follow_its_primary_key_rule(tmp_path):
    """Flask-SQLAlchemy (as CTFd uses it): a subclass with a primary key of its own is a joined table
    named after it; one without is single-table inheritance even when it sets __tablename__."""
    root = write(tmp_path, {"app/ext.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
                            "app/models.py": """
        from app.ext import db

        class Users(db.Model):
            __tablename__ = "users"
            id = db.Column(db.Integer, primary_key=True)
            type = db.Column(db.String(80))

        class Admins(Users):                     # no primary key: no "admins" table despite the name
            __tablename__ = "admins"
            __mapper_args__ = {"polymorphic_identity": "admin"}

        class Challenges(db.Model):
            __tablename__ = "challenges"
            id = db.Column(db.Integer, primary_key=True)
            value = db.Column(db.Integer)

        class DynamicChallenge(Challenges):      # its own primary key: a joined table of its own
            id = db.Column(db.Integer, db.ForeignKey("challenges.id"), primary_key=True)
            dynamic_initial = db.Column(db.Integer)
    """})
    models = read_models(root, root / "alembic.ini", ["app"])
    assert tables(models) == {"users": ["id", "type"], "challenges": ["id", "value"],
                              "dynamic_challenge": ["id", "dynamic_initial"]}


def test_flask_migrate_layout_env_py_beside_alembic_ini(tmp_path):
    """Flask-Migrate keeps alembic.ini (no script_location) next to env.py in migrations/."""
    root = write(tmp_path, {
        "migrations/alembic.ini": "[alembic]\n",
        "migrations/env.py": "from app.models import db\ntarget_metadata = db.metadata\n",
        "app/__init__.py": "", "app/models.py": """
            from flask_sqlalchemy import SQLAlchemy
            db = SQLAlchemy()
            class Post(db.Model):
                id = db.Column(db.Integer, primary_key=True)
        """,
        "scripts/unrelated.py": "from sqlalchemy import Column\nclass T:\n    __tablename__ = 'x'\n    id = Column()\n",
    })
    models = read_models(root, root / "migrations" / "alembic.ini")
    assert tables(models) == {"post": ["id"]}
    assert models.where.startswith("target_metadata = db.metadata in migrations/env.py")


def test_the_models_and_the_database_seeing_one_missing_revision_make_one_cause(tmp_path):
    """After the incident the tables check (database, logs) and the models check (checkout) both see the
    seed's cause: the report lists it once, with both checks' evidence, not twice with the same fix."""
    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    exports = tmp_path / "exports"  # the demo's exports: the seed's, with its logs
    exports.mkdir()
    for f in (Path(__file__).parents[1] / "doctor" / "demo" / "data").glob("*.*"):
        shutil.copy(f, exports / f.name)
    proc = run_subprocess("staging", "--from", str(exports), "--format", "json", cwd=root)
    report = json.loads(proc.stdout)
    ids = [c["id"] for c in report["causes"]]
    assert ids[0] == "migration-missing-for-tables" and "model-without-migration" not in ids, ids
    evidence = "\n".join(report["causes"][0]["evidence"])
    assert "[models]" in evidence and "models_postgres.py" in evidence and "[migration-log]" in evidence
    assert "model-without-migration" not in {r["id"] for r in report["ruled_out"]}


def _upgraded_columns(root: Path, revisions: dict[str, str], pg, table: str) -> set[str]:
    """Give the seed-shaped checkout these revision files, upgrade it for real (the database from
    DATABASE_URL, as the job's env.py takes it) and return the columns ``table`` then has."""
    import psycopg

    from tests.alembic_projects import alembic

    versions = root / "netra_backend" / "migrations" / "versions"
    shutil.rmtree(versions)
    write(versions, revisions)
    (root / "netra_backend" / "migrations" / "env.py").write_text(
        (DATA / "alembic" / "linear" / "migrations" / "env.py").read_text())
    upgrade = alembic(root, "-c", "netra_backend/alembic.ini", "upgrade", "head", dsn=pg.dsn())
    assert upgrade.returncode == 0, upgrade.stderr
    with psycopg.connect(pg.dsn()) as conn:
        return {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}


COLUMN_REVISIONS = {
    "a1_research.py": '''
        """create research_sessions"""
        import sqlalchemy as sa
        from alembic import op

        revision = "a1"
        down_revision = None

        def upgrade():
            op.create_table("research_sessions", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("topic", sa.String(80)))
    ''',
    "b2_completed.py": '''
        """add completed_at"""
        import sqlalchemy as sa
        from alembic import op

        revision = "b2"
        down_revision = "a1"

        def upgrade():
            op.add_column("research_sessions", sa.Column("completed_at", sa.DateTime))
    ''',
    "c3_drop_topic.py": '''
        """drop topic"""
        from alembic import op

        revision = "c3"
        down_revision = "b2"

        def upgrade():
            with op.batch_alter_table("research_sessions") as batch:
                batch.drop_column("topic")
    ''',
}

RESEARCH_MODEL = """
    from sqlalchemy import Column, DateTime, Integer, String
    from netra_backend.app.db.base import Base

    class ResearchSession(Base):
        __tablename__ = "research_sessions"
        id = Column(Integer, primary_key=True)
        completed_at = Column(DateTime)
        error_message = Column(String)
"""


def test_model_columns_on_a_real_checkout_match_what_a_real_upgrade_leaves(tmp_path, pg):
    """The columns the reader says the revisions leave are the real upgrade's, and a model column none
    of them adds (the seed repository's later "Missing columns in table research_sessions") fails the gate."""
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": RESEARCH_MODEL})
    assert _upgraded_columns(root, COLUMN_REVISIONS, pg, "research_sessions") == {"id", "completed_at"}

    result = _run(root, "--fail-on", "warn", "--format", "json", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    cause = next(c for c in report["causes"] if c["id"] == "model-columns-without-migration")
    evidence = "\n".join(cause["evidence"])
    assert "error_message" in evidence and "models_postgres.py" in evidence, evidence
    assert "leave research_sessions with completed_at, id" in evidence  # what the real upgrade left
    assert result.returncode == 1


RENAME_REVISIONS = {
    "a1_item.py": '''
        """create item"""
        import sqlalchemy as sa
        from alembic import op

        revision = "a1"
        down_revision = None

        def upgrade():
            op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), sa.Column("owner_id", sa.Integer),
                            sa.Column("title_old", sa.String))
    ''',
    "b2_uuid_ids.py": '''
        """integer ids to new columns, renamed into place (the full-stack template's construct)"""
        import sqlalchemy as sa
        from alembic import op

        revision = "b2"
        down_revision = "a1"

        def upgrade():
            op.add_column("item", sa.Column("new_id", sa.Integer))
            op.add_column("item", sa.Column("new_owner_id", sa.Integer))
            op.drop_column("item", "owner_id")
            op.alter_column("item", "new_owner_id", new_column_name="owner_id")
            op.drop_column("item", "id")
            with op.batch_alter_table("item") as batch:
                batch.alter_column("new_id", new_column_name="id")
    ''',
    "c3_title.py": '''
        """a column renamed in raw SQL"""
        from alembic import op

        revision = "c3"
        down_revision = "b2"

        def upgrade():
            op.execute("ALTER TABLE item RENAME COLUMN title_old TO title")
    ''',
}

ITEM_MODEL = """
    from sqlalchemy import Column, Integer, String
    from netra_backend.app.db.base import Base

    class Item(Base):
        __tablename__ = "item"
        id = Column(Integer, primary_key=True)
        owner_id = Column(Integer)
        title = Column(String)
"""


def test_renamed_columns_stand_under_their_new_name_as_a_real_upgrade_leaves_them(tmp_path, pg):
    """add new_id, drop id, rename new_id -> id (alter_column, batch or raw SQL) leaves id: the model's
    columns are all made by the revisions, so no false model-columns-without-migration."""
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": ITEM_MODEL})
    assert _upgraded_columns(root, RENAME_REVISIONS, pg, "item") == {"id", "owner_id", "title"}

    result = _run(root, "--fail-on", "warn", "--format", "json", "-v", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    assert [c["id"] for c in report["causes"]] == [], report["causes"]
    checked = next(c for c in report["checks"] if c["id"] == "model-columns")
    assert checked["status"] == "pass", checked
    assert result.returncode == 0


REBUILD_REVISIONS = {
    "a1_prompt.py": '''
        """create prompt"""
        import sqlalchemy as sa
        from alembic import op

        revision = "a1"
        down_revision = None

        def upgrade():
            op.create_table("prompt", sa.Column("command", sa.String, primary_key=True), sa.Column("title", sa.Text))
    ''',
    "b2_rebuild.py": '''
        """rebuild prompt with an id: a new table, the old one dropped, the new one renamed into place"""
        import sqlalchemy as sa
        from alembic import op

        revision = "b2"
        down_revision = "a1"

        def upgrade():
            op.create_table("prompt_new", sa.Column("id", sa.Text, primary_key=True), sa.Column("command", sa.String),
                            sa.Column("name", sa.Text))
            op.drop_table("prompt")
            op.rename_table("prompt_new", "prompt")
    ''',
}

PROMPT_MODEL = """
    from sqlalchemy import Column, String, Text
    from netra_backend.app.db.base import Base

    class Prompt(Base):
        __tablename__ = "prompt"
        id = Column(Text, primary_key=True)
        command = Column(String)
        name = Column(Text)
"""


def test_a_table_rebuilt_under_a_new_name_then_renamed_into_place_keeps_the_new_columns(tmp_path, pg):
    """create_table(t_new, ...), drop_table(t), rename_table(t_new, t) in one upgrade() leaves t with
    t_new's columns (open-webui's prompt rebuild): replayed in upgrade()'s order, the model matches."""
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": PROMPT_MODEL})
    assert _upgraded_columns(root, REBUILD_REVISIONS, pg, "prompt") == {"id", "command", "name"}

    result = _run(root, "--fail-on", "warn", "--format", "json", "-v", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    assert [c["id"] for c in report["causes"]] == [], report["causes"]
    checked = next(c for c in report["checks"] if c["id"] == "model-columns")
    assert checked["status"] == "pass", checked
    assert result.returncode == 0


def only_revision(root: Path, rid: str, message: str, body: str) -> None:
    """The seed-shaped checkout's revisions replaced by one, ``rid``, whose upgrade() runs ``body``."""
    versions = root / "netra_backend" / "migrations" / "versions"
    shutil.rmtree(versions)
    code = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    write(versions, {f"{rid}_{message.replace(' ', '_')}.py": f'''"""{message}"""\nimport sqlalchemy as sa
from alembic import op

revision = "{rid}"
down_revision = None


def upgrade():
{code}
'''})


def test_a_baseline_made_outside_alembic_is_not_called_missing_migrations(tmp_path):
    """redash's construct: the first revision adds a column to `queries`, which no revision creates
    (the tables come from create_all, then stamp). Tables and columns the scripts never made are
    said to be unjudged, not claimed missing; a gate on that checkout passes."""
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": """
        from sqlalchemy import Boolean, Column, Integer, String
        from netra_backend.app.db.base import Base

        class Query(Base):
            __tablename__ = "queries"
            id = Column(Integer, primary_key=True)
            name = Column(String)
            is_draft = Column(Boolean)

        class Dashboard(Base):
            __tablename__ = "dashboards"
            id = Column(Integer, primary_key=True)
    """})
    only_revision(root, "a1", "add is_draft", 'op.add_column("queries", sa.Column("is_draft", sa.Boolean))')
    result = _run(root, "--fail-on", "warn", "--format", "json", "-v", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    # every model table is in the baseline: nothing was judged, so the run is incomplete, not healthy
    assert report["causes"] == [] and result.returncode == 3, report["causes"]
    messages = {c["id"]: c["message"] for c in report["checks"]}
    assert "made outside Alembic" in messages["models"] and "queries" in messages["models"]
    assert "made outside Alembic" in messages["model-columns"]


def test_a_plugin_carrying_its_own_migrations_is_not_judged_by_the_projects(tmp_path):
    """CTFd's construct: the project's revisions create dynamic_challenge(id, initial); the plug-in's own
    migrations/ (run by CTFd's plug-in loader, not by alembic.ini) rename initial to dynamic_initial, as
    its model declares. The plug-in's tables and columns are said to be unjudged, never claimed
    missing; a model of the project's own that lacks a column is still a cause."""
    plugin = "netra_backend/app/plugins/dynamic"
    root = checkout(tmp_path / "repo", {**SEED_CHECKOUT, "netra_backend/app/db/models_postgres.py": """
        from sqlalchemy import Column, Integer, String
        from netra_backend.app.db.base import Base

        class Challenge(Base):
            __tablename__ = "challenges"
            id = Column(Integer, primary_key=True)
            name = Column(String)
            value = Column(Integer)
    """, "netra_backend/app/plugins/__init__.py": "", f"{plugin}/__init__.py": """
        from sqlalchemy import Column, Integer, String
        from netra_backend.app.db.base import Base

        class DynamicChallenge(Base):
            __tablename__ = "dynamic_challenge"
            id = Column(Integer, primary_key=True)
            dynamic_initial = Column(Integer)

        class DynamicLog(Base):
            __tablename__ = "dynamic_log"
            id = Column(Integer, primary_key=True)
    """, f"{plugin}/migrations/__init__.py": "", f"{plugin}/migrations/b1_prefix.py": '''
        """add the dynamic_ prefix"""
        from alembic import op

        revision = "b1"
        down_revision = None

        def upgrade(op=None):
            op.alter_column("dynamic_challenge", "initial", new_column_name="dynamic_initial")
            op.create_table("dynamic_log")
    '''})
    only_revision(root, "a1", "challenges", """
        op.create_table("challenges", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String))
        op.create_table("dynamic_challenge", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("initial", sa.Integer))
    """)
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    own = {t.name: t.own_migrations for t in models.tables}
    assert own == {"challenges": "", "dynamic_challenge": f"{plugin}/migrations", "dynamic_log": f"{plugin}/migrations"}
    result = _run(root, "--format", "json", "-v", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    assert [(c["id"], [f["object"] for f in c["findings"]]) for c in report["causes"]] == [
        ("model-columns-without-migration", ["challenges"])]  # value: the project's own model, still judged
    messages = {c["id"]: c["message"] for c in report["checks"]}
    assert messages["models"] == ("the tables of 1 model table(s) are not judged: their packages carry Alembic "
                                  f"revisions of their own ({plugin}/migrations) that this project's alembic.ini "
                                  "does not run")
    findings = {f["message"] for c in report["checks"] if c["id"] == "model-columns" for f in c["findings"]}
    assert any(m.startswith("the columns of 1 model table(s) are not judged") for m in findings)


def test_models_never_come_from_the_alembic_script_folder(tmp_path):
    """Flask-Migrate keeps alembic.ini inside the script folder and takes target_metadata from a library:
    the scan must read the checkout's models, not the stand-in models of migration helpers."""
    helper = """
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.ext.declarative import declarative_base
        Base = declarative_base()
        class SqlaTable(Base):  # a copy of the model as it was at one revision
            __tablename__ = "tables"
            id = Column(Integer, primary_key=True)
            catalog = Column(String)
    """
    real = """
        from sqlalchemy import Column, Integer, String
        from flask_appbuilder import Model
        class SqlaTable(Model):
            __tablename__ = "tables"
            id = Column(Integer, primary_key=True)
            table_name = Column(String)
    """
    root = write(tmp_path / "flask", {
        "app/migrations/alembic.ini": "[alembic]\n",
        "app/migrations/env.py": "from flask_appbuilder import Model\ntarget_metadata = Model.metadata\n",
        "app/migrations/shared/helpers.py": helper,
        "app/__init__.py": "", "app/models/__init__.py": "", "app/models/core.py": real,
    })
    models = read_models(root, root / "app" / "migrations" / "alembic.ini")
    assert tables(models) == {"tables": ["id", "table_name"]}
    assert models.files == ["app/models/core.py"]
    assert "a scan of the checkout" in models.where

    # a script folder named otherwise is left out of the checkout's scan all the same
    root = write(tmp_path / "named", {
        "alembic.ini": "[alembic]\nscript_location = dbchanges\n",
        "dbchanges/env.py": "target_metadata = None\n", "dbchanges/script.py.mako": "",
        "dbchanges/versions/.keep": "", "dbchanges/shared/helpers.py": helper,
        "app/__init__.py": "", "app/models.py": real,
    })
    models = read_models(root, root / "alembic.ini")
    assert tables(models) == {"tables": ["id", "table_name"]}


def test_declared_attr_table_name_rules_are_worked_out_or_said(tmp_path):
    """Table names a declared_attr computes from the class name (literals, re.sub, compiled patterns
    imported from another module, f-strings, helpers) are worked out over the AST; the declarative base
    carrying the rule is no table; a rule that cannot be followed is said, never guessed."""
    root = checkout(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/utils.py": """
            import re
            CAMEL_TO_SNAKE: re.Pattern[str] = re.compile(r"(?<!^)(?=[A-Z])")

            def plural(name):
                \"\"\"A helper of the checkout.\"\"\"
                snake = CAMEL_TO_SNAKE.sub("_", name)
                lowered = snake.lower()
                return lowered + "s"
        """,
        "pkg/orm.py": """
            import re
            import uuid
            from re import sub
            from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
            from pkg.utils import CAMEL_TO_SNAKE, plural

            class Base(DeclarativeBase):
                @declared_attr.directive
                def __tablename__(cls) -> str:
                    \"\"\"Camel case to snake case.\"\"\"
                    return CAMEL_TO_SNAKE.sub("_", cls.__name__).lower()

                id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
                created: Mapped[str] = mapped_column()

            class FlowRun(Base):
                name: Mapped[str]

            class Event(Base):
                @declared_attr.directive
                def __tablename__(cls) -> str:
                    return "events"
                occurred: Mapped[str]

            class WorkQueue(Base):
                @declared_attr
                def __tablename__(cls):
                    return re.sub(r"([a-z])([A-Z])", r"\\1_\\2", cls.__name__).lower()
                priority: Mapped[int]

            class BlockType(Base):
                @declared_attr
                def __tablename__(cls):
                    return f"{cls.__name__.lower()}s"
                slug: Mapped[str]

            class TaskRunState(Base):
                @declared_attr
                def __tablename__(cls):
                    return plural(cls.__name__)
                state: Mapped[str]

            class ApiKey(Base):
                @declared_attr
                def __tablename__(cls):
                    return sub(CAMEL_TO_SNAKE, "_", cls.__name__).lower() + "_v2"
                secret: Mapped[str]

            class Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa(Base):  # a rule that could backtrack for ever: not run
                @declared_attr
                def __tablename__(cls):
                    return re.sub(r"(a+)+b", "", cls.__name__.lower())
                n: Mapped[int]

            class Dynamic(Base):
                @declared_attr
                def __tablename__(cls):
                    return cls.__module__.split(".")[-1] + cls.__name__
                value: Mapped[str]
        """,
    }, env_py="""
        from pkg.orm import Base
        target_metadata = Base.metadata
    """)
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    assert tables(models) == {
        "flow_run": ["id", "created", "name"],
        "events": ["id", "created", "occurred"],
        "work_queue": ["id", "created", "priority"],
        "blocktypes": ["id", "created", "slug"],
        "task_run_states": ["id", "created", "state"],
        "api_key_v2": ["id", "created", "secret"],
    }
    assert [p for p in models.problems if "computed" in p] == [
        "pkg/orm.py:49: Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa's __tablename__ is computed (declared_attr at "
        "pkg/orm.py:51); its table is not known without running the code",
        "pkg/orm.py:55: Dynamic's __tablename__ is computed (declared_attr at pkg/orm.py:57); "
        "its table is not known without running the code"]


def test_models_whose_table_names_cannot_be_worked_out_are_not_called_no_model(tmp_path):
    root = checkout(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/orm.py": """
            from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr
            from pkg.naming import naming_rule

            class Base(DeclarativeBase):
                @declared_attr.directive
                def __tablename__(cls) -> str:
                    return naming_rule(cls)

            class FlowRun(Base):
                name: Mapped[str]
        """,
        "scripts/other.py": "from sqlalchemy import Column\nclass T:\n    __tablename__ = 'x'\n    id = Column()\n",
    }, env_py="""
        from pkg.orm import Base
        target_metadata = Base.metadata
    """)
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    assert models.tables == []
    assert "led to no model" not in models.where
    assert "no table name could be worked out" in models.where
    assert any("FlowRun's __tablename__ is computed" in p for p in models.problems)


def _webui_like(root: Path) -> Path:
    """alembic.ini with a relative script_location beside an app's own env.py; the Alembic env.py hands
    target_metadata to context.configure() through a name; a vector store keeps its own declarative base."""
    return write(root, {
        "backend/app/alembic.ini": "[alembic]\nscript_location = migrations\nprepend_sys_path = ..\n",
        "backend/app/env.py": "import os\nDATABASE_URL = os.environ.get('DATABASE_URL')\n",
        "backend/app/migrations/env.py": """
            from alembic import context
            from app.env import DATABASE_URL
            from app.models.auths import Auth
            migration_metadata = Auth.metadata

            def run_migrations_online():
                context.configure(url=DATABASE_URL, target_metadata=migration_metadata)
        """,
        "backend/app/migrations/script.py.mako": "", "backend/app/migrations/versions/.keep": "",
        "backend/app/__init__.py": "", "backend/app/models/__init__.py": "", "backend/app/internal/__init__.py": "",
        "backend/app/internal/db.py": """
            from sqlalchemy import MetaData
            from sqlalchemy.ext.declarative import declarative_base
            Base = declarative_base(metadata=MetaData())
        """,
        "backend/app/models/auths.py": """
            from sqlalchemy import Column, String
            from app.internal.db import Base
            from app.retrieval import vectors

            class Auth(Base):
                __tablename__ = "auth"
                id = Column(String, primary_key=True)
                email = Column(String)
        """,
        "backend/app/retrieval/__init__.py": "",
        "backend/app/retrieval/vectors.py": """
            from sqlalchemy import Column, String
            from sqlalchemy.orm import declarative_base
            Base = declarative_base()

            class DocumentChunk(Base):  # created by the vector store itself, not by Alembic
                __tablename__ = "document_chunk"
                id = Column(String, primary_key=True)
        """,
        "scripts/other.py": "from sqlalchemy import Column\\nclass T:\\n    __tablename__ = 'x'\\n    id = Column()\\n",
    })


def test_target_metadata_passed_to_context_configure_through_a_name_is_followed(tmp_path):
    root = _webui_like(tmp_path)
    models = read_models(root, root / "backend" / "app" / "alembic.ini")
    assert models.where.startswith("target_metadata = Auth.metadata in backend/app/migrations/env.py")
    assert "auth" in tables(models) and "x" not in tables(models)


def test_models_of_another_declarative_base_are_left_out_and_said(tmp_path):
    root = _webui_like(tmp_path)
    models = read_models(root, root / "backend" / "app" / "alembic.ini")
    assert tables(models) == {"auth": ["id", "email"]}
    assert ("1 model(s) of another declarative base (backend/app/retrieval/vectors.py: Base), not target_metadata's "
            "Auth.metadata, left out: Alembic does not compare them: DocumentChunk (backend/app/retrieval/vectors.py:5)"
            in models.problems)


def test_aliased_tables_loops_of_tables_nullable_tablenames_and_declared_attr_columns(tmp_path):
    root = write(tmp_path, {"app/__init__.py": "", "app/models.py": """
        from sqlalchemy import Column, ForeignKey, Integer, String
        from sqlalchemy import Table as DBTable
        from sqlalchemy.orm import declarative_base, declared_attr, relationship
        Base = declarative_base()

        owners = DBTable("table_owners", Base.metadata, Column("table_id", Integer), Column("user_id", Integer))

        for entity in ("user", "group"):
            table = DBTable(f"{entity}_role_map", Base.metadata, Column(f"{entity}_id", Integer),
                            Column("role_id", Integer))

        for name in load_names():
            DBTable(name, Base.metadata, Column("id", Integer))

        class BaseDatasource:
            __tablename__: str | None = None  # subclasses name their table
            id = Column(Integer, primary_key=True)

        class SqlaTable(BaseDatasource, Base):
            __tablename__ = "tables"
            table_name = Column(String)

        class _Share:
            @declared_attr
            def owner_id(self):
                return Column(Integer, ForeignKey("users.id"))

            @declared_attr
            def owner(self):
                return relationship("User")

        class Share(_Share, Base):
            __tablename__ = "shares"
            id = Column(Integer, primary_key=True)
    """})
    models = read_models(root, root / "alembic.ini", ["app"])
    assert tables(models) == {
        "table_owners": ["table_id", "user_id"],
        "user_role_map": ["user_id", "role_id"],
        "group_role_map": ["group_id", "role_id"],
        "tables": ["id", "table_name"],
        "shares": ["owner_id", "id"],
    }
    assert not any("BaseDatasource" in p for p in models.problems)
    assert any("app/models.py:13: Table() names its table with a value known only at run time (name)" in p
               for p in models.problems)


def test_another_declarative_base_class_is_left_out_through_re_exports(tmp_path):
    root = checkout(tmp_path, {
        "pkg/__init__.py": "", "pkg/db/__init__.py": "from pkg.db.base import Base, legacy_base\n",
        "pkg/db/base.py": """
            from sqlalchemy.orm import DeclarativeBase, declarative_base
            class Base(DeclarativeBase):
                pass
            legacy_base = declarative_base()
        """,
        "pkg/models.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import DeclarativeBase
            from pkg.db import Base, legacy_base
            from pkg import auth

            class Run(Base):
                __tablename__ = "runs"
                id = Column(Integer, primary_key=True)

            class Snapshot(legacy_base):  # a frozen copy of an old model
                __tablename__ = "runs_v1"
                id = Column(Integer, primary_key=True)
        """,
        "pkg/auth.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import DeclarativeBase
            class AuthBase(DeclarativeBase):
                pass
            class User(AuthBase):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)
        """,
    }, env_py="""
        from pkg.db import Base
        import pkg.models
        target_metadata = Base.metadata
    """)
    models = read_models(root, root / "netra_backend" / "alembic.ini")
    assert tables(models) == {"runs": ["id"]}
    left_out = [p for p in models.problems if "another declarative base" in p]
    assert len(left_out) == 2 and any("User (pkg/auth.py:5)" in p for p in left_out)
    assert any("Snapshot (pkg/models.py:10)" in p for p in left_out)


def test_models_found_with_no_table_name_worked_out_make_the_checks_skip_not_pass(tmp_path):
    computed = "pkg/orm.py:9: FlowRun's __tablename__ is computed (declared_attr at pkg/orm.py:5); its table is " \
               "not known without running the code"
    facts = _facts([], [_rev("a1", [], ["flow_run"])])
    facts.repo.models.problems = [computed]
    d = replay(facts, only=["models", "model-columns"])
    for finding in d.checks:
        assert finding.status == "skip"
        assert finding.message.startswith("the models are not judged: no table of theirs could be read")
        assert "FlowRun's __tablename__ is computed" in finding.message
    assert d.status != "healthy"  # not knowing makes the run incomplete, never a pass


def test_a_table_whose_columns_were_not_all_read_is_not_judged_column_by_column():
    """open-webui's init created its tables from `*columns` the reader could not read: the table was left
    with "no column read" and every model column became a false model-columns-without-migration. A
    table given a column the reader could not read (followed through a rename) is said, not judged;
    a fully read table next to it still is."""
    made = _rev("a1", [], ["prompt_new", "chat"], [("chat", "id")])
    made.columns_unknown = ["prompt_new"]
    made.opaque = ["init.py:9: op.create_table() creates prompt_new with columns the doctor cannot read "
                   "(*columns): which columns it has is unknown"]
    renamed = _rev("b2", ["a1"])
    renamed.ops, renamed.renames = [["rename", "prompt_new", "prompt"]], [["prompt_new", "prompt"]]
    models = [ModelTable("prompt", "app/models.py", 3, "Prompt", ["id", "command"]),
              ModelTable("chat", "app/models.py", 9, "Chat", ["id", "title"])]
    d = replay(_facts(models, [made, renamed]), only=["model-columns"])
    assert [(c.id, c.evidence[0]) for c in d.causes] == [(
        "model-columns-without-migration", "model Chat (app/models.py:9) declares column(s) title of chat, which "
        "no revision adds [model-columns]")]
    skipped = next(f for f in d.checks[0].findings if f.status == "skip")
    assert skipped.message == ("the columns of 1 model table(s) are not judged: a revision gives them columns the "
                               "doctor could not read")
    assert skipped.evidence == [f"not judged: prompt: revision a1: {made.opaque[0]}"]
