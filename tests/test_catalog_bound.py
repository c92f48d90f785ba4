"""Catalog reads are complete or say they are not: never a fix advised from part of the tables.

A silent `LIMIT 20000` once made a 25,000-table database look as if tables were missing, and the
doctor printed `alembic stamp base` with a re-run of the job. The bound is now far above real
catalogs; a read that meets it is no read (the checks skip, saying why). The bound is lowered here
so that a handful of real tables crosses it.
"""

from __future__ import annotations

from netra_doctor import engine
from netra_doctor.core.config import load_target
from netra_doctor.sources import database

from tests.helpers import INSTANCE, write_db_secrets

APP_PW = "Hb4-catalog-bound-PW-5d21"


def _tables(n: int) -> str:
    return "\n".join(f"CREATE TABLE t_{i:03d} (id int);" for i in range(n))


def test_more_tables_than_the_bound_is_an_incomplete_read_not_missing_tables(pg, seed, repo, monkeypatch):
    app = pg.role("app", APP_PW)
    pg.sql(f"""
        {_tables(12)}
        CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
        INSERT INTO alembic_version VALUES ('add_deleted_at_001');
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app};
    """)
    write_db_secrets(seed, pg.name, app, APP_PW)
    (repo / "netra-doctor.toml").write_text('expected_tables = ["subscriptions", "t_011"]\n')
    monkeypatch.setattr(database, "MAX_TABLES", 10)
    target = load_target("staging", start=repo)
    target.proxies[INSTANCE] = f"127.0.0.1:{pg.server.port}"
    run = engine.run(target, seed)
    db = run.facts.databases["service"]
    assert not db.reached and db.error_kind == "incomplete"
    assert f"{pg.name} holds more than 10 tables" in db.error
    assert run.facts.source("database").status == "error"
    checks = {c.id: c for c in run.diagnosis.checks}
    for check in ("tables", "revision", "schema-revision"):
        assert checks[check].status in ("skip", "error"), (check, checks[check].message)
    fixes = "\n".join(str(f) for c in run.diagnosis.causes for f in c.fix)
    assert "stamp" not in fixes and "jobs execute" not in fixes
    assert not {"migration-not-applied", "revision-stamped-without-schema", "migration-missing-for-tables",
                "tables-in-other-schema", "tables-invisible-to-role"} & {c.id for c in run.diagnosis.causes}


def test_under_the_bound_every_table_is_read(pg, seed, repo, monkeypatch):
    app = pg.role("app", APP_PW)
    pg.sql(f"{_tables(10)}\nGRANT SELECT ON ALL TABLES IN SCHEMA public TO {app};")
    write_db_secrets(seed, pg.name, app, APP_PW)
    monkeypatch.setattr(database, "MAX_TABLES", 10)
    target = load_target("staging", start=repo)
    target.proxies[INSTANCE] = f"127.0.0.1:{pg.server.port}"
    db = engine.run(target, seed).facts.databases["service"]
    assert db.reached and len([t for t in db.tables if t.name.startswith("t_")]) == 10
