"""Small Alembic projects written by tests, each reproducing a construct real projects use, and a
real `alembic upgrade` of them (in a subprocess, from the project's root as the job runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import DATA

ENV_PY = (DATA / "alembic" / "linear" / "migrations" / "env.py").read_text()
MAKO = (DATA / "alembic" / "linear" / "migrations" / "script.py.mako").read_text()


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path -> dedented text) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def ini(script_location: str, **options: str) -> str:
    lines = ["[alembic]", f"script_location = {script_location}", *(f"{k} = {v}" for k, v in options.items())]
    logging = ("[loggers]\nkeys = root\n[handlers]\nkeys = console\n[formatters]\nkeys = generic\n"
               "[logger_root]\nlevel = WARNING\nhandlers = console\n[handler_console]\nclass = StreamHandler\n"
               "args = (sys.stderr,)\nformatter = generic\n[formatter_generic]\nformat = %%(message)s\n")
    return "\n".join(lines) + "\n" + logging


def scripts_folder(location: str) -> dict[str, str]:
    return {f"{location}/env.py": ENV_PY, f"{location}/script.py.mako": MAKO}


# One process: `alembic upgrade REV` for each revision in turn, the tables after each. Run from the
# project's root with it on sys.path, like `cd /app && python -m alembic -c INI upgrade REV`.
_UPGRADE_EACH = """
import json, sys
import psycopg
from alembic import command
from alembic.config import Config

ini, dsn, revisions = sys.argv[1], sys.argv[2], sys.argv[3:]
after = {}
for rev in revisions:
    command.upgrade(Config(ini), rev)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            " AND tablename <> 'alembic_version'").fetchall()
    after[rev] = sorted(name if schema == "public" else schema + "." + name for schema, name in rows)
print(json.dumps(after))
"""


def upgrade_each(root: Path, ini_rel: str, dsn: str, revisions: list[str]) -> dict[str, list[str]]:
    result = subprocess.run([sys.executable, "-c", _UPGRADE_EACH, ini_rel, dsn, *revisions], capture_output=True,
                            text=True, cwd=root, env={**os.environ, "DATABASE_URL": dsn}, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def alembic(root: Path, *args: str, dsn: str | None = None) -> subprocess.CompletedProcess:
    """The real `python -m alembic ARGS` from the project's root."""
    env = {**os.environ, **({"DATABASE_URL": dsn} if dsn else {})}
    return subprocess.run([sys.executable, "-m", "alembic", *args], capture_output=True, text=True, cwd=root,
                          env=env, timeout=120)
