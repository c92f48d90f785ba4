"""Pre-deploy: each pending lock weighed by the real table it holds, and what the service meets meanwhile.

Pure: the plan's steps (``locks.walk``) and the catalog's rows, sizes and use in; findings out for
``pending-lock-risk``, ``pending-lock-no-timeout`` and ``pending-rename-breaks-service``. The verdict
is the table's size and use, never the duration estimate (shown, labelled as one). A table the plan
itself creates holds nothing to wait for; a tiny one is ruled out with its size.
"""

from __future__ import annotations

from netra_doctor.core.causes import OMIT
from netra_doctor.core.checking import Finding, fail, not_applicable, not_judged, ok, skip, warn
from netra_doctor.core.facts import DatabaseFacts, Facts, LockSettings, MigrationFacts, RevisionFacts, TableUsage
from netra_doctor.migrations.expected import table_ops
from netra_doctor.migrations.locks import Step, classify, describe, duration_class, walk
from netra_doctor.migrations.plan import plain, usage_of, where

BIG_ROWS, SMALL_ROWS = 100_000, 10_000
MB = 1024 * 1024
BIG_BYTES, SMALL_BYTES = 100 * MB, 10 * MB
TIMEOUT_LINE = "op.execute(\"SET LOCAL lock_timeout = '5s'\")"


def size(u: TableUsage) -> str:
    return "size unknown" if u.size_bytes < 0 else f"{u.size_bytes / MB:.1f} MB"


def rows(u: TableUsage) -> float:
    return max(u.rows, float(u.live_rows))


def weight(u: TableUsage) -> str:
    """big | medium | tiny, by estimated rows and the relation's size on disk."""
    if rows(u) >= BIG_ROWS or u.size_bytes >= BIG_BYTES:
        return "big"
    if rows(u) >= SMALL_ROWS or u.size_bytes >= SMALL_BYTES:
        return "medium"
    return "tiny"


def active(u: TableUsage) -> bool:
    """Read or written since statistics were reset (scans beyond those that built its indexes, writes)."""
    return u.seq_scan > u.indexes or any((u.idx_scan, u.inserts, u.updates, u.deletes))


def table_line(u: TableUsage) -> str:
    since = f"since statistics were reset at {u.stats_reset}" if u.stats_reset else "since statistics began"
    estimate = f"about {rows(u):.0f} rows (pg_class.reltuples)" if u.rows >= 0 else "never analysed (no row estimate)"
    return (f"{u.schema}.{u.name}: {estimate}, {size(u)} (pg_relation_size); {u.seq_scan} sequential and "
            f"{u.idx_scan} index scans, {u.inserts} inserts, {u.updates} updates, {u.deletes} deletes {since}")


def start_timeout(m: MigrationFacts, settings: LockSettings | None) -> str:
    """The lock_timeout the job's session starts with: env.py's, else the role's or database's."""
    if m.env_lock_timeout:
        return f"{m.env_lock_timeout.rpartition(' ')[2]} (set in {m.env_lock_timeout.rpartition(' ')[0]})"
    if settings and settings.timeouts:
        return settings.timeouts[0]
    return ""


def repo_notes(facts: Facts) -> list[Finding]:
    """--repo-only: what would be weighed with a database (the head revisions' lock-taking statements),
    as a note, never a cause: a linter that fires on every index without the table's size is noise."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    lines = [f"{where(facts, r, op.line)}: {describe(op)}: {lock.mode}"
             + (f", {lock.work}" if lock.grows else ", instant")
             for r in m.revisions if r.revision in m.heads for op in r.lock_ops
             if (lock := classify(op)) is not None]
    total = sum(1 for r in m.revisions for op in r.lock_ops if classify(op) is not None)
    if not total:
        return [not_applicable("--repo-only: no statement of the revisions takes a table lock: nothing to weigh")]
    return [not_applicable(
        f"--repo-only: {total} lock-taking statement(s) in the revisions, not weighed: with --pre-deploy and a "
        "database each pending one is weighed by its table's rows, size and use, and the lock_timeout in force",
        evidence=lines[:20] + ([f"... {len(lines) - 20} more"] if len(lines) > 20 else []))]


def lock_findings(facts: Facts, db: DatabaseFacts, todo: list[RevisionFacts]) -> list[Finding]:
    """The pending revisions' locks, weighed by the tables they hold (see the module docstring)."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    unread = [not_judged(f"revision {r.revision} ({where(facts, r)}) was not fully read: the locks of what was not "
                         f"read are not weighed ({r.opaque[0]})", obj=r.revision) for r in todo if r.opaque]
    if not any(r.lock_ops for r in todo):
        return unread
    if facts.table_usage is None:
        return [skip("the pending revisions' locks are not weighed: table sizes and use were not read from the "
                     "database (see the table_usage source)")]
    settings = facts.lock_settings
    types = settings.column_types if settings else {}

    def column_type(table: str, column: str) -> str:
        schema, _, name = table.rpartition(".")
        return next((types[f"{s}.{name}.{column}"] for s in ([schema] if schema else db.search_path or ["public"])
                     if f"{s}.{name}.{column}" in types), "")

    per_migration = bool(m.transaction_per_migration)
    steps = walk(todo, per_migration, start_timeout(m, settings), column_type)
    origin: dict[str, str] = {}  # a name in the plan -> the table's name in the catalog today ("": the plan's own)
    seen: set[str] = set()
    out: list[Finding] = []
    warned: set[tuple[str, str]] = set()
    told: set[int] = set()  # held locks already reported (once, at the first long statement after them)
    out += unread
    for step in steps:
        r = step.revision
        if r.revision not in seen:
            seen.add(r.revision)
            for kind, *names in table_ops(r):
                if kind == "create" and names:
                    origin[plain(names[0])] = ""
        name = plain(step.op.table)
        today = origin.get(name, name)
        at = where(facts, r, step.op.line)
        if "concurrently" in step.op.flags and step.transaction >= 0:
            out.append(warn(f"{at} {describe(step.op)} inside the migration's transaction: PostgreSQL refuses "
                            "(CREATE INDEX CONCURRENTLY cannot run inside a transaction block) and the job fails "
                            "there; run it inside op.get_context().autocommit_block()", obj=step.op.table,
                            location=at))
        if step.op.kind == "rename_table":
            origin[plain(step.op.detail)] = origin.pop(name, name)
        u = usage_of(facts, db, today) if today else None
        if today and u is None:
            continue  # not in the catalog: the replay above says what fails
        if step.op.kind in ("rename_table", "rename_column") and u is not None:
            out.append(_rename(step, at, u))
        if step.lock.grows and step.lock.blocks:
            out.append(_own(step, at, u, today))
        if step.lock.grows and u is not None and weight(u) != "tiny":
            for held in step.held:
                if id(held) not in told and origin.get(plain(held.op.table), plain(held.op.table)):
                    told.add(id(held))
                    out.append(_held(facts, db, held, step, at, u, origin))
        # a tiny table is left out: its lock is granted and gone between the service's queries far more often
        # than not, and a gate that warns on every 20-row table is the noise a static linter makes
        if (step.lock.blocks and not step.timeout and u is not None and active(u) and weight(u) != "tiny"
                and (r.revision, today) not in warned):
            warned.add((r.revision, today))
            out.append(_no_timeout(step, at, u, settings))
    return out


def _evidence(step: Step, at: str) -> list[str]:
    lock = step.lock
    also = f" and {lock.also}" if lock.also else ""
    until = "until it finishes" if step.transaction < 0 else "until its transaction commits"
    blocks = f"blocks the service's {lock.blocks} {until}" if lock.blocks else "blocks neither reads nor writes"
    return [f"pending revision {step.revision.revision} ({at}) {describe(step.op)}",
            f"it takes {lock.mode} on {step.op.table}{also}: {blocks}"]


def _own(step: Step, at: str, u: TableUsage | None, today: str) -> Finding:
    evidence = _evidence(step, at)
    if u is None:
        return ok(f"{at} {describe(step.op)}, a table the plan itself creates: it holds nothing to wait for",
                  "pending-lock-risk", obj=step.op.table, location=at, evidence=evidence)
    heavy = weight(u)
    evidence += [f"it {step.lock.work}: its time grows with the table", table_line(u)]
    if heavy == "tiny":
        return ok(f"{at} {describe(step.op)}: {u.schema}.{u.name} is tiny ({rows(u):.0f} rows, {size(u)}): the lock "
                  "is over at once", "pending-lock-risk", obj=today, location=at, evidence=evidence)
    estimate = duration_class(step.lock, u.size_bytes)
    if estimate:
        evidence.append(f"estimate (rough, from the size; not used for the verdict): {estimate}")
    used = "used by the service" if active(u) else "unused since statistics were reset"
    severe = heavy == "big" or active(u)
    return (fail if severe else warn)(
        f"{at} {describe(step.op)}: {step.lock.mode} blocks the service's {step.lock.blocks} while it "
        f"{step.lock.work.split(' (')[0]} of {u.schema}.{u.name} ({rows(u):.0f} rows, {size(u)}, {used})",
        "pending-lock-risk", obj=today, location=at, evidence=evidence,
        fix_vars={"revision_file": at, "safe_form": step.lock.safe})


def _held(facts: Facts, db: DatabaseFacts, held: Step, step: Step, at: str, u: TableUsage,
          origin: dict[str, str]) -> Finding:
    """A blocking lock taken earlier in the transaction, held while ``step`` works through a table of size.
    An error when that table is big, or the locked one is in use (the service waits the whole time)."""
    first = where(facts, held.revision, held.op.line)
    table = origin.get(plain(held.op.table), plain(held.op.table))
    layout = ("in the same revision" if held.revision is step.revision
              else "in one transaction: env.py does not set transaction_per_migration=True")
    evidence = [f"pending revision {held.revision.revision} ({first}) {describe(held.op)}: {held.lock.mode} on "
                f"{held.op.table}, blocking the service's {held.lock.blocks}",
                f"then {step.revision.revision} ({at}) {describe(step.op)}: it {step.lock.work}, {layout}",
                f"the first lock is held until the transaction commits, so {table} stays blocked while it works",
                table_line(u)]
    locked = usage_of(facts, db, table)
    if locked is not None and locked is not u:
        evidence.append(table_line(locked))
    estimate = duration_class(step.lock, u.size_bytes)
    if estimate:
        evidence.append(f"estimate (rough, from the size; not used for the verdict): {estimate}")
    severe = weight(u) == "big" or (locked is not None and active(locked))
    fix = ("commit between them: the long statement in its own transaction (transaction_per_migration=True in "
           "env.py's context.configure() and the long statement in a later revision, or the long statement inside "
           "op.get_context().autocommit_block())")
    return (fail if severe else warn)(
        f"{first} {describe(held.op)}: its {held.lock.mode} lock stays held, blocking the service's "
        f"{held.lock.blocks} on {table}, while {at} {describe(step.op)}, which {step.lock.work.split(' (')[0]} of "
        f"{u.schema}.{u.name} ({rows(u):.0f} rows, {size(u)})", "pending-lock-risk", obj=table, location=first,
        evidence=evidence, fix_vars={"revision_file": first, "safe_form": fix})


def _no_timeout(step: Step, at: str, u: TableUsage, settings: LockSettings | None) -> Finding:
    checked = ["no SET [LOCAL] lock_timeout before it in the pending revisions' transaction",
               "env.py sets no lock_timeout on its connection"]
    if settings is None or settings.error:
        checked.append("the job's role and database settings were not read"
                       + (f" ({settings.error})" if settings and settings.error else ""))
    else:
        checked.append(f"pg_db_role_setting sets no lock_timeout for role {settings.role} or database "
                       f"{settings.database}")
    checked.append("a server-wide lock_timeout (postgresql.conf, a Cloud SQL flag) is not visible to this role and "
                   "is not counted")
    return warn(
        f"{at} {describe(step.op)} waits for {step.lock.mode} on {u.schema}.{u.name}, which the service uses, with no "
        "lock_timeout: while it waits behind any open transaction, every query of the service queues behind it",
        "pending-lock-no-timeout", obj=u.name, location=at,
        evidence=[*_evidence(step, at), *checked, table_line(u)],
        fix_vars={"revision_file": at, "timeout_line": TIMEOUT_LINE,
                  "user": settings.role if settings and settings.role else OMIT})


def _rename(step: Step, at: str, u: TableUsage) -> Finding:
    op = step.op
    old = f"{op.table}.{op.column}" if op.kind == "rename_column" else op.table
    new = f"{op.table}.{op.detail}" if op.kind == "rename_column" else op.detail
    used = active(u)
    return (fail if used else warn)(
        f"{at} {describe(op)}: the running service "
        + ("reads and writes" if used else "has not used it since statistics were reset, but may still name")
        + f" {old}, and every such query fails from the job's upgrade until the new revision serves",
        "pending-rename-breaks-service", obj=op.table, location=at,
        evidence=[f"pending revision {step.revision.revision} ({at}) {describe(op)}", table_line(u),
                  "the old code keeps running between `alembic upgrade` and the new revision taking traffic: it "
                  + ("meets UndefinedColumn" if op.kind == "rename_column" else "meets UndefinedTable")],
        fix_vars={"revision_file": at, "old_name": old, "new_name": new})
