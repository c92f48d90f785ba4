"""The database-connect check: each workload's own role logs in to the database it names."""

from __future__ import annotations

import json

from netra_doctor.checks.connect import database_connect
from netra_doctor.core.facts import DatabaseFacts, DbTarget, Facts, TargetInfo
from netra_doctor.engine import replay

from tests.helpers import INSTANCE, diagnose_json, point_job_at, run_cli, run_subprocess, write_db_secrets

APP_PW = "Lp6-connect-planted-PW-2b7e"
WRONG_PW = "Nf1-connect-wrong-PW-c3a9"


def facts_with(**databases: DatabaseFacts) -> Facts:
    info = TargetInfo("staging", "netra-staging", "us-central1", "netra-backend-staging", "netra-migrations-staging",
                      "netra_backend/alembic.ini")
    targets = {
        kind: DbTarget(kind, instance=INSTANCE, host=f"/cloudsql/{INSTANCE}", port=5432, database="netra_staging",
                       user="netra_app", origin={"password": "secret postgres-password-staging@latest",
                                                 "database": "secret postgres-db-staging@latest"})
        for kind in databases
    }
    return Facts(info, targets=targets, databases=dict(databases))


def failed(kind: str, error_kind: str, error: str, via: str = "proxy 127.0.0.1:5432") -> DatabaseFacts:
    return DatabaseFacts(kind, target=f"{INSTANCE}/netra_staging", via=via, reached=False, error_kind=error_kind,
                         error=error)


def test_auth_failure_names_the_user_the_password_secret_and_the_instance():
    db = failed("job", "auth", 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password '
                               'authentication failed for user "netra_migrator"')
    (finding,) = database_connect(facts_with(job=db))
    assert (finding.status, finding.cause, finding.obj) == ("fail", "database-auth-failed", "job")
    assert finding.fix_vars == {"user": "netra_migrator", "secret": "postgres-password-staging",
                                "instance_name": "staging-shared-postgres"}
    assert "job's password comes from secret postgres-password-staging@latest" in finding.evidence


def test_missing_database_names_the_database_and_the_instance():
    db = failed("service", "missing-database", 'FATAL:  database "netra_stagign" does not exist')
    (finding,) = database_connect(facts_with(service=db))
    assert finding.cause == "database-missing"
    assert finding.fix_vars == {"database": "netra_stagign", "instance_name": "staging-shared-postgres"}


def test_unreachable_and_unrouted_databases_skip_and_leave_the_run_incomplete():
    hint = f"no route to /cloudsql/{INSTANCE}: pass --proxy {INSTANCE}=127.0.0.1:5432"
    no_route = failed("service", "no-route", hint, via="")
    refused = failed("job", "unreachable", "connection refused")
    findings = database_connect(facts_with(service=no_route, job=refused))
    assert [(f.status, f.blocked, f.cause) for f in findings] == [("skip", True, None), ("skip", True, None)]
    assert "--proxy" in findings[0].message and "unreachable" in findings[1].message
    diagnosis = replay(facts_with(service=no_route, job=refused), only=["database-connect"])
    assert diagnosis.causes == [] and diagnosis.status == "incomplete"


def test_a_successful_login_rules_out_both_causes_for_that_workload_only():
    ok_db = DatabaseFacts("service", target=f"{INSTANCE}/netra_staging", via="dsn", reached=True,
                          current_user="netra_app", current_database="netra_staging")
    bad = failed("job", "auth", 'password authentication failed for user "netra_app"')
    facts = facts_with(service=ok_db, job=bad)
    findings = database_connect(facts)
    assert {(f.status, f.cause, f.obj) for f in findings} == {
        ("pass", "database-auth-failed", "service"), ("pass", "database-missing", "service"),
        ("fail", "database-auth-failed", "job"),
    }
    d = replay(facts, only=["database-connect"])
    assert [c.id for c in d.causes] == ["database-auth-failed"]
    assert [r.id for r in d.ruled_out] == ["database-missing"]


def test_only_the_job_cannot_log_in_and_the_service_checks_still_run(pg, seed, repo):
    """Real server: the job's password secret is stale, the service's is right."""
    app = pg.role("app", APP_PW)
    pg.sql(f"CREATE TABLE subscriptions (id int); GRANT SELECT ON subscriptions TO {app}")
    (repo / "netra-doctor.toml").write_text('expected_tables = ["subscriptions"]\n')
    write_db_secrets(seed, pg.name, app, APP_PW)
    write_db_secrets(seed, pg.name, app, WRONG_PW, prefix="jobpg")
    point_job_at(seed, "jobpg")
    report, code = diagnose_json(seed, "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}", cwd=repo)
    first = report["causes"][0]
    assert first["id"] == "database-auth-failed", report["causes"]
    assert any("the job's role" in e and app in e for e in first["evidence"])
    assert any("gcloud secrets versions add jobpg-password-staging" in line for line in first["fix"])
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "error" and source["error"].startswith("job: auth:")
    assert next(c for c in report["checks"] if c["id"] == "tables")["status"] == "pass"
    assert code == 1
    text = json.dumps(report)
    assert APP_PW not in text and WRONG_PW not in text


def test_a_secret_missing_from_the_export_is_quoted_where_the_database_is_skipped(seed, repo):
    """secrets.yaml lacks the password: the database skip names the secret and why, not a bare 'unresolved'."""
    text = (seed / "secrets.yaml").read_text().replace("postgres-password-staging", "unrelated-secret")
    (seed / "secrets.yaml").write_text(text)
    report, _ = diagnose_json(seed, "--only", "database-connect", "--proxy", f"{INSTANCE}=127.0.0.1:9")
    check = next(c for c in report["checks"] if c["id"] == "database-connect")
    assert check["status"] == "skip"
    assert check["message"] == ("service: service target not resolved: POSTGRES_PASSWORD could not be resolved: "
                                "secret postgres-password-staging not found")


# --- the user's own --dsn, and --proxy ---------------------------------------------------------------


def test_a_wrong_password_in_the_users_own_dsn_is_bad_input_never_a_password_reset(pg, seed, repo):
    """`--dsn postgresql://app:WRONG@...`: a typo, not the environment's fault; no `set-password` fix."""
    app = pg.role("app", APP_PW)
    proc = run_cli("staging", "--from", str(seed), "--dsn", pg.dsn(app, WRONG_PW), cwd=repo)
    assert proc.exit_code == 2, proc.stdout[-2000:]
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"netra-doctor: --dsn: the login failed (user {app}, host 127.0.0.1:{pg.server.port}, "
                           f"database {pg.name}): check the user and password you gave (--dsn)")
    assert WRONG_PW not in proc.stderr and "set-password" not in proc.stderr


def test_a_wrong_pgpassword_and_a_mistyped_database_are_bad_input_too(pg, seed, repo, monkeypatch):
    app = pg.role("app", APP_PW)
    monkeypatch.setenv("PGPASSWORD", WRONG_PW)
    typed = run_cli("staging", "--from", str(seed), "--dsn", pg.dsn(app), cwd=repo)
    assert typed.exit_code == 2 and "check the user and password you gave (PGPASSWORD)" in typed.stderr
    assert WRONG_PW not in typed.stderr
    monkeypatch.delenv("PGPASSWORD")
    missing = run_cli("staging", "--from", str(seed), "--dsn", pg.dsn(app, APP_PW, dbname="netra_stagign"), cwd=repo)
    assert missing.exit_code == 2, missing.stdout[-2000:]
    assert missing.stderr.startswith(f"netra-doctor: --dsn: no such database (user {app}, host 127.0.0.1:"
                                     f"{pg.server.port}, database netra_stagign)")
    assert "databases create" not in missing.stderr and missing.stderr.count("\n") == 1


def test_a_dsn_run_prints_nothing_from_libpq_on_stderr(pg, seed, repo):
    """libpq warned `password file "/dev/null" is not a plain file` on every --dsn run."""
    # the test server's own superuser logs in without a password: so libpq looks for a password file
    proc = run_subprocess("staging", "--from", str(seed), "--dsn", pg.dsn(), "--format", "json", cwd=repo,
                          env={"PGPASSWORD": ""})
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert proc.stderr == ""
    assert next(s for s in json.loads(proc.stdout)["sources"] if s["name"] == "database")["status"] == "ok"


def test_a_proxy_address_where_nothing_listens_asks_whether_the_proxy_runs(seed, repo):
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report, code = diagnose_json(seed, "--proxy", f"{INSTANCE}=127.0.0.1:{port}", cwd=repo)
    source = next(s for s in report["sources"] if s["name"] == "database")
    assert source["status"] == "error"
    assert f"is the Cloud SQL Auth Proxy running on 127.0.0.1:{port}?" in source["error"]
    assert not {c["id"] for c in report["causes"]} & {"database-auth-failed", "database-missing"}
    assert code == 3
