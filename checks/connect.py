"""Database connect: each workload's own role logs in to the database it names."""

from __future__ import annotations

import re

from netra_doctor.core.checking import Finding, check, fail, ok, skip
from netra_doctor.core.facts import DatabaseFacts, DbTarget, Facts

_USER = re.compile(r'(?:for user|role) "([^"]*)"')
_DATABASE = re.compile(r'database "([^"]*)" does not exist')


def instance_name(target: DbTarget | None, db: DatabaseFacts) -> str:
    """The INSTANCE part of PROJECT:REGION:INSTANCE (what `gcloud sql --instance` takes)."""
    if target is not None and target.instance:
        return target.instance.rsplit(":", 1)[-1]
    return target.host if target is not None and target.host else db.target.split("/", 1)[0]


def secret_name(target: DbTarget | None, role: str) -> str:
    """The secret a target's field came from ("secret NAME@VERSION" in its origin)."""
    origin = (target.origin.get(role, "") if target else "") or ""
    return origin[len("secret "):].split("@", 1)[0] if origin.startswith("secret ") else ""


def _finding(kind: str, db: DatabaseFacts, target: DbTarget | None) -> Finding:
    where = f"{db.target} via {db.via}" if db.via else db.target
    evidence = [f"{kind} connects to {where}: {db.error}"]
    if db.error_kind == "auth":
        user = next(iter(_USER.findall(db.error or "")), "") or (target.user if target else "") or ""
        origin = target.origin.get("password", "") if target and db.via != "dsn" else ""
        if origin:
            evidence.append(f"{kind}'s password comes from {origin}")
        return fail(
            f"the {kind}'s role {user} cannot log in to {db.target}", "database-auth-failed", obj=kind,
            evidence=evidence,
            fix_vars={"user": user, "secret": secret_name(target, "password") if db.via != "dsn" else "",
                      "instance_name": instance_name(target, db)},
        )
    if db.error_kind == "missing-database":
        name = next(iter(_DATABASE.findall(db.error or "")), "") or (target.database if target else "") or ""
        if target is not None and target.origin.get("database") and db.via != "dsn":
            evidence.append(f"{kind}'s database name comes from {target.origin['database']}")
        return fail(
            f"the {kind}'s database {name} does not exist on {db.target.split('/', 1)[0]}", "database-missing",
            obj=kind, evidence=evidence, fix_vars={"database": name, "instance_name": instance_name(target, db)},
        )
    if db.error_kind in ("no-route", "unresolved"):
        return skip(f"{kind}: {db.error}", obj=kind)
    return skip(f"{kind}: could not reach {where} ({db.error_kind}): {db.error}", obj=kind)


@check(
    "database-connect",
    "Each workload's role logs in to the database it names",
    needs=("databases",),
    uses=("targets",),
    causes=("database-auth-failed", "database-missing"),
)
def database_connect(facts: Facts) -> list[Finding]:
    """Good: the service and the job each connect, as their own user with their own password
    (through the Cloud SQL Auth Proxy, a direct host or --dsn), to a database that exists."""
    targets = facts.targets or {}
    out: list[Finding] = []
    for kind, db in sorted((facts.databases or {}).items(), key=lambda kv: kv[0] != "service"):
        target = targets.get(kind)
        if not db.reached:
            out.append(_finding(kind, db, target))
            continue
        evidence = [f"{kind} logged in as {db.current_user} to {db.current_database} on {db.target} via {db.via}"]
        out.append(ok(f"{kind} logs in as {db.current_user} to {db.current_database}", "database-auth-failed",
                      obj=kind, evidence=evidence))
        out.append(ok(f"{kind}'s database {db.current_database} exists", "database-missing", obj=kind,
                      evidence=evidence))
    return out or [skip("no workload's database was examined")]
