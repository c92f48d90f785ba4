"""gcloud's v1 YAML and the v2 API JSON of the same resources normalise to the same Workload."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from doctor.config import ConfigError
from doctor.sources.offline import load_folder
from tests.helpers import DATA, SEED


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

    from doctor.sources.cloudrun_model import from_v1

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
