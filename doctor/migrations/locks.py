"""What lock each pending statement takes, what it blocks, and whether its work grows with the table.

Pure: a ``LockOp`` (read statically from a revision, see revision_ops) in, a ``Lock`` out, following
PostgreSQL's documentation of ALTER TABLE and CREATE INDEX (PostgreSQL 12+). ``walk`` then lays the
plan out as Alembic runs it: one transaction for the whole ``upgrade`` unless env.py sets
``transaction_per_migration=True``, ``autocommit_block()`` committing around its body, ``SET LOCAL
lock_timeout`` lasting to the end of its transaction and ``SET lock_timeout`` to the end of the session.
A lock taken in a transaction is held until it commits, so an instant ALTER followed by a long
statement in the same transaction blocks its table for as long as the long one works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import field

from netra_doctor.core.facts import LockOp, RevisionFacts
from netra_doctor.core.records import record

READS_WRITES = "reads and writes"
WRITES = "writes"


@record(frozen=True)
class Lock:
    mode: str  # PostgreSQL's lock mode on the table
    blocks: str  # what the running service cannot do meanwhile: READS_WRITES, WRITES or ""
    work: str  # what it does while holding it, growing with the table ("" = a catalog change, instant)
    safe: str = ""  # the safe Alembic form ("" when this already is one)
    also: str = ""  # another table it locks the same way (a foreign key's referenced table)

    @property
    def grows(self) -> bool:
        return bool(self.work)


# MB per second each kind of work goes through, measured roughly on PostgreSQL 15 (a 377 MB table: rewrite
# 13.6 s, index build 2.4 s, scan for NOT NULL 1.1 s): only for the duration class, never for a verdict
_RATE_MB_S = {"rewrites": 30.0, "builds": 150.0, "scans": 350.0, "validates": 350.0}


def duration_class(lock: Lock, size_bytes: int) -> str:
    """A rough duration class for the work on a table of ``size_bytes`` (labelled an estimate)."""
    if not lock.grows or size_bytes < 0:
        return ""
    rate = next((r for word, r in _RATE_MB_S.items() if lock.work.startswith(word)), 100.0)
    seconds = size_bytes / 1e6 / rate
    for bound, label in ((1, "under a second"), (10, "seconds"), (60, "tens of seconds"), (600, "minutes")):
        if seconds < bound:
            return label
    return "tens of minutes or more"


def _in_batches(table: str, column: str) -> str:
    return (f"add {column} nullable with no default (op.add_column('{table}', sa.Column('{column}', ..., "
            "nullable=True))), give new rows the default with op.alter_column(server_default=...), backfill the "
            "existing rows in batches (each its own transaction), then a CHECK ({column} IS NOT NULL) with "
            "postgresql_not_valid=True, VALIDATE it in its own transaction, and only then nullable=False")


def classify(op: LockOp, current_type: str = "") -> Lock | None:
    """The lock ``op`` takes on its table (None for what takes none: an autocommit marker, a setting)."""
    t, c = op.table, op.column
    not_valid = "not_valid" in op.flags
    if op.kind == "add_column":
        if "volatile_default" in op.flags:
            return Lock("ACCESS EXCLUSIVE", READS_WRITES, "rewrites every row (a volatile default: a value per row)",
                        _in_batches(t, c))
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, "")
    if op.kind == "alter_type":
        before = current_type or op.existing
        if before and "using" not in op.flags and not rewrites(before, op.detail):  # USING: taken as a rewrite
            return Lock("ACCESS EXCLUSIVE", READS_WRITES, "")
        unknown = "" if before else " (its current type unknown: taken as a rewrite)"
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, f"rewrites every row and rebuilds the indexes{unknown}",
                    f"expand and contract: add a new column of type {op.detail}, write both, backfill it in "
                    "batches, switch reads to it, and drop the old column in a later release")
    if op.kind == "set_not_null":
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, "scans every row for NULLs",
                    f"op.create_check_constraint('ck_{_bare(t)}_{c}_not_null', '{_bare(t)}', '{c} IS NOT NULL', "
                    "postgresql_not_valid=True); VALIDATE CONSTRAINT in its own transaction "
                    "(transaction_per_migration=True in env.py, or the next revision); then "
                    f"op.alter_column('{_bare(t)}', '{c}', nullable=False), which PostgreSQL 12+ proves from the "
                    "valid check without a scan")
    if op.kind == "create_index":
        if "concurrently" in op.flags:
            return Lock("SHARE UPDATE EXCLUSIVE", "", "")
        unique = ", unique=True" if "unique" in op.flags else ""
        return Lock("SHARE", WRITES, "builds the index over every row",
                    f"with op.get_context().autocommit_block(): op.create_index('{op.detail or 'ix_name'}', "
                    f"'{_bare(t)}', [...]{unique}, postgresql_concurrently=True)")
    if op.kind == "add_foreign_key":
        if not_valid:
            return Lock("SHARE ROW EXCLUSIVE", WRITES, "", also=op.detail)
        return Lock("SHARE ROW EXCLUSIVE", WRITES, "validates every row against the referenced table",
                    "op.create_foreign_key(..., postgresql_not_valid=True), then in its own transaction "
                    f"op.execute('ALTER TABLE {t} VALIDATE CONSTRAINT <name>') (transaction_per_migration=True "
                    "in env.py, or the next revision)", also=op.detail)
    if op.kind == "add_check":
        if not_valid:
            return Lock("ACCESS EXCLUSIVE", READS_WRITES, "")
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, "validates every row",
                    "op.create_check_constraint(..., postgresql_not_valid=True), then in its own transaction "
                    f"op.execute('ALTER TABLE {t} VALIDATE CONSTRAINT <name>') (transaction_per_migration=True "
                    "in env.py, or the next revision)")
    if op.kind == "validate":
        return Lock("SHARE UPDATE EXCLUSIVE", "", "validates every row")
    if op.kind in ("add_unique", "add_primary_key"):
        if "using_index" in op.flags:
            return Lock("ACCESS EXCLUSIVE", READS_WRITES, "")
        what = "UNIQUE" if op.kind == "add_unique" else "PRIMARY KEY"
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, "builds a unique index over every row",
                    "with op.get_context().autocommit_block(): op.create_index('ix_name', "
                    f"'{_bare(t)}', [...], unique=True, postgresql_concurrently=True); then "
                    f"op.execute('ALTER TABLE {t} ADD CONSTRAINT <name> {what} USING INDEX ix_name')")
    if op.kind in ("rename_table", "rename_column"):
        return Lock("ACCESS EXCLUSIVE", READS_WRITES, "")
    return None


def describe(op: LockOp) -> str:
    """The operation in words, as the revision wrote it."""
    t, c, d = op.table, op.column, op.detail
    sql = " (op.execute SQL)" if "sql" in op.flags else ""
    text = {
        "add_column": f"adds column {t}.{c}" + (" NOT NULL" if "not_null" in op.flags else "")
        + (" with a volatile default" if "volatile_default" in op.flags else
           " with a default" if "default" in op.flags else ""),
        "alter_type": f"changes {t}.{c} to type {d}",
        "set_not_null": f"sets {t}.{c} NOT NULL",
        "create_index": f"creates index {d or '(unnamed)'} on {t}"
        + (" concurrently" if "concurrently" in op.flags else ""),
        "add_foreign_key": f"adds a foreign key from {t} to {d or 'another table'}"
        + (" NOT VALID" if "not_valid" in op.flags else ""),
        "add_check": f"adds a check constraint on {t}" + (" NOT VALID" if "not_valid" in op.flags else ""),
        "validate": f"validates constraint {d} of {t}",
        "add_unique": f"adds a unique constraint on {t}",
        "add_primary_key": f"adds a primary key on {t}",
        "rename_table": f"renames table {t} to {d}",
        "rename_column": f"renames column {t}.{c} to {d}",
    }.get(op.kind, f"{op.kind} on {t}")
    return text + sql


# --- type changes ---------------------------------------------------------------------------------

_ALIASES = {
    "integer": "int4", "int": "int4", "int4": "int4", "serial": "int4",
    "biginteger": "int8", "bigint": "int8", "int8": "int8", "bigserial": "int8",
    "smallinteger": "int2", "smallint": "int2", "int2": "int2",
    "string": "varchar", "varchar": "varchar", "charactervarying": "varchar", "unicode": "varchar",
    "text": "text", "unicodetext": "text", "numeric": "numeric", "decimal": "numeric",
    "boolean": "bool", "bool": "bool", "float": "float8", "doubleprecision": "float8", "double": "float8",
    "real": "float4", "date": "date", "uuid": "uuid", "json": "json", "jsonb": "jsonb",
    "timestampwithouttimezone": "timestamp", "timestamp": "timestamp",
    "timestampwithtimezone": "timestamptz", "timestamptz": "timestamptz",
}


def normalise(type_text: str) -> tuple[str, list[int]]:
    """A SQLAlchemy or PostgreSQL type as (base, [modifiers]): ``String(20)``, ``character varying(20)``
    and ``VARCHAR(length=20)`` are all ``("varchar", [20])``."""
    text = type_text.strip().lower()
    head, _, rest = text.partition("(")
    base = re.sub(r"[\s_]", "", head.rpartition(".")[2])
    if base == "datetime":
        base = "timestamptz" if "timezone=true" in rest.replace(" ", "") else "timestamp"
    elif base in ("timestamp", "time") and "timezone=true" in rest.replace(" ", ""):
        base += "tz"
    mods = [int(n) for n in re.findall(r"(?<![\w=])(\d+)", rest)] + [
        int(n) for n in re.findall(r"(?:length|precision|scale)\s*=\s*(\d+)", rest)]
    return _ALIASES.get(base, base), mods


def rewrites(before: str, after: str) -> bool:
    """Whether changing a column from ``before`` to ``after`` rewrites the table (not binary-coercible)."""
    (b, bm), (a, am) = normalise(before), normalise(after)
    if b == a and bm == am:
        return False
    if b in ("varchar", "text") and a == "text":
        return False  # varchar(n) -> text: the same bytes
    if b in ("varchar", "text") and a == "varchar":
        return bool(am) and (b == "text" or not bm or am[0] < bm[0])  # only a tighter limit checks rows
    if b == a == "numeric":
        return bool(am) and (not bm or len(am) < 2 or len(bm) < 2 or am[1] != bm[1] or am[0] < bm[0])
    return True


def _bare(table: str) -> str:
    return table.rpartition(".")[2]


# --- the plan as Alembic runs it --------------------------------------------------------------------


@record
class Step:
    revision: RevisionFacts
    op: LockOp
    lock: Lock
    transaction: int  # -1: inside autocommit_block(), no transaction
    timeout: str  # the lock_timeout in force and where it was set ("" = none)
    held: list[Step] = field(default_factory=list)  # earlier blocking locks of the same transaction


def _off(value: str) -> bool:
    return value.strip().strip("'\"").lower() in ("0", "0s", "0ms", "", "default")


def walk(revisions: list[RevisionFacts], per_migration: bool, start_timeout: str,
         column_type: Callable[[str, str], str] = lambda table, column: "") -> list[Step]:
    """Every lock-taking step of the pending ``revisions`` in the order the job runs them, with its
    transaction, the lock_timeout in force (``start_timeout``: env.py's, the role's or the database's)
    and the blocking locks taken earlier in the same transaction (held until it commits).
    ``column_type(table, column)``: the column's type in the catalog today ("" when unknown)."""
    steps: list[Step] = []
    transaction, session = 0, start_timeout
    local = ""
    open_steps: list[Step] = []
    for rev in revisions:
        if per_migration:
            transaction, local, open_steps = transaction + 1, "", []
        in_autocommit = False
        for op in rev.lock_ops:
            if op.kind == "autocommit_begin":
                in_autocommit, local, open_steps = True, "", []
                continue
            if op.kind == "autocommit_end":
                in_autocommit, transaction = False, transaction + 1
                continue
            if op.kind == "lock_timeout":
                where = f"{rev.path.rpartition('/')[2] or rev.revision}:{op.line}"
                value = "" if _off(op.detail) else f"{op.detail} (SET {'LOCAL ' if 'local' in op.flags else ''}" \
                                                   f"lock_timeout at {where})"
                if "local" not in op.flags:
                    session, local = value, ""
                elif not in_autocommit:  # SET LOCAL outside a transaction block does nothing
                    local = value if value else "off"
                continue
            lock = classify(op, column_type(op.table, op.column) if op.kind == "alter_type" else "")
            if lock is None:
                continue
            timeout = "" if local == "off" else local or session
            step = Step(rev, op, lock, -1 if in_autocommit else transaction, timeout)
            if not in_autocommit:
                step.held = [s for s in open_steps if s.lock.blocks and not (
                    s.op.table == op.table and _covers(lock.blocks, s.lock.blocks))]
                open_steps.append(step)
            steps.append(step)
    return steps


def _covers(mine: str, theirs: str) -> bool:
    """A lock that blocks ``mine`` already blocks at least ``theirs``."""
    return mine in (READS_WRITES, theirs)
