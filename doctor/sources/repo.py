"""The checkout being diagnosed: which ini files and alembic env.py files it holds, and how the
Dockerfile that builds the image lays them out.

The command check needs to know whether the job's ``alembic -c PATH`` exists in the image;
listing and reading are done here so that the check stays pure.
"""

from __future__ import annotations

import os
from pathlib import Path

from netra_doctor.core.config import Target, home_folder, is_vcs_root
from netra_doctor.core.errors import Skipped
from netra_doctor.core.facts import ImageFacts, ModelFacts, RepoFacts
from netra_doctor.sources.context import Context

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

    ctx.facts.repo.models = gather_models(ctx.target)  # the models the checkout declares


def gather_models(target: Target) -> ModelFacts:
    """The checkout's models (ast, or the opted-in import); a failure is recorded, never raised."""
    from netra_doctor.migrations import models
    from netra_doctor.sources.migrations import ini_and_cwd, script_folders

    root = Path(target.root)
    ini, cwd = ini_and_cwd(target.alembic_ini, root)
    script, extra = script_folders(target.script_location, target.version_locations, root)
    if not ini.is_file() and script is None:
        return ModelFacts(where="not read", problems=[f"no alembic.ini at {ini}: models are read only in the "
                                                      "checkout of an Alembic project"])
    # a checkout is scanned only when alembic.ini is inside it: never a home directory the doctor was
    # started in, with --alembic-ini pointing into some checkout below it
    scan = (script or ini).resolve().is_relative_to(root.resolve())
    try:
        if target.models_import:
            from netra_doctor.sources.models_import import read_imported

            return read_imported(root, ini, target.models_import, max(30.0, target.timeout * 3),
                                 target.models or None, scan_checkout=scan, section=target.alembic_name, cwd=cwd)
        return models.read_models(root, ini, target.models or None, scan_checkout=scan, section=target.alembic_name,
                                  cwd=cwd, script_location=script, version_locations=extra)
    except Exception as exc:  # a reader bug must not cost the repo source its other facts
        return ModelFacts(problems=[f"models could not be read: {type(exc).__name__}: {exc}"], where="failed")


def read_image(ctx: Context) -> ImageFacts | None:
    """The Dockerfile's layout of the checkout in the image (None when there is no Dockerfile)."""
    from netra_doctor.cloudrun import dockerfile

    t = ctx.target
    root = Path(t.root)
    rel, why = dockerfile.find(root, t.alembic_ini, t.dockerfile)
    if rel is None:
        if t.dockerfile:
            return ImageFacts(dockerfile=t.dockerfile, error=why)
        return None
    return dockerfile.read(root, rel, t.docker_context)
