"""The job's executions through the CLI: did the latest succeed, on which image, and what did it upgrade."""

from __future__ import annotations

from netra_doctor.checks.job_execution import job_execution, job_image, migration_log
from netra_doctor.core.facts import Container as C
from netra_doctor.core.facts import (
    Execution,
    Facts,
    LogEntry,
    MigrationFacts,
    RevisionFacts,
    ServingRevision,
    TargetInfo,
    Workload,
)

from tests import logs_json as L
from tests.helpers import DATA, cause_ids, check_status, diagnose_json, edit_yaml, job_container, ruled_out_ids

SEED_INI = str((DATA / "alembic" / "seed" / "alembic.ini").resolve())  # the bundled demo project
LINEAR_INI = str(DATA / "alembic" / "linear" / "alembic.ini")
IMAGE = "us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-backend:8c41d2e"
MISSING = "Failed to create tables: {'subscriptions', 'credit_transactions', 'agent_executions'}"


def startup_error(ts: str = "2025-06-14T08:02:38.403127Z") -> dict:
    return L.service(f"DeterministicStartupError: Failed to ensure database tables exist: {MISSING}", ts)


def cause(report: dict, cause_id: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cause_id)


# --- the seed incident: a no-op upgrade while the service names missing tables ------------------


def test_noop_upgrade_while_service_misses_tables_supports_migration_missing(seed, repo):
    L.write(seed, [*L.alembic_noop(), startup_error()])
    report, code = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", SEED_INI)
    assert code == 1
    top = report["causes"][0]
    assert top["id"] == "migration-missing-for-tables"
    assert top["confidence"] >= 0.9
    text = "\n".join(top["evidence"])
    assert "Context impl PostgresqlImpl." in text  # Alembic connected...
    assert "no `Running upgrade` line" in text  # ...and applied nothing
    assert MISSING in text  # quoted from the service's own log
    assert "none of the 3 revisions up to head add_deleted_at_001 creates" in text
    assert top["fix"][0] == (f"alembic -c {SEED_INI} revision --autogenerate "
                             "-m 'create agent_executions, credit_transactions, subscriptions'")


def test_noop_without_readable_scripts_is_weaker_evidence(seed, repo):
    L.write(seed, [*L.alembic_noop(), startup_error()])
    report, _ = diagnose_json(seed, "--only", "migration-log")  # netra_backend/alembic.ini is not in repo
    top = cause(report, "migration-missing-for-tables")
    assert top["confidence"] == 0.75
    assert any("migration scripts were not read" in e for e in top["evidence"])


def test_noop_when_a_revision_does_create_the_tables_blames_no_missing_migration(seed, repo):
    # linear: its revisions create subscriptions and credit_transactions
    L.write(seed, [*L.alembic_noop(),
                   L.service("Missing required database tables: {'subscriptions'}", "2025-06-14T08:00:00Z")])
    report, _ = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", LINEAR_INI)
    assert "migration-missing-for-tables" not in cause_ids(report)
    assert check_status(report, "migration-log") == "warn"
    assert "already records head" in next(c for c in report["checks"] if c["id"] == "migration-log")["message"]


def test_upgrade_lines_mean_the_job_did_migrate(seed, repo):
    L.write(seed, [*L.alembic_upgrades(("", "bb39e1c49e2d"), ("bb39e1c49e2d", "66e0e5d9662d")), startup_error()])
    report, _ = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", SEED_INI)
    assert cause_ids(report) == []
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["migration-log"]["status"] == "pass"
    assert "upgraded 2 revision(s), to 66e0e5d9662d" in checks["migration-log"]["message"]


def test_noop_while_the_service_is_fine_is_healthy(seed, repo):
    L.write(seed, L.alembic_noop())
    report, _ = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", SEED_INI)
    assert cause_ids(report) == []
    assert check_status(report, "migration-log") == "pass"


def test_older_executions_logs_are_not_the_latest_run(seed, repo):
    # the failed run of the day before upgraded something; the latest (succeeded) one logged nothing at all
    L.write(seed, [*L.alembic_upgrades(("", "bb39e1c49e2d"), execution=L.OLDER), startup_error()])
    report, _ = diagnose_json(seed, "--only", "migration-log", "--alembic-ini", SEED_INI)
    assert check_status(report, "migration-log") == "skip"
    assert cause_ids(report) == []


# --- the latest execution -------------------------------------------------------------------------


def test_latest_execution_succeeded_rules_out_never_succeeded(seed, repo):
    report, code = diagnose_json(seed, "--only", "job-execution")
    assert code == 0
    assert "job-never-succeeded" in ruled_out_ids(report)


def test_failed_latest_execution_quotes_the_line_that_explains_it(seed, repo):
    L.edit_executions(seed, lambda docs: L.fail_execution(docs[0]))
    L.write(seed, [
        L.job("Traceback (most recent call last):", "2025-06-14T07:48:40.000001Z"),
        L.job('  File "<frozen runpy>", line 198, in _run_module_as_main', "2025-06-14T07:48:40.000002Z"),
        L.job("ModuleNotFoundError: No module named 'netra_backend'", "2025-06-14T07:48:40.000003Z"),
        L.job("Container called exit(1).", "2025-06-14T07:48:41Z"),
    ])
    report, code = diagnose_json(seed, "--only", "job-execution")
    assert code == 1
    top = report["causes"][0]
    assert top["id"] == "job-never-succeeded"
    assert any("its log:" in e and "ModuleNotFoundError: No module named 'netra_backend'" in e
               for e in top["evidence"])
    assert any("none of the 2 listed executions succeeded" in e for e in top["evidence"])
    assert top["fix"] == [
        "gcloud run jobs executions list --job netra-migrations-staging --region us-central1 --project netra-staging"
        "   # every run, newest first",
        "gcloud run jobs execute netra-migrations-staging --region us-central1 --project netra-staging --wait"]


def test_never_executed(seed, repo):
    L.edit_executions(seed, lambda docs: [])
    report, code = diagnose_json(seed, "--only", "job-execution")
    assert code == 1
    assert cause_ids(report) == ["job-never-succeeded"]
    assert "never been executed" in report["causes"][0]["evidence"][0]


def test_failed_latest_after_an_earlier_success_says_when_it_last_worked(seed, repo):
    def reorder(docs):
        older = docs[1]
        older["status"].update({"succeededCount": 1, "failedCount": 0})
        next(c for c in older["status"]["conditions"] if c["type"] == "Completed").update(status="True")
        L.fail_execution(docs[0])

    L.edit_executions(seed, reorder)
    report, _ = diagnose_json(seed, "--only", "job-execution")
    top = cause(report, "job-never-succeeded")
    assert any("the last successful run was netra-migrations-staging-9wq4d" in e for e in top["evidence"])
    assert not any("its log" in e for e in top["evidence"])  # no logs.json: the log is unknown, nothing claimed


# --- images ---------------------------------------------------------------------------------------


def test_job_on_latest_tag_differs_from_the_service(seed, repo):
    latest = "us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-backend:latest"
    edit_yaml(seed / "job.yaml", lambda d: job_container(d).update(image=latest))
    report, code = diagnose_json(seed, "--only", "job-image")
    assert code == 0  # a warning: below the default --fail-on error
    top = report["causes"][0]
    assert top["id"] == "job-image-differs" and top["severity"] == "warn"
    assert any("mutable tag" in e for e in top["evidence"])
    assert top["fix"][0] == ("gcloud run jobs update netra-migrations-staging --region us-central1 "
                             f"--project netra-staging --image {IMAGE}")
    _, strict = diagnose_json(seed, "--only", "job-image", "--fail-on", "warn")
    assert strict == 1


def test_same_image_rules_out_image_drift(seed, repo):
    report, _ = diagnose_json(seed, "--only", "job-image")
    assert "job-image-differs" in ruled_out_ids(report)


def test_job_updated_but_last_run_on_an_older_image(seed, repo):
    def older(docs):
        docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGE.replace("8c41d2e", "41aa07b")

    L.edit_executions(seed, older)
    report, _ = diagnose_json(seed, "--only", "job-image")
    top = cause(report, "job-image-differs")
    assert any("ran " + IMAGE.replace("8c41d2e", "41aa07b") in e for e in top["evidence"])


# --- pure checks on hand-built facts ----------------------------------------------------------------


def facts(**kw) -> Facts:
    base = Facts(
        target=TargetInfo("staging", "netra-staging", "us-central1", "svc", "job", "netra_backend/alembic.ini"),
        job=Workload("job", "job", containers=[C(image=IMAGE)]),
        serving_revision=ServingRevision("svc-001", image=IMAGE, ready="True"),
        executions=[Execution("job-1", "succeeded", "2025-06-14T07:00:00Z", "2025-06-14T07:01:00Z", IMAGE)],
        logs=[],
    )
    for k, v in kw.items():
        setattr(base, k, v)
    return base


def test_running_execution_is_neither_success_nor_failure():
    found = job_execution(facts(executions=[Execution("job-2", "running", "2025-06-14T08:00:00Z")]))
    assert [(f.status, f.cause) for f in found] == [("warn", None)]


def test_images_in_other_repositories():
    found = job_image(facts(job=Workload("job", "job", containers=[C(image="gcr.io/other/migrator:1")])))
    assert found[0].cause == "job-image-differs" and "another repository" in found[0].message


def test_digest_pinned_job_is_another_build():
    found = job_image(facts(job=Workload("job", "job", containers=[C(image=IMAGE.split(":")[0] + "@sha256:ab12")])))
    assert found[0].status == "warn" and "another build" in found[0].message


def test_migration_log_without_alembic_in_the_log():
    logs = [LogEntry("2025-06-14T07:00:30Z", "Starting migration container", resource="job", origin="job-1")]
    found = migration_log(facts(logs=logs))
    assert found[0].status == "skip" and not found[0].blocked


def test_migration_log_confidence_when_no_revision_creates_the_table():
    logs = [LogEntry("2025-06-14T07:00:30Z", "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                     resource="job", origin="job-1"),
            LogEntry("2025-06-14T07:30:00Z", "Missing required database tables: {'credit_transactions'}",
                     resource="service")]
    migrations = MigrationFacts("a.ini", heads=["r1"], revisions=[RevisionFacts("r1", creates=["users"])])
    found = migration_log(facts(logs=logs, migrations=migrations))
    assert (found[0].status, found[0].cause, found[0].confidence) == ("fail", "migration-missing-for-tables", 0.92)
