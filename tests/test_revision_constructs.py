"""Revision constructs real projects use that once read as "nothing happened" or as unknowable:
each one's fixture is a minimal rewrite of the construct, and where tables are at stake a real
`alembic upgrade` of it says what the reading must find."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from netra_doctor.migrations.expected import tables_at
from netra_doctor.migrations.plan import standing_columns
from netra_doctor.sources.migrations import read_migrations, read_ops

from tests.alembic_projects import ini, scripts_folder, upgrade_each, write


def _ops(source: str):
    return read_ops(ast.parse(textwrap.dedent(source)))


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    return write(tmp_path / "p", {"alembic.ini": ini("migrations"), **scripts_folder("migrations"),
                                  "app/__init__.py": "", **files})


# --- 1. Model.__tablename__ ---------------------------------------------------------------------

TABLENAME = {
    "app/models.py": """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Tag(Base):
            __tablename__ = "tags"
            id = Column(Integer, primary_key=True)


        class Named:
            __tablename__: str = "labels"


        class Label(Named, Base):
            id = Column(Integer, primary_key=True)
    """,
    "migrations/versions/t1.py": '''
        """tables named by models' __tablename__ (imported, inherited, a module attribute, a local class)"""
        import sqlalchemy as sa
        from alembic import op
        from sqlalchemy.orm import declarative_base

        from app import models
        from app.models import Label, Tag

        revision = "t1"
        down_revision = None

        Base = declarative_base()


        class NewTable(Base):
            __tablename__ = "new_table"
            id = sa.Column(sa.Integer, primary_key=True)


        def upgrade():
            op.create_table(Tag.__tablename__, sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.Text))
            op.create_table(Label.__tablename__, sa.Column("id", sa.Integer, primary_key=True))
            op.create_table(NewTable.__tablename__, sa.Column("id", sa.Integer, primary_key=True))
            op.rename_table(models.Tag.__tablename__, "tag")
    ''',
}


def test_a_model_s_tablename_names_the_table_as_a_real_upgrade_does(tmp_path, pg):
    root = _project(tmp_path, TABLENAME)
    m = read_migrations(root / "alembic.ini", cwd=root)
    (rev,) = m.revisions
    assert rev.opaque == []
    assert rev.ops == [["create", "tags"], ["create", "labels"], ["create", "new_table"], ["rename", "tags", "tag"]]
    assert standing_columns(m, ["t1"])["tag"] == {"id", "name"}
    after = upgrade_each(root, "alembic.ini", pg.dsn(), ["t1"])
    assert after["t1"] == sorted(tables_at(m, ["t1"])) == ["labels", "new_table", "tag"]


def test_a_tablename_computed_when_the_class_is_built_stays_unknown():
    found = _ops('''
        import sqlalchemy as sa
        from alembic import op
        from sqlalchemy.orm import declared_attr


        class Tagged:
            @declared_attr
            def __tablename__(cls):
                return cls.__name__.lower()


        def upgrade():
            op.create_table(Tagged.__tablename__, sa.Column("id", sa.Integer))
    ''')
    assert found.order == []
    assert len(found.opaque) == 1 and "Tagged.__tablename__" in found.opaque[0]


# --- 2. SQLAlchemy statements over rows, bound to a name and executed ----------------------------

ROW_STATEMENTS = {
    "app/batches.py": '''
        from sqlalchemy import Select
        from sqlalchemy.orm import Session


        def paginated_update(session: Session, query: "Select", batch_size: int = 100):
            return session.execute(query)


        def run_update(bind, update_stmt, rows):
            return bind.execute(update_stmt, rows)
    ''',
    "migrations/versions/r1.py": '''
        """create tag and chat"""
        import sqlalchemy as sa
        from alembic import op

        revision = "r1"
        down_revision = None


        def upgrade():
            op.create_table("tag", sa.Column("id", sa.Text, primary_key=True), sa.Column("name", sa.Text))
            op.create_table("chat", sa.Column("id", sa.Text, primary_key=True), sa.Column("pinned", sa.Boolean))
            op.execute("INSERT INTO tag VALUES ('a b', 'A B'), ('pinned', 'Pinned')")
            op.execute("INSERT INTO chat VALUES ('c1', false)")
    ''',
    "migrations/versions/r2.py": '''
        """rewrite rows through SQLAlchemy statements held in names"""
        import sqlalchemy as sa
        from alembic import op
        from sqlalchemy import delete, update
        from sqlalchemy.orm import Session
        from sqlalchemy.sql import column, table

        from app.batches import paginated_update, run_update

        revision = "r2"
        down_revision = "r1"

        chat = table("chat", column("id", sa.Text), column("pinned", sa.Boolean))


        def upgrade():
            conn = op.get_bind()
            tag = table("tag", column("id", sa.Text), column("name", sa.Text))
            existing = sa.select(tag.c.id).where(tag.c.id == "a_b")
            if conn.execute(existing).fetchone() is None:
                stmt = sa.update(tag).where(tag.c.id == "a b")
                stmt = stmt.values(id="a_b")
                conn.execute(stmt)
            delete_stmt = delete(tag).where(tag.c.id == "pinned")
            op.execute(delete_stmt)
            pin = chat.update().where(chat.c.id == "c1").values(pinned=True)
            run_update(conn, pin, [{}])
            run_update(conn, update(chat).values(pinned=False), [{}])
            session = Session(bind=conn)
            query = sa.select(chat.c.id).filter(chat.c.pinned.is_(False))
            session.execute(query)
            paginated_update(session, _tag_ids(tag))


        def _tag_ids(tag):
            return sa.select(tag.c.id)
    ''',
}


def test_sqlalchemy_statements_held_in_names_change_rows_not_tables(tmp_path, pg):
    """sa.update/delete/select, table.update(), session.query() bound to a name (or handed to a helper) and
    executed: the revision is fully read, not 'runs SQL built at run time' (open-webui, superset, mlflow)."""
    root = _project(tmp_path, ROW_STATEMENTS)
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert [r.opaque for r in m.revisions] == [[], []]
    after = upgrade_each(root, "alembic.ini", pg.dsn(), ["r1", "r2"])
    assert after["r2"] == sorted(tables_at(m, ["r2"])) == ["chat", "tag"]


def test_a_name_bound_to_sql_built_at_run_time_is_still_said():
    found = _ops('''
        from alembic import op

        def upgrade(name):
            stmt = "DROP TABLE " + name
            op.execute(stmt)
            stmt = name.update()
            op.execute(stmt.where(1))
    ''')
    assert found.order == []
    assert len(found.opaque) == 1 and "runs SQL built at run time (stmt)" in found.opaque[0]


def test_an_orm_query_held_in_a_name_is_rows():
    found = _ops('''
        from alembic import op
        from sqlalchemy.orm import Session

        def upgrade():
            session = Session(bind=op.get_bind())
            query = session.query(Tag).filter(Tag.name == "x")
            session.execute(query)
            for row in session.execute(query.limit(5)):
                op.create_table("t_" + "x")
    ''')
    assert found.order == [["create", "t_x"]] and found.opaque == []



# --- 3. Tables created through SQLAlchemy inside upgrade() ------------------------------------------

SA_CREATES = {
    "app/models.py": """
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column


        class Base(DeclarativeBase):
            pass


        class AuditMixin:
            created_on = sa.Column(sa.DateTime)

            @declared_attr
            def created_by_fk(cls):
                return sa.Column(sa.Integer)


        class Tag(Base, AuditMixin):
            __tablename__ = "tag"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]
            label = sa.Column("tag_label", sa.String(50))
    """,
    "migrations/versions/s1.py": '''
        """tables made by SQLAlchemy: a checkout model, a class and Tables of the revision file"""
        import sqlalchemy as sa
        from alembic import op
        from sqlalchemy.orm import declarative_base

        from app.models import Tag

        revision = "s1"
        down_revision = None

        Base = declarative_base()

        link_table = sa.Table(
            "sl_links", Base.metadata,
            sa.Column("table_id", sa.Integer, primary_key=True),
            sa.Column("column_id", sa.Integer, primary_key=True),
        )


        class NewTable(Base):
            __tablename__ = "sl_tables"
            id = sa.Column(sa.Integer, primary_key=True)
            name = sa.Column(sa.Text)


        new_tables = [NewTable.__table__, link_table]


        def upgrade():
            bind = op.get_bind()
            Tag.__table__.create(bind)
            Base.metadata.create_all(bind=bind, tables=new_tables)
            scratch = sa.Table("scratch", sa.MetaData(), sa.Column("k", sa.Text))
            scratch.create(bind)
            status = sa.Enum("on", "off", name="status")
            status.create(bind)
    ''',
}


def test_tables_sqlalchemy_creates_in_upgrade_are_read_with_their_columns(tmp_path, pg):
    """X.__table__.create(bind), metadata.create_all(bind, tables=[...]) and Table(...).create(bind) are creates
    of those tables, with the columns the class or Table gives (superset c82ee8a39623, a9422eeaae74)."""
    import psycopg

    root = _project(tmp_path, SA_CREATES)
    m = read_migrations(root / "alembic.ini", cwd=root)
    (rev,) = m.revisions
    assert rev.opaque == []
    assert rev.ops == [["create", "tag"], ["create", "sl_tables"], ["create", "sl_links"], ["create", "scratch"]]
    assert rev.creates_if_absent == [1, 2]  # create_all() skips a table already there; .create() does not
    predicted = standing_columns(m, ["s1"])
    after = upgrade_each(root, "alembic.ini", pg.dsn(), ["s1"])
    assert after["s1"] == sorted(tables_at(m, ["s1"]))
    with psycopg.connect(pg.dsn()) as conn:
        for table in after["s1"]:
            real = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}
            assert predicted[table] == real, table
    assert predicted["tag"] == {"id", "name", "tag_label", "created_on", "created_by_fk"}


def test_sqlalchemy_creates_the_doctor_cannot_resolve_are_said():
    found = _ops('''
        import sqlalchemy as sa
        from alembic import op
        from flask_appbuilder.models.mixins import AuditMixin
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Slice(Base, AuditMixin):
            __tablename__ = "slices"
            id = sa.Column(sa.Integer, primary_key=True)


        def upgrade(tables):
            bind = op.get_bind()
            Base.metadata.create_all(bind)
            Base.metadata.create_all(bind, tables=tables)
            Slice.__table__.create(bind)
    ''')
    assert found.order == [["create", "slices"]]
    assert len(found.opaque) == 3, found.opaque
    every, listed, inherited = found.opaque
    assert "Base.metadata.create_all() creates every table its metadata holds, which is not read" in every
    assert "creates tables listed at run time (tables)" in listed
    assert "columns Slice inherits from AuditMixin (flask_appbuilder.models.mixins, outside the checkout)" in inherited



def test_a_checkout_helper_named_create_all_is_followed_not_taken_for_sqlalchemy(tmp_path):
    root = _project(tmp_path, {
        "app/schema.py": """
            import sqlalchemy as sa
            from alembic import op


            def create_all(bind):
                op.create_table("audit", sa.Column("id", sa.Integer))
        """,
        "migrations/versions/h1.py": '''
            """a helper module of the checkout"""
            from alembic import op

            from app import schema

            revision = "h1"
            down_revision = None


            def upgrade():
                schema.create_all(op.get_bind())
        ''',
    })
    (rev,) = read_migrations(root / "alembic.ini", cwd=root).revisions
    assert rev.ops == [["create", "audit"]] and rev.opaque == []



def test_a_create_that_skips_a_present_table_is_no_pre_deploy_conflict():
    """create_all() (checkfirst) of a table the database already has is no `alembic upgrade` failure,
    where op.create_table of it is (superset's take-2 migration drops and re-creates its tables)."""
    import dataclasses

    from netra_doctor.engine import replay

    from tests.migration_facts import database, facts

    f = facts("linear", database(["users", "subscriptions"], ["e9da6f30cc4c"]))
    f.target = dataclasses.replace(f.target, pre_deploy=True)  # TARGET is shared: never mutate it
    assert "pending-migration-conflicts" in [c.id for c in replay(f, only=["pre-deploy-plan"]).causes]
    sub = next(r for r in f.migrations.revisions if r.revision == "68b6b9884261")
    sub.creates_if_absent = [i for i, op in enumerate(sub.ops) if op == ["create", "subscriptions"]]
    assert sub.creates_if_absent
    assert "pending-migration-conflicts" not in [c.id for c in replay(f, only=["pre-deploy-plan"]).causes]


# --- 4. Dialect guards ----------------------------------------------------------------------------

def test_dialect_guards_by_class_and_description_take_postgresql_s_branch():
    """isinstance(bind.dialect, MySQLDialect) and "sqlite" in dialect_description: PostgreSQL takes the
    other branch, so MySQL-only SQL is not read as PostgreSQL's (superset, dagster)."""
    found = _ops('''
        import sqlalchemy as sa
        from alembic import op
        from sqlalchemy.dialects.mysql.base import MySQLDialect
        from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
        from sqlalchemy.dialects import sqlite

        def upgrade():
            bind = op.get_bind()
            if isinstance(bind.dialect, MySQLDialect):
                op.execute("ALTER TABLE slices MODIFY params MEDIUMTEXT")
            if isinstance(op.get_bind().dialect, (sqlite.dialect, MySQLDialect)):
                op.drop_table("slices")
            if isinstance(bind.dialect, PGDialect_psycopg2):
                op.create_table("pg_only", sa.Column("id", sa.Integer))
            inspector = sa.inspect(bind)
            if "sqlite" in inspector.dialect.dialect_description:
                op.create_table("runs_sqlite", sa.Column("id", sa.Integer))
            else:
                op.add_column("runs", sa.Column("snapshot_id", sa.String(255)))
            description = bind.dialect.dialect_description
            if "postgresql" not in description:
                op.drop_table("runs")
            if bind.dialect.name != "postgresql":
                op.drop_table("pg_only")
    ''')
    assert found.opaque == []
    assert found.order == [["create", "pg_only"]]
    assert found.column_ops == [["add", "pg_only", "id"], ["add", "runs", "snapshot_id"]]


def test_a_guard_the_doctor_cannot_decide_reads_both_branches():
    found = _ops('''
        from alembic import op
        from app.dialects import CustomDialect

        def upgrade():
            bind = op.get_bind()
            if isinstance(bind.dialect, CustomDialect):
                op.drop_table("a")
            if "psycopg2" in bind.dialect.dialect_description:
                op.drop_table("b")
    ''')
    assert found.order == [["drop", "a"], ["drop", "b"]]


# --- 5. A batch's column named at run time ---------------------------------------------------------

def test_a_batch_column_named_at_run_time_is_said_to_be_the_column_not_the_table():
    found = _ops('''
        from alembic import op

        def upgrade(columns):
            with op.batch_alter_table("user") as batch_op:
                for col in columns:
                    batch_op.drop_column(col)
    ''')
    assert len(found.opaque) == 1, found.opaque
    assert "batch_op.drop_column() names its column with a value known only at run time (col)" in found.opaque[0]
