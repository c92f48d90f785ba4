"""A least-privilege migration role on the service's own database, on a real PostgreSQL.

The job migrates as `migrator` (it owns the tables), the service runs as `app`: one database, two
roles. Whether that is healthy is the grants' and the default privileges' business, never "another
database".
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from netra_doctor.core.facts import DatabaseFacts, DbTarget, DefaultPrivilege, Facts, TargetInfo

from tests.helpers import INSTANCE, diagnose_json, point_job_at, write_db_secrets

APP_PW = "Qw7-roles-app-PW-41c2"
MIG_PW = "Zx3-roles-mig-PW-88e0"
TABLES = ["accounts", "invoices"]


def as_role(pg, role: str, statements: str) -> None:
    pg.sql(f'SET ROLE "{role}"; {statements}')


def setup(pg, seed: Path, repo: Path) -> tuple[str, str]:
    """`migrator` creates the tables; the job reads `migrator-*` secrets, the service `postgres-*`."""
    app, migrator = pg.role("app", APP_PW), pg.role("migrator", MIG_PW)
    pg.sql(f'GRANT CREATE, USAGE ON SCHEMA public TO "{migrator}"; GRANT USAGE ON SCHEMA public TO "{app}"')
    as_role(pg, migrator, "CREATE TABLE accounts (id serial PRIMARY KEY); "
                          "CREATE TABLE invoices (id serial PRIMARY KEY)")
    write_db_secrets(seed, pg.name, app, APP_PW)
    write_db_secrets(seed, pg.name, migrator, MIG_PW, prefix="migrator")
    point_job_at(seed, "migrator")
    (repo / "netra-doctor.toml").write_text(f"expected_tables = {json.dumps(TABLES)}\n")
    return app, migrator


def run(pg, seed: Path, repo: Path, *extra: str) -> tuple[dict, int]:
    return diagnose_json(seed, "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}",
                         "--only", "secret-parity", "--only", "tables", "--only", "default-privileges", *extra,
                         cwd=repo)


def ids(report: dict) -> list[str]:
    return [c["id"] for c in report["causes"]]


def ruled(report: dict, cause: str) -> list[str]:
    return next(r["evidence"] for r in report["ruled_out"] if r["id"] == cause)


def test_a_migrator_with_grants_and_default_privileges_is_healthy(pg, seed, repo):
    app, migrator = setup(pg, seed, repo)
    as_role(pg, migrator, f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}"; '
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app}"')
    report, code = run(pg, seed, repo)
    assert code == 3 and not ids(report), report["causes"]  # 3: no migration scripts here, nothing else amiss
    assert any(f"the job migrates as {migrator}, the service runs as {app}" in e
               for e in ruled(report, "job-service-different-database"))
    assert any(f"tables {migrator} creates in public will be granted to {app}" in e
               for e in ruled(report, "default-privileges-missing"))


def test_missing_default_privileges_are_a_warning_whose_printed_fix_works(pg, seed, repo):
    app, migrator = setup(pg, seed, repo)
    as_role(pg, migrator, f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}"')
    report, code = run(pg, seed, repo)
    assert code == 3 and ids(report) == ["default-privileges-missing"]  # a warning: below --fail-on error
    cause = report["causes"][0]
    assert cause["severity"] == "warn"
    assert cause["fix"] == [
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {migrator} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
        f"ON TABLES TO {app}; ALTER DEFAULT PRIVILEGES FOR ROLE {migrator} IN SCHEMA public GRANT USAGE, SELECT "
        f"ON SEQUENCES TO {app};  -- as {migrator} (or a member of it)"]
    assert run(pg, seed, repo, "--fail-on", "warn")[1] == 1

    as_role(pg, migrator, cause["fix"][0])  # the printed SQL, as the role it names
    as_role(pg, migrator, "CREATE TABLE payouts (id serial PRIMARY KEY)")  # the next revision's table
    with psycopg.connect(pg.dsn(app, APP_PW), autocommit=True) as conn:
        conn.execute("INSERT INTO payouts DEFAULT VALUES")  # the service can use it: table and sequence
    report, code = run(pg, seed, repo)
    assert code == 3 and not ids(report)


def test_missing_grants_are_the_cause_not_another_database(pg, seed, repo):
    setup(pg, seed, repo)
    report, code = run(pg, seed, repo)
    assert code == 1 and ids(report)[0] == "tables-invisible-to-role"
    assert "job-service-different-database" not in ids(report)
    assert "default-privileges-missing" in ids(report)


def test_a_service_role_that_is_a_member_of_the_migrator_needs_no_default_privileges(pg, seed, repo):
    app, migrator = setup(pg, seed, repo)
    pg.sql(f'GRANT "{migrator}" TO "{app}"')
    report, code = run(pg, seed, repo)
    assert code == 3 and not ids(report), report["causes"]
    assert any(f"{app} is a member of {migrator}" in e for e in ruled(report, "default-privileges-missing"))


def _facts(acl: list[DefaultPrivilege] | None) -> Facts:
    targets = {k: DbTarget(k, instance="p:r:i", database="db", user=u) for k, u in (("service", "app"),
                                                                                   ("job", "Migrator"))}
    dbs = {k: DatabaseFacts(k, reached=True, current_user=t.user, search_path=["public"], default_privileges=acl,
                            member_of=[t.user]) for k, t in targets.items()}
    return Facts(TargetInfo("staging", "p", "r", "s", "j", "alembic.ini"), targets=targets, databases=dbs)


def test_the_check_is_pure_and_quotes_the_names_it_prints():
    from netra_doctor.checks.roles import default_privileges

    (finding,) = default_privileges(_facts([]))
    assert finding.status == "warn"
    assert 'FOR ROLE "Migrator" IN SCHEMA public' in finding.fix_vars["default_privileges"]
    everyone = [DefaultPrivilege("Migrator", "", "r", "PUBLIC", ["SELECT"])]
    assert default_privileges(_facts(everyone))[0].status == "pass"  # global, to PUBLIC: covered
    assert default_privileges(_facts(None))[0].status == "skip"
