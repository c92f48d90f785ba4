"""Revision: the database's alembic_version against the migration scripts' single head.

Also holds what the schema and pending checks share: which database facts to read and which
``alembic_version`` the recorded revision comes from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from doctor.checking import Finding, check, fail, not_applicable, ok, skip, warn
from doctor.expected import ancestors, split_name, tables_at
from doctor.facts import AlembicVersion, DatabaseFacts, Facts, MigrationFacts, RevisionFacts


def service_database(facts: Facts) -> DatabaseFacts | Finding:
    """The service's database facts, or the skip that says why they are missing."""
    db = (facts.databases or {}).get("service")
    if db is None:
        return skip("the service's database was not examined (its target could not be resolved)")
    if not db.reached:
        if db.error_kind in ("no-route", "unresolved"):
            return skip(db.error or "the service's database was not reached")
        return skip(f"could not read the service's database ({db.error_kind}): {db.error}")
    return db


@dataclass
class Recorded:
    """The alembic_version the service's database holds, as Alembic would find it."""

    table: AlembicVersion
    on_path: bool  # in a schema on the service role's effective search_path
    others: list[AlembicVersion]  # further alembic_version tables in other schemas

    @property
    def versions(self) -> list[str]:
        return self.table.versions

    def describe(self, db: DatabaseFacts) -> str:
        what = ", ".join(self.versions) or "no row (empty)"
        return f"{db.current_database}.{self.table.schema}.alembic_version records {what}"


def recorded(db: DatabaseFacts) -> Recorded | None:
    """The first alembic_version on the role's search_path (what an unqualified name resolves
    to), else the first one anywhere; None when the database has none."""
    tables = db.alembic_versions
    if not tables:
        return None
    order = {schema: i for i, schema in enumerate(db.search_path)}
    chosen = min(tables, key=lambda a: (order.get(a.schema, len(order)), a.schema))
    return Recorded(chosen, chosen.schema in order, [a for a in tables if a is not chosen])


def pending(m: MigrationFacts, versions: list[str]) -> list[RevisionFacts]:
    """Revisions not yet applied to a database at ``versions``, base first."""
    applied = ancestors(m, versions)
    return [r for r in m.revisions if r.revision not in applied]


def label(r: RevisionFacts) -> str:
    """``id (message, file)`` for evidence lines."""
    extra = ", ".join(x for x in (r.message, os.path.basename(r.path)) if x)
    return f"{r.revision} ({extra})" if extra else r.revision


def shown_path(facts: Facts, r: RevisionFacts) -> str:
    """The revision file as the user knows it: under the configured alembic.ini's folder."""
    m = facts.migrations
    if not r.path or m is None:
        return r.revision
    rel = os.path.relpath(r.path, os.path.dirname(m.alembic_ini) or ".")
    if rel.startswith(".."):
        return r.path
    return os.path.normpath(os.path.join(os.path.dirname(facts.target.alembic_ini), rel))


def job_elsewhere(facts: Facts, db: DatabaseFacts) -> list[str]:
    """Evidence when the job's role reaches a different database from the service's."""
    job = (facts.databases or {}).get("job")
    if job is None or not job.reached or (job.target, job.current_database) == (db.target, db.current_database):
        return []
    found = "; ".join(
        f"{a.schema}.alembic_version records {', '.join(a.versions) or 'nothing'}" for a in job.alembic_versions
    ) or "no alembic_version table"
    return [f"the job's role reaches another database, {job.current_database} on {job.target}, where {found}"]


def _heads(m: MigrationFacts) -> list[Finding]:
    if len(m.heads) > 1:
        by_id = m.by_id()
        return [fail(
            f"the migration scripts have {len(m.heads)} heads: {', '.join(m.heads)}; `alembic upgrade head` "
            "refuses to run", "multiple-heads", obj="scripts",
            evidence=[f"head {label(by_id[h])}" if h in by_id else f"head {h}" for h in m.heads],
            fix_vars={"heads": " ".join(m.heads)},
        )]
    if len(m.heads) == 1:
        return [ok(f"the migration scripts have a single head, {m.heads[0]}", "multiple-heads", obj="scripts")]
    return []


def _other_schema(m: MigrationFacts, db: DatabaseFacts, rec: Recorded) -> Finding | None:
    """alembic_version outside the search_path: a warn when the migrated tables sit there with it."""
    if rec.on_path:
        return None
    schema = rec.table.schema
    standing = tables_at(m, [v for v in rec.versions if v in m.by_id()])
    here = {t.name for t in db.tables if t.schema == schema}
    with_it = sorted(n for n in standing if split_name(n)[1] in here and split_name(n)[0] in (None, schema))
    path = ", ".join(db.search_path) or "empty"
    if not with_it:
        return None
    return warn(
        f"the job migrated schema {schema}, outside {db.current_user}'s search_path ({path}): alembic_version "
        f"and {len(with_it)} of the tables its revisions create are there", "tables-in-other-schema",
        obj="alembic_version", confidence=0.6,
        evidence=[rec.describe(db), f"in schema {schema}: {', '.join(with_it)}",
                  f"search_path of {db.current_user}: {db.search_path_setting or path}"],
        fix_vars={"schema": schema, "user": db.current_user, "search_path": ", ".join([schema, *db.search_path])},
    )


def _compare(facts: Facts, m: MigrationFacts, db: DatabaseFacts) -> list[Finding]:
    rec = recorded(db)
    head = ", ".join(m.heads) or "none"
    scripts = f"migration scripts ({m.alembic_ini}): {len(m.revisions)} revisions, head {head}"
    elsewhere = job_elsewhere(facts, db)
    if rec is None:
        return [fail(
            f"no alembic_version table in {db.current_database}: the job never ran against this database",
            "migration-not-applied", obj="service",
            evidence=[f"the service's role {db.current_user} reaches {db.current_database} on {db.target}; no schema "
                      f"of it ({', '.join(db.schemas) or 'none'}) holds alembic_version", scripts, *elsewhere],
        )]
    if rec.table.error:
        return [skip(f"{db.current_database}.{rec.table.schema}.alembic_version could not be read by "
                     f"{db.current_user}: {rec.table.error}")]
    evidence = [rec.describe(db), scripts, *elsewhere]
    evidence += [f"also {o.schema}.alembic_version: {', '.join(o.versions) or 'empty'}" for o in rec.others]
    if not rec.on_path:
        evidence.append(f"schema {rec.table.schema} is not on {db.current_user}'s search_path "
                        f"({', '.join(db.search_path) or 'empty'})")
    out: list[Finding] = []
    by_id = m.by_id()
    unknown = [v for v in rec.versions if v not in by_id]
    if unknown:
        return [fail(
            f"the database records revision {', '.join(unknown)}, which the migration scripts do not have "
            f"(head {head}): newer or other code migrated it, or the revision file was deleted",
            "revision-unknown-to-code", obj="service", evidence=evidence, fix_vars={"revision": unknown[0]},
        )]
    out.append(ok(f"every recorded revision ({', '.join(rec.versions) or 'none'}) is in the migration scripts",
                  "revision-unknown-to-code", obj="service"))
    other = _other_schema(m, db, rec)
    if other:
        out.append(other)
    todo = pending(m, rec.versions)
    if not todo:
        out.append(ok(f"the database is at head {head}", "migration-not-applied", obj="service", evidence=evidence))
        return out
    at = ", ".join(rec.versions) or "base (alembic_version is empty)"
    out.append(fail(
        f"the database is at {at}, {len(todo)} revision(s) behind head {head}",
        "migration-not-applied", obj="service",
        evidence=[*evidence, *(f"pending: {label(r)}" for r in todo)],
    ))
    return out


@check(
    "revision",
    "The database's alembic_version is the migration scripts' single head",
    needs=("migrations", "databases"),
    causes=("migration-not-applied", "revision-unknown-to-code", "multiple-heads", "tables-in-other-schema"),
)
def revision(facts: Facts) -> list[Finding]:
    """Good: the scripts have one head, and the service's database holds an alembic_version (in a
    schema on its role's search_path) that records exactly that head."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    out = _heads(m)
    db = service_database(facts)
    if isinstance(db, Finding):
        return [*out, db]
    if not m.revisions and not db.alembic_versions:
        return [*out, not_applicable("the migration scripts have no revisions and the database records none")]
    return _noted(m, [*out, *_compare(facts, m, db)])


def _noted(m: MigrationFacts, findings: list[Finding]) -> list[Finding]:
    """What the source could not read as Alembic would goes with the verdicts it may weaken."""
    notes = [f"note on the scripts: {p}" for p in m.problems[:3]]
    if len(m.problems) > 3:
        notes.append(f"note on the scripts: {len(m.problems) - 3} more (see the snapshot's migrations.problems)")
    for f in findings:
        if f.status != "skip":
            f.evidence += notes
    return findings
