"""Tables: every table the service needs is where it looks, and its role can see and use it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import field
from operator import attrgetter

from netra_doctor.cloudrun.shellcmd import gcloud_join
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts, MigrationFacts, TableInfo
from netra_doctor.core.records import record
from netra_doctor.migrations.expected import ancestors, expectation_known, expected_tables, split_name, tables_at_head
from netra_doctor.migrations.recorded import recorded as recorded_table
from netra_doctor.migrations.stamping import Catalog as StampCatalog
from netra_doctor.migrations.stamping import opaque_after, opaque_applied, opaque_note, positions, stamp_fix
from netra_doctor.safety.untrusted import quote_ident

SHOWN = 50  # usable tables listed in the pass finding's evidence: the rest are counted, not listed


def setting_schemas(db: DatabaseFacts) -> list[str]:
    """The schemas the search_path setting names, "$user" expanded, in order."""
    names = []
    for part in re.findall(r'"(?:[^"]|"")*"|[^,]+', db.search_path_setting or ""):
        part = part.strip()
        if not part:
            continue
        name = part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()
        names.append(db.current_user if name == "$user" else name)
    return names


def path_schemas(db: DatabaseFacts) -> list[str]:
    """Effective search_path first (what name resolution uses), then setting-only schemas."""
    return list(dict.fromkeys([*db.search_path, *setting_schemas(db)]))


def usable(t: TableInfo) -> bool:
    return t.schema_usage and t.can_select


@record(slots=True)
class Place:
    """Where one expected table was found, from the service role's point of view."""

    name: str
    origin: str
    state: str  # "ok" | "invisible" | "other-schema" | "other-database" | "nowhere"
    table: TableInfo | None = None
    elsewhere: Sequence[TableInfo] = ()  # same name in other schemas
    databases: Sequence[str] = ()  # "db: schema.table" in other databases

    @property
    def found(self) -> TableInfo:
        """The table name resolution reaches (set for "ok" and "invisible")."""
        assert self.table is not None
        return self.table


@record
class Catalog:
    """The service's catalog indexed once by table name, so locating n expected tables among m
    present ones costs n + m, not n x m (10,000 of each took seconds)."""

    unique: dict[str, TableInfo]  # names only one schema holds: nearly all of them
    shared: dict[str, list[TableInfo]]  # names several schemas hold, in the catalog's order
    elsewhere: dict[str, list[str]]  # table name -> "db: schema.table" in the server's other databases
    setting: list[str] = field(default_factory=list)  # setting_schemas(db), parsed once
    path: frozenset[str] = frozenset()  # the effective search_path's schemas

    @classmethod
    def of(cls, db: DatabaseFacts) -> Catalog:
        tables = db.tables
        unique = dict(zip(map(attrgetter("name"), tables), tables, strict=True))  # C loops: 10,000 tables in 0.5 ms
        shared: dict[str, list[TableInfo]] = {}
        if len(unique) < len(tables):
            counts = Counter(map(attrgetter("name"), tables))
            for t in tables:
                if counts[t.name] > 1:
                    shared.setdefault(t.name, []).append(t)
            for name in shared:
                del unique[name]
        elsewhere: dict[str, list[str]] = {}
        for d, entries in sorted(db.other_databases.items()):
            for entry in entries:
                # "schema.a.b" ends with ".b" and with ".a.b": index every name the entry ends with
                parts = entry.split(".")
                for i in range(1, len(parts)):
                    elsewhere.setdefault(".".join(parts[i:]), []).append(f"{d}: {entry}")
        return cls(unique, shared, elsewhere, setting_schemas(db), frozenset(db.search_path))

    def same_name(self, table: str) -> list[TableInfo]:
        """Every table called ``table``, whatever its schema, in the catalog's order."""
        t = self.unique.get(table)
        return [t] if t is not None else self.shared.get(table, [])


def locate(db: DatabaseFacts, name: str, origin: str, catalog: Catalog | None = None) -> Place:
    """Resolve ``name`` the way PostgreSQL would for the service's role, then look further."""
    catalog = catalog or Catalog.of(db)
    if "." not in name:  # the common case, 10,000 times in a big catalog: one table of that name, on the path
        t = catalog.unique.get(name)
        if t is not None and t.schema in catalog.path:
            return Place(name, origin, "ok" if t.can_select else "invisible", t)
    schema, table = split_name(name)
    same_name = catalog.same_name(table)
    matches = same_name if schema is None else [t for t in same_name if t.schema == schema]
    if schema is not None and matches:
        return Place(name, origin, "ok" if usable(matches[0]) else "invisible", matches[0])
    effective = [t for s in db.search_path for t in matches if t.schema == s] if matches else []
    if effective:  # resolution takes the first hit on the effective path, usable or not
        return Place(name, origin, "ok" if effective[0].can_select else "invisible", effective[0])
    on_setting = [t for s in catalog.setting for t in matches if t.schema == s] if matches else []
    if on_setting:  # on the path as written, but the role lacks USAGE, so resolution skips it
        return Place(name, origin, "invisible", on_setting[0])
    if same_name:
        return Place(name, origin, "other-schema", elsewhere=same_name)
    found = catalog.elsewhere.get(table, [])
    return Place(name, origin, "other-database" if found else "nowhere", databases=found)


def _listed(places: list[Place]) -> str:
    """schema.table of the first SHOWN places; the rest counted, so 10,000 tables make no 150 KB line."""
    shown = ", ".join(f"{p.found.schema}.{p.name}" for p in places[:SHOWN])
    return shown + (f" and {len(places) - SHOWN} more" if len(places) > SHOWN else "")


def _names(places: list[Place]) -> str:
    return ", ".join(p.name for p in places)


def _invisible(db: DatabaseFacts, places: list[Place]) -> list[Finding]:
    by_schema: dict[str, list[Place]] = {}
    for p in places:
        by_schema.setdefault(p.found.schema, []).append(p)
    out = []
    user = db.current_user
    for schema, group in by_schema.items():
        owner = group[0].found.owner
        q_schema, q_user = quote_ident(schema), quote_ident(user)
        grants = (
            f"GRANT USAGE ON SCHEMA {q_schema} TO {q_user}; "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {q_schema} TO {q_user}; "
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {q_schema} TO {q_user};  -- as {quote_ident(owner)}"
        )
        evidence = [_privileges(p.found, user) for p in group]
        out.append(fail(
            f"{_names(group)} exist in {db.current_database}.{schema} but {user} cannot use them "
            f"(owned by {owner}, no grant)",
            "tables-invisible-to-role", obj=_names(group), evidence=evidence,
            fix_vars={"grants": grants, "owner": quote_ident(owner), "schema": q_schema, "user": q_user},
        ))
    return out


def _privileges(t: TableInfo, user: str) -> str:
    shown = "shows" if t.in_information_schema else "does not show"
    return (
        f"{t.schema}.{t.name} exists (pg_class), owned by {t.owner}; information_schema.tables {shown} it to "
        f"{user}; {user} has SELECT on it: {'yes' if t.can_select else 'no'}, USAGE on schema {t.schema}: "
        f"{'yes' if t.schema_usage else 'no'}"
    )


def _other_schema(db: DatabaseFacts, places: list[Place]) -> list[Finding]:
    by_schema: dict[str, list[Place]] = {}
    for p in places:
        by_schema.setdefault(p.elsewhere[0].schema, []).append(p)
    path = db.search_path_setting or ", ".join(db.search_path)
    out = []
    for schema, group in by_schema.items():
        evidence = [f"search_path of {db.current_user}: {path} (effective: {', '.join(db.search_path) or 'none'})"]
        evidence += [
            f"{p.name} is in schema {', '.join(t.schema for t in p.elsewhere)} only (owner {p.elsewhere[0].owner}"
            f"{'' if usable(p.elsewhere[0]) else f'; {db.current_user} also lacks SELECT or USAGE there'})"
            for p in group
        ]
        out.append(fail(
            f"{_names(group)} are in schema {schema} of {db.current_database}, outside {db.current_user}'s "
            f"search_path", "tables-in-other-schema", obj=_names(group), evidence=evidence,
            fix_vars={"schema": quote_ident(schema), "user": quote_ident(db.current_user),
                      "search_path": ", ".join([quote_ident(schema), *(path.split(", ") if path else ["public"])])},
        ))
    return out


def _same_database(facts: Facts, db: DatabaseFacts) -> bool | None:
    """Does the job's role reach the service's very database? None when the job was not reached."""
    job = (facts.databases or {}).get("job")
    if job is None or not job.reached:
        return None
    return job.target == db.target and job.via == db.via and job.current_database == db.current_database


def _targets_differ(facts: Facts, db: DatabaseFacts) -> bool | None:
    """Do the job and the service reach different databases? Decided by the workloads' own targets only:
    where each connected (both reached), else what each resolved to (instance or host, port, database).
    A table of the same name in another database of the server decides nothing (it may be anyone's)."""
    same = _same_database(facts, db)
    if same is not None:
        return not same
    targets = facts.targets or {}
    s, j = targets.get("service"), targets.get("job")
    if s is None or j is None or not (s.database and j.database):
        return None
    return (s.instance or s.host, s.port or 5432, s.database) != (j.instance or j.host, j.port or 5432, j.database)


def _secret_pairs(facts: Facts) -> str:
    """ENV=SECRET:VERSION for the service's database settings: what the job should bind too."""
    if facts.service is None:
        return ""
    env = facts.service.env()
    pairs = []
    for name in facts.target.secret_envs.values():
        var = env.get(name)
        if var is not None and var.secret is not None:
            pairs.append(f"{name}={var.secret.secret}:{var.secret.version}")
    return gcloud_join(pairs)  # ^DELIM^ if a name holds a comma


def _other_database(facts: Facts, db: DatabaseFacts, places: list[Place]) -> Finding:
    evidence = [f"{p.name} is not in {db.current_database} (the service's database) but is in {d}"
                for p in places for d in p.databases]
    same = _same_database(facts, db)
    if same:
        evidence.append(f"the job's role also reaches {db.current_database} on {db.target}")
        return warn(
            f"{_names(places)} exist only in another database of the server; job and service both use "
            f"{db.current_database}", "job-service-different-database", obj=_names(places), evidence=evidence,
            confidence=0.5, fix_vars={"secret_pairs": _secret_pairs(facts)},
        )
    return fail(
        f"{_names(places)} exist only in another database of the server, not in {db.current_database}",
        "job-service-different-database", obj=_names(places), evidence=evidence,
        fix_vars={"secret_pairs": _secret_pairs(facts)},
    )


def _recorded(db: DatabaseFacts) -> list[str]:
    return [v for a in db.alembic_versions for v in a.versions]


def _nowhere(facts: Facts, db: DatabaseFacts, places: list[Place], where: str = "") -> list[Finding]:
    where = where or f"in no schema of {db.current_database} and in no other database read"
    m: MigrationFacts | None = facts.migrations
    if m is None:
        return [
            fail(f"{_names(places)} are {where}", obj=_names(places),
                 evidence=[f"{p.name}: {p.origin}" for p in places]),
            skip("whether any revision creates them is unknown: the migration scripts were not read "
                 "(pass --alembic-ini)"),
        ]
    standing = tables_at_head(m)
    recorded = _recorded(db)
    applied = ancestors(m, recorded)
    missing = [p for p in places if p.name not in standing and split_name(p.name)[1] not in standing]
    missing_names = {p.name for p in missing}
    out: list[Finding] = []
    opaque = [r for r in m.revisions if r.opaque]
    if missing and opaque:  # an unreadable revision may create them: say what to read, claim nothing
        out.append(warn(
            f"{_names(missing)} exist nowhere on the server and no revision that could be read creates them, but "
            f"{len(opaque)} revision(s) could not be fully read and may: look at them",
            obj=_names(missing), evidence=[f"{p.name}: {p.origin}; {where}" for p in missing]
            + [opaque_note(r) for r in opaque[:5]],
        ))
        missing = []
    if missing:
        evidence = [f"{p.name}: {p.origin}; {where}" for p in missing]
        scripts = m.script_location or m.alembic_ini
        evidence.append(f"no revision up to head ({', '.join(m.heads) or 'none'}) creates {_names(missing)} "
                        f"({len(m.revisions)} revisions read from {scripts})")
        out.append(fail(
            f"{_names(missing)} are created by no Alembic revision and exist nowhere on the server",
            "migration-missing-for-tables", obj=_names(missing), evidence=evidence,
            fix_vars={"tables": ", ".join(p.name for p in missing)},
        ))
    unknown = [v for v in recorded if v not in m.by_id()]
    opaque_done, pos = opaque_applied(m, applied), positions(m)
    stamp: dict[str, str] | None = None  # computed once, for the first stamped table
    for p in places:
        if p.name in missing_names:
            continue
        rev = standing.get(p.name) or standing[split_name(p.name)[1]]
        evidence = [f"revision {rev.revision} creates {p.name}; {where}",
                    f"{db.current_database} records {', '.join(recorded) or 'no alembic_version'}"]
        doubt = opaque_after(rev, opaque_done, pos)
        if unknown:  # what was applied follows from the recorded revision, which the scripts do not know
            out.append(warn(f"{p.name} is missing; revision {rev.revision} creates it, but the database records "
                            f"{', '.join(unknown)}, unknown to the scripts (see the revision check)", obj=p.name,
                            evidence=evidence))
        elif rev.revision in applied and doubt:
            out.append(warn(f"{p.name} is missing although the recorded revision includes {rev.revision}, which "
                            "creates it; later revisions that could not be fully read may have renamed or dropped it",
                            obj=p.name, evidence=[*evidence, *(opaque_note(r) for r in doubt)]))
        elif rev.revision in applied:
            if stamp is None:
                rec = recorded_table(db)
                stamp = stamp_fix(m, StampCatalog(db), rec.versions, rec.table.schema) if rec else {}
            out.append(fail(
                f"{p.name} is missing although the recorded revision includes {rev.revision}, which creates it",
                "revision-stamped-without-schema", obj=p.name, evidence=evidence, fix_vars=stamp,
            ))
        else:
            out.append(fail(f"{p.name} is missing: revision {rev.revision} creates it but was not applied here",
                            "migration-not-applied", obj=p.name, evidence=evidence))
    return out


def _refutations(facts: Facts, db: DatabaseFacts, places: list[Place]) -> list[Finding]:
    """Pass findings that disprove the causes no table supports: they land in ``ruled_out``."""
    states = {p.state for p in places}
    user, name = db.current_user, db.current_database
    present = [p for p in places if p.state == "ok"]
    absent = [p for p in places if p.state == "nowhere"]
    out: list[Finding] = []
    on_path = [p for p in places if p.table is not None]  # usable or not, name resolution reaches them
    if "invisible" not in states:
        evidence = [f"pg_class, which every role reads whatever its grants, has no table {p.name} in {name}"
                    for p in absent]
        if present:
            evidence.append(f"{user} can SELECT the {len(present)} expected table(s) that exist: {_listed(present)}")
        out.append(ok(f"no expected table is hidden from {user} by missing grants", "tables-invisible-to-role",
                      obj="tables", evidence=evidence))
    if "other-schema" not in states:
        evidence = []
        if absent:
            evidence.append(f"none of the {len(db.schemas)} schemas of {name} ({', '.join(db.schemas)}) holds "
                            f"{_names(absent)}")
        evidence.append(f"search_path of {user}: {db.search_path_setting or ', '.join(db.search_path)}")
        if on_path:
            evidence.append(f"the {len(on_path)} expected table(s) that exist are on it: {_listed(on_path)}")
        out.append(ok(f"no expected table sits in a schema outside {user}'s search_path", "tables-in-other-schema",
                      obj="tables", evidence=evidence))
    if absent and "other-database" not in states:
        same = _same_database(facts, db)
        read = sorted(db.other_databases)
        evidence = []
        if same:
            evidence.append(f"the job's role reaches the same database: {name} on {db.target} ({db.via})")
        if read:
            evidence.append(f"no other database of the server holds {_names(absent)} (read: {', '.join(read)})")
        elif not db.other_database_errors:
            evidence.append(f"{name} is the only database on the server")
        unread = [f"could not read {d}: {why}" for d, why in sorted(db.other_database_errors.items())]
        if same or not unread:
            out.append(ok(f"{_names(absent)} are in no other database the job could have migrated instead",
                          "job-service-different-database", obj="tables", evidence=evidence + unread))
    return out


def _unreached(db: DatabaseFacts) -> str:
    if db.error_kind in ("no-route", "unresolved"):
        return db.error or "the service's database was not reached"
    return f"could not read the service's database ({db.error_kind}): {db.error}"


@check(
    "tables",
    "Expected tables exist where the service looks, visible to its role",
    needs=("databases",),
    uses=("migrations", "logs", "service"),
    causes=("tables-in-other-schema", "tables-invisible-to-role", "job-service-different-database",
            "migration-missing-for-tables", "migration-not-applied", "revision-stamped-without-schema"),
)
def tables(facts: Facts) -> list[Finding]:
    """Good: every expected table (config's expected_tables, else those the revisions up to head
    create plus those the service names in its startup errors) exists in the service's database,
    in a schema on its role's search_path, and that role can SELECT it and use its schema."""
    db = (facts.databases or {}).get("service")
    if db is None:
        return [skip("the service's database was not examined")]
    if not db.reached:
        return [skip(_unreached(db))]
    expected = expected_tables(facts)
    if not expected:
        if not expectation_known(facts):
            return [skip("which tables the service needs is unknown: no expected_tables in config, migration "
                         "scripts not read (--alembic-ini) and no startup logs")]
        return [not_applicable("no expected tables: config lists none and the revisions create none")]
    catalog = Catalog.of(db)
    places = [locate(db, name, origin, catalog) for name, origin in expected.items()]
    by_state: dict[str, list[Place]] = {}
    for p in places:
        by_state.setdefault(p.state, []).append(p)
    out: list[Finding] = []
    if "ok" in by_state:
        good = by_state["ok"]
        out.append(ok(
            f"{len(good)} expected table(s) in {db.current_database}, on {db.current_user}'s search_path "
            "and usable by it",
            evidence=[f"{p.found.schema}.{p.name} (owner {p.found.owner}): {p.origin}" for p in good[:SHOWN]]
            + ([f"... and {len(good) - SHOWN} more usable table(s)"] if len(good) > SHOWN else []),
        ))
    out += _invisible(db, by_state.get("invisible", []))
    out += _other_schema(db, by_state.get("other-schema", []))
    if "other-database" in by_state:
        elsewhere = by_state["other-database"]
        differ = _targets_differ(facts, db)
        if differ:
            out.append(_other_database(facts, db, elsewhere))
        else:  # job and service reach one database (or the job's is unknown): missing here, judged as such
            others = sorted({d for p in elsewhere for d in p.databases})
            out += _nowhere(facts, db, elsewhere, f"in no schema of {db.current_database} (a table of that name is in "
                            f"{', '.join(others)}, another database of the server, which "
                            + ("neither workload uses)" if differ is False else "the job's target may not be)"))
    if "nowhere" in by_state:
        out += _nowhere(facts, db, by_state["nowhere"])
    return out + _refutations(facts, db, places)
