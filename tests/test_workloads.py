"""Several workloads on one database (issue 20): each job is itself, other workloads are found and judged."""

from __future__ import annotations

import copy

from tests import logs_json as L
from tests.helpers import cause_ids, diagnose_json, ruled_out_ids

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
