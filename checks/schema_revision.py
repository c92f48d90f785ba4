"""Schema vs revision: the tables the recorded revision implies are really in the database.

A database ``alembic stamp``ed to a revision (or whose tables were dropped by hand) claims a
schema it does not have; `alembic upgrade head` then does nothing and the service fails on
the missing tables.
"""

from __future__ import annotations

from checks.revision import label, recorded, service_database
from doctor.checking import Finding, check, fail, not_applicable, ok, skip
from doctor.expected import ancestors, split_name, tables_at
from doctor.facts import DatabaseFacts, Facts, MigrationFacts


def present(db: DatabaseFacts, name: str) -> bool:
    """In any schema of the database (``schema.table`` only in that schema): whether the role can
    see it is the tables check's question, whether it was created at all is this one's."""
    schema, table = split_name(name)
    return any(t.name == table and (schema is None or t.schema == schema) for t in db.tables)


def last_complete(m: MigrationFacts, db: DatabaseFacts, applied: set[str]) -> str:
    """The last applied revision (base first) before the first whose schema is not all there:
    what to ``alembic stamp`` so that `upgrade head` recreates the rest."""
    before = "base"
    for r in m.revisions:
        if r.revision not in applied:
            continue
        if not all(present(db, name) for name in tables_at(m, [r.revision])):
            return before
        before = r.revision
    return before


@check(
    "schema-revision",
    "The tables the recorded revision implies exist",
    needs=("migrations", "databases"),
    causes=("revision-stamped-without-schema",),
)
def schema_revision(facts: Facts) -> list[Finding]:
    """Good: every table that the revisions up to (and including) the one alembic_version records
    create, less those later revisions rename or drop, exists in the service's database."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    db = service_database(facts)
    if isinstance(db, Finding):
        return [db]
    rec = recorded(db)
    if rec is None or not rec.versions:
        return [not_applicable("no revision recorded in the database: nothing claims a schema (see revision)")]
    if rec.table.error:
        return [skip(f"{rec.table.schema}.alembic_version could not be read by {db.current_user}: {rec.table.error}")]
    unknown = [v for v in rec.versions if v not in m.by_id()]
    if unknown:
        return [not_applicable(f"recorded revision {', '.join(unknown)} is unknown to the scripts: which tables it "
                               "implies cannot be told (see the revision check)")]
    standing = tables_at(m, rec.versions)
    at = ", ".join(rec.versions)
    if not standing:
        return [not_applicable(f"the revisions up to {at} create no tables")]
    missing = {name: rev for name, rev in standing.items() if not present(db, name)}
    where = f"{db.current_database} on {db.target}"
    if not missing:
        return [ok(f"all {len(standing)} tables that the revisions up to {at} create exist in {where}",
                   "revision-stamped-without-schema", obj="service", evidence=[rec.describe(db)])]
    before = last_complete(m, db, ancestors(m, rec.versions))
    return [fail(
        f"alembic_version records {at}, but {', '.join(sorted(missing))} (created by revisions it includes) "
        f"{'is' if len(missing) == 1 else 'are'} not in {where}",
        "revision-stamped-without-schema", obj="service",
        evidence=[rec.describe(db), *(f"{name}: created by {label(rev)}, in no schema of {db.current_database}"
                                      for name, rev in sorted(missing.items())),
                  f"{len(standing) - len(missing)} of the {len(standing)} tables those revisions create exist; "
                  f"last revision whose tables all exist: {before}"],
        fix_vars={"before": before},
    )]
