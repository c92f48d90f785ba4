"""Pre-deploy: the checkout is about to ship and its pending revisions are the plan.

Run with ``--pre-deploy`` (or ``pre_deploy = true`` for the environment): the revisions between the
database and head are listed in the order the job runs them, replayed over the database's real
catalog (a create of an existing table or a drop of a missing one stops `alembic upgrade`), and
each drop is weighed by what it destroys (rows, and use since statistics were reset).
"""

from __future__ import annotations

from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts, MigrationFacts, RevisionFacts, TableUsage
from netra_doctor.migrations.expected import table_ops
from netra_doctor.migrations.lockweigh import lock_findings, repo_notes
from netra_doctor.migrations.plan import actions, conflicts, op_line, plain, usage_of, where
from netra_doctor.migrations.recorded import pending, recorded, service_database

NOT_PRE_DEPLOY = "not a pre-deploy run (--pre-deploy, or pre_deploy = true for the environment)"


def _usage_line(u: TableUsage) -> str:
    rows = f"about {u.rows:.0f} rows (pg_class.reltuples)" if u.rows >= 0 else "never analysed (no row estimate)"
    since = f"since statistics were reset at {u.stats_reset}" if u.stats_reset else "since statistics began"
    builds = f" ({u.indexes} of them building its {u.indexes} index(es))" if u.indexes and u.seq_scan else ""
    return (f"{u.schema}.{u.name}: {rows}, {u.live_rows} live rows (n_live_tup); {u.seq_scan} sequential{builds} and "
            f"{u.idx_scan} index scans, {u.inserts} inserts, {u.updates} updates, {u.deletes} deletes {since}")


def _used(u: TableUsage) -> bool:
    """Rows, writes, index scans, or sequential scans beyond those that built its indexes."""
    return (u.rows > 0 or u.live_rows > 0 or u.seq_scan > u.indexes
            or any((u.idx_scan, u.inserts, u.updates, u.deletes)))


def _drops(r: RevisionFacts, origin: dict[str, str]) -> list[tuple[int, str, str, str]]:
    """(op index or -1, table, what, the table's name in the catalog today) for each table or column the
    revision drops; ``origin`` follows the plan's renames (a pending rename then a drop of the new name
    destroys the old table's rows)."""
    out = []
    for i, (kind, *names) in enumerate(table_ops(r)):
        if kind == "rename" and len(names) == 2:
            origin[names[1]] = origin.pop(names[0], names[0])
        elif kind == "drop" and names:
            out.append((i, names[0], f"drops table {names[0]}", origin.pop(names[0], names[0])))
        elif kind == "create" and names:
            origin[names[0]] = ""  # made by the plan itself: nothing in it yet
    out += [(-1, t, f"drops column {t}.{c}", origin.get(t, t)) for t, c in (p for p in r.drops_columns if len(p) == 2)]
    return out


def _declared(facts: Facts, table: str) -> list[str]:
    """The checkout's models that still declare a table a pending revision drops: the drop looks unintended."""
    models = facts.repo.models if facts.repo else None
    found = [t for t in (models.tables if models else []) if plain(t.name) == plain(table)]
    return [f"the models still declare {table} (model {t.model}, {t.path}:{t.line}): the drop looks unintended"
            for t in found[:3]]


def _damage(facts: Facts, db: DatabaseFacts, todo: list[RevisionFacts], instance: str) -> list[Finding]:
    out: list[Finding] = []
    origin: dict[str, str] = {}
    for r in todo:
        for index, table, what, today in _drops(r, origin):
            if not today:
                continue  # a table the plan creates: it holds nothing yet
            at = where(facts, r, op_line(r, index) if index >= 0 else 0)
            if facts.table_usage is None:
                out.append(skip(f"revision {r.revision} ({at}) {what}: how much it holds is unknown (table use not "
                                "read from the database)", obj=table))
                continue
            u = usage_of(facts, db, today)
            if u is None:
                continue  # not there: the conflicts above say so
            used = _used(u)
            renamed = [f"{today} is renamed {table} by an earlier pending revision"] if today != table else []
            declared = _declared(facts, table) if what.startswith("drops table") else []
            out.append((fail if used else warn)(
                f"revision {r.revision} ({at}) {what}, which "
                + ("holds data or is in use" if used else "is empty and unused since statistics were reset"),
                "pending-drop-destroys-data", obj=table, location=at,
                evidence=[f"pending revision {r.revision} ({at}) {what}", *renamed, _usage_line(u), *declared],
                fix_vars={"revision_file": at, "instance_name": instance},
            ))
    return out


@check(
    "pre-deploy-plan",
    "The pending revisions run cleanly on the real catalog and destroy nothing in use",
    needs=("migrations",),
    uses=("databases", "targets", "table_usage", "lock_settings", "repo"),
    causes=("pending-migration-conflicts", "pending-drop-destroys-data", "pending-lock-risk",
            "pending-lock-no-timeout", "pending-rename-breaks-service"),
)
def pre_deploy_plan(facts: Facts) -> list[Finding]:
    """Good (before a deploy): the recorded revision is known to the checkout, the revisions the job
    will run create no table that exists and rename or drop none that is missing, and none drops a
    table or column that holds rows or was used since statistics were reset; no statement holds a lock that
    blocks the service for as long as it works through a table of real size (or waits for one with no
    lock_timeout), and no rename pulls a name from under the running code."""
    if facts.target.repo_only:
        return repo_notes(facts)
    if not facts.target.pre_deploy:
        return [not_applicable(NOT_PRE_DEPLOY)]
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    db = service_database(facts)
    if isinstance(db, Finding):
        return [db]
    rec = recorded(db)
    versions = list(rec.versions) if rec else None
    unknown = [v for v in versions or [] if v not in m.by_id()]
    if unknown:
        return [not_applicable(f"the database records {', '.join(unknown)}, unknown to the checkout: the histories "
                               "diverged and no plan can be told (see the revision check)")]
    todo = pending(m, versions or [])
    start = ", ".join(versions or []) or "base"
    if not todo:
        return [ok(f"nothing pending: the database is at head {', '.join(m.heads) or 'none'}",
                   "pending-migration-conflicts", obj="plan")]
    plan = [f"{i}. {r.revision} ({where(facts, r)}): {'; '.join(actions(r))}" for i, r in enumerate(todo, 1)]
    out = [ok(f"{len(todo)} revision(s) pending from {start} to head {', '.join(m.heads)}: the job runs them in "
              "this order", evidence=plan)]
    found = conflicts(db, todo)
    for c in found:
        at = where(facts, c.revision, op_line(c.revision, c.index))
        out.append(fail(
            f"revision {c.revision.revision} ({at}) {c.what}: `alembic upgrade` fails there",
            "pending-migration-conflicts", obj=plain(c.table), location=at,
            evidence=[f"plan from {start}: " + " -> ".join(r.revision for r in todo),
                      f"{db.current_database} on {db.target} as {db.current_user}: {len(db.tables)} tables read",
                      f"{at}: {c.what}"],
            fix_vars={"revision_file": at, "conflict": c.what},
        ))
    if not found:
        out.append(ok(f"the {len(todo)} pending revision(s) replay cleanly over the {len(db.tables)} tables of "
                      f"{db.current_database}", "pending-migration-conflicts", obj="plan"))
    target = (facts.targets or {}).get("service")
    instance = target.instance.rsplit(":", 1)[-1] if target and target.instance else ""
    out += _damage(facts, db, todo, instance)
    out += lock_findings(facts, db, todo)
    return out


@check(
    "deploy-image",
    "The migration job runs the image about to be deployed",
    needs=("job",),
    causes=("job-image-differs",),
)
def deploy_image(facts: Facts) -> list[Finding]:
    """Good: the job's image is the one being deployed (--image or $NETRA_DOCTOR_IMAGE), so the
    migrations that run are the ones shipping (a job left on a stale :latest runs stale revisions)."""
    image = facts.target.image
    if not image:
        return [not_applicable("no image about to be deployed was given (--image IMAGE or $NETRA_DOCTOR_IMAGE)")]
    job = facts.job
    assert job is not None
    if job.image == image:
        return [ok(f"the job {job.name} runs the image about to be deployed, {image}", "job-image-differs",
                   obj="job")]
    return [fail(
        f"the job {job.name} runs {job.image or 'no image'}, not the image about to be deployed ({image})",
        "job-image-differs", obj="job",
        evidence=[f"about to deploy {image} (--image / NETRA_DOCTOR_IMAGE)", f"job {job.name} runs {job.image}",
                  "the migrations the job runs are those baked into its image, not the ones shipping"],
        fix_vars={"image": image},
    )]
