"""Cloud SQL connector: attached where the host points; job and service on one instance."""

from __future__ import annotations

from tests.helpers import (
    DATA,
    annotations,
    cause_ids,
    check_status,
    diagnose_json,
    edit_yaml,
    job_container,
    ruled_out_ids,
)

INSTANCE = "netra-staging:us-central1:staging-shared-postgres"


def test_healthy_seed_attaches_the_instance_on_both(seed, repo):
    report, _ = diagnose_json(seed, "--only", "cloudsql-connector")
    assert check_status(report, "cloudsql-connector") == "pass"
    assert not cause_ids(report)
    assert {"cloudsql-connector-missing", "cloudsql-instance-mismatch"} <= set(ruled_out_ids(report))


def test_v2_volume_form_is_understood(repo):
    report, _ = diagnose_json(DATA / "seed_v2", "--only", "cloudsql-connector")
    assert check_status(report, "cloudsql-connector") == "pass"


def test_job_without_connector_ranks_missing_first_with_the_fix(seed, repo):
    edit_yaml(seed / "job.yaml", lambda d: annotations(d).pop("run.googleapis.com/cloudsql-instances"))
    report, code = diagnose_json(seed, "--only", "cloudsql-connector")
    assert code == 1
    top = report["causes"][0]
    assert top["id"] == "cloudsql-connector-missing"
    assert any("does not attach" in e for e in top["evidence"])
    assert top["fix"] == [
        "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
        f"--set-cloudsql-instances={INSTANCE}"
    ]


def test_the_fix_keeps_the_instances_the_job_already_attaches(seed, repo):
    """--set-cloudsql-instances replaces the whole list: the printed value keeps what the job attaches."""
    analytics = "netra-staging:us-central1:analytics-postgres"
    edit_yaml(seed / "job.yaml", lambda d: annotations(d).update(
        {"run.googleapis.com/cloudsql-instances": f"{analytics},staging-shared-postgres"}))  # 2nd: malformed
    report, _ = diagnose_json(seed, "--only", "cloudsql-connector")
    top = report["causes"][0]
    assert top["id"] == "cloudsql-connector-missing"
    assert top["fix"] == [
        "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
        f"--set-cloudsql-instances={analytics},{INSTANCE}"
    ]


def test_job_on_another_instance_is_a_mismatch(seed, repo):
    other = "netra-staging:us-central1:other-postgres"

    def move_job(d):
        annotations(d)["run.googleapis.com/cloudsql-instances"] = other
        env = job_container(d)["env"]
        host = next(e for e in env if e["name"] == "POSTGRES_HOST")
        host.pop("valueFrom")
        host["value"] = f"/cloudsql/{other}"

    edit_yaml(seed / "job.yaml", move_job)
    report, code = diagnose_json(seed, "--only", "cloudsql-connector")
    assert code == 1
    assert cause_ids(report) == ["cloudsql-instance-mismatch"]
    top = report["causes"][0]
    assert any(other in e for e in top["evidence"])
    assert top["fix"][0].endswith(f"--set-cloudsql-instances={INSTANCE}")


def test_malformed_instance_name(seed, repo):
    edit_yaml(seed / "service.yaml",
              lambda d: annotations(d).update({"run.googleapis.com/cloudsql-instances": "staging-shared-postgres"}))
    report, _ = diagnose_json(seed, "--only", "cloudsql-connector")
    top = report["causes"][0]
    assert top["id"] == "cloudsql-connector-missing"
    assert any("not PROJECT:REGION:INSTANCE" in e for e in top["evidence"])
    assert "services update netra-backend-staging" in top["fix"][0]
