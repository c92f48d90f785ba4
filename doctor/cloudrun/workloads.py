"""Several workloads on one database: whose runs and logs are whose, what a job does, and what a workload owns.

Pure helpers shared by the sources (which split what they gathered by workload) and the checks
(which judge each workload on its own evidence): an execution or a log entry belongs to exactly one
workload, by name, never to "the newest run of any job".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from netra_doctor.core.facts import DbTarget, DefaultPrivilege, Execution, LogEntry, Workload

# `alembic ... SUBCOMMAND` as a job's argv runs it (shell text or words alike)
_ALEMBIC = re.compile(r"\balembic\b(?P<rest>[^;&|\n]*)")
_SUB = re.compile(r"(?:^|\s)(upgrade|downgrade|stamp|current|check|history|heads|show|branches)(?=\s|$|['\"])")
CHECKERS = {"current", "check", "history", "heads", "show", "branches"}


def job_role(job: Workload) -> str:
    """``migrate`` for a job whose command runs `alembic upgrade` (or downgrade/stamp), ``check`` for one
    that only reads (`alembic current|check|history|heads`), ``other`` for anything else."""
    text = " ".join([*job.main.command, *job.main.args])
    subs = [m.group(1) for a in _ALEMBIC.finditer(text) for m in _SUB.finditer(a.group("rest"))]
    if any(s in ("upgrade", "downgrade", "stamp") for s in subs):
        return "migrate"
    if subs and all(s in CHECKERS for s in subs):
        return "check"
    return "other"


def runs_of(executions: Iterable[Execution], job: str) -> list[Execution]:
    """The executions of this job (by the job the export says each belongs to); one that names no job
    is kept when its name is the job's (`JOB-xxxxx`), or when nothing can tell (an export without it)."""
    out = []
    for e in executions:
        if e.job:
            if e.job == job:
                out.append(e)
        elif not job or e.name.rsplit("-", 1)[0] == job or "-" not in e.name:
            out.append(e)
    return out


def owned_entries(logs: Iterable[LogEntry], kind: str, name: str) -> list[LogEntry]:
    """The entries one workload wrote (by its resource's service_name / job_name)."""
    return [e for e in logs if e.resource == kind and e.workload == name]


def primary_entries(logs: Iterable[LogEntry], service: str, job: str) -> list[LogEntry]:
    """The entries of the primary service and job (and those that name no workload): another
    workload's lines never stand in for theirs."""
    own = {"service": service, "job": job}
    return [e for e in logs if not e.workload or e.resource not in own or e.workload == own[e.resource]]


def same_database(a: DbTarget | None, b: DbTarget | None) -> bool | None:
    """Two targets reach one database (same instance or host and port, same database name; any role);
    None when either is not resolved enough to tell."""
    if a is None or b is None or not a.database or not b.database or not (a.instance or a.host) \
            or not (b.instance or b.host):
        return None
    if a.instance or b.instance:
        return a.instance == b.instance and a.database == b.database
    return (a.host, a.port or 5432, a.database) == (b.host, b.port or 5432, b.database)


def matches(name: str, patterns: Iterable[str]) -> str | None:
    """The first pattern the table (bare or schema-qualified) matches, or None."""
    bare = name.rsplit(".", 1)[-1]
    return next((p for p in patterns if fnmatch.fnmatchcase(bare, p) or fnmatch.fnmatchcase(name, p)), None)


def default_grants(acl: list[DefaultPrivilege], owner: str, schema: str, objtype: str, grantees: set[str]) -> set[str]:
    """Privileges the owner's future objects of this type in ``schema`` get for any of ``grantees``
    (pg_default_acl, per schema or for all schemas)."""
    return {p for d in acl if d.owner == owner and d.object_type == objtype and d.schema in (schema, "")
            and d.grantee in grantees for p in d.privileges}


def include_object(tables: Iterable[str], globs: Iterable[str]) -> str:
    """The exact env.py function that keeps autogenerate away from another workload's tables (one line,
    valid Python): neither created nor dropped by this project's revisions."""
    names = sorted(set(tables))
    patterns = sorted(set(globs))
    tests = []
    if names:
        tests.append(f"name in {{{', '.join(repr(n) for n in names)}}}")
    if patterns:
        tests.append(f"any(__import__('fnmatch').fnmatchcase(name, p) for p in ({', '.join(map(repr, patterns))},))")
    return ("def include_object(obj, name, type_, reflected, compare_to): "
            f"return not (type_ == 'table' and ({' or '.join(tests) or 'False'}))")
