"""Opt-in exactness: ``models_import = "pkg.module:Base.metadata"`` imports the application in a
subprocess (the doctor's own Python, the checkout on its path, no bytecode written, a timeout) and
reads the real ``MetaData``. The doctor's process never imports the checkout; if the import fails,
the ``ast`` reading stands, with the failure said in its problems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from netra_doctor.core.cleanup import held
from netra_doctor.core.facts import ModelFacts, ModelTable
from netra_doctor.migrations.models import read_models

_IMPORT_SCRIPT = r"""
import importlib, json, sys
spec = sys.argv[1]
module, _, attr = spec.partition(":")
obj = importlib.import_module(module)
for part in attr.split("."):
    obj = getattr(obj, part)
tables = []
for t in obj.sorted_tables:
    tables.append({"name": t.name, "schema": t.schema, "columns": [c.name for c in t.columns]})
print(json.dumps(tables))
"""


class ImportFailed(Exception):
    pass


def import_models(root: Path, spec: str, timeout: float, python: str | None = None) -> list[ModelTable]:
    """The real ``MetaData``'s tables, from a subprocess that imports ``spec`` (``pkg.mod:Base.metadata``)."""
    if ":" not in spec:
        raise ImportFailed(f"models_import {spec!r}: expected MODULE:ATTRIBUTE (e.g. app.models:Base.metadata)")
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        child = subprocess.Popen([python or sys.executable, "-c", _IMPORT_SCRIPT, spec], cwd=root, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise ImportFailed(f"could not run Python to import {spec}: {exc}") from None
    with held(child.kill), child:  # Ctrl-C kills it: the application's import never outlives the run
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise ImportFailed(f"importing {spec} took longer than {timeout:g} s") from None
    proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImportFailed(f"importing {spec} failed: {last[:300]}")
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ImportFailed(f"importing {spec} printed no table list") from None
    return [ModelTable(f"{t['schema']}.{t['name']}" if t.get("schema") else t["name"], "", 0, t["name"],
                       list(t["columns"]), [0] * len(t["columns"])) for t in data]


def read_imported(root: Path, alembic_ini: Path, spec: str, timeout: float,
                  paths: list[str] | None = None, scan_checkout: bool = True, section: str = "alembic",
                  cwd: Path | None = None) -> ModelFacts:
    """The imported MetaData's tables, placed at the files and lines the ``ast`` reading finds for them;
    if the import fails, the ``ast`` reading with the failure in ``problems``."""
    by_ast = read_models(root, alembic_ini, paths, scan_checkout, section, cwd)
    try:
        imported = import_models(root, spec, timeout)
    except ImportFailed as exc:
        by_ast.problems.insert(0, f"models_import: {exc}; the models were read from source (ast) instead")
        return by_ast
    where = {t.name: t for t in by_ast.tables}
    for t in imported:
        seen = where.get(t.name)
        if seen is not None:
            t.path, t.line, t.model, t.own_migrations = seen.path, seen.line, seen.model, seen.own_migrations
            lines = dict(zip(seen.columns, seen.column_lines, strict=True))
            t.column_lines = [lines.get(c, 0) for c in t.columns]
    return ModelFacts(reading=f"import {spec}", where=f"models_import = {spec} (imported in a subprocess)",
                      files=by_ast.files, tables=imported, problems=by_ast.problems)
