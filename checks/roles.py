"""Roles: a job that migrates as its own role (a least-privilege owner, `migrator`) and a service that
runs as another (`app`) share one database. What matters then is whether the service's role can use
what the migration role creates: today's tables (the tables check) and tomorrow's, which only
default privileges (pg_default_acl) grant without someone running GRANT by hand after each revision.
"""

from __future__ import annotations

from netra_doctor.cloudrun.poolers import place, role
from netra_doctor.cloudrun.workloads import default_grants
from netra_doctor.core.checking import Finding, check, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts
from netra_doctor.safety.untrusted import quote_ident

CAUSE = "default-privileges-missing"
NEEDED = ("SELECT", "INSERT", "UPDATE", "DELETE")


def _reached(db: DatabaseFacts | None) -> DatabaseFacts | None:
    return db if db is not None and db.reached else None


def _schemas(migrator: str, job: DatabaseFacts | None, service: DatabaseFacts | None) -> list[str]:
    """Where the migration role creates tables: the schemas it owns tables in, and the first of its search_path."""
    owned = [t.schema for t in (service.tables if service else []) if t.owner == migrator]
    first = job.search_path[:1] if job and job.search_path else []
    return list(dict.fromkeys([*first, *owned])) or ["public"]


@check(
    "default-privileges",
    "Tables the migration role creates will be usable by the service's role",
    needs=("targets", "databases"),
    causes=(CAUSE,),
)
def default_privileges(facts: Facts) -> list[Finding]:
    """Good: the job and the service log in as the same role, or the service's role is granted (by
    ALTER DEFAULT PRIVILEGES FOR ROLE <migrator>) SELECT on the tables the migration role will create in
    the schemas it migrates, or the service's role has the migration role's rights (member, superuser)."""
    ts, tj = facts.targets.get("service"), facts.targets.get("job")
    if ts is None or tj is None:
        return [not_applicable("the database target of the service or the job is unknown")]
    if place(ts) != place(tj) or not (ts.instance or ts.host):
        return [not_applicable("the job and the service do not reach one known database")]
    sdb, jdb = _reached(facts.databases.get("service")), _reached(facts.databases.get("job"))
    app = (sdb.current_user if sdb else "") or role(ts) or ""
    migrator = (jdb.current_user if jdb else "") or role(tj) or ""
    if not app or not migrator:
        return [not_applicable("the role of the service or the job is unknown")]
    if app == migrator:
        return [not_applicable(f"the job and the service both log in as {app}: what one creates, the other owns")]
    acl = next((d.default_privileges for d in (jdb, sdb) if d is not None and d.default_privileges is not None), None)
    if acl is None or sdb is None or sdb.member_of is None:
        return [skip(f"the job migrates as {migrator}, the service runs as {app}; pg_default_acl was not read "
                     "(the service's database was not reached)")]
    fact = f"the job migrates as {migrator}, the service runs as {app}, on {ts.where()}"
    if sdb.superuser or migrator in sdb.member_of:
        how = "is a superuser" if sdb.superuser else f"is a member of {migrator}"
        return [ok(f"{app} {how}: it can use every table {migrator} creates", CAUSE, evidence=[fact])]
    grantees = {app, "PUBLIC", *sdb.member_of}
    out: list[Finding] = []
    for schema in _schemas(migrator, jdb, sdb):
        tables = default_grants(acl, migrator, schema, "r", grantees)
        sequences = default_grants(acl, migrator, schema, "S", grantees)
        lines = [fact, f"default privileges for tables {migrator} creates in {schema}: "
                       f"{', '.join(sorted(tables)) or 'none'} to {app}",
                 *[f"pg_default_acl: FOR ROLE {d.owner} IN SCHEMA {d.schema or '(all)'} ON "
                   f"{ {'r': 'TABLES', 'S': 'SEQUENCES'}.get(d.object_type, d.object_type)} TO {d.grantee}: "
                   f"{', '.join(d.privileges)}" for d in acl if d.owner == migrator][:8]]
        if "SELECT" in tables:
            rest = [p for p in NEEDED if p not in tables]
            note = f" (not {', '.join(rest)}: enough for a service that only reads)" if rest else ""
            out.append(ok(f"tables {migrator} creates in {schema} will be granted to {app}{note}", CAUSE,
                          obj=schema, evidence=lines))
            continue
        fix = [f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(migrator)} IN SCHEMA {quote_ident(schema)} "
               f"GRANT {', '.join(NEEDED)} ON TABLES TO {quote_ident(app)};"]
        if not {"USAGE", "SELECT"} <= sequences:
            fix.append(f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(migrator)} IN SCHEMA {quote_ident(schema)} "
                       f"GRANT USAGE, SELECT ON SEQUENCES TO {quote_ident(app)};")
        out.append(warn(
            f"tables {migrator} creates in {schema} from now on will not be granted to {app}: each new "
            "revision's tables stay invisible to the service until granted by hand", CAUSE, obj=schema,
            evidence=lines,
            fix_vars={"default_privileges": " ".join(fix) + f"  -- as {quote_ident(migrator)} (or a member of it)"},
        ))
    return out
