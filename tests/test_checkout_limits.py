"""The checkout's files are read within limits: a size checked before reading, symlinks that leave the
checkout not followed, a revision beyond reading named while the others are still read.

The size cases run the CLI in a subprocess under an address-space limit (`ulimit -v`) and a timeout,
with sparse 1 GiB files (`truncate`): reading one whole would need more memory than the limit allows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from netra_doctor.sources.migrations import read_migrations

from tests.helpers import DATA, limited_cli

LINEAR = DATA / "alembic" / "linear"
VERSIONS = Path("migrations") / "versions"
HEAD = "dc4fa32fd495"
MODEL = ("from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
         "Base = declarative_base()\n\n\nclass User(Base):\n    __tablename__ = 'users'\n"
         "    id = Column(Integer, primary_key=True)\n")


def _project(tmp_path: Path) -> Path:
    """The linear project (users, subscriptions, credit_transactions) with a model of users."""
    root = tmp_path / "checkout"
    shutil.copytree(LINEAR, root)
    (root / "netra-doctor.toml").write_text('alembic_ini = "alembic.ini"\n')
    (root / "app").mkdir()
    (root / "app" / "models.py").write_text(MODEL)
    return root


def _sparse(path: Path, head: bytes, size: int = 2**30) -> None:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


def _repo_only(root: Path) -> tuple[int, dict, str]:
    done = limited_cli("staging", "--repo-only", "--format", "json", cwd=root, memory_mb=1024, timeout=60)
    assert done.returncode in (0, 1, 3), done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout), done.stderr


def test_a_one_gib_revision_file_is_refused_by_its_size_and_named(tmp_path: Path):
    root = _project(tmp_path)
    _sparse(root / VERSIONS / "ffff_huge.py", b'revision = "ffff"\ndown_revision = "dc4fa32fd495"\n')
    code, report, _ = _repo_only(root)
    text = json.dumps(report)
    assert "migrations/versions/ffff_huge.py: not read (larger than 8 MiB)" in text
    assert report["status"] == "incomplete" and code == 3  # what it does is unknown, never "nothing"


def test_a_one_gib_model_source_is_refused_by_its_size_and_named(tmp_path: Path):
    root = _project(tmp_path)
    _sparse(root / "app" / "more_models.py", MODEL.encode())
    _, report, _ = _repo_only(root)
    assert "app/more_models.py: not read (larger than 8 MiB)" in json.dumps(report)


def test_a_revision_file_linked_from_outside_the_checkout_is_not_followed_and_said(tmp_path: Path):
    root = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text('revision = "e1sewhere"\ndown_revision = "dc4fa32fd495"\n\n\ndef upgrade():\n'
                         '    from alembic import op\n    op.drop_table("users")\n')
    (root / VERSIONS / "e1sewhere_drop_users.py").symlink_to(elsewhere)
    inside = root / "shared.py"  # a link within the checkout is the checkout's own file: read
    inside.write_text((root / VERSIONS / f"{HEAD}_create_credit_transactions.py").read_text())
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert m.heads == [HEAD]
    assert [r.revision for r in m.revisions][-1] == HEAD and "e1sewhere" not in {r.revision for r in m.revisions}
    [skipped] = [w for w in m.warnings if "e1sewhere_drop_users.py" in w]
    assert f"a symlink to {elsewhere.resolve()}, outside the checkout: not followed" in skipped
    assert skipped in m.unknown


def test_a_revision_id_nested_900_deep_is_named_and_the_other_revisions_still_read(tmp_path: Path):
    root = _project(tmp_path)
    joined = " + ".join(f'"r{i}"' for i in range(900))
    (root / VERSIONS / "zz_deep.py").write_text(f"revision = {joined}\ndown_revision = {HEAD!r}\n\n\ndef upgrade():\n"
                                                "    pass\n")
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert m.heads == [HEAD] and len(m.revisions) == 3
    assert any(u.startswith("migrations/versions/zz_deep.py: its revision id is nested too deep to read") for u in
               m.unknown)


def test_a_child_of_a_revision_not_read_is_read_as_a_base_and_said(tmp_path: Path):
    root = _project(tmp_path)
    joined = " + ".join(f'"r{i}"' for i in range(900))
    (root / VERSIONS / "zz_deep.py").write_text(f"revision = {joined}\ndown_revision = {HEAD!r}\n")
    (root / VERSIONS / "zz_child.py").write_text('revision = "child1"\ndown_revision = "unknowable"\n\n\n'
                                                 'def upgrade():\n    from alembic import op\n'
                                                 '    op.create_table("later")\n')
    m = read_migrations(root / "alembic.ini", cwd=root)
    assert sorted(m.heads) == sorted([HEAD, "child1"])
    assert m.by_id()["child1"].creates == ["later"]
    assert any("zz_child.py revises unknowable, which no revision file read defines" in p for p in m.problems)
