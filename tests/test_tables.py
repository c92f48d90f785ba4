"""The tables check: where each expected table really is, as the service's role sees it.

Real PostgreSQL for every state (built with plain SQL) driven through the engine as a
user would run it; pure Facts for the classification edges.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netra_doctor import engine
from netra_doctor.checks.tables import setting_schemas, tables
from netra_doctor.core.config import load_target
from netra_doctor.core.facts import (
    AlembicVersion,
    DatabaseFacts,
    Facts,
    LogEntry,
    MigrationFacts,
    RevisionFacts,
    TableInfo,
    TargetInfo,
)
from netra_doctor.migrations.expected import expected_tables, tables_at_head
from netra_doctor.safety.untrusted import quote_ident

from tests.helpers import DATA, INSTANCE, point_job_at, write_db_secrets

APP_PW = "Rv2-tables-planted-PW-6a1f"
MIG_PW = "Hc4-tables-planted-PW-mig-90d2"
INCIDENT = ("subscriptions", "credit_transactions", "agent_executions")
SEED_HEAD_TABLES = ("userbase", "assistants", "threads", "messages", "runs", "agent_state_snapshots",
                    "corpus_audit_logs", "mcp_external_servers")


def diagnose(pg, exports: Path, repo: Path, *, tables: tuple[str, ...] = (), alembic: str | None = None):
    """Run the doctor as a user would: netra-doctor.toml in the checkout, --proxy to the test server."""
    if tables:
        (repo / "netra-doctor.toml").write_text(f"expected_tables = {json.dumps(list(tables))}\n")
    overrides = {"alembic_ini": str(DATA / "alembic" / alembic / "alembic.ini")} if alembic else {}
    target = load_target("staging", start=repo, overrides=overrides)
    target.proxies[INSTANCE] = f"127.0.0.1:{pg.server.port}"
    return engine.run(target, exports)


def ids(run) -> list[str]:
    return [c.id for c in run.diagnosis.causes]


def cause(run, cause_id: str):
    return next(c for c in run.diagnosis.causes if c.id == cause_id)


def ruled_out(run) -> dict[str, list[str]]:
    return {r.id: r.evidence for r in run.diagnosis.ruled_out}


def check_result(run, check_id: str = "tables"):
    return next(c for c in run.diagnosis.checks if c.id == check_id)


def service_app(pg, seed: Path) -> str:
    app = pg.role("app", APP_PW)
    write_db_secrets(seed, pg.name, app, APP_PW)
    return app


def logs_json(folder: Path, *texts: str) -> None:
    """The service's startup errors as `gcloud logging read --format=json` prints them."""
    entries = [{
        "insertId": f"id{i}", "jsonPayload": {"message": text}, "severity": "CRITICAL",
        "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_revision", "labels": {
            "service_name": "netra-backend-staging", "revision_name": "netra-backend-staging-00042-xqv",
            "location": "us-central1", "project_id": "netra-staging"}},
        "timestamp": f"2025-06-14T08:02:3{i}.403127Z",
    } for i, text in enumerate(texts)]
    (folder / "logs.json").write_text(json.dumps(entries))


# --- real PostgreSQL -------------------------------------------------------------------


def test_healthy_tables_pass_and_refute_the_hiding_causes(pg, seed, repo):
    app = service_app(pg, seed)
    pg.sql(f"CREATE TABLE subscriptions (id int); CREATE TABLE credit_transactions (id int); "
           f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app}")
    run = diagnose(pg, seed, repo, tables=INCIDENT[:2])
    result = check_result(run)
    assert result.status == "pass", result.findings
    assert not {"tables-in-other-schema", "tables-invisible-to-role", "migration-missing-for-tables",
                "job-service-different-database"} & set(ids(run))
    gone = ruled_out(run)
    assert any(f"{app} can SELECT the 2 expected table(s) that exist: public.subscriptions, "
               "public.credit_transactions" in e for e in gone["tables-invisible-to-role"])
    assert any("that exist are on it: public.subscriptions" in e for e in gone["tables-in-other-schema"])


def test_tables_in_another_schema_rank_first_and_the_printed_fix_works(pg, seed, repo):
    app = service_app(pg, seed)
    pg.sql(f"CREATE SCHEMA billing; CREATE TABLE billing.subscriptions (id int); "
           f"GRANT USAGE ON SCHEMA billing TO {app}; GRANT SELECT ON billing.subscriptions TO {app}")
    run = diagnose(pg, seed, repo, tables=("subscriptions",))
    assert ids(run)[0] == "tables-in-other-schema", ids(run)
    found = cause(run, "tables-in-other-schema")
    assert any("subscriptions is in schema billing only" in e for e in found.evidence)
    assert any('search_path of ' + app + ': "$user", public' in e for e in found.evidence)
    fix = found.fix[0].split("  --")[0]
    assert fix == f'ALTER ROLE {app} SET search_path = billing, "$user", public;'
    pg.sql(fix)  # the doctor's own fix, verbatim, makes the next run healthy
    again = diagnose(pg, seed, repo)
    assert check_result(again).status == "pass", check_result(again).findings


def test_tables_owned_by_the_migration_role_without_grant_are_invisible_and_the_grants_fix_it(pg, seed, repo):
    app, mig = service_app(pg, seed), pg.role("mig", MIG_PW)
    pg.sql(f"GRANT CREATE ON SCHEMA public TO {mig}; SET ROLE {mig}; "
           "CREATE TABLE subscriptions (id serial PRIMARY KEY); CREATE TABLE credit_transactions (id int)")
    run = diagnose(pg, seed, repo, tables=INCIDENT[:2])
    assert ids(run)[0] == "tables-invisible-to-role", ids(run)
    found = cause(run, "tables-invisible-to-role")
    assert any(f"public.subscriptions exists (pg_class), owned by {mig}; information_schema.tables does not show "
               f"it to {app}; {app} has SELECT on it: no, USAGE on schema public: yes" in e
               for e in found.evidence), found.evidence
    assert any("that exist are on it: public.subscriptions" in e for e in ruled_out(run)["tables-in-other-schema"])
    grants = found.fix[0]
    assert grants.startswith(f"GRANT USAGE ON SCHEMA public TO {app}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL "
                             f"TABLES IN SCHEMA public TO {app};")
    assert found.fix[1] == (f"ALTER DEFAULT PRIVILEGES FOR ROLE {mig} IN SCHEMA public GRANT SELECT, INSERT, "
                            f"UPDATE, DELETE ON TABLES TO {app};")
    assert "job-service-different-database" not in ids(run) and "migration-missing-for-tables" not in ids(run)
    pg.sql(f"SET ROLE {mig}; {grants}")  # run as the owner, as the fix says
    again = diagnose(pg, seed, repo)
    assert check_result(again).status == "pass", check_result(again).findings


def test_a_search_path_schema_without_usage_is_invisible_not_elsewhere(pg, seed, repo):
    """current_schemas() drops a schema the role may not use; the setting still names it."""
    app, mig = service_app(pg, seed), pg.role("mig", MIG_PW)
    pg.sql(f"CREATE SCHEMA app AUTHORIZATION {mig}; SET ROLE {mig}; CREATE TABLE app.subscriptions (id int); "
           f"RESET ROLE; ALTER ROLE {app} SET search_path = app, public")
    run = diagnose(pg, seed, repo, tables=("subscriptions",))
    assert ids(run)[0] == "tables-invisible-to-role", ids(run)
    assert "tables-in-other-schema" not in ids(run)
    assert any("USAGE on schema app: no" in e for e in cause(run, "tables-invisible-to-role").evidence)


def test_tables_only_in_another_database_point_at_the_job(pg, seed, repo):
    service_app(pg, seed)
    mig = pg.role("mig", MIG_PW)
    other = pg.database()
    pg.sql(f'GRANT ALL ON SCHEMA public TO {mig}; SET ROLE {mig}; CREATE TABLE subscriptions (id int)', dbname=other)
    write_db_secrets(seed, other, mig, MIG_PW, prefix="jobpg")
    point_job_at(seed, "jobpg")  # the job migrates `other`, the service reads its own database
    run = diagnose(pg, seed, repo, tables=("subscriptions",))
    assert ids(run)[0] == "job-service-different-database", ids(run)
    found = cause(run, "job-service-different-database")
    assert any(f"subscriptions is not in {pg.name} (the service's database) but is in {other}: "
               "public.subscriptions" in e for e in found.evidence)
    assert any("--update-secrets=POSTGRES_HOST=postgres-host-staging:latest,POSTGRES_PORT=postgres-port-staging:latest"
               in line for line in found.fix), found.fix
    assert "migration-missing-for-tables" not in ids(run)


def test_the_seed_incident_ranks_missing_migration_first_and_rules_out_the_four_guesses(pg, seed, repo):
    """Head applied, the three tables created by no revision: every wrong guess lands in ruled_out."""
    app = service_app(pg, seed)
    pg.sql("".join(f"CREATE TABLE {t} (id int);" for t in SEED_HEAD_TABLES)
           + "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
           + "INSERT INTO alembic_version VALUES ('add_deleted_at_001');"
           + f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app};")
    logs_json(seed, "DeterministicStartupError: Startup failed in phase DATABASE: Failed to ensure database tables "
                    "exist: Failed to create tables: {'subscriptions', 'credit_transactions', 'agent_executions'}")
    run = diagnose(pg, seed, repo, alembic="seed")
    assert ids(run)[0] == "migration-missing-for-tables", ids(run)
    first = run.diagnosis.causes[0]
    assert any("no revision up to head (add_deleted_at_001) creates" in e for e in first.evidence)
    assert first.fix[0] == ("alembic -c " + str(DATA / "alembic/seed/alembic.ini") + " revision --autogenerate "
                            "-m 'create agent_executions, credit_transactions, subscriptions'")
    gone = ruled_out(run)
    for guess in ("tables-in-other-schema", "tables-invisible-to-role", "job-service-different-database"):
        assert guess in gone, sorted(gone)
        assert guess not in ids(run)
    assert any("the job's role reaches the same database" in e for e in gone["job-service-different-database"])
    assert any("pg_class, which every role reads" in e and "agent_executions" in e
               for e in gone["tables-invisible-to-role"])
    assert any("holds agent_executions, credit_transactions, subscriptions" in e
               for e in gone["tables-in-other-schema"])


def test_tables_a_revision_creates_but_the_database_lacks_support_migration_not_applied(pg, seed, repo):
    app = service_app(pg, seed)
    pg.sql(f"CREATE TABLE users (id int); CREATE TABLE alembic_version (version_num varchar(32));"
           f"INSERT INTO alembic_version VALUES ('e9da6f30cc4c'); GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app}")
    run = diagnose(pg, seed, repo, alembic="linear")
    assert "migration-not-applied" in ids(run)
    assert "migration-missing-for-tables" not in ids(run)
    evidence = cause(run, "migration-not-applied").evidence
    assert any("revision 68b6b9884261 creates subscriptions" in e for e in evidence), evidence
    assert any(f"{pg.name} records e9da6f30cc4c" in e for e in evidence)


def test_quoted_mixed_case_names_end_to_end(pg, seed, repo):
    """Identifiers with quotes, spaces and capitals: found, classified, and the grants run verbatim."""
    role, owner = f"App Role'Q_{pg.name[-6:]}", f"Mig Owner_{pg.name[-6:]}"
    for name in (role, owner):
        pg.sql(f"""CREATE ROLE "{name}" LOGIN PASSWORD '{APP_PW}'""")
        pg.roles.append(name)
    pg.sql(f'''
        CREATE SCHEMA "Odd ""Sch"" ema" AUTHORIZATION "{owner}";
        SET ROLE "{owner}";
        CREATE TABLE "Odd ""Sch"" ema"."Mixed Case Table" (id serial);
        RESET ROLE;
        ALTER ROLE "{role}" SET search_path = "Odd ""Sch"" ema", public;
    ''')
    write_db_secrets(seed, pg.name, role, APP_PW)
    run = diagnose(pg, seed, repo, tables=("Mixed Case Table",))
    assert ids(run)[0] == "tables-invisible-to-role", ids(run)
    grants = cause(run, "tables-invisible-to-role").fix[0]
    assert 'GRANT USAGE ON SCHEMA "Odd ""Sch"" ema" TO "App Role\'Q_' in grants
    pg.sql(f'SET ROLE "{owner}"; {grants}')
    again = diagnose(pg, seed, repo)
    assert check_result(again).status == "pass", check_result(again).findings


# --- pure facts ------------------------------------------------------------------------


def facts_with(db: DatabaseFacts | None, *, expected_names=(), migrations=None, logs=None, job=None) -> Facts:
    info = TargetInfo("staging", "netra-staging", "us-central1", "netra-backend-staging", "netra-migrations-staging",
                      "netra_backend/alembic.ini", expected_tables=list(expected_names))
    dbs = {"service": db} if db else {}
    if job:
        dbs["job"] = job
    return Facts(info, databases=dbs, migrations=migrations, logs=logs)


def service_db(*tables_: TableInfo, path=("public",), setting='"$user", public', **kw) -> DatabaseFacts:
    return DatabaseFacts("service", target=f"{INSTANCE}/netra_staging", via="proxy 127.0.0.1:5432", reached=True,
                         current_user="netra_app", current_database="netra_staging", search_path=list(path),
                         search_path_setting=setting, schemas=["public"], tables=list(tables_), **kw)


def migrations(*revs: RevisionFacts) -> MigrationFacts:
    return MigrationFacts("netra_backend/alembic.ini", "netra_backend/migrations", heads=[revs[-1].revision],
                          revisions=list(revs))


CHAIN = (
    RevisionFacts("r1", [], creates=["users", "legacy"]),
    RevisionFacts("r2", ["r1"], creates=["orders"], renames=[["users", "accounts"]]),
    RevisionFacts("r3", ["r2"], drops=["legacy"]),
)


def test_expected_tables_replay_creates_renames_and_drops_up_to_head():
    assert sorted(tables_at_head(migrations(*CHAIN))) == ["accounts", "orders"]
    got = expected_tables(facts_with(None, migrations=migrations(*CHAIN)))
    assert got == {"accounts": "renamed to this name by revision r2", "orders": "created by revision r2"}


def test_config_expected_tables_win_over_migrations_and_logs():
    facts = facts_with(None, expected_names=["a"], migrations=migrations(*CHAIN),
                       logs=[LogEntry("t", "Failed to create tables: {'x'}", resource="service")])
    assert expected_tables(facts) == {"a": "listed in expected_tables (config)"}


def test_startup_errors_add_expected_tables():
    logs = [LogEntry("t", "Failed to create tables: {'subscriptions', 'orders'}", resource="service"),
            LogEntry("t", "Missing required database tables: {'job_only'}", resource="job")]
    facts = facts_with(None, migrations=migrations(*CHAIN), logs=logs)
    got = expected_tables(facts)
    assert got["subscriptions"] == "named in the service's startup errors"
    assert got["orders"] == "created by revision r2"  # the revision is the more precise origin
    assert "job_only" not in got


def test_without_migration_facts_a_missing_table_is_reported_but_no_migration_is_blamed():
    facts = facts_with(service_db(), expected_names=["subscriptions"])
    findings = tables(facts)
    assert [f.status for f in findings if f.cause is None] == ["fail", "skip"]
    assert not any(f.cause == "migration-missing-for-tables" for f in findings)
    blocked = next(f for f in findings if f.status == "skip")
    assert blocked.blocked and "--alembic-ini" in blocked.message


def test_nothing_to_expect_is_a_skip_when_unknown_and_not_applicable_when_known():
    unknown = tables(facts_with(service_db()))
    assert unknown[0].status == "skip" and unknown[0].blocked
    known = tables(facts_with(service_db(), migrations=MigrationFacts("a.ini", heads=[], revisions=[])))
    assert known[0].status == "skip" and not known[0].blocked


def test_a_schema_qualified_expected_table_is_looked_up_in_that_schema_only():
    billing = TableInfo("billing", "subscriptions", "mig")
    facts = facts_with(service_db(billing), expected_names=["billing.subscriptions"], migrations=migrations(*CHAIN))
    assert [f.status for f in tables(facts) if f.cause is None] == ["pass"]
    facts = facts_with(service_db(billing), expected_names=["audit.subscriptions"], migrations=migrations(*CHAIN))
    assert any(f.status == "fail" and f.cause == "tables-in-other-schema" for f in tables(facts))


def test_a_recorded_revision_that_created_the_missing_table_is_stamped_not_unapplied():
    stamped = tables(facts_with(service_db(alembic_versions=[AlembicVersion("public", ["r2"])]),
                                migrations=migrations(*CHAIN)))
    by_cause = {f.obj: f.cause for f in stamped if f.status == "fail"}
    assert by_cause == {"accounts": "revision-stamped-without-schema", "orders": "revision-stamped-without-schema"}
    # stamping back to r1 would rerun r2, whose rename of users (absent) fails: the fix says what to look at
    assert {f.fix_vars["look_at"].split(";")[0] for f in stamped if f.status == "fail"} == {
        "do not stamp on this evidence (r2 also renames or drops, which rerunning on this schema may not survive)"}
    # recorded r1 only: `accounts` needs r2's rename, so it is not applied (not stamped)
    behind = tables(facts_with(service_db(alembic_versions=[AlembicVersion("public", ["r1"])]),
                               migrations=migrations(*CHAIN)))
    assert {f.obj: f.cause for f in behind if f.status == "fail"} == {
        "accounts": "migration-not-applied", "orders": "migration-not-applied"}


def test_an_unreached_service_database_skips_with_its_reason():
    db = DatabaseFacts("service", reached=False, error_kind="no-route",
                       error=f"no route to /cloudsql/{INSTANCE}: pass --proxy {INSTANCE}=127.0.0.1:5432")
    (finding,) = tables(facts_with(db, expected_names=["a"]))
    assert finding.status == "skip" and finding.blocked and "--proxy" in finding.message


def test_other_databases_that_could_not_be_read_keep_that_cause_open():
    db = service_db(other_database_errors={"secret_db": "permission denied for database"})
    findings = tables(facts_with(db, expected_names=["subscriptions"], migrations=migrations(*CHAIN)))
    assert not any(f.cause == "job-service-different-database" for f in findings)
    job = DatabaseFacts("job", target=db.target, via=db.via, reached=True, current_database="netra_staging")
    findings = tables(facts_with(db, expected_names=["subscriptions"], migrations=migrations(*CHAIN), job=job))
    refuted = next(f for f in findings if f.cause == "job-service-different-database")
    assert refuted.status == "pass" and any("could not read secret_db" in e for e in refuted.evidence)


@pytest.mark.parametrize(("setting", "user", "schemas"), [
    ('"$user", public', "app", ["app", "public"]),
    ('"Odd ""Sch"" ema", Public', "u", ['Odd "Sch" ema', "public"]),
    ("", "u", []),
])
def test_search_path_setting_is_parsed_as_postgresql_reads_it(setting, user, schemas):
    assert setting_schemas(DatabaseFacts("service", current_user=user, search_path_setting=setting)) == schemas


@pytest.mark.parametrize(("name", "quoted"), [
    ("public", "public"), ("netra_app", "netra_app"), ("user", '"user"'), ("Mixed", '"Mixed"'),
    ('a "b"', '"a ""b"""'), ("has space", '"has space"'), ("x$y", '"x$y"'), ("between", '"between"'),
])
def test_quote_ident_matches_postgresql(name, quoted, pg):
    assert quote_ident(name) == quoted
    import psycopg

    with psycopg.connect(pg.dsn()) as conn:
        assert conn.execute("SELECT quote_ident(%s)", (name,)).fetchone()[0] == quoted


def test_a_pass_over_thousands_of_tables_lists_some_and_counts_the_rest():
    """10,000 usable tables make one pass finding whose evidence names the first 50 and counts the rest
    (a -v report or JSON does not carry 10,000 lines to say that all is well)."""
    from netra_doctor.checks.tables import SHOWN

    names = [f"t_{i:05d}" for i in range(SHOWN + 30)]
    db = DatabaseFacts("service", "i/app", "dsn", True, current_user="app", current_database="app",
                       search_path=["public"], tables=[TableInfo("public", n, "app") for n in names])
    facts = Facts(TargetInfo("staging", "p", "r", "s", "j", "alembic.ini", expected_tables=names),
                  databases={"service": db})
    [found] = [f for f in tables(facts) if f.status == "pass" and f.cause is None]
    assert found.message.startswith(f"{SHOWN + 30} expected table(s) in app")
    assert len(found.evidence) == SHOWN + 1 and found.evidence[-1] == "... and 30 more usable table(s)"


def test_the_ruled_out_evidence_over_thousands_of_tables_names_some_and_counts_the_rest():
    """The pass findings that rule causes out named every present table on one line (150 KB at 10,000)."""
    from netra_doctor.checks.tables import SHOWN

    names = [f"t_{i:05d}" for i in range(SHOWN + 30)]
    db = DatabaseFacts("service", "i/app", "dsn", True, current_user="app", current_database="app",
                       search_path=["public"], tables=[TableInfo("public", n, "app") for n in names])
    facts = Facts(TargetInfo("staging", "p", "r", "s", "j", "alembic.ini", expected_tables=[*names, "gone"]),
                  databases={"service": db})
    ruled_out = {f.cause: f.evidence for f in tables(facts) if f.status == "pass" and f.cause}
    assert ruled_out["tables-invisible-to-role"][-1].endswith(f"public.t_{SHOWN - 1:05d} and 30 more")
    assert ruled_out["tables-in-other-schema"][-1].startswith(f"the {SHOWN + 30} expected table(s) that exist are on")
    assert all(len(line) < 2000 for lines in ruled_out.values() for line in lines)


@pytest.mark.parametrize(("path", "found"), [(["public", "audit"], "public"), (["audit", "public"], "audit"),
                                             (["billing"], None)])
def test_a_name_several_schemas_hold_resolves_to_the_first_on_the_search_path(path, found):
    """Most names are held by one schema (the fast path); one held by several resolves as PostgreSQL does."""
    from netra_doctor.checks.tables import Catalog, locate

    db = service_db(TableInfo("audit", "orders", "mig"), TableInfo("public", "orders", "mig"),
                    TableInfo("public", "users", "mig"), path=path, setting=", ".join(path))
    catalog = Catalog.of(db)
    assert set(catalog.shared) == {"orders"} and set(catalog.unique) == {"users"}
    place = locate(db, "orders", "config", catalog)
    if found is None:
        assert place.state == "other-schema" and [t.schema for t in place.elsewhere] == ["audit", "public"]
    else:
        assert place.state == "ok" and place.found.schema == found
    assert locate(db, "users", "config", catalog).state == ("ok" if "public" in path else "other-schema")
