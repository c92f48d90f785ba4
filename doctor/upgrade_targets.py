"""What the migration job upgrades to: the targets of every `alembic upgrade X` its command runs.

Read from the job's argv (through ``sh -c`` scripts, parsed with bashlex as bash would), never
run. ``None`` means "cannot tell" (no job facts, Python code, a computed target), so a caller
never treats an unknown command as `upgrade head` or as `upgrade heads`.
"""

from __future__ import annotations

import posixpath
import re

from doctor.facts import Workload
from doctor.shellcmd import ShellSyntaxError, ShellUnsupported, parse_shell, rough_commands

_SHELLS = {"sh", "bash", "dash", "ash", "ksh", "zsh"}
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")
_WITH_VALUE = {"-c", "--config", "-n", "--name", "-x", "--tag"}
MAX_DEPTH = 4


def upgrade_targets(job: Workload | None) -> list[str] | None:
    """Every `alembic upgrade` target the job runs, in order; None when the command cannot tell."""
    if job is None:
        return None
    argv = [*job.main.command, *job.main.args]
    targets: list[str] = []
    if not _argv(argv, [True] * len(argv), targets, 0):
        return None
    return targets or None


def _argv(words: list[str], literal: list[bool], out: list[str], depth: int) -> bool:
    """Collect targets; False when something that may upgrade cannot be read."""
    while words and (words[0] in ("exec", "env", "nohup", "time", "command") or "=" in words[0]):
        words, literal = words[1:], literal[1:]
    if not words or depth > MAX_DEPTH:
        return True
    prog = posixpath.basename(words[0])
    if prog in _SHELLS and "-c" in words[1:]:
        i = words.index("-c")
        return i + 1 >= len(words) or _script(words[i + 1], out, depth + 1)
    start = None
    if prog == "alembic":
        start = 1
    elif _PYTHON.match(prog) and words[1:3] == ["-m", "alembic"]:
        start = 3
    elif _PYTHON.match(prog) and "-c" in words[1:2]:
        return "upgrade" not in " ".join(words[2:])  # Python code that may call command.upgrade: unknown
    if start is None:
        return True
    i = start
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in _WITH_VALUE else 1
    if i >= len(words) or words[i] != "upgrade":
        return True
    rest = words[i + 1:]
    flags = literal[i + 1:]
    j = 0
    while j < len(rest) and rest[j].startswith("-"):
        j += 2 if rest[j] in _WITH_VALUE else 1
    if j >= len(rest):
        return True  # `alembic upgrade` with no target fails; the command check says so
    if not flags[j]:
        return False  # $TARGET: known only when it runs
    out.append(rest[j])
    return True


def _script(text: str, out: list[str], depth: int) -> bool:
    try:
        commands = parse_shell(text).commands
    except (ShellSyntaxError, ShellUnsupported):
        commands = rough_commands(text)
    ok = True
    for cmd in commands:
        ok = _argv(cmd.words, cmd.literal, out, depth) and ok
    return ok
