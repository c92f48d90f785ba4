"""Revision constructs real projects use that once read as "nothing happened" or as unknowable:
each one's fixture is a minimal rewrite of the construct, and where tables are at stake a real
`alembic upgrade` of it says what the reading must find."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from doctor.expected import tables_at
from doctor.plan import standing_columns
from doctor.sources.migrations import read_migrations, read_ops
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

