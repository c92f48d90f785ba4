"""Other workloads on the database: which there are, what a migration does to them, what their roles see.

The primary pair (service and job) is judged by the other checks. Here every other service and job on
the same database (configured in ``[[workloads]]`` or discovered) is judged on its own evidence: its
models, its table globs, its own log lines, its own role's grants.
"""

from __future__ import annotations

import dataclasses
import shlex

from netra_doctor.cloudrun import logparse
from netra_doctor.cloudrun.executions import last_success
from netra_doctor.cloudrun.jobcommand import analyse
from netra_doctor.cloudrun.workloads import default_grants, include_object, matches
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts, OtherWorkload, RevisionFacts
from netra_doctor.migrations.expected import ancestors, table_ops
from netra_doctor.migrations.plan import op_line, plain, where
from netra_doctor.migrations.recorded import pending, recorded, service_database
from netra_doctor.safety.untrusted import quote_ident


def _others(facts: Facts) -> list[OtherWorkload]:
    return [o for o in facts.workloads or [] if not o.primary and o.workload is not None]


def _place(o: OtherWorkload) -> str:
    return o.target.where() if o.target else "an unresolved database"


@check(
    "other-workloads",
    "The other services and jobs on the database are where the config says",
    needs=("workloads",),
    uses=("databases",),
    causes=("workload-not-found",),
)
def other_workloads(facts: Facts) -> list[Finding]:
    """Good: every configured workload exists; the report lists each workload on the database and how it
    was found (config, services.yaml / jobs.yaml, ListServices / ListJobs). A table glob that matches no
    table yet is said, not an error (the workload may not have created them)."""
    t = facts.target
    db = (facts.databases or {}).get("service")
    names = [x.name for x in db.tables] if db is not None and db.reached else None
    out: list[Finding] = []
    for o in facts.workloads or []:
        if o.exists is False:
            out.append(fail(f"the {o.kind} {o.name} ([[workloads]]) does not exist in project {t.project}, "
                            f"region {t.region}", "workload-not-found", obj=o.name,
                            evidence=[f"configured workload {o.name}: {'; '.join(o.notes)}"],
                            fix_vars={"kind": o.kind, "project": t.project, "region": t.region}))
            continue
        if o.exists is None:
            out.append(skip(f"the {o.kind} {o.name} could not be looked up: {'; '.join(o.notes)}", obj=o.name))
            continue
        how = "configured" if o.configured else f"found by {o.found_by} (same database as the service)"
        evidence = [f"{o.kind} {o.name}, role {o.role or '?'}: {how}; reaches {_place(o)}"]
        if o.configured and o.same_database is False and not o.primary:
            evidence.append(f"{o.name} reaches {_place(o)}, not the service's database")
        for pattern in o.tables:
            if names is not None:
                hits = sorted(n for n in names if matches(n, [pattern]))
                evidence.append(f"tables {pattern!r}: {', '.join(hits[:10])}" if hits else
                                f"tables {pattern!r} matches no table in the service's database yet "
                                "(the workload may not have created them)")
        if o.models is not None:
            evidence.append(f"its models declare {len(o.models.tables)} table(s) ({', '.join(o.models.files[:3])})")
        evidence += [n for n in o.notes if not n.startswith("found by")]
        out += _own_recipe(facts, o)
        out.append(ok(f"{o.kind} {o.name} ({o.role or 'role unknown'}) is on this database", "workload-not-found",
                      obj=o.name, evidence=evidence))
    status = facts.source("others")
    if status is not None and status.status in ("error", "skipped"):
        # discovery could not list the project: unknown, never "none found"; a run that was told of other
        # workloads ([[workloads]]) is incomplete without them, a zero-config one notes it
        why = f"the project's services and jobs could not all be listed: {status.error}"
        out.append(skip(why) if any(o.configured for o in facts.workloads or []) else not_applicable(why))
    elif not out:
        return [ok("no other service or job on this database was found")]
    return out


def _own_recipe(facts: Facts, o: OtherWorkload) -> list[Finding]:
    """Another job with its own image recipe: its command judged against that Dockerfile's layout."""
    if o.kind != "job" or o.primary or o.image is None or o.workload is None or facts.repo is None:
        return []
    if o.image.error:
        return [warn(f"job {o.name}'s image recipe {o.dockerfile} could not be read: {o.image.error}", obj=o.name)]
    own = dataclasses.replace(facts, repo=dataclasses.replace(facts.repo, image=o.image))
    analysis = analyse(o.workload, own)
    argv = shlex.join([*o.workload.main.command, *o.workload.main.args])
    if analysis.problems:
        return [warn(f"job {o.name}'s command in the image {o.dockerfile} builds: {p.message}", obj=o.name,
                     evidence=[f"job {o.name} runs: {argv}", *p.evidence]) for p in analysis.problems]
    return [ok(f"job {o.name}'s command fits the image {o.dockerfile} builds", obj=o.name,
               evidence=[f"job {o.name} runs: {argv}", *analysis.verified])]


# --- what a workload owns or uses --------------------------------------------------------------


def _claims(o: OtherWorkload, table: str, facts: Facts) -> list[str]:
    """Why ``table`` is this workload's: its models, its globs, its own log lines."""
    bare = plain(table).rsplit(".", 1)[-1]
    out = []
    for m in o.models.tables if o.models else []:
        if m.name.rsplit(".", 1)[-1] == bare:
            out.append(f"{o.name}'s model {m.model} ({m.path}:{m.line}) declares {bare}")
    glob = matches(bare, o.tables)
    if glob:
        out.append(f"{o.name}'s tables {glob!r} matches {bare}")
    for e in o.logs or []:
        if bare in e.text and (f'"{bare}"' in e.text or f" {bare} " in f" {e.text} "):
            out.append(f"{o.name}'s log reads {bare}: {logparse.Hit('use', {}, e).quote(160)}")
            break
    return out


def _column_claims(o: OtherWorkload, table: str, column: str) -> list[str]:
    bare = plain(table).rsplit(".", 1)[-1]
    return [f"{o.name}'s model {m.model} ({m.path}:{m.line}) declares {bare}.{column}"
            for m in (o.models.tables if o.models else []) if m.name.rsplit(".", 1)[-1] == bare and column in m.columns]


def _exclusion(o: OtherWorkload, tables: list[str]) -> str:
    names = sorted({plain(t).rsplit(".", 1)[-1] for t in tables} | {m.name for m in (o.models.tables if o.models
                                                                                           else [])})
    return include_object(names, o.tables)


def _usage(facts: Facts, table: str) -> list[str]:
    bare = plain(table).rsplit(".", 1)[-1]
    for u in facts.table_usage or []:
        if u.name == bare:
            return [f"{u.schema}.{u.name}: about {max(u.rows, 0):.0f} rows, {u.seq_scan + u.idx_scan} scans, "
                    f"{u.inserts} inserts, {u.updates} updates, {u.deletes} deletes since statistics were reset"]
    return []


def _destroyed(r: RevisionFacts) -> list[tuple[int, str, str, str]]:
    """(op index, table, column or "", what) for each table or column the revision drops or renames away."""
    out = []
    for i, (kind, *names) in enumerate(table_ops(r)):
        if kind == "drop" and names:
            out.append((i, names[0], "", f"drops table {names[0]}"))
        elif kind == "rename" and len(names) == 2:
            out.append((i, names[0], "", f"renames table {names[0]} to {names[1]}"))
    out += [(-1, t, c, f"drops column {t}.{c}") for t, c in (p for p in r.drops_columns if len(p) == 2)]
    out += [(-1, op[1], op[2], f"renames column {op[1]}.{op[2]} to {op[3]}") for op in r.column_ops
            if len(op) == 4 and op[0] == "rename"]
    return out


def _judged(facts: Facts) -> tuple[list[OtherWorkload], DatabaseFacts, list[str]] | Finding:
    """The other workloads, the service's database and the revisions it records; or why there is nothing
    to judge."""
    others = _others(facts)
    if not others:
        return not_applicable("no other workload on this database")
    db = service_database(facts)
    if isinstance(db, Finding):
        return db
    rec = recorded(db)
    return others, db, list(rec.versions) if rec else []


@check(
    "other-workloads-plan",
    "The pending revisions leave the other workloads' tables alone",
    needs=("migrations", "databases", "workloads"),
    uses=("table_usage", "repo"),
    causes=("pending-drop-breaks-other-workload",),
)
def other_workloads_plan(facts: Facts) -> list[Finding]:
    """Good (before a deploy): no pending revision drops or renames a table, or a column, that another
    workload on the database declares in its models, lists in its tables, or reads in its logs."""
    if not facts.target.pre_deploy:
        return [not_applicable("not a pre-deploy run (--pre-deploy)")]
    start = _judged(facts)
    if isinstance(start, Finding):
        return [start]
    others, _, versions = start
    todo = pending(facts.migrations, versions)
    out: list[Finding] = []
    for r in todo:
        for o in others:
            hits = []
            for index, table, column, what in _destroyed(r):
                claims = _column_claims(o, table, column) if column else _claims(o, table, facts)
                if claims:
                    hits.append((index, table, what, claims))
            if not hits:
                continue
            at = where(facts, r, op_line(r, hits[0][0]) if hits[0][0] >= 0 else 0)
            whats = [what for _, _, what, _ in hits]
            tables = [table for _, table, _, _ in hits]
            out.append(fail(
                f"pending revision {r.revision} ({at}) {'; '.join(whats)}, which {o.kind} {o.name} uses",
                "pending-drop-breaks-other-workload", obj=f"{o.name}:{r.revision}", location=at,
                evidence=[*(f"{where(facts, r, op_line(r, i) if i >= 0 else 0)}: {what}" for i, _, what, _ in hits),
                          *(c for _, _, _, claims in hits for c in claims),
                          *(u for t in tables for u in _usage(facts, t))],
                fix_vars={"revision_file": at, "what": "; ".join(whats), "workload": o.name,
                          "include_object": _exclusion(o, tables)},
            ))
    if not out:
        names = ", ".join(o.name for o in others)
        return [ok(f"the {len(todo)} pending revision(s) drop or rename nothing of {names}",
                   "pending-drop-breaks-other-workload", obj="plan")]
    return out


# --- after a deploy: tables a workload lost -----------------------------------------------------


def _missing(o: OtherWorkload, db: DatabaseFacts | None) -> dict[str, str]:
    """Table -> the evidence that this workload misses it: its log line, or its model the database lacks."""
    out: dict[str, str] = {}
    for hit in logparse.hits(o.logs or [], ("relation-missing",)):
        name = plain(hit.groups["relation"]).rsplit(".", 1)[-1]
        out.setdefault(name, f"{o.name}'s log: {hit.quote()}")
    present = {x.name for x in db.tables} if db is not None else None
    for m in o.models.tables if o.models and present is not None else []:
        bare = m.name.rsplit(".", 1)[-1]
        if bare not in present:
            out.setdefault(bare, f"{o.name}'s model {m.model} ({m.path}:{m.line}) declares {bare}, absent from "
                                 f"{db.current_database}")
    return out


@check(
    "other-workloads-tables",
    "No applied revision took another workload's tables",
    needs=("migrations", "databases", "workloads"),
    uses=("executions", "logs", "repo", "targets"),
    causes=("workload-lost-tables",),
)
def other_workloads_tables(facts: Facts) -> list[Finding]:
    """Good: no other workload on the database reports missing relations (or declares tables the database
    lacks) that a revision already applied (at or below the recorded revision) dropped or renamed."""
    start = _judged(facts)
    if isinstance(start, Finding):
        return [start]
    others, db, versions = start
    applied = ancestors(facts.migrations, versions)
    revisions = [r for r in facts.migrations.revisions if r.revision in applied]
    present = {x.name for x in db.tables}
    run = last_success(facts.executions or [])
    ran = f"applied by the job's execution {run.name} ({run.completed or run.started})" if run else \
        "applied by a run of the job (no successful execution is listed)"
    steps = {to: h for h in logparse.hits(facts.logs or [], ("alembic-upgrade",)) for to in [h.groups["to"]]}
    target = (facts.targets or {}).get("service")
    instance = target.instance.rsplit(":", 1)[-1] if target and target.instance else ""
    out: list[Finding] = []
    for o in others:
        lost = {t: why for t, why in _missing(o, db).items() if t not in present}
        for r in reversed(revisions):  # the newest revision that took each table
            took = [(i, t, what) for i, t, c, what in _destroyed(r) if not c and plain(t).rsplit(".", 1)[-1] in lost]
            if not took:
                continue
            tables = sorted({plain(t).rsplit(".", 1)[-1] for _, t, _ in took})
            at = where(facts, r, op_line(r, took[0][0]))
            why = sorted((lost.pop(t) for t in tables), key=lambda line: "'s log: " not in line)
            applied_by = f"job log: {steps[r.revision].quote()}" if r.revision in steps else ran
            out.append(fail(
                f"{o.kind} {o.name} lost {', '.join(tables)}: applied revision {r.revision} ({at}) "
                f"{'; '.join(w for _, _, w in took)}", "workload-lost-tables", obj=o.name, location=at,
                evidence=[*why, f"revision {r.revision} ({at}): {'; '.join(w for _, _, w in took)}",
                          f"{r.revision} is at or below the recorded {', '.join(versions) or 'base'}: {ran}",
                          *([applied_by] if applied_by != ran else [])],
                fix_vars={"tables": ", ".join(tables), "revision": r.revision, "workload": o.name,
                          "down_revision": ", ".join(r.down_revisions) or "base", "revision_file": at,
                          "instance_name": instance, "include_object": _exclusion(o, tables)},
            ))
    if not out:
        return [ok(f"no applied revision dropped a table of {', '.join(o.name for o in others)}",
                   "workload-lost-tables", obj="applied")]
    return out


# --- every reader's role ------------------------------------------------------------------------


def _needed(o: OtherWorkload, db: DatabaseFacts) -> list[str]:
    """The tables this reader uses: its models' and its globs', else every table the migration role owns."""
    wanted = {m.name.rsplit(".", 1)[-1] for m in (o.models.tables if o.models else [])}
    wanted |= {x.name for x in db.tables if o.tables and matches(x.name, o.tables)}
    return sorted(wanted)


@check(
    "reader-roles",
    "Every reader workload's role can use its tables, and the ones the migrator creates next",
    needs=("workloads",),
    uses=("databases", "targets", "migrations"),
    causes=("tables-invisible-to-role", "default-privileges-missing"),
)
def reader_roles(facts: Facts) -> list[Finding]:
    """Good: each other service's own role (a reader, or a second primary) sees the tables it uses (its
    models, its globs, else the migration role's tables), and the migration role's default privileges
    grant it what it creates next."""
    readers = [o for o in _others(facts) if o.kind == "service"]  # a second primary reads too
    if not readers:
        return [not_applicable("no reader workload on this database")]
    jdb = (facts.databases or {}).get("job")
    migrator = jdb.current_user if jdb is not None and jdb.reached else ""
    out: list[Finding] = []
    for o in readers:
        db = o.database
        if db is None or not db.reached:
            why = db.error if db is not None else "its database target was not resolved"
            out.append(skip(f"{o.name}'s role could not be checked: {why}", obj=o.name))
            continue
        role = db.current_user
        declared = _needed(o, db)
        names = declared or [x.name for x in db.tables if migrator and x.owner == migrator]
        hidden = [x for x in db.tables if x.name in names and not (x.can_select and x.schema_usage)]
        if hidden:
            schema, owner = hidden[0].schema, hidden[0].owner
            q_schema, q_user = quote_ident(schema), quote_ident(role)
            tables = ", ".join(sorted(x.name for x in hidden))
            grants = (f"GRANT USAGE ON SCHEMA {q_schema} TO {q_user}; GRANT SELECT, INSERT, UPDATE, DELETE ON "
                      f"{', '.join(f'{quote_ident(x.schema)}.{quote_ident(x.name)}' for x in hidden)} TO {q_user};"
                      f"  -- as {quote_ident(owner)}")
            out.append(fail(
                f"{o.kind} {o.name} runs as {role}, which cannot use {tables} (owned by {owner}, no grant)",
                "tables-invisible-to-role", obj=f"{o.name}:{role}",
                evidence=[f"{o.name} connects to {db.target} as {role}",
                          *(f"{x.schema}.{x.name}: owner {x.owner}; information_schema "
                            f"{'shows' if x.in_information_schema else 'hides'} it from {role}" for x in hidden)],
                fix_vars={"grants": grants, "owner": quote_ident(owner), "schema": q_schema, "user": q_user},
                # tables it declares (models, globs) are certain; the migration role's tables are a presumption
                confidence=None if declared else 0.6))
        else:
            out.append(ok(f"{o.name}'s role {role} can use its {len(names)} table(s)", "tables-invisible-to-role",
                          obj=f"{o.name}:{role}"))
        out += _future(o, role, migrator, jdb)
    return out


def _future(o: OtherWorkload, role: str, migrator: str, jdb: DatabaseFacts | None) -> list[Finding]:
    """Tables the migration role creates next: granted to this reader's role by default privileges?"""
    db = o.database
    if not migrator or migrator == role or db is None:
        return []
    acl = jdb.default_privileges if jdb is not None else None
    if acl is None or db.member_of is None:
        return [skip(f"pg_default_acl was not read: whether {role} ({o.name}) gets {migrator}'s next tables is "
                     "unknown", obj=o.name)]
    if db.superuser or migrator in db.member_of:
        return []
    schema = (jdb.search_path[:1] if jdb and jdb.search_path else ["public"])[0]
    granted = default_grants(acl, migrator, schema, "r", {role, "PUBLIC", *db.member_of})
    if "SELECT" in granted:
        return [ok(f"tables {migrator} creates in {schema} will be granted to {role} ({o.name})",
                   "default-privileges-missing", obj=f"{o.name}:{role}")]
    sql = (f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(migrator)} IN SCHEMA {quote_ident(schema)} GRANT SELECT, "
           f"INSERT, UPDATE, DELETE ON TABLES TO {quote_ident(role)};  -- as {quote_ident(migrator)}")
    return [warn(f"tables {migrator} creates in {schema} from now on will not be granted to {role}, the role of "
                 f"{o.kind} {o.name}", "default-privileges-missing", obj=f"{o.name}:{role}",
                 evidence=[f"{o.name} runs as {role}; the job migrates as {migrator}",
                           f"default privileges for tables {migrator} creates in {schema}: "
                           f"{', '.join(sorted(granted)) or 'none'} to {role}"],
                 fix_vars={"default_privileges": sql})]
