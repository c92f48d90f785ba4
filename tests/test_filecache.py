"""The per-file cache (doctor/sources/filecache.py): a second run reads what the first kept, and the
report is the same byte for byte; a changed file, or a changed module a reading followed, is read
afresh; a corrupt, foreign or unwritable cache costs only the re-read; --no-cache keeps nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from netra_doctor.migrations import models
from netra_doctor.sources import filecache
from netra_doctor.sources.migrations import read_migrations

from tests import test_alembic_projects as projects
from tests import test_models
from tests.alembic_projects import write
from tests.helpers import DATA, SEED, run_cli

REPO = Path(__file__).resolve().parents[1]

# what a model module may hold that plain JSON does not: module-level functions and a declared_attr
# rule (syntax nodes), one Table object reached twice (from __table__ and the module's tables)
SHAPES = {
    "alembic.ini": projects.ini("migrations"),
    **projects.scripts_folder("migrations"),
    "migrations/versions/s1.py": '''
        """shapes"""
        import sqlalchemy as sa
        from alembic import op

        revision = "s1"
        down_revision = None


        def upgrade():
            op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))
    ''',
    "app/__init__.py": "",
    "app/models.py": '''
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, declared_attr

        class Base(DeclarativeBase):
            pass

        def utcnow():
            return None

        class Named(Base):
            __abstract__ = True

            @declared_attr.directive
            def __tablename__(cls):
                return cls.__name__.lower() + "s"

            id = sa.Column(sa.Integer, primary_key=True)

        class Event(Named):
            at = sa.Column(sa.DateTime, default=utcnow)

        audit = sa.Table("audit", Base.metadata, sa.Column("id", sa.Integer))

        class Audit(Base):
            __table__ = audit
    ''',
}


def _fixtures(tmp: Path) -> list[tuple[str, Path, str]]:
    """(name, folder the doctor runs in, its alembic.ini relative to it): every real-layout project the
    tests hold or build."""
    out = [(d.name, d, "alembic.ini") for d in sorted((DATA / "alembic").iterdir()) if (d / "alembic.ini").is_file()]
    demo = REPO / "doctor" / "demo" / "data"
    out.append(("demo", demo, "netra_backend/alembic.ini"))
    out.append(("helpers", write(tmp / "helpers", projects.HELPERS), "app/alembic.ini"))
    out.append(("packaged", write(tmp / "packaged", projects.PACKAGED), "alembic.ini"))
    out.append(("seed-checkout", test_models.checkout(tmp / "seed", test_models.SEED_CHECKOUT),
                "netra_backend/alembic.ini"))
    out.append(("shapes", write(tmp / "shapes", SHAPES), "alembic.ini"))
    return out


def _report(root: Path, ini: str, *extra: str) -> tuple[int, str]:
    result = run_cli("staging", "--from", str(SEED), "--alembic-ini", ini, "--format", "json", "-v", *extra, cwd=root)
    return result.exit_code, json.dumps(_untimed(json.loads(result.stdout)), indent=1)


def _untimed(data):
    if isinstance(data, dict):
        return {k: _untimed(v) for k, v in data.items() if k not in ("duration_ms", "generated_at")}
    if isinstance(data, list):
        return [_untimed(v) for v in data]
    return data


def _stores(cache: Path) -> dict[str, dict]:
    """The stores' entries, without the stat signatures a later run may add (a file written less than two
    seconds before the first run is read by content, and its signature taken when the next run finds it
    unchanged: how long the test took decides whether that happens)."""
    out = {}
    for p in sorted(cache.glob("files-*.json")):
        data = json.loads(p.read_bytes())
        out[p.name] = {k: {f: v for f, v in e.items() if f != "stat"} for k, e in data["entries"].items()}
    return out


def test_every_project_reports_the_same_cold_warm_and_without_the_cache(tmp_path, monkeypatch):
    for name, root, ini in _fixtures(tmp_path):
        cache = tmp_path / "cache" / name
        monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(cache))
        cold = _report(root, ini)
        kept = _stores(cache)
        assert any(n.startswith("files-revisions-") for n in kept), name
        assert any(n.startswith("files-models-") for n in kept) or name not in ("demo", "seed-checkout", "shapes")
        warm = _report(root, ini)
        assert warm == cold, name
        assert _stores(cache) == kept, f"{name}: the warm run re-read files the cache held"
        assert _report(root, ini, "--no-cache") == cold, name
    # the shapes project was read in full: its model-columns check names the declared_attr table
    assert "model Event (app/models.py:19) declares events with id, at" in cold[1]


def _read_twice(ini: Path) -> list[str]:
    """In a fresh process each time: does reading the history import Alembic (only a cold read must)?"""
    code = ("import sys; from pathlib import Path; from netra_doctor.sources.migrations import read_migrations; "
            "m = read_migrations(Path(sys.argv[1])); print(len(m.revisions), 'alembic' in sys.modules)")
    return [subprocess.run([sys.executable, "-c", code, str(ini)], capture_output=True, text=True, check=True,
                           env=os.environ).stdout.strip() for _ in range(2)]


def test_a_history_read_before_is_answered_without_importing_alembic(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path / "cache"))
    assert _read_twice(DATA / "alembic" / "two_heads" / "alembic.ini") == ["3 True", "3 False"]


def test_a_changed_or_new_module_that_a_revision_follows_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "packaged", projects.PACKAGED)
    assert read_migrations(root / "alembic.ini", cwd=root).revisions[0].creates == ["tenants", "projects"]
    (root / "src" / "dbpkg" / "names.py").write_text('TABLES = ["tenants"]\nSCHEMA = "analytics"\n')
    again = read_migrations(root / "alembic.ini", cwd=root)
    assert again.revisions[0].creates == ["tenants"]
    assert again.revisions[1].creates == ["analytics.reports"]
    # a module that was not there when the revision was first read
    (root / "src" / "dbpkg" / "migrations" / "versions" / "p3.py").write_text(textwrap.dedent('''
        from alembic import op
        from dbpkg.later import NAME

        revision = "p3"
        down_revision = "p2"


        def upgrade():
            op.create_table(NAME)
    '''))
    assert read_migrations(root / "alembic.ini", cwd=root).revisions[2].opaque
    (root / "src" / "dbpkg" / "later.py").write_text('NAME = "late"\n')
    last = read_migrations(root / "alembic.ini", cwd=root).revisions[2]
    assert (last.creates, last.opaque) == (["late"], [])


def test_an_edited_revision_or_model_file_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "shapes", SHAPES)
    _, before = _report(root, "alembic.ini")
    rev = root / "migrations" / "versions" / "s1.py"
    rev.write_text(rev.read_text().replace('"events"', '"happenings"'))
    model = root / "app" / "models.py"
    model.write_text(model.read_text() + '\n\nclass Extra(Base):\n    __tablename__ = "extra"\n'
                     '    id = sa.Column(sa.Integer, primary_key=True)\n')
    _, after = _report(root, "alembic.ini")
    _, fresh = _report(root, "alembic.ini", "--no-cache")
    assert after == fresh and after != before
    assert "declares table extra" in after and "up to head s1 creates events" in after


def _reads(monkeypatch) -> list[str]:
    """The revision files read from disk from now on."""
    from netra_doctor.sources import migrations as source

    read: list[str] = []
    real = source.read_bytes
    monkeypatch.setattr(source, "read_bytes", lambda path, limit: read.append(str(path)) or real(path, limit))
    return read


def test_a_file_whose_stat_signature_is_unchanged_is_not_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(filecache, "RACY_NS", 0)  # the files were just written: trust their signatures at once
    root = write(tmp_path / "shapes", SHAPES)
    ini = root / "alembic.ini"
    first = read_migrations(ini, cwd=root)
    read = _reads(monkeypatch)
    assert read_migrations(ini, cwd=root) == first
    assert read == []
    # other bytes of the same size, and the old mtime put back (as cp -p or rsync -t do): ctime still moved
    rev = root / "migrations" / "versions" / "s1.py"
    before = rev.stat()
    time.sleep(0.05)  # past the file system clock's tick (a few ms), so the rewrite's ctime is another
    rev.write_text(rev.read_text().replace('"events"', '"eventz"'))
    os.utime(rev, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (rev.stat().st_size, rev.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert read_migrations(ini, cwd=root).revisions[0].creates == ["eventz"]
    assert read == [str(rev)]


def test_a_file_changed_in_the_last_two_seconds_is_read_whatever_its_signature(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(cache))
    root = write(tmp_path / "shapes", SHAPES)  # just written: a change in the same clock tick could follow
    read_migrations(root / "alembic.ini", cwd=root)
    [store] = cache.glob("files-revisions-*.json")
    entries = json.loads(store.read_bytes())["entries"]
    assert entries and not any("stat" in e for e in entries.values())
    read = _reads(monkeypatch)
    read_migrations(root / "alembic.ini", cwd=root)
    assert read == [str(root / "migrations" / "versions" / "s1.py")]


def test_a_corrupt_foreign_or_unwritable_cache_costs_only_the_reread(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(cache))
    root = DATA / "alembic" / "seed"
    want = _report(root, "alembic.ini")
    stores = sorted(cache.glob("files-*.json"))
    assert stores
    store = stores[0]
    good = json.loads(store.read_bytes())
    for bad in (b"\x00not json", b"[1, 2]", json.dumps({**good, "entries": {"x": 1}}).encode()):
        store.write_bytes(bad)
        assert _report(root, "alembic.ini") == want
    # a store from another doctor version that claims other facts for the very same files
    foreign = {**good, "header": {**good["header"], "doctor": "0.0.0-other"}}
    for entry in foreign["entries"].values():
        if "facts" in entry:
            entry["facts"]["creates"] = ["planted"]
    store.write_text(json.dumps(foreign))
    assert _report(root, "alembic.ini") == want
    assert json.loads(store.read_bytes())["header"] == good["header"]  # rewritten by this doctor
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(blocker / "cache"))  # cannot be created
    assert _report(root, "alembic.ini") == want


def test_no_cache_keeps_nothing(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(cache))
    code, _ = _report(DATA / "alembic" / "linear", "alembic.ini", "--no-cache")
    assert code in (0, 1, 3)
    assert not list(cache.glob("files-*.json"))


def test_the_cache_folder_is_held_to_its_bound_oldest_stores_first(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    for n in range(4):
        old = cache / f"files-old{n}.json"
        old.write_bytes(b"x" * 400_000)
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    tables = cache / "bashlex-tables-x.json"
    tables.write_text("{}")
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(cache))
    monkeypatch.setenv("NETRA_DOCTOR_CACHE_MAX_MB", "1")
    _report(DATA / "alembic" / "linear", "alembic.ini")
    left = sorted(p.name for p in cache.glob("files-*.json"))
    assert "files-old0.json" not in left and "files-old1.json" not in left  # the least recent went first
    assert "files-old3.json" in left and any(n.startswith("files-revisions-") for n in left)
    assert sum(p.stat().st_size for p in cache.glob("files-*.json")) <= 2**20
    assert tables.exists()  # not a store: never evicted


def test_a_model_module_round_trips_to_the_same_dataclasses():
    source = textwrap.dedent(SHAPES["app/models.py"]).lstrip()
    info = models.read_module(source, "app/models.py", "app.models")
    classes = {c.__name__: c for c in (models.ModuleInfo, models.ClassInfo, models.ModelTable)}
    data = json.loads(json.dumps(filecache.encode(info, root=info)))
    back = filecache.decode(data, classes, source)
    assert filecache.encode(back, root=back) == filecache.encode(info, root=info)
    assert back.functions["utcnow"].name == "utcnow" and back.functions["utcnow"].lineno == 7
    rule = back.classes["Named"].tablename_rule
    assert rule is not None and rule.name == "__tablename__"
    assert all(c.module is back for c in back.classes.values())
    assert back.classes["Audit"].table is None or back.classes["Audit"].table in back.tables
    with pytest.raises(ValueError):
        filecache.decode({"c": "Popen", "f": {}}, classes)


def test_the_seed_history_in_the_package_is_cached_like_any_other(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "demo"
    shutil.copytree(REPO / "doctor" / "demo" / "data", root)
    first = read_migrations(root / "netra_backend" / "alembic.ini")
    second = read_migrations(root / "netra_backend" / "alembic.ini")
    assert second == first and len(first.revisions) == 3
