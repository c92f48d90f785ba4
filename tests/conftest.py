from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import copy_seed


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A writable copy of the seed incident's gcloud exports."""
    return copy_seed(tmp_path / "exports")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty checkout to run from, so config lookup does not find this project's files."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    return root
