"""The checkout being diagnosed: which ini files and alembic env.py files it holds.

The command check needs to know whether the job's ``alembic -c PATH`` exists in the
repository; listing is done here so that the check stays pure.
"""

from __future__ import annotations

import os

from doctor.facts import RepoFacts
from doctor.sources import Context

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "site-packages"}
MAX_FILES = 5000


def list_files(root: str) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        rel = os.path.relpath(folder, root)
        for name in sorted(files):
            if name.endswith(".ini") or name == "env.py":
                found.append(os.path.normpath(os.path.join(rel, name)))
                if len(found) >= MAX_FILES:
                    return found
    return found


def gather(ctx: Context) -> None:
    root = str(ctx.target.root)
    ctx.facts.repo = RepoFacts(root=root, files=list_files(root))
    from doctor.gate import gather_models  # the models the checkout declares (doctor/models.py)

    ctx.facts.repo.models = gather_models(ctx.target)
