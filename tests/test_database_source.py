"""The database source against a real PostgreSQL: what each workload's own role sees, read-only."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import psycopg
import pytest
from netra_doctor import engine
from netra_doctor.core.config import load_target
from netra_doctor.core.errors import BadInput
from netra_doctor.core.facts import AlembicVersion, TableInfo
from netra_doctor.sources import database
from netra_doctor.sources.database import Route, connect, error_kind, probe

from tests.helpers import (
    INSTANCE,
    check_status,
    copy_seed,
    diagnose_json,
    point_job_at,
    run_cli,
    write_db_secrets,
)

# distinctive, so that a leak anywhere in the output is caught
APP_PW = "Zq8-db-planted-PW-91ab"
WRONG_PW = "Kd3-db-wrong-PW-7f20"
MIG_PW = "Kd3-db-planted-PW-mig-07c4"


def run(exports: Path, repo: Path, pg, *, proxy: bool = True, **overrides) -> engine.Run:
    target = load_target("staging", start=repo, overrides=overrides)
    if proxy:
        target.proxies[INSTANCE] = f"127.0.0.1:{pg.server.port}"
    return engine.run(target, exports)


def proxy_args(pg) -> tuple[str, str]:
    return "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


def test_reads_what_the_service_role_sees(pg, seed, repo):
    app = pg.role("app", APP_PW)
    pg.sql(f"""
        CREATE TABLE subscriptions (id serial PRIMARY KEY);
        CREATE SCHEMA audit;
        CREATE TABLE audit.events (id int);
        CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
        INSERT INTO alembic_version VALUES ('add_deleted_at_001');
        GRANT SELECT ON subscriptions, alembic_version TO {app};
    """)
    write_db_secrets(seed, pg.name, app, APP_PW)
    facts = run(seed, repo, pg).facts
    db = facts.databases["service"]
    assert db.reached and db.error is None
    assert (db.current_user, db.current_database) == (app, pg.name)
    assert db.via == f"proxy 127.0.0.1:{pg.server.port}"
    assert db.target == f"{INSTANCE}/{pg.name}"
    assert db.search_path == ["public"] and db.search_path_setting == '"$user", public'
    assert db.server_version[:2].isdigit()
    assert pg.name in db.databases and {"audit", "public"} <= set(db.schemas)
    by_name = {(t.schema, t.name): t for t in db.tables}
    su = pg.server.superuser
    assert by_name["public", "subscriptions"] == TableInfo("public", "subscriptions", su, True, True, True)
    # granted nothing on audit: the schema is unusable and information_schema hides the table
    assert by_name["audit", "events"] == TableInfo("audit", "events", su, False, False, False)
    assert db.alembic_versions == [AlembicVersion("public", ["add_deleted_at_001"])]
    assert facts.source("database").status == "ok"


def test_tables_owned_by_the_migration_role_are_in_pg_class_not_information_schema(pg, seed, repo):
    app, mig = pg.role("app", APP_PW), pg.role("mig", MIG_PW)
    pg.sql(f"""
        GRANT CREATE ON SCHEMA public TO {mig};
        SET ROLE {mig};
        CREATE TABLE subscriptions (id int);
        CREATE TABLE alembic_version (version_num varchar(32));
        INSERT INTO alembic_version VALUES ('add_deleted_at_001');
    """)
    write_db_secrets(seed, pg.name, app, APP_PW)
    write_db_secrets(seed, pg.name, mig, MIG_PW, prefix="jobpg")
    point_job_at(seed, "jobpg")
    facts = run(seed, repo, pg).facts
    service, job = facts.databases["service"], facts.databases["job"]
    assert (service.current_user, job.current_user) == (app, mig)
    seen = {t.name: t for t in service.tables}
    assert seen["subscriptions"] == TableInfo("public", "subscriptions", mig, False, False, True)
    assert {t.name: t for t in job.tables}["subscriptions"] == TableInfo("public", "subscriptions", mig)
    # the service role cannot read the version table: "unknown", never "empty"
    (version,) = service.alembic_versions
    assert version.versions == [] and "permission denied" in version.error
    assert job.alembic_versions == [AlembicVersion("public", ["add_deleted_at_001"])]


def test_job_and_service_on_the_same_target_connect_once(pg, seed, repo, monkeypatch):
    app = pg.role("app", APP_PW)
    write_db_secrets(seed, pg.name, app, APP_PW)
    calls = []

    def counting(route, kind, timeout):
        calls.append(route.user)
        return probe(route, kind, timeout)

    monkeypatch.setattr(database, "probe", counting)
    facts = run(seed, repo, pg).facts
    assert calls == [app]
    service, job = facts.databases["service"], facts.databases["job"]
    assert (service.workload, job.workload) == ("service", "job")
    assert service.reached and job.reached and service.tables == job.tables


def test_dsn_overrides_resolution_for_both_workloads(pg, tmp_path, repo):
    """--dsn needs no secrets at all, and carries its own session options (search_path here)."""
    exports = copy_seed(tmp_path / "exports", only=("service.yaml", "job.yaml"))
    app = pg.role("app", APP_PW)
    pg.sql(f"CREATE SCHEMA app AUTHORIZATION {app}")
    dsn = pg.dsn(app, APP_PW) + "?options=-csearch_path%3Dapp"
    facts = run(exports, repo, pg, proxy=False, dsn=dsn).facts
    for kind in ("service", "job"):
        db = facts.databases[kind]
        assert db.reached and db.via == "dsn" and db.current_user == app
        assert db.search_path == ["app"]
        assert db.target == f"127.0.0.1:{pg.server.port}/{pg.name}"


def test_dsn_without_a_password_takes_it_from_pgpassword(pg, tmp_path, repo, monkeypatch):
    """As libpq does: a password typed into --dsn would show in `ps` and the shell's history."""
    exports = copy_seed(tmp_path / "exports", only=("service.yaml", "job.yaml"))
    app = pg.role("app", APP_PW)
    dsn = pg.dsn(app, None)
    assert APP_PW not in dsn and "@" in dsn
    monkeypatch.setenv("PGPASSWORD", APP_PW)
    facts = run(exports, repo, pg, proxy=False, dsn=dsn).facts
    assert facts.databases["service"].reached and facts.databases["service"].current_user == app
    monkeypatch.setenv("PGPASSWORD", WRONG_PW)  # the user's own credentials: bad input, not a finding
    with pytest.raises(BadInput, match="check the user and password you gave \\(PGPASSWORD\\)") as refused:
        run(exports, repo, pg, proxy=False, dsn=dsn)
    assert WRONG_PW not in str(refused.value)


def test_a_cloudsql_target_without_proxy_is_a_skip_that_names_the_flag(pg, seed, repo):
    app = pg.role("app", APP_PW)
    write_db_secrets(seed, pg.name, app, APP_PW)
    report, code = diagnose_json(seed, cwd=repo)
    hint = f"--proxy {INSTANCE}=127.0.0.1:5432"
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "skipped" and hint in source["error"]
    for check in ("tables", "database-connect"):
        entry = next(c for c in report["checks"] if c["id"] == check)
        assert entry["status"] == "skip" and hint in entry["message"]
    assert check_status(report, "cloudsql-connector") == "pass"
    assert not {"database-auth-failed", "database-missing"} & {c["id"] for c in report["causes"]}
    assert code == 3  # incomplete: the database was not examined


def test_wrong_password_ranks_auth_failure_first_and_leaks_nothing(pg, seed, repo):
    app = pg.role("app", APP_PW)
    wrong = "Wm5-wrong-planted-PW-3d0e"
    write_db_secrets(seed, pg.name, app, wrong)
    snapshot = repo / "snap.json"
    result = run_cli("staging", "--from", str(seed), "--format", "json", *proxy_args(pg), "--save", str(snapshot),
                     cwd=repo)
    report = json.loads(result.stdout)
    first = report["causes"][0]
    assert first["id"] == "database-auth-failed", report["causes"]
    assert f"gcloud sql users set-password {app} --instance staging-shared-postgres --project netra-staging " \
           "--prompt-for-password" in first["fix"]
    assert any("gcloud secrets versions add postgres-password-staging" in line for line in first["fix"])
    assert any("password authentication failed" in e for e in first["evidence"])
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "error" and "service: auth" in source["error"] and "job: auth" in source["error"]
    assert check_status(report, "cloudsql-connector") == "pass"  # the other checks still ran
    assert check_status(report, "tables") == "skip"
    assert result.exit_code == 1
    verbose = run_cli("staging", "--from", str(seed), "-v", *proxy_args(pg), cwd=repo)
    for text in (result.output, verbose.output, snapshot.read_text()):
        assert wrong not in text and APP_PW not in text


def test_missing_database_ranks_database_missing_first(pg, seed, repo):
    app = pg.role("app", APP_PW)
    write_db_secrets(seed, "netra_staging_gone", app, APP_PW)
    report, code = diagnose_json(seed, *proxy_args(pg), cwd=repo)
    first = report["causes"][0]
    assert first["id"] == "database-missing", report["causes"]
    assert "gcloud sql databases create netra_staging_gone --instance staging-shared-postgres --project " \
           "netra-staging" in first["fix"]
    assert check_status(report, "cloudsql-connector") == "pass"
    assert code == 1


def test_a_refused_port_is_reported_by_the_source_and_the_other_checks_run(pg, seed, repo):
    app = pg.role("app", APP_PW)
    port = closed_port()
    write_db_secrets(seed, pg.name, app, APP_PW, host="127.0.0.1", port=port)
    report, code = diagnose_json(seed, cwd=repo)
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "error"
    assert "service: unreachable" in source["error"] and "Connection refused" in source["error"]
    tables = next(c for c in report["checks"] if c["id"] == "tables")
    assert tables["status"] == "skip" and "unreachable" in tables["message"]
    assert check_status(report, "cloudsql-connector") == "pass"
    assert not {"database-auth-failed", "database-missing"} & {c["id"] for c in report["causes"]}
    assert code == 3


def test_a_server_that_never_answers_times_out_within_the_deadline():
    with socket.socket() as listener:  # accepts TCP (backlog) but never speaks PostgreSQL
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        route = Route("127.0.0.1", listener.getsockname()[1], "db", "app", "pw", "direct", "x")
        start = time.monotonic()
        facts = probe(route, "service", 2)
    assert time.monotonic() - start < 6
    assert not facts.reached and facts.error_kind == "timeout", facts.error


def test_a_black_holed_database_ends_the_run_at_the_configured_deadline_and_the_rest_stands(seed, repo):
    """A proxy that accepts and never answers costs one deadline (timeout = 2 s in the config), not a hang."""
    (repo / "netra-doctor.toml").write_text("timeout = 2\n")
    (repo / "netra_backend").mkdir()
    (repo / "netra_backend" / "alembic.ini").write_text("[alembic]\n")  # the checkout the job's -c names
    write_db_secrets(seed, "netra_staging", "netra_app", APP_PW)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        start = time.monotonic()
        report, code = diagnose_json(seed, "--proxy", f"{INSTANCE}=127.0.0.1:{listener.getsockname()[1]}", cwd=repo)
        elapsed = time.monotonic() - start
    assert elapsed < 15, elapsed  # without a deadline this never returns
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "error" and "timeout" in source["error"]
    assert check_status(report, "tables").startswith("skip")
    for other in ("cloudsql-connector", "secret-parity", "job-command", "job-execution"):
        assert check_status(report, other) == "pass", other
    assert not {"database-auth-failed", "database-missing"} & {c["id"] for c in report["causes"]}
    assert code == 3  # incomplete: the seed's one cause is a warning, below --fail-on error


def test_a_locked_alembic_version_is_reported_and_the_rest_is_still_read(pg):
    """The job migrating right now holds an ACCESS EXCLUSIVE lock: the doctor neither hangs nor loses the catalog."""
    app = pg.role("app", APP_PW)
    pg.sql(f"CREATE TABLE alembic_version (version_num varchar(32)); CREATE TABLE users (id int); "
           f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {app}")
    with psycopg.connect(pg.dsn()) as migrating:
        migrating.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        start = time.monotonic()
        facts = probe(Route("127.0.0.1", pg.server.port, pg.name, app, APP_PW, "direct", "x"), "service", 1)
        assert time.monotonic() - start < 5
    assert facts.reached, facts.error
    assert "users" in {t.name for t in facts.tables}
    (version,) = facts.alembic_versions
    assert version.versions == [] and "locked by another session" in version.error


def test_the_source_connection_refuses_every_write(pg):
    """Even as the owner of the table, with autocommit or inside its own transactions."""
    owner = pg.role("own", APP_PW)
    pg.sql(f"CREATE TABLE t (x int); ALTER TABLE t OWNER TO {owner}")
    route = Route("127.0.0.1", pg.server.port, pg.name, owner, APP_PW, "direct", "x")
    with connect(route, 5) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
        for statement in ("INSERT INTO t VALUES (1)", "CREATE TABLE t2 (x int)", "DROP TABLE t"):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), conn.transaction():
            conn.execute("UPDATE t SET x = 2")
    with psycopg.connect(pg.dsn()) as su:
        assert su.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert su.execute("SELECT count(*) FROM pg_class WHERE relname = 't2'").fetchone() == (0,)


def test_quotes_spaces_and_mixed_case_in_names(pg):
    role = f"Svc Role'Mixed_{pg.name[-6:]}"
    pg.sql(f"""CREATE ROLE "{role}" LOGIN PASSWORD '{APP_PW}'""")
    pg.roles.append(role)
    pg.sql(f"""
        CREATE SCHEMA "Odd ""Sch"" ema" AUTHORIZATION "{role}";
        CREATE TABLE "Odd ""Sch"" ema"."Mixed Case Table" (id int);
        CREATE TABLE "Odd ""Sch"" ema".alembic_version (version_num varchar(32));
        INSERT INTO "Odd ""Sch"" ema".alembic_version VALUES ('a1b2c3');
        ALTER TABLE "Odd ""Sch"" ema"."Mixed Case Table" OWNER TO "{role}";
        ALTER TABLE "Odd ""Sch"" ema".alembic_version OWNER TO "{role}";
        ALTER ROLE "{role}" SET search_path = "Odd ""Sch"" ema", public;
    """)
    facts = probe(Route("127.0.0.1", pg.server.port, pg.name, role, APP_PW, "direct", "x"), "service", 5)
    assert facts.reached, facts.error
    assert facts.current_user == role
    assert facts.search_path == ['Odd "Sch" ema', "public"]
    assert facts.search_path_setting == '"Odd ""Sch"" ema", public'
    assert TableInfo('Odd "Sch" ema', "Mixed Case Table", role) in facts.tables
    assert facts.alembic_versions == [AlembicVersion('Odd "Sch" ema', ["a1b2c3"])]


def test_other_databases_are_read_as_the_same_role_and_failures_are_tolerated(pg):
    app = pg.role("app", APP_PW)
    other, closed = pg.database(), pg.database()
    pg.sql("CREATE SCHEMA billing; CREATE TABLE billing.subscriptions (id int)", dbname=other)
    pg.sql(f'REVOKE CONNECT ON DATABASE "{closed}" FROM PUBLIC', dbname="postgres")
    pg.sql("CREATE DATABASE cloudsqladmin", dbname="postgres")
    try:
        facts = probe(Route("127.0.0.1", pg.server.port, pg.name, app, APP_PW, "direct", "x"), "service", 5)
    finally:
        pg.sql("DROP DATABASE cloudsqladmin", dbname="postgres")
    assert facts.reached
    assert facts.other_databases[other] == ["billing.subscriptions"]
    assert "permission denied" in facts.other_database_errors[closed]
    assert pg.name not in facts.other_databases  # its own database is not "another"
    assert "cloudsqladmin" in facts.databases
    assert "cloudsqladmin" not in facts.other_databases and "cloudsqladmin" not in facts.other_database_errors


def test_an_unresolved_password_is_not_guessed(pg, seed, repo):
    """No password secret: the source does not connect with the user's own ~/.pgpass or env."""
    app = pg.role("app", APP_PW)
    write_db_secrets(seed, pg.name, app, APP_PW)
    text = (seed / "secrets.yaml").read_text().replace("postgres-password-staging", "unrelated-secret")
    (seed / "secrets.yaml").write_text(text)
    facts = run(seed, repo, pg).facts
    db = facts.databases["service"]
    assert not db.reached and db.error_kind == "unresolved"
    assert "POSTGRES_PASSWORD could not be resolved" in db.error
    assert facts.source("database").status == "skipped"


def test_without_targets_or_dsn_the_source_skips(tmp_path, repo, pg):
    exports = copy_seed(tmp_path / "exports", only=("service.yaml", "job.yaml"))
    facts = run(exports, repo, pg).facts
    assert facts.databases is None
    assert facts.source("database").status == "skipped"
    assert "(secrets source: no secrets.yaml in the --from folder" in facts.source("database").error  # says why


@pytest.mark.parametrize(("message", "kind"), [
    ('connection to server at "10.0.0.5", port 5432 failed: FATAL:  password authentication failed for user "a"',
     "auth"),
    ("connection to server at \"h\", port 5432 failed: fe_sendauth: no password supplied", "auth"),
    ('FATAL:  role "ghost" does not exist', "auth"),
    ('connection to server at "h", port 5432 failed: FATAL:  database "x y" does not exist', "missing-database"),
    ('connection to server on socket "/cloudsql/p:r:i/.s.PGSQL.5432" failed: No such file or directory',
     "unreachable"),
    ('connection to server at "127.0.0.1", port 1 failed: Connection refused', "unreachable"),
    ('could not translate host name "db.internal" to address: Name or service not known', "unreachable"),
    ("connection timeout expired", "timeout"),
    ("canceling statement due to statement timeout", "timeout"),
    ('FATAL:  permission denied for database "x"', "other"),
])
def test_error_kinds_from_libpq_messages(message, kind):
    assert error_kind(psycopg.OperationalError(message)) == kind


def test_error_text_is_scrubbed_of_the_password():
    """libpq may echo connection parameters; whatever it says, the stored text has no password."""
    from netra_doctor.core.facts import Facts, TargetInfo
    from netra_doctor.safety.redact import redact_facts
    from netra_doctor.safety.secrecy import remember

    remember(APP_PW)
    failed = database._failed("service", "x", "dsn", "other", f"bad option: password={APP_PW} dbname=x")
    # stored as said, redacted with the rest of the facts when gathering ends (names then known and kept)
    facts = redact_facts(Facts(TargetInfo("staging", "p", "r", "s", "j", "a.ini"), databases={"service": failed}))
    assert APP_PW not in facts.databases["service"].error
