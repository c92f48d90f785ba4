"""A check file is a leaf: it imports from `doctor` and the standard library, never from another check.

A helper one check imports from another ties the two together (moving or retiring a check breaks
the other, and a plug-in cannot replace one alone); shared helpers live in `doctor/` instead.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from netra_doctor import checks

CHECKS = sorted(Path(checks.__file__).parent.glob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file; a relative import is named by its dots."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, "." * node.level + (node.module or "")))
    return out


def test_the_check_files_are_found():
    assert {p.stem for p in CHECKS} >= {"command", "startup_errors", "service_revision", "revision"}


def test_no_check_imports_from_another_check():
    offending = [f"{p.name}:{line}: {module}" for p in CHECKS for line, module in imported(p)
                 if module.startswith((".", "netra_doctor.checks"))]
    assert offending == []


def test_checks_import_only_doctor_and_the_standard_library():
    allowed = {"netra_doctor", "__future__", *sys.stdlib_module_names}
    offending = [f"{p.name}:{line}: {module}" for p in CHECKS for line, module in imported(p)
                 if module.split(".")[0] not in allowed]
    assert offending == []
