"""A layout the reader does not understand is never read as "no revision creates it".

Prefect's construct: the versions folder holds only a subfolder per database (postgresql/, sqlite/) and
env.py sets ``context.script.version_locations`` when it runs. Read as configured, that is zero
revisions: every model table looked "created by no revision", with a fix that would recreate them.
Here the migrations carry the reason, the model checks say "not judged", and a --repo-only run that
judged nothing is INCOMPLETE (exit 3), never HEALTHY.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from netra_doctor.core.diagnosis import exit_code
from netra_doctor.core.facts import Facts, MigrationFacts, ModelFacts, ModelTable, RepoFacts, RevisionFacts
from netra_doctor.engine import replay
from netra_doctor.migrations.models import read_models
from netra_doctor.output.report import render_table
from netra_doctor.sources.migrations import read_migrations

from tests.helpers import write_tree
from tests.migration_facts import TARGET

REPO_ONLY = dataclasses.replace(TARGET, repo_only=True)

REVISION = '''
    import sqlalchemy as sa
    from alembic import op

    revision = "a1"
    down_revision = None

    def upgrade():
        op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Integer))
'''

MODELS = """
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    class T(Base):
        __tablename__ = "t"
        id: Mapped[int] = mapped_column(primary_key=True)
        a: Mapped[int]
"""


write = write_tree


def project(root: Path, files: dict[str, str], ini: str = "[alembic]\nscript_location = mig\n") -> Path:
    return write(root, {"alembic.ini": ini, "mig/env.py": "", "models.py": MODELS, **files})


def diagnose_repo(root: Path):
    ini = root / "alembic.ini"
    facts = Facts(target=REPO_ONLY, migrations=read_migrations(ini),
                  repo=RepoFacts(str(root), models=read_models(root, ini)))
    return replay(facts)


def _check(d, check_id):
    return next(r for r in d.checks if r.id == check_id)


def test_revisions_only_in_subfolders_are_not_judged_and_the_run_is_incomplete(tmp_path):
    root = project(tmp_path, {"mig/versions/postgresql/a1_x.py": REVISION})
    m = read_migrations(root / "alembic.ini")
    assert m.revisions == [] and m.unknown
    assert any("only in its subfolders (postgresql/)" in w and "recursive_version_locations is off" in w
               for w in m.warnings)
    d = diagnose_repo(root)
    assert d.causes == [] and d.status == "incomplete"
    assert exit_code([d], "error") == 3 and exit_code([d], "warn") == 3
    for check_id in ("models", "model-columns"):
        r = _check(d, check_id)
        assert r.status == "skip" and "not judged" in r.message and "subfolders" in r.message
    assert not d.ruled_out  # nothing is ruled out from revisions never seen
    text = render_table(d)  # shown without -v, not hidden among "not examined here"
    assert "not judged" in text and "not examined here" in text
    assert "models," not in text.split("not examined here", 1)[1].split("\n", 1)[0]


def test_recursive_version_locations_reads_the_subfolders(tmp_path):
    ini = "[alembic]\nscript_location = mig\nrecursive_version_locations = true\n"
    root = project(tmp_path, {"mig/versions/postgresql/a1_x.py": REVISION}, ini)
    m = read_migrations(root / "alembic.ini")
    assert [r.revision for r in m.revisions] == ["a1"] and not m.unknown and not m.warnings
    d = diagnose_repo(root)
    assert d.status == "healthy" and exit_code([d], "warn") == 0


ENV_SETS_LOCATIONS = """
    from alembic import context

    def run_migrations_online():
        context.script.version_locations = [versions_dir()]
        context.configure()
"""


def test_env_py_setting_version_locations_makes_the_revisions_unknown(tmp_path):
    root = project(tmp_path, {"mig/versions/a1_x.py": REVISION, "mig/env.py": ENV_SETS_LOCATIONS})
    m = read_migrations(root / "alembic.ini")
    assert [r.revision for r in m.revisions] == ["a1"]
    assert m.unknown and "env.py:4 sets version_locations" in m.unknown[0]
    d = diagnose_repo(root)
    assert d.status == "incomplete" and "env.py:4 sets version_locations" in _check(d, "models").message


def test_an_ini_naming_its_version_locations_is_read_despite_env_py(tmp_path):
    """The user's answer to the warning above: an ini that names the folder the job runs."""
    ini = "[alembic]\nscript_location = mig\nversion_locations = %(here)s/mig/versions/postgresql\n"
    root = project(tmp_path, {"mig/versions/postgresql/a1_x.py": REVISION, "mig/env.py": ENV_SETS_LOCATIONS}, ini)
    m = read_migrations(root / "alembic.ini")
    assert [r.revision for r in m.revisions] == ["a1"] and not m.unknown
    assert any("sets version_locations" in w for w in m.warnings)
    d = diagnose_repo(root)
    assert d.status == "healthy"
    # the warning travels with the model checks' evidence (no revision check under --repo-only)
    ruled = {r.id: r for r in d.ruled_out}["model-without-migration"]
    assert any("migrations warning:" in line and "sets version_locations" in line for line in ruled.evidence)


def test_set_main_option_version_locations_in_env_py_is_seen(tmp_path):
    env = 'from alembic import context\ncontext.config.set_main_option("version_locations", "x")\n'
    root = project(tmp_path, {"mig/versions/a1_x.py": REVISION, "mig/env.py": env})
    assert "env.py:2" in read_migrations(root / "alembic.ini").unknown[0]


def test_no_revision_file_at_all_with_models_is_not_judged(tmp_path):
    root = project(tmp_path, {"mig/versions/README": "empty\n"})
    m = read_migrations(root / "alembic.ini")
    assert m.unknown and "no revision file" in m.unknown[0] and not m.warnings
    d = diagnose_repo(root)
    assert d.causes == [] and d.status == "incomplete" and "no revision file" in _check(d, "models").message


def test_no_models_at_all_stays_healthy(tmp_path):
    root = project(tmp_path, {"mig/versions/a1_x.py": REVISION, "models.py": "X = 1\n"})
    d = diagnose_repo(root)
    assert d.status == "healthy" and exit_code([d], "warn") == 0


COMPUTED = """
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, declared_attr

    class Base(DeclarativeBase):
        @declared_attr.directive
        def __tablename__(cls) -> str:
            return cls.__name__.lower() + "s"
        id: Mapped[int] = mapped_column(primary_key=True)

    class FlowRun(Base):
        name: Mapped[str]
"""


def test_models_whose_tables_cannot_be_read_make_the_run_incomplete(tmp_path):
    root = project(tmp_path, {"mig/versions/a1_x.py": REVISION, "models.py": COMPUTED})
    models = read_models(root, root / "alembic.ini")
    if models.tables:  # the reader learned this construct: the verdict is then judged, not this test's case
        return
    d = diagnose_repo(root)
    assert d.status == "incomplete" and exit_code([d], "warn") == 3
    assert "not judged" in _check(d, "models").message and "computed" in _check(d, "models").message
    assert "not judged" in render_table(d)


def _facts(revisions: list[RevisionFacts], tables: list[str], target=REPO_ONLY) -> Facts:
    model_tables = [ModelTable(t, "m.py", line=1, model=t.title(), columns=["id"]) for t in tables]
    return Facts(target=target, migrations=MigrationFacts("alembic.ini", heads=[revisions[-1].revision],
                                                          revisions=revisions),
                 repo=RepoFacts("/repo", models=ModelFacts(where="config", files=["m.py"], tables=model_tables)))


def _alters(rid: str, down: list[str], table: str) -> RevisionFacts:
    return RevisionFacts(rid, down, adds_columns=[[table, "extra"]])


def test_a_run_whose_tables_are_all_baseline_judged_nothing(tmp_path):
    """jupyterhub: every model table is in the baseline made outside Alembic. No pass over zero tables,
    and a --repo-only run that judged nothing is incomplete."""
    d = replay(_facts([_alters("a1", [], "users")], ["users"]))
    assert "model-columns-without-migration" not in {r.id for r in d.ruled_out}
    assert d.causes == [] and d.status == "incomplete" and exit_code([d], "warn") == 3
    assert "--repo-only judged nothing else" in _check(d, "models").message


def test_a_baseline_beside_judged_tables_stays_healthy(tmp_path):
    """redash: the baseline's tables are not judged, the others are: the run is complete, and the
    not-judged note is shown without -v."""
    created = RevisionFacts("a1", [], creates=["dashboards"], ops=[["create", "dashboards"]],
                            adds_columns=[["dashboards", "id"]])
    d = replay(_facts([created, _alters("b2", ["a1"], "queries")], ["queries", "dashboards"]))
    assert d.status == "healthy" and exit_code([d], "warn") == 0
    assert "not judged" in _check(d, "models").message
    text = render_table(d)
    assert "made outside Alembic" in text


def test_the_full_list_of_revisions_not_fully_read_is_in_the_models_evidence():
    revisions = [RevisionFacts("a1", [], creates=["t"], ops=[["create", "t"]], adds_columns=[["t", "id"]])]
    revisions += [RevisionFacts(f"r{i}", [revisions[-1].revision if i == 0 else f"r{i - 1}"],
                                opaque=[f"op.execute(sql{i}) is not read"]) for i in range(5)]
    d = replay(_facts(revisions, ["t", "u", "v"]))
    cause = d.causes[0]
    assert cause.id == "model-without-migration"
    # the full list once (the first finding), a pointer to it on the next
    assert sum("not fully read: r" in line for line in cause.evidence) == 5 + 3
    assert sum("2 more revision(s), listed under this check's first finding" in line for line in cause.evidence) == 1
    assert not any("see the revision check" in line for line in cause.evidence)  # not run under --repo-only


def test_a_package_location_is_found_above_the_ini_in_a_monorepo(tmp_path):
    """dagster's construct: ``script_location = pkg:_core/alembic`` in an ini inside the package, whose
    folder is python_modules/pkg/pkg of a checkout run from its root (no sys.path entry names it)."""
    package = tmp_path / "python_modules" / "pkg" / "pkg"
    write(package, {"__init__.py": "", "_core/__init__.py": "", "_core/alembic/env.py": "",
                    "_core/alembic/versions/a1_x.py": REVISION,
                    "_core/storage/sqlite/alembic.ini": "[alembic]\nscript_location = pkg:_core/alembic\n"})
    ini = package / "_core" / "storage" / "sqlite" / "alembic.ini"
    m = read_migrations(ini, cwd=tmp_path, checkout=tmp_path)
    assert m.script_location == str(package / "_core" / "alembic")
    assert [r.revision for r in m.revisions] == ["a1"] and not m.warnings



def test_a_part_not_judged_beside_a_failure_has_its_own_row_without_v():
    """model-columns fails for one table while the baseline's table is not judged: the not-judged note
    is not hidden behind the check's worst finding."""
    created = RevisionFacts("a1", [], creates=["dashboards"], ops=[["create", "dashboards"]])
    d = replay(_facts([created, _alters("b2", ["a1"], "queries")], ["queries", "dashboards"]))
    columns = _check(d, "model-columns")
    assert columns.status == "fail" and "made outside Alembic" not in columns.message
    row = next(line for line in render_table(d).splitlines() if "made outside Alembic" in line)
    assert row.startswith("model-columns") and "skip" in row


def test_a_baseline_beside_tables_found_created_is_complete_even_when_no_column_is_compared():
    """models judged the created table (a pass naming no cause, ruling nothing out) while the baseline's
    tables are not judged: the --repo-only run judged something, so it stays complete."""
    created = RevisionFacts("a1", [], creates=["dashboards"], ops=[["create", "dashboards"]],
                            adds_columns=[["dashboards", "id"]])
    d = replay(_facts([created, _alters("b2", ["a1"], "queries")], ["queries", "dashboards"]))
    passes = [f for f in _check(d, "models").findings if f.status == "pass"]
    assert passes and passes[0].cause is None and "other 1 model table(s)" in passes[0].message
    assert "model-without-migration" not in {r.id for r in d.ruled_out}
    assert d.status == "healthy"
