"""Schema vs revision: the tables the recorded revision implies are really in the database.

A database ``alembic stamp``ed to a revision (or whose tables were dropped by hand) claims a
schema it does not have; `alembic upgrade head` then does nothing and the service fails on
the missing tables.
"""

from __future__ import annotations

from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import Facts, MigrationFacts
from netra_doctor.migrations.expected import ancestors, tables_at
from netra_doctor.migrations.recorded import label, recorded, service_database
from netra_doctor.migrations.stamping import Catalog, opaque_after, opaque_applied, opaque_note, positions, stamp_fix


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
    by_id = m.by_id()
    unknown = [v for v in rec.versions if v not in by_id]
    if unknown:
        return [not_applicable(f"recorded revision {', '.join(unknown)} is unknown to the scripts: which tables it "
                               "implies cannot be told (see the revision check)")]
    standing = tables_at(m, rec.versions)
    at = ", ".join(rec.versions)
    if not standing:
        return [not_applicable(f"the revisions up to {at} create no tables")]
    catalog = Catalog(db)
    missing = {name: rev for name, rev in standing.items() if not catalog.present(name)}
    where = f"{db.current_database} on {db.target}"
    if not missing:
        return [ok(f"all {len(standing)} tables that the revisions up to {at} create exist in {where}",
                   "revision-stamped-without-schema", obj="service", evidence=[rec.describe(db)])]
    opaque, pos = opaque_applied(m, ancestors(m, rec.versions)), positions(m)
    doubted = {name: opaque_after(rev, opaque, pos) for name, rev in missing.items()}
    certain = {name: rev for name, rev in missing.items() if not doubted[name]}
    out: list[Finding] = []
    unsure = sorted(name for name in missing if doubted[name])
    if unsure:
        opaque = {r.revision: r for name in unsure for r in doubted[name]}
        out.append(warn(
            f"{', '.join(unsure)} (created by revisions up to {at}) {'is' if len(unsure) == 1 else 'are'} not in "
            f"{where}, but later revisions that could not be fully read may have renamed or dropped "
            f"{'it' if len(unsure) == 1 else 'them'}: look at those revisions before concluding anything",
            obj="service",
            evidence=[rec.describe(db), *(f"{name}: created by {label(missing[name])}" for name in unsure),
                      *(opaque_note(r) for r in opaque.values())],
        ))
    if not certain:
        return out
    return [*out, fail(
        f"alembic_version records {at}, but {', '.join(sorted(certain))} (created by revisions it includes) "
        f"{'is' if len(certain) == 1 else 'are'} not in {where}",
        "revision-stamped-without-schema", obj="service",
        evidence=[rec.describe(db), *(f"{name}: created by {label(rev)}, in no schema of {db.current_database}"
                                      for name, rev in sorted(certain.items())),
                  f"{len(standing) - len(missing)} of the {len(standing)} tables those revisions create exist"],
        fix_vars=stamp_fix(m, catalog, rec.versions, rec.table.schema),
    )]
