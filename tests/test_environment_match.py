"""--from must hold the environment's own exports: another environment's are refused, one line, exit 2.

A v1 export names its project by number (``metadata.namespace``), config by id: that pair cannot
be compared offline and is never called a mismatch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exports import Exports
from tests.helpers import SEED, edit_yaml, run_subprocess


def _run(repo: Path, *args: str):
    return run_subprocess(*args, "--format", "json", cwd=repo)


def test_another_environments_exports_are_refused_naming_both(repo: Path) -> None:
    result = _run(repo, "prod", "--from", str(SEED))
    assert result.returncode == 2 and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "netra-backend-staging" in line and "netra-backend-prod" in line and "environment prod" in line
    assert "name differs" in line


def test_a_project_number_beside_a_project_id_is_no_mismatch(repo: Path) -> None:
    """The seed's v1 exports say namespace 701982941175; staging's project is netra-staging."""
    result = _run(repo, "staging", "--from", str(SEED))
    assert result.returncode != 2, result.stderr
    assert json.loads(result.stdout)["environment"] == "staging"


@pytest.mark.parametrize("config, differs", [
    ('project = "netra-prod"\n', "project differs"),  # the v2 export names its project by id
    ('region = "europe-west1"\n', "region differs"),
])
def test_a_project_or_region_that_differs_is_refused(repo: Path, tmp_path: Path, config: str, differs: str) -> None:
    exports = Exports(tmp_path / "v2", "v2")
    (repo / "netra-doctor.toml").write_text(config)
    result = _run(repo, "staging", "--from", str(exports.folder))
    assert result.returncode == 2, result.stdout
    assert differs in result.stderr and "netra-backend-staging" in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_job_is_checked_too(repo: Path, tmp_path: Path) -> None:
    exports = Exports(tmp_path / "v1", "v1")
    edit_yaml(exports.folder / "job.yaml", lambda d: d["metadata"].update(name="netra-migrations-prod"))
    result = _run(repo, "staging", "--from", str(exports.folder))
    assert result.returncode == 2
    assert "job in --from is netra-migrations-prod" in result.stderr and "netra-migrations-staging" in result.stderr


def test_a_region_beside_a_project_number_is_not_judged(repo: Path, tmp_path: Path) -> None:
    """Which project 701982941175 is cannot be known offline: its region alone decides nothing."""
    exports = Exports(tmp_path / "v1", "v1")
    (repo / "netra-doctor.toml").write_text('region = "europe-west1"\n')
    result = _run(repo, "staging", "--from", str(exports.folder))
    assert result.returncode != 2, result.stderr
