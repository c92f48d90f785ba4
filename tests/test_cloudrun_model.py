"""gcloud's v1 YAML and the v2 API JSON of the same resources normalise to the same Workload."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from netra_doctor.core.config import ConfigError
from netra_doctor.sources.offline import load_folder

from tests.helpers import DATA, SEED, cause_ids, check_status, diagnose_json, ruled_out_ids


def _comparable(w):
    d = dataclasses.asdict(w)
    for key in ("source_format", "project", "cloudsql_mounts", "conditions"):
        d.pop(key)  # v1 names the project by number; v1 has no Cloud SQL volume mount
    for c in d["containers"]:
        c.pop("volume_mounts")
    return d


@pytest.mark.parametrize("kind", ["service", "job"])
def test_v1_yaml_and_v2_json_give_the_same_workload(kind):
    v1 = getattr(load_folder(SEED), kind)
    v2 = getattr(load_folder(DATA / "seed_v2"), kind)
    assert v1.source_format == "v1-yaml" and v2.source_format == "v2-json"
    assert _comparable(v1) == _comparable(v2)
    assert v2.cloudsql_mounts == ["/cloudsql"]
    assert v1.cloudsql_instances == ["netra-staging:us-central1:staging-shared-postgres"]


def test_v1_and_v2_agree_on_readiness_and_latest_execution():
    v1, v2 = load_folder(SEED), load_folder(DATA / "seed_v2")
    ready = {c.type: c.status for c in v1.service.conditions}["Ready"]
    assert ready == "False"
    assert {c.type: c.status for c in v2.service.conditions}["Ready"] == ready
    assert v1.job.latest_revision == v2.job.latest_revision == "netra-migrations-staging-k7x2p"


def test_secret_refs_and_job_command_are_read():
    job = load_folder(SEED).job
    env = job.env()
    assert env["POSTGRES_PASSWORD"].secret.secret == "postgres-password-staging"
    assert env["POSTGRES_PASSWORD"].secret.version == "latest"
    assert env["ENVIRONMENT"].value == "staging"
    assert job.main.command == ["sh"]
    assert job.main.args[1].startswith("cd /app && python -m alembic")


def test_executions_newest_first_with_status():
    execs = load_folder(SEED).executions
    assert [(e.name, e.status) for e in execs] == [
        ("netra-migrations-staging-k7x2p", "succeeded"),
        ("netra-migrations-staging-9wq4d", "failed"),
    ]
    assert "exited with an error" in execs[1].message


def test_v1_secret_alias_annotation_resolves_other_project(tmp_path: Path):
    import yaml
    from netra_doctor.cloudrun.model import from_v1

    doc = yaml.safe_load((SEED / "service.yaml").read_text())
    tpl = doc["spec"]["template"]
    tpl["metadata"]["annotations"]["run.googleapis.com/secrets"] = "pw-alias:projects/123456/secrets/shared-pw"
    tpl["spec"]["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"] = {"name": "pw-alias", "key": "3"}
    ref = from_v1(doc, "service").env()["POSTGRES_PASSWORD"].secret
    assert (ref.secret, ref.version, ref.project) == ("shared-pw", "3", "123456")


@pytest.mark.parametrize(
    "text, needle",
    [
        ("kind: Service\nspec: [unclosed", r"not valid YAML"),
        ("- just\n- a list\n", "not a Cloud Run service export"),
        ("apiVersion: v1\nkind: Job\n", "expected kind: Service"),
        ("apiVersion: v1\nkind: Service\nspec:\n  template:\n    spec:\n      containers: 7\n", "should be a list"),
    ],
)
def test_malformed_exports_are_one_clear_error(tmp_path: Path, text: str, needle: str):
    (tmp_path / "service.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_folder(tmp_path)


def test_empty_folder_is_bad_input(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"neither service\.yaml nor job\.yaml"):
        load_folder(tmp_path)


# --- the job's own record of its latest execution (no executions export) --------------------


def _without_executions(tmp_path: Path, fmt: str, status: str | None = "EXECUTION_SUCCEEDED") -> Path:
    """The seed's exports minus executions.yaml, the job's latestCreatedExecution set to ``status``
    (None: the field absent, as older API versions print it)."""
    folder = tmp_path / fmt
    shutil.copytree(SEED if fmt == "v1" else DATA / "seed_v2", folder)
    (folder / "executions.yaml").unlink(missing_ok=True)
    path = folder / ("job.yaml" if fmt == "v1" else "job.json")
    doc = yaml.safe_load(path.read_text())
    ref = doc["status"]["latestCreatedExecution"] if fmt == "v1" else doc["latestCreatedExecution"]
    ref.pop("completionStatus")
    if status is not None:
        ref["completionStatus"] = status
    path.write_text(yaml.safe_dump(doc) if fmt == "v1" else json.dumps(doc))
    return folder


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_the_jobs_latest_created_execution_stands_in_for_the_list(tmp_path: Path, fmt: str):
    (latest,) = load_folder(_without_executions(tmp_path, fmt)).executions
    assert (latest.name, latest.status) == ("netra-migrations-staging-k7x2p", "succeeded")
    assert (latest.started, latest.completed) == ("2025-06-14T07:48:12.517Z", "2025-06-14T07:49:36.442Z")


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_a_latest_run_that_succeeded_passes_the_job_execution_check(tmp_path: Path, fmt: str, repo: Path):
    report, code = diagnose_json(_without_executions(tmp_path, fmt), "--only", "job-execution", "-v")
    check = next(c for c in report["checks"] if c["id"] == "job-execution")
    assert (code, check["status"]) == (0, "pass")
    assert check["message"] == ("the latest execution netra-migrations-staging-k7x2p succeeded at "
                                "2025-06-14T07:49:36.442Z")
    assert any("latestCreatedExecution" in e for e in check["findings"][0]["evidence"])
    assert "job-never-succeeded" in ruled_out_ids(report)


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_a_latest_run_that_failed_is_job_never_succeeded(tmp_path: Path, fmt: str, repo: Path):
    report, code = diagnose_json(_without_executions(tmp_path, fmt, "EXECUTION_FAILED"), "--only", "job-execution")
    assert code == 1 and cause_ids(report) == ["job-never-succeeded"]
    assert "  no earlier execution is listed" in report["causes"][0]["evidence"]  # the job names only its last run


@pytest.mark.parametrize(("status", "word"), [(None, "unknown"), ("COMPLETION_STATUS_UNSPECIFIED", "unknown"),
                                              ("EXECUTION_RUNNING", "running"), ("EXECUTION_PENDING", "running")])
def test_an_outcome_the_job_does_not_state_is_never_a_pass(tmp_path: Path, repo: Path, status: str | None, word: str):
    """A completion time alone does not say the run succeeded: unknown, re-run the doctor later."""
    report, code = diagnose_json(_without_executions(tmp_path, "v1", status), "--only", "job-execution")
    check = next(c for c in report["checks"] if c["id"] == "job-execution")
    assert check["status"] == "warn" and f"is {word}" in check["message"]
    assert "job-never-succeeded" not in ruled_out_ids(report) and code == 0


def test_without_the_list_or_the_jobs_record_executions_stay_unknown(tmp_path: Path, repo: Path):
    folder = _without_executions(tmp_path, "v1")
    path = folder / "job.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["status"].pop("latestCreatedExecution")
    path.write_text(yaml.safe_dump(doc))
    assert load_folder(folder).executions is None
    report, code = diagnose_json(folder, "--only", "job-execution")
    assert check_status(report, "job-execution") == "skip" and code == 3
