"""Several workloads on one database (issue 20): each job is itself, other workloads are found and judged."""

from __future__ import annotations

import copy

import pytest

from tests import logs_json as L
from tests.helpers import cause_ids, diagnose_json, ruled_out_ids, run_cli

CHECKER = "netra-check-revision-staging"


def _checker_run(doc: dict, name: str = f"{CHECKER}-zz9qq", at: str = "2025-06-14T09:00:00.000Z") -> dict:
    """An execution of the check-revision job, newer than every migration run (an export without --job)."""
    run = copy.deepcopy(doc)
    run["metadata"]["name"] = name
    run["metadata"]["labels"]["run.googleapis.com/job"] = CHECKER
    run["metadata"]["creationTimestamp"] = at
    run["status"]["startTime"] = at
    run["status"]["completionTime"] = at.replace("09:00:00", "09:00:20")
    return run


def test_a_checkers_success_never_stands_in_for_the_migrators_failure(seed, repo):
    def change(docs: list) -> list:
        L.fail_execution(docs[0])
        return [_checker_run(docs[0]), *docs]

    L.edit_executions(seed, change)
    L.write(seed, [L.job("ModuleNotFoundError: No module named 'psycopg2'", "2025-06-14T07:49:30.000000Z"),
                   {**L.job("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                            "2025-06-14T09:00:05.000000Z", f"{CHECKER}-zz9qq"),
                    "resource": {"type": "cloud_run_job", "labels": {"job_name": CHECKER, "location": "us-central1",
                                                                     "project_id": "netra-staging"}}}])
    report, code = diagnose_json(seed, "--only", "job-execution")
    assert code == 1
    assert "job-never-succeeded" in cause_ids(report)
    assert "job-never-succeeded" not in ruled_out_ids(report)
    evidence = "\n".join(report["causes"][0]["evidence"])
    assert "netra-migrations-staging-k7x2p failed" in evidence
    assert "No module named 'psycopg2'" in evidence
    assert CHECKER not in evidence


# --- [[workloads]] in the config: bad input is one line naming the entry, exit 2 -----------------

AUTH = '[[workloads]]\nname = "netra-auth-service-{env}"\nkind = "service"\n'


@pytest.mark.parametrize("entry, needle", [
    ('[[workloads]]\nname = "x"\nkind = "daemon"\n', "workloads[0] (x): unknown kind 'daemon'"),
    (AUTH + 'role = "writer"\n', "(netra-auth-service-{env}): unknown role 'writer' for a service"),
    ('[[workloads]]\nname = "chk"\nkind = "job"\nrole = "reader"\n', "(chk): unknown role 'reader' for a job"),
    (AUTH + AUTH, "workloads[1] (netra-auth-service-{env}): workload netra-auth-service-staging is named twice"),
    (AUTH + 'tables = ["auth_[users"]\n', "tables pattern 'auth_[users' is not a valid glob"),
    (AUTH + 'models = ["auth_service/models.py"]\n', "models path 'auth_service/models.py' does not exist"),
    (AUTH + 'colour = "blue"\n', "unknown setting 'colour'"),
])
def test_bad_workload_entries_are_one_line_and_exit_2(seed, repo, entry, needle):
    (repo / "netra-doctor.toml").write_text(entry)
    result = run_cli("staging", "--from", str(seed))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.output
