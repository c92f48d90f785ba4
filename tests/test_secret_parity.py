"""Secret parity: same env names -> same secret, same version, same value; targets side by side.

Each case edits the seed's exports (v1 YAML and v2 JSON alike) and runs the CLI with
`--only secret-parity`. No output may ever hold a secret value or a password.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from netra_doctor.checks.secret_parity import secret_parity
from netra_doctor.core.causes import CAUSES
from netra_doctor.core.facts import Container, DbTarget, EnvVar, Facts, SecretRef, SecretValue, TargetInfo, Workload
from netra_doctor.sources.offline import load_folder

from tests.exports import FORMATS, Exports, checkout
from tests.helpers import PLANTED_PASSWORDS, cause_ids, check_status, ruled_out_ids, run_cli

DB_ENV = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")
INSTANCE = "netra-staging:us-central1:staging-shared-postgres"
JOB_UPDATE = "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
URL_PASSWORD = "Zq4-url-PW-d81e"


@pytest.fixture(params=FORMATS)
def exports(request, tmp_path: Path) -> Exports:
    return Exports(tmp_path / "exports", request.param)


def run(exports: Exports, cwd: Path, *extra: str) -> tuple[dict, int]:
    import json

    result = run_cli("staging", "--from", str(exports.folder), "--format", "json", "--only", "secret-parity",
                     *extra, cwd=cwd)
    for secret in (*PLANTED_PASSWORDS, URL_PASSWORD):
        assert secret not in result.output  # the one rule that is never relaxed
    return json.loads(result.stdout), result.exit_code


def cause(report: dict, cause_id: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cause_id)


def evidence_of(report: dict, cause_id: str) -> list[str]:
    for group in (report["causes"], report["ruled_out"]):
        for c in group:
            if c["id"] == cause_id:
                return c["evidence"]
    raise AssertionError(f"{cause_id} neither found nor ruled out: {report}")


# --- healthy -----------------------------------------------------------------------


def test_seed_job_and_service_read_the_same_secrets_and_database(exports: Exports, repo: Path):
    """The seed team's guesses 'other database' / 'migration applied to the wrong database' are ruled out."""
    report, code = run(exports, repo)
    assert code == 0 and report["status"] == "healthy" and not cause_ids(report)
    assert {"job-service-different-database", "secret-version-drift", "secret-unresolvable"} <= set(
        ruled_out_ids(report))
    lines = evidence_of(report, "job-service-different-database")
    assert lines[0].startswith("the job and the service reach the same database: "
                               f"{INSTANCE}/netra_staging as netra_app")
    assert f"instance/host: {INSTANCE} | same" in [line.strip() for line in lines]
    assert any(line.strip().startswith("password fingerprint: fp:") for line in lines)
    assert any("POSTGRES_PASSWORD: service secret postgres-password-staging@latest (= version 2) | job the same"
               in line for line in lines)


# --- job-service-different-database ------------------------------------------------


def test_job_on_another_database_ranks_first_with_targets_side_by_side(exports: Exports, repo: Path):
    exports.add_secret_value("postgres-db-migrations", "1", "netra_migrations")
    exports.set_secret("job", "POSTGRES_DB", "postgres-db-migrations")
    report, code = run(exports, repo)
    assert code == 1
    top = report["causes"][0]
    assert top["id"] == "job-service-different-database" and top["rank"] == 1
    lines = [line.strip() for line in top["evidence"]]
    assert "database: netra_staging | netra_migrations  <- differs" in lines
    assert f"instance/host: {INSTANCE} | same" in lines
    assert any(line.startswith("POSTGRES_DB: service secret postgres-db-staging@latest") and
               "job secret postgres-db-migrations@latest" in line and "values differ" in line for line in lines)
    assert top["fix"][0] == (
        JOB_UPDATE + "--update-secrets="
        "POSTGRES_HOST=postgres-host-staging:latest,POSTGRES_PORT=postgres-port-staging:latest,"
          "POSTGRES_DB=postgres-db-staging:latest,POSTGRES_USER=postgres-user-staging:latest,"
        "POSTGRES_PASSWORD=postgres-password-staging:latest")


def test_no_fix_replaces_a_whole_list_of_the_workload():
    """gcloud's --set-secrets / --set-env-vars / --clear-* / --env-vars-file replace every secret or
    variable of the workload: a printed fix must only add or change what it names."""
    replacing = re.compile(r"--(set-secrets|set-env-vars|clear-[a-z-]+|env-vars-file)\b")
    assert [line for c in CAUSES.values() for line in c.fix if replacing.search(line)] == []


def test_a_different_secret_with_the_same_value_is_the_same_database(exports: Exports, repo: Path):
    exports.add_secret_value("postgres-db-copy", "1", "netra_staging")
    exports.set_secret("job", "POSTGRES_DB", "postgres-db-copy")
    report, code = run(exports, repo)
    assert code == 0 and "job-service-different-database" in ruled_out_ids(report)
    assert any("job secret postgres-db-copy@latest" in e and "(same value)" in e
               for e in evidence_of(report, "job-service-different-database"))


def test_job_missing_a_database_var(exports: Exports, repo: Path):
    exports.drop_env("job", "POSTGRES_DB")
    report, code = run(exports, repo)
    assert code == 1 and report["causes"][0]["id"] == "job-service-different-database"
    lines = [line.strip() for line in report["causes"][0]["evidence"]]
    assert "database: netra_staging | -  <- differs" in lines
    assert any(line.startswith("POSTGRES_DB:") and "job not set  <- differs" in line for line in lines)


def test_job_with_its_own_database_url(exports: Exports, repo: Path):
    """A literal DATABASE_URL on the job: parsed into its target; the password in it never shown."""
    for name in DB_ENV:
        exports.drop_env("job", name)
    exports.set_value("job", "DATABASE_URL", f"postgresql://migrator:{URL_PASSWORD}@10.20.0.7:5432/netra_staging")
    report, code = run(exports, repo)
    assert code == 1 and report["causes"][0]["id"] == "job-service-different-database"
    lines = [line.strip() for line in report["causes"][0]["evidence"]]
    assert f"instance/host: {INSTANCE} | 10.20.0.7  <- differs" in lines
    assert "user: netra_app | migrator  <- differs" in lines
    assert "DATABASE_URL: service not set | job a literal value  <- differs" in lines


def test_db_env_names_come_from_config(exports: Exports, tmp_path: Path):
    """With `db_env.database = "APP_DB"`, APP_DB is what is compared and resolved."""
    for kind, secret in (("service", "postgres-db-staging"), ("job", "postgres-db-other")):
        exports.drop_env(kind, "POSTGRES_DB")
        exports.set_secret(kind, "APP_DB", secret)
    exports.add_secret_value("postgres-db-other", "1", "netra_other")
    root = checkout(tmp_path / "app")
    (root / "netra-doctor.toml").write_text('[db_env]\ndatabase = "APP_DB"\n')
    report, code = run(exports, root)
    assert code == 1 and report["causes"][0]["id"] == "job-service-different-database"
    assert "database: netra_staging | netra_other  <- differs" in [line.strip() for line in
                                                                     report["causes"][0]["evidence"]]


# --- secret-version-drift ----------------------------------------------------------


def test_pinned_old_version_is_drift_and_a_password_mismatch(exports: Exports, repo: Path):
    exports.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "1")
    report, code = run(exports, repo)
    assert code == 0  # drift is a warning: below the default --fail-on error
    assert cause_ids(report) == ["secret-version-drift"]
    drift = cause(report, "secret-version-drift")
    assert drift["severity"] == "warn"
    assert drift["evidence"][0].startswith("POSTGRES_PASSWORD: the service reads postgres-password-staging@latest, "
                                           "the job @1 (versions 2 and 1)")
    assert drift["fix"] == [JOB_UPDATE + "--update-secrets=POSTGRES_PASSWORD=postgres-password-staging:latest"]
    # same host, database and user: not another database, but one of them logs in with the wrong password
    assert "job-service-different-database" in ruled_out_ids(report)
    _, code = run(exports, repo, "--fail-on", "warn")
    assert code == 1


def test_pinned_version_equal_to_latest_is_not_drift(exports: Exports, repo: Path):
    exports.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "2")
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report)
    assert any("both version 2 today" in e for e in evidence_of(report, "secret-version-drift"))


def test_drift_on_another_shared_secret(exports: Exports, repo: Path):
    exports.add_secret_value("jwt-signing-key", "3", "k3")
    exports.add_secret_value("jwt-signing-key", "4", "k4")
    exports.set_secret("service", "JWT_SECRET", "jwt-signing-key", "4")
    exports.set_secret("job", "JWT_SECRET", "jwt-signing-key", "3")
    report, _ = run(exports, repo)
    assert cause_ids(report) == ["secret-version-drift"]
    assert cause(report, "secret-version-drift")["evidence"][0].startswith("JWT_SECRET: the service reads "
                                                                           "jwt-signing-key@4, the job @3")


# --- secret-unresolvable -----------------------------------------------------------


def test_unresolvable_version(exports: Exports, repo: Path):
    exports.set_secret("job", "POSTGRES_DB", "postgres-db-staging", "7")
    report, code = run(exports, repo)
    assert code == 1
    assert cause_ids(report) == ["secret-unresolvable"]  # not also reported as drift
    top = report["causes"][0]
    assert "secret postgres-db-staging@7 cannot be resolved: secret postgres-db-staging has no version 7" in (
        top["evidence"][0])
    assert top["fix"][0] == "gcloud secrets versions list postgres-db-staging --project netra-staging"
    # which database the job reaches is unknown, so that is neither found nor ruled out
    assert "job-service-different-database" not in ruled_out_ids(report)


def test_unknown_secret(exports: Exports, repo: Path):
    exports.set_secret("service", "POSTGRES_USER", "postgres-user-typo")
    report, _ = run(exports, repo)
    assert report["causes"][0]["id"] == "secret-unresolvable"
    assert "secret postgres-user-typo not found" in report["causes"][0]["evidence"][0]


# --- values unknown ----------------------------------------------------------------


def test_without_secrets_yaml_refs_are_compared_and_the_run_is_incomplete(exports: Exports, repo: Path):
    exports.drop_secrets_file()
    report, code = run(exports, repo)
    assert code == 3 and report["status"] == "incomplete"  # never "healthy" on unknown values
    assert check_status(report, "secret-parity") == "skip"
    assert "secret values unknown" in report["checks"][0]["message"]
    assert "job-service-different-database" not in ruled_out_ids(report)


def test_without_secrets_yaml_a_ref_difference_is_still_a_suspect(exports: Exports, repo: Path):
    exports.drop_secrets_file()
    exports.set_secret("job", "POSTGRES_DB", "postgres-db-other")
    report, code = run(exports, repo)
    assert code == 3  # a warning, and a run that could not check the values
    suspect = cause(report, "job-service-different-database")
    assert suspect["severity"] == "warn" and suspect["confidence"] == 0.5
    assert suspect["evidence"][0] == "the job binds POSTGRES_DB differently from the service (values unknown) " \
                                     "[secret-parity]"
    assert any("POSTGRES_DB: service secret postgres-db-staging@latest | job secret postgres-db-other@latest" in e
               for e in suspect["evidence"])


# --- v1 and v2 agree; the check on plain facts -------------------------------------------------


def test_v1_and_v2_secret_refs_normalise_to_the_same_env(tmp_path: Path):
    envs = []
    for fmt in FORMATS:
        e = Exports(tmp_path / fmt, fmt)
        e.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "1")
        e.set_value("job", "POSTGRES_HOST", "10.0.0.3")
        folder = load_folder(e.folder)
        envs.append((folder.service.main.env, folder.job.main.env))
    assert envs[0] == envs[1]
    job_env = {v.name: v for v in envs[0][1]}
    assert job_env["POSTGRES_PASSWORD"].secret == SecretRef("postgres-password-staging", "1")
    assert job_env["POSTGRES_HOST"] == EnvVar("POSTGRES_HOST", value="10.0.0.3")


def _facts(job_user: str) -> Facts:
    ref = SecretRef("pw")
    env = [EnvVar("POSTGRES_HOST", value="/cloudsql/p:r:i"), EnvVar("POSTGRES_PASSWORD", secret=ref)]
    svc = Workload("service", "s", containers=[Container(env=env)])
    job = Workload("job", "j", containers=[Container(env=env)])
    targets = {k: DbTarget(k, instance="p:r:i", host="/cloudsql/p:r:i", database="db",
                           user=("app" if k == "service" else job_user), password_fingerprint="fp:1")
               for k in ("service", "job")}
    return Facts(TargetInfo("staging", "p", "r", "s", "j", "alembic.ini",
                            secret_envs={"host": "POSTGRES_HOST", "password": "POSTGRES_PASSWORD"}),
                 service=svc, job=job, secrets={ref.key: SecretValue(ref, "fp:1", "1")}, targets=targets)


def test_the_check_is_pure_and_another_role_on_the_same_database_is_one_database():
    same = {f.cause: f.status for f in secret_parity(_facts("app"))}
    assert same["job-service-different-database"] == "pass"
    other = [f for f in secret_parity(_facts("migrator")) if f.cause == "job-service-different-database"]
    assert [f.status for f in other] == ["pass"]  # a least-privilege migration role: a fact, not a cause
    assert other[0].message == "the job and the service reach the same database p:r:i/db: the job migrates as " \
                               "migrator, the service runs as app"
    assert "user: app | migrator  <- differs" in [e.strip() for e in other[0].evidence]
    assert not [f for f in secret_parity(_facts("migrator")) if f.obj == "password"]  # two roles, two passwords
