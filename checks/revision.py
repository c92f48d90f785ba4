"""Revision: the database's alembic_version against the migration scripts' single head."""

from __future__ import annotations

from netra_doctor.cloudrun.jobcommand import upgrade_targets
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts, MigrationFacts
from netra_doctor.migrations.expected import ancestors, split_name, tables_at
from netra_doctor.migrations.recorded import Recorded, job_elsewhere, label, pending, recorded, service_database
from netra_doctor.migrations.stamping import opaque_note


def _heads(facts: Facts, m: MigrationFacts, versions: list[str] | None) -> list[Finding]:
    """Several heads are a cause only when the job's `alembic upgrade` does not reach each of them."""
    if len(m.heads) <= 1:
        return [ok(f"the migration scripts have a single head, {m.heads[0]}", "multiple-heads", obj="scripts")
                ] if m.heads else []
    by_id = m.by_id()
    evidence = [f"head {label(by_id[h])}" if h in by_id else f"head {h}" for h in m.heads]
    heads = ", ".join(m.heads)
    targets = upgrade_targets(facts.job, facts)
    runs = ", ".join(f"`alembic upgrade {t}`" for t in targets or ())
    covered = _covered(m, targets or [])
    if targets and covered >= set(m.heads):
        every = versions is not None and set(m.heads) <= set(versions)
        return [ok(f"the migration scripts have {len(m.heads)} heads by design: the job runs {runs}, which upgrades "
                   f"each{'; the database records every head' if every else ''}", "multiple-heads", obj="scripts",
                   evidence=[*evidence, f"the job's command runs {runs}"])]
    fix = {"heads": " ".join(m.heads)}
    if targets:
        left = [h for h in m.heads if h not in covered]
        why = ("`alembic upgrade head` refuses to run when there are several heads" if "head" in targets
               else f"it leaves {', '.join(left)} unapplied")
        return [fail(f"the migration scripts have {len(m.heads)} heads ({heads}) and the job runs {runs}: {why}",
                     "multiple-heads", obj="scripts", evidence=[*evidence, f"the job's command runs {runs}"],
                     fix_vars=fix)]
    unknown = "the job's command was not read" if facts.job is None else "the job's command names no readable target"
    return [fail(
        f"the migration scripts have {len(m.heads)} heads: {heads}; `alembic upgrade head` refuses to run "
        f"({unknown}: unless it upgrades `heads` or each branch, the job fails)", "multiple-heads", obj="scripts",
        evidence=evidence, fix_vars=fix,
    )]


def _covered(m: MigrationFacts, targets: list[str]) -> set[str]:
    """The heads that `alembic upgrade T` for each of ``targets`` brings the database to."""
    if "heads" in targets:
        return set(m.heads)
    labelled = {lab: r.revision for r in m.revisions for lab in r.branch_labels}
    lines = {h: ancestors(m, [h]) for h in m.heads}
    out: set[str] = set()
    for t in targets:
        base, _, rel = t.partition("@")
        rev = labelled.get(base, base)
        if rel == "head":
            out |= {h for h, line in lines.items() if rev in line}
        elif not rel and rev in lines:
            out.add(rev)
    return out


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
    uses=("job",),
)
def revision(facts: Facts) -> list[Finding]:
    """Good: the scripts have one head, and the service's database holds an alembic_version (in a
    schema on its role's search_path) that records exactly that head."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    db = service_database(facts)
    rec = recorded(db) if not isinstance(db, Finding) else None
    out = [*_heads(facts, m, rec.versions if rec and not rec.table.error else None), *_read(m)]
    if isinstance(db, Finding):
        return [*out, db]
    if not m.revisions and not db.alembic_versions:
        return [*out, not_applicable("the migration scripts have no revisions and the database records none")]
    return _noted(m, [*out, *_compare(facts, m, db)])


def _read(m: MigrationFacts) -> list[Finding]:
    """How the scripts were read: doubts about where they are (warnings), revisions that could not
    be fully read (their reasons, for -v and JSON)."""
    out = [warn(w, obj="scripts") for w in m.warnings]
    opaque = [r for r in m.revisions if r.opaque]
    if opaque:
        out.append(ok(f"{len(m.revisions)} revisions read from source; what {len(opaque)} of them do to tables could "
                      "not be fully read (causes resting on them carry less confidence)", obj="scripts",
                      evidence=[opaque_note(r) for r in opaque]))
    return out


def _noted(m: MigrationFacts, findings: list[Finding]) -> list[Finding]:
    """What the source could not read as Alembic would goes with the verdicts it may weaken."""
    notes = [f"note on the scripts: {p}" for p in m.problems[:3]]
    if len(m.problems) > 3:
        notes.append(f"note on the scripts: {len(m.problems) - 3} more (see the snapshot's migrations.problems)")
    for f in findings:
        if f.status != "skip":
            f.evidence += notes
    return findings
