"""Reports: table, JSON and Markdown each show the causes ranked, with their evidence and fix.

The folder is the seed with two faults a user could meet together: the job's
`--command python --args "-c,cd /app && ..."` (an error) and its password pinned to an
old version (a warning). The error must rank first in every format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exports import Exports, checkout
from tests.helpers import PLANTED_PASSWORDS, run_cli

SEED_SCRIPT = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
FIX = ("gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
       f"--command=sh --args='-c,{SEED_SCRIPT}'")
DRIFT_FIX = ("gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
             "--update-secrets=POSTGRES_PASSWORD=postgres-password-staging:latest")
ONLY = ("--only", "job-command", "--only", "secret-parity", "--only", "cloudsql-connector")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    e = Exports(tmp_path / "exports")
    e.set_command(["python"], ["-c", SEED_SCRIPT])
    e.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "1")
    return e.folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return checkout(tmp_path / "app", "netra_backend/alembic.ini")


def render(folder: Path, cwd: Path, fmt: str, *extra: str) -> tuple[str, int]:
    result = run_cli("staging", "--from", str(folder), "--format", fmt, *ONLY, *extra, cwd=cwd)
    for secret in PLANTED_PASSWORDS:
        assert secret not in result.output
    return result.stdout, result.exit_code


def test_json_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "json")
    report = json.loads(text)
    assert code == 1 and report["status"] == "unhealthy"
    assert [(c["rank"], c["id"], c["severity"]) for c in report["causes"]] == [
        (1, "job-command-invalid", "error"), (2, "secret-version-drift", "warn")]
    first, second = report["causes"]
    assert first["confidence"] > 0 and first["title"] == "The migration job's command cannot run as written"
    assert any("SyntaxError: invalid syntax" in e for e in first["evidence"])
    assert first["fix"] == [FIX]
    assert any("postgres-password-staging@latest, the job @1" in e for e in second["evidence"])
    assert second["fix"] == [DRIFT_FIX]
    assert {"job-service-different-database", "secret-unresolvable"} <= {r["id"] for r in report["ruled_out"]}
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "job-command": "fail", "secret-parity": "warn", "cloudsql-connector": "pass"}
    assert [s["name"] for s in report["sources"]] == ["cloudrun", "secrets", "repo"]


def test_table_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "table")
    assert code == 1
    lines = text.splitlines()
    assert lines[0] == "netra-doctor: staging: UNHEALTHY (2 causes)"
    ranking = [line.split()[:2] for line in lines if line.startswith("#")]
    assert ranking == [["#1", "job-command-invalid:"], ["#2", "secret-version-drift:"]]
    assert "(error, confidence" in lines[lines.index(next(x for x in lines if x.startswith("#1")))]
    first = text.index("#1 job-command-invalid: The migration job's command cannot run as written")
    second = text.index("#2 secret-version-drift:")
    block = text[first:second]
    assert "  evidence:" in block and "SyntaxError: invalid syntax" in block
    assert f"  fix:\n    $ {FIX}" in block
    assert f"$ {DRIFT_FIX}" in text[second:]
    assert "job-service-different-database" in next(x for x in lines if x.startswith("ruled out "))
    assert lines[-1].startswith("netra-doctor: staging: UNHEALTHY: 2 causes, ")


def test_markdown_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "markdown")
    assert code == 1
    assert text.startswith("## netra-doctor: `staging` is unhealthy")
    assert "| 1 | `job-command-invalid` | error |" in text
    assert "| 2 | `secret-version-drift` | warn |" in text
    assert text.index("### 1. `job-command-invalid`") < text.index("### 2. `secret-version-drift`")
    block = text[text.index("### 1. `job-command-invalid`"):text.index("### 2. `secret-version-drift`")]
    assert "**Evidence**" in block and "- `python -c` is given shell text" in block
    assert f"**Fix**\n\n```sh\n{FIX}\n```" in block
    assert "### Ruled out" in text and "- `job-service-different-database`" in text


def test_healthy_reports_say_so_in_every_format(app: Path, tmp_path: Path):
    healthy = Exports(tmp_path / "healthy").folder
    table, code = render(healthy, app, "table")
    assert code == 0 and "netra-doctor: staging: HEALTHY" in table and "No cause found." in table
    assert "No cause found." in render(healthy, app, "markdown")[0]
    report = json.loads(render(healthy, app, "json")[0])
    assert report["status"] == "healthy" and report["causes"] == []


def test_long_evidence_is_cut_without_v_and_whole_with_it(broken: Path, app: Path, tmp_path: Path):
    other = Exports(tmp_path / "other-db")
    other.add_secret_value("postgres-db-other", "1", "netra_other")
    other.set_secret("job", "POSTGRES_DB", "postgres-db-other")
    short, _ = render(other.folder, app, "table")
    assert "more line(s) (-v shows all)" in short
    full, _ = render(other.folder, app, "table", "-v")
    assert "(-v shows all)" not in full and "POSTGRES_PASSWORD: service secret" in full
