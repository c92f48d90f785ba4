"""The serving revision against the last successful migration: stale (redeploy) or failing anew."""

from __future__ import annotations

from netra_doctor.checks.service_revision import service_revision
from netra_doctor.core.facts import Execution, Facts, ServingRevision, TargetInfo

from tests import logs_json as L
from tests.helpers import cause_ids, check_status, diagnose_json, edit_yaml, ruled_out_ids

REDEPLOY = ("gcloud run services update netra-backend-staging --region us-central1 --project netra-staging "
            "--update-env-vars NETRA_DOCTOR_REDEPLOY=$(date +%s)")
ERROR = "Failed to ensure database tables exist: Failed to create tables: {'subscriptions'}"


def test_failing_after_the_migration_rules_out_a_stale_revision(seed, repo):
    # the seed: the job succeeded at 07:49:36, the service still failed at 08:02
    L.write(seed, L.demo_logs())
    report, _ = diagnose_json(seed, "--only", "service-revision")
    assert "service-revision-stale" in ruled_out_ids(report)
    gone = next(r for r in report["ruled_out"] if r["id"] == "service-revision-stale")
    assert "a redeploy would meet the same error" in gone["evidence"][0]
    assert any("Failed to create tables" in e for e in gone["evidence"])


def test_failed_before_the_migration_and_never_retried_is_stale(seed, repo):
    L.write(seed, [L.service(ERROR, "2025-06-14T07:30:00Z"), L.service(ERROR, "2025-06-14T07:40:00Z")])
    report, code = diagnose_json(seed, "--only", "service-revision")
    assert cause_ids(report) == ["service-revision-stale"]
    cause = report["causes"][0]
    assert cause["severity"] == "warn" and code == 0
    assert "last failed at 2025-06-14T07:40:00Z, before netra-migrations-staging-k7x2p finished" in cause["evidence"][0]
    assert cause["fix"] == [REDEPLOY]


def test_ready_service_is_not_stale(seed, repo):
    def ready(doc):
        for c in doc["status"]["conditions"]:
            c.update(status="True")
            c.pop("message", None)

    edit_yaml(seed / "service.yaml", ready)
    L.write(seed, [L.service(ERROR, "2025-06-14T07:30:00Z")])  # an old error; the revision is ready now
    report, _ = diagnose_json(seed, "--only", "service-revision")
    assert "service-revision-stale" in ruled_out_ids(report)


def _untimed(doc):
    for c in doc["status"]["conditions"]:
        c.pop("lastTransitionTime", None)


def test_not_ready_without_timed_errors_is_a_weak_suspicion(seed, repo):
    edit_yaml(seed / "service.yaml", _untimed)
    report, _ = diagnose_json(seed, "--only", "service-revision")  # no logs.json
    assert cause_ids(report) == ["service-revision-stale"]
    assert report["causes"][0]["confidence"] == 0.4


def test_the_ready_condition_failing_after_the_migration_rules_a_redeploy_out(seed, repo):
    """No logs: the seed's Ready condition turned False at 08:02:51, after the job finished at 07:49:36."""
    report, _ = diagnose_json(seed, "--only", "service-revision")
    assert "service-revision-stale" in ruled_out_ids(report)
    gone = next(r for r in report["ruled_out"] if r["id"] == "service-revision-stale")
    assert "revision netra-backend-staging-00042-xqv failed at 2025-06-14T08:02:51Z, after" in gone["evidence"][0]


def test_the_ready_condition_failing_before_the_migration_is_stale(seed, repo):
    def early(doc):
        for c in doc["status"]["conditions"]:
            c["lastTransitionTime"] = "2025-06-14T07:20:00.000Z"

    edit_yaml(seed / "service.yaml", early)
    report, _ = diagnose_json(seed, "--only", "service-revision")
    assert cause_ids(report) == ["service-revision-stale"] and report["causes"][0]["confidence"] == 0.6
    assert "has not been retried since" in report["causes"][0]["evidence"][0]


def test_the_check_reasons_about_the_revision_the_condition_names_not_the_serving_one():
    """Ready=False is about the latest created revision: created after the migration, a redeploy
    would not help, although the serving (latest ready) revision predates the migration."""
    facts = Facts(
        target=TargetInfo("staging", "p", "r", "svc", "job", "a.ini"),
        serving_revision=ServingRevision("svc-00007", created="2025-06-14T07:00:00Z", ready="False",
                                         latest_created="svc-00008", latest_created_at="2025-06-14T07:30:00Z"),
        executions=[Execution("job-1", "succeeded", "2025-06-14T07:10:00Z", "2025-06-14T07:12:00Z")],
        logs=[],
    )
    found = service_revision(facts)
    assert [(f.status, f.cause) for f in found] == [("pass", "service-revision-stale")]
    assert "revision svc-00008 was created at 2025-06-14T07:30:00Z, after job-1" in found[0].message
    assert any("latest created revision svc-00008; svc-00007 still serves" in e for e in found[0].evidence)


def test_without_a_successful_migration_there_is_nothing_to_compare(seed, repo):
    L.edit_executions(seed, lambda docs: [docs[1]])  # only the failed run
    report, _ = diagnose_json(seed, "--only", "service-revision")
    assert check_status(report, "service-revision") == "skip"
    assert "service-revision-stale" not in cause_ids(report) + ruled_out_ids(report)


def test_live_revision_created_before_the_migration_and_not_ready_is_stale():
    facts = Facts(
        target=TargetInfo("staging", "p", "r", "svc", "job", "a.ini"),
        serving_revision=ServingRevision("svc-00007", created="2025-06-14T07:00:00Z", ready="False"),
        executions=[Execution("job-1", "succeeded", "2025-06-14T07:10:00Z", "2025-06-14T07:12:00Z")],
        logs=[],
    )
    found = service_revision(facts)
    assert [(f.status, f.cause) for f in found] == [("warn", "service-revision-stale")]
    assert "predates the last successful migration" in found[0].message


def test_an_unquoted_transition_time_in_hand_written_yaml_is_read(seed, repo):
    """YAML reads an unquoted timestamp as a date-time: it is still the time the condition turned False."""
    path = seed / "service.yaml"
    path.write_text(path.read_text().replace("lastTransitionTime: '2025-06-14T08:02:51.733Z'",
                                             "lastTransitionTime: 2025-06-14T07:20:00Z"))
    report, code = diagnose_json(seed, "--only", "service-revision")
    assert code != 2 and cause_ids(report) == ["service-revision-stale"]
    assert "failed at 2025-06-14T07:20:00Z, before" in report["causes"][0]["evidence"][0]
