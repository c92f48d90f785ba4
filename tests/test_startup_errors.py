"""Startup and connection errors in the logs, mapped to the catalog's causes, through the CLI."""

from __future__ import annotations

from pathlib import Path

from tests import logs_json as L
from tests.exports import Exports, checkout
from tests.helpers import cause_ids, check_status, diagnose_json, edit_yaml, ruled_out_ids

INSTANCE = "netra-staging:us-central1:staging-shared-postgres"
SOCKET = f'connection to server on socket "/cloudsql/{INSTANCE}/.s.PGSQL.5432" failed'


def only(seed, entries) -> tuple[dict, int]:
    L.write(seed, entries)
    return diagnose_json(seed, "--only", "startup-errors")


def top(report: dict) -> dict:
    return report["causes"][0]


def test_service_password_rejected(seed, repo):
    report, code = only(seed, [L.service(
        f'sqlalchemy.exc.OperationalError: (psycopg.OperationalError) {SOCKET}: FATAL:  password authentication '
        'failed for user "netra_app"', "2025-06-14T08:00:00Z")])
    assert code == 1
    assert cause_ids(report) == ["database-auth-failed"]  # the socket worked: not a connector problem
    assert top(report)["fix"] == [
        "gcloud sql users set-password netra_app --instance staging-shared-postgres --project netra-staging "
        "--prompt-for-password",
        "gcloud secrets versions add postgres-password-staging --project netra-staging --data-file=-",
    ]


def test_service_database_missing(seed, repo):
    report, _ = only(seed, [L.service('FATAL:  database "netra_stagin" does not exist', "2025-06-14T08:00:00Z")])
    assert cause_ids(report) == ["database-missing"]
    assert top(report)["fix"][0] == ("gcloud sql databases create netra_stagin --instance staging-shared-postgres "
                                     "--project netra-staging")


def test_job_without_the_connector(seed, repo):
    report, _ = only(seed, [L.job(f"psycopg2.OperationalError: {SOCKET}: No such file or directory",
                                  "2025-06-14T07:48:40Z")])
    assert cause_ids(report) == ["cloudsql-connector-missing"]
    assert top(report)["fix"] == [
        "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
        f"--set-cloudsql-instances={INSTANCE}"]
    assert any("job log:" in e and "No such file or directory" in e for e in top(report)["evidence"])


def test_socket_refused_is_not_a_missing_connector(seed, repo):
    report, _ = only(seed, [L.service(f"{SOCKET}: Connection refused", "2025-06-14T08:00:00Z")])
    assert cause_ids(report) == []


def test_permission_denied_means_tables_invisible_to_the_service_role(seed, repo):
    report, _ = only(seed, [L.service("psycopg.errors.InsufficientPrivilege: permission denied for table "
                                      "subscriptions", "2025-06-14T08:00:00Z")])
    assert cause_ids(report) == ["tables-invisible-to-role"]
    assert top(report)["fix"][0] == "GRANT SELECT, INSERT, UPDATE, DELETE ON subscriptions TO netra_app;"


def test_python_c_given_shell_text_is_an_invalid_command(seed, repo):
    report, code = only(seed, [
        L.job('  File "<string>", line 1', "2025-06-14T07:48:40.000001Z"),
        L.job("    cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head",
              "2025-06-14T07:48:40.000002Z"),
        L.job("             ^", "2025-06-14T07:48:40.000003Z"),
        L.job("SyntaxError: invalid syntax", "2025-06-14T07:48:40.000004Z"),
    ])
    assert code == 1
    assert cause_ids(report) == ["job-command-invalid"]
    evidence = top(report)["evidence"]
    assert any("cd /app && python -m alembic" in e for e in evidence)  # the offending code, as Python printed it
    assert any("SyntaxError: invalid syntax" in e for e in evidence)
    assert top(report)["fix"] == [
        "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging --command=sh "
        "--args='-c,cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head'"]


SEED_SCRIPT = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
SYNTAX_ERROR = [  # what `python -c 'cd /app && ...'` prints, as the job's log holds it
    L.job('  File "<string>", line 1', "2025-06-14T07:48:40.000001Z"),
    L.job(f"    {SEED_SCRIPT}", "2025-06-14T07:48:40.000002Z"),
    L.job("       ^", "2025-06-14T07:48:40.000003Z"),
    L.job("SyntaxError: invalid syntax", "2025-06-14T07:48:40.000004Z"),
]


def test_the_log_and_the_command_check_give_one_fix(tmp_path: Path):
    """`--command python --args "-c,cd /app && ..."`: the command check and the job's SyntaxError both
    support job-command-invalid; the report prints the command check's fix, once."""
    exports = Exports(tmp_path / "exports")
    exports.set_command(["python"], ["-c", SEED_SCRIPT])
    L.write(exports.folder, SYNTAX_ERROR)
    app = checkout(tmp_path / "app", "netra_backend/alembic.ini", "netra_backend/migrations/env.py")
    report, code = diagnose_json(exports.folder, cwd=app)
    alone, _ = diagnose_json(exports.folder, "--only", "job-command", cwd=app)
    assert code == 1
    cause = next(c for c in report["causes"] if c["id"] == "job-command-invalid")
    assert any("[startup-errors]" in e for e in cause["evidence"])  # both checks support it
    assert any("[job-command]" in e for e in cause["evidence"])
    assert cause["fix"] == top(alone)["fix"] and len(cause["fix"]) == 1
    assert cause["fix"][0].endswith(f"--command=sh --args='-c,{SEED_SCRIPT}'")


def test_a_syntax_error_of_an_older_execution_is_history(seed, repo):
    report, _ = only(seed, [L.job("SyntaxError: invalid syntax", "2025-06-13T18:21:02Z", execution=L.OLDER),
                            *L.alembic_noop()])
    assert cause_ids(report) == []
    assert check_status(report, "startup-errors") == "pass"


def test_missing_module_without_executions_means_the_job_never_succeeded(seed, repo):
    (seed / "executions.yaml").unlink()
    edit_yaml(seed / "job.yaml", lambda d: d["status"].pop("latestCreatedExecution"))  # how the last run ended: unknown
    report, _ = only(seed, [L.job("ModuleNotFoundError: No module named 'netra_backend'", "2025-06-14T07:48:40Z")])
    assert cause_ids(report) == ["job-never-succeeded"]
    assert any("No module named 'netra_backend'" in e for e in top(report)["evidence"])


def test_missing_module_with_executions_is_left_to_the_job_execution_check(seed, repo):
    report, _ = only(seed, [L.job("ModuleNotFoundError: No module named 'netra_backend'", "2025-06-14T07:48:40Z")])
    assert cause_ids(report) == []  # job-execution quotes it when the run failed; the seed's latest succeeded


def test_missing_tables_are_evidence_not_a_verdict(seed, repo):
    report, code = only(seed, [L.service("Failed to create tables: {'subscriptions', 'agent_executions'}",
                                         "2025-06-14T08:00:00Z")])
    assert cause_ids(report) == [] and code == 0  # the tables check and the upgrade log decide why
    check = next(c for c in report["checks"] if c["id"] == "startup-errors")
    assert check["status"] == "warn"
    assert check["message"] == "the service's start-up says tables are missing: agent_executions, subscriptions"


def test_only_the_newest_revision_counts_and_a_crash_loop_is_one_finding(seed, repo):
    old = L.service('FATAL:  database "netra_old" does not exist', "2025-06-14T06:00:00Z",
                    revision="netra-backend-staging-00040-abc")
    loop = [L.service('password authentication failed for user "netra_app"', f"2025-06-14T08:0{i}:00Z")
            for i in range(3)]
    report, _ = only(seed, [old, *loop])
    assert cause_ids(report) == ["database-auth-failed"]
    assert "database-missing" not in cause_ids(report)
    assert "  (logged 3 times)" in top(report)["evidence"]


def test_quiet_logs_pass_without_ruling_anything_out(seed, repo):
    report, code = only(seed, [L.service("Application startup complete.", "2025-06-14T08:00:00Z", severity="INFO")])
    assert code == 0 and cause_ids(report) == []
    assert check_status(report, "startup-errors") == "pass"
    assert "database-auth-failed" not in ruled_out_ids(report)  # silence in a log disproves nothing


def test_without_logs_the_check_cannot_run(seed, repo):
    report, code = diagnose_json(seed, "--only", "startup-errors")
    assert check_status(report, "startup-errors") == "skip"
    assert report["status"] == "incomplete" and code == 3
