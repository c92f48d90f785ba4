"""The checkout being diagnosed: which ini files and alembic env.py files it holds, and how the
Dockerfile that builds the image lays them out.

The command check needs to know whether the job's ``alembic -c PATH`` exists in the image;
listing and reading are done here so that the check stays pure.
"""

from __future__ import annotations

import os
from pathlib import Path

from doctor.config import home_folder, is_vcs_root
from doctor.facts import ImageFacts, RepoFacts
from doctor.sources import Context, Skipped

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


def _not_a_checkout(root: Path) -> str | None:
    """Started from `/` or a home folder with no repository there, listing would walk the whole
    file system: say so instead."""
    if is_vcs_root(root):
        return None
    home = home_folder()
    if root == Path(root.anchor) or root == home:
        where = "the file system's root" if root == Path(root.anchor) else "the home folder"
        return f"{root} is {where}, not a checkout: run the doctor from the repository (or pass --alembic-ini)"
    return None


def gather(ctx: Context) -> None:
    why = _not_a_checkout(Path(ctx.target.root).resolve())
    if why:
        raise Skipped(why)
    root = str(ctx.target.root)
    files = list_files(root)
    # the application's checkout: it holds files the listing looks for, is a git work tree, or keeps
    # the doctor's config (whose paths are relative to it); an empty folder is none of these
    checkout = ("files" if files else "git" if os.path.exists(os.path.join(root, ".git"))
                else "config" if ctx.target.config_file is not None else "")
    ctx.facts.repo = RepoFacts(root=root, files=files, image=read_image(ctx), checkout=checkout)

    from doctor.gate import gather_models  # the models the checkout declares (doctor/models.py)

    ctx.facts.repo.models = gather_models(ctx.target)


def read_image(ctx: Context) -> ImageFacts | None:
    """The Dockerfile's layout of the checkout in the image (None when there is no Dockerfile)."""
    from doctor import dockerfile

    t = ctx.target
    root = Path(t.root)
    rel, why = dockerfile.find(root, t.alembic_ini, t.dockerfile)
    if rel is None:
        if t.dockerfile:
            return ImageFacts(dockerfile=t.dockerfile, error=why)
        return None
    return dockerfile.read(root, rel, t.docker_context)
