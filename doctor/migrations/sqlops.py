"""What a SQL string does to tables, read with PostgreSQL's own grammar.

``pglast`` wraps libpg_query, the server's parser, so quoting, case folding, comments, dollar
quoting and several statements in one string read exactly as PostgreSQL reads them. A ``DO``
block (procedural code) or text the grammar rejects is *opaque*: its effect on tables is not
known. Where pglast is not installed, a pattern reading of the common statements stands in,
and every result says so.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import field

from netra_doctor.core.records import record

# a C extension: a platform without a wheel falls back to patterns; imported on the first SQL string
# (20-110 ms), so a history without op.execute never pays for it
PGLAST = importlib.util.find_spec("pglast") is not None

FALLBACK_NOTE = "pglast (PostgreSQL's parser) is not installed: SQL in op.execute was read with patterns"


@record
class SqlEffect:
    """Table operations in statement order: ["create", t] / ["rename", old, new] / ["drop", t] /
    ["drop_column", t, c] / ["add_column", t, c]; ``opaque``: why some of it could not be read."""

    ops: list[list[str]] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


# SQLAlchemy's text() bind parameter syntax (op.execute wraps a plain string in text() too)
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)", re.UNICODE)


def sql_text(sql: str) -> str:
    """What the server receives from ``text(sql)``: ``:name`` binds become ``$n`` placeholders, ``\\:`` a colon."""
    return _BIND.sub(lambda m: "$1", sql).replace("\\:", ":")


_IN_TUPLE = re.compile(r"(\bIN\s+)(?:%s|%\(\w+\)s)", re.IGNORECASE)
_PYFORMAT = re.compile(r"%%|%\((\w+)\)s|%s")


def pyformat_text(sql: str) -> str:
    """What the server receives from a DB-API ``execute(sql, params)`` in psycopg2's paramstyle: ``%s`` and
    ``%(name)s`` become values (``$1`` here), ``%%`` a percent sign."""
    # `IN %s` with a tuple: psycopg2 adapts it to a parenthesised list
    sql = _IN_TUPLE.sub(lambda m: m.group(1) + "($1)", sql)
    return _PYFORMAT.sub(lambda m: "%" if m.group(0) == "%%" else "$1", sql)


def qualified(schema: str | None, table: str) -> str:
    """``schema.table``, or the bare name without a schema (how the facts name tables)."""
    return f"{schema}.{table}" if schema else table


def read_sql(sql: str) -> SqlEffect:
    if not PGLAST:
        return _read_with_patterns(sql)
    from pglast import parse_sql
    from pglast.parser import ParseError

    out = SqlEffect()
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        out.opaque.append(f"SQL PostgreSQL's grammar rejects ({exc}): {_short(sql)}")
        return out
    except Exception as exc:
        out.opaque.append(f"SQL the parser could not read ({type(exc).__name__}): {_short(sql)}")
        return out
    for raw in statements:
        _statement(raw.stmt, out)
    return out


def _statement(st, out: SqlEffect) -> None:
    kind = type(st).__name__
    if kind == "CreateStmt":
        rel = st.relation
        if rel.relpersistence != "t":  # a temporary table is gone when the session ends
            out.ops.append(["create", qualified(rel.schemaname, rel.relname)])
            for elt in st.tableElts or ():
                if type(elt).__name__ == "ColumnDef":
                    out.ops.append(["add_column", qualified(rel.schemaname, rel.relname), elt.colname])
    elif kind == "CreateTableAsStmt":
        if _objtype(st.objtype) == "OBJECT_TABLE" and st.into.rel.relpersistence != "t":
            out.ops.append(["create", qualified(st.into.rel.schemaname, st.into.rel.relname)])
    elif kind == "SelectStmt" and st.intoClause is not None:
        rel = st.intoClause.rel
        if rel.relpersistence != "t":
            out.ops.append(["create", qualified(rel.schemaname, rel.relname)])
    elif kind == "RenameStmt" and _objtype(st.renameType) == "OBJECT_TABLE":
        rel = st.relation
        out.ops.append(["rename", qualified(rel.schemaname, rel.relname), qualified(rel.schemaname, st.newname)])
    elif kind == "RenameStmt" and _objtype(st.renameType) == "OBJECT_COLUMN" and st.relation is not None:
        rel = st.relation
        out.ops.append(["rename_column", qualified(rel.schemaname, rel.relname), st.subname, st.newname])
    elif kind == "AlterObjectSchemaStmt" and _objtype(st.objectType) == "OBJECT_TABLE":
        rel = st.relation
        out.ops.append(["rename", qualified(rel.schemaname, rel.relname), qualified(st.newschema, rel.relname)])
    elif kind == "DropStmt" and _objtype(st.removeType) == "OBJECT_TABLE":
        for obj in st.objects or ():
            parts = [p.sval for p in obj]
            out.ops.append(["drop", ".".join(parts[-2:])])
    elif kind == "AlterTableStmt" and _objtype(st.objtype) == "OBJECT_TABLE":
        table = qualified(st.relation.schemaname, st.relation.relname)
        for cmd in st.cmds or ():
            sub = getattr(cmd.subtype, "name", str(cmd.subtype))
            if sub == "AT_DropColumn":
                out.ops.append(["drop_column", table, cmd.name])
            elif sub == "AT_AddColumn" and cmd.def_ is not None:
                out.ops.append(["add_column", table, cmd.def_.colname])
    elif kind == "DoStmt":
        reason = _do_block(st)
        if reason:
            out.opaque.append(reason)


# tokens through which procedural code can create, rename or drop a table (directly, with dynamic SQL,
# or by calling a routine); PL/pgSQL's SELECT ... INTO assigns variables, it makes no table
_DDL_TOKENS = frozenset({"CREATE", "DROP", "RENAME", "SCHEMA", "EXECUTE", "CALL", "IMPORT_P"})
_DDL_WORDS = frozenset({"perform"})


def _do_block(st) -> str | None:
    """Why a DO block is opaque, or None when none of its statements can touch a table's existence
    (the common idempotent ``ALTER COLUMN ... TYPE`` or ``UPDATE`` blocks)."""
    body, language = None, "plpgsql"
    for arg in st.args or ():
        if arg.defname == "as":
            body = arg.arg.sval
        elif arg.defname == "language":
            language = arg.arg.sval.lower()
    if body is None or language != "plpgsql":
        return f"a DO block in {language} (procedural code: what it does to tables is decided when it runs)"
    try:
        from pglast.parser import scan

        tokens = scan(body)
    except Exception:  # unreadable body: opaque, never a crash
        return "a DO block the scanner cannot read (procedural code)"
    found = sorted({t.name for t in tokens if t.name in _DDL_TOKENS}
                   | {body[t.start:t.end + 1].lower() for t in tokens if t.name == "IDENT"} & _DDL_WORDS)
    if not found:
        return None
    shown = ", ".join(w.removesuffix("_P") for w in found)
    return f"a DO block using {shown} (procedural code: what it does to tables is decided when it runs)"


def _objtype(value) -> str:
    return getattr(value, "name", str(value))


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 80 else text[:77] + "..."


# --- without pglast ---------------------------------------------------------------------------

_IDENT = r'(?:"[^"]+"|[\w$]+)(?:\s*\.\s*(?:"[^"]+"|[\w$]+))?'
_PATTERNS = [
    ("create", re.compile(rf"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_IDENT})", re.I)),
    ("rename", re.compile(rf"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_IDENT})\s+RENAME\s+TO\s+({_IDENT})",
                          re.I)),
    ("drop", re.compile(rf"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?({_IDENT}(?:\s*,\s*{_IDENT})*)", re.I)),
    ("drop_column", re.compile(
        rf"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_IDENT})\s+DROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?({_IDENT})",
        re.I)),
]
_DO = re.compile(r"\bDO\s+(\$\w*\$|')", re.I)


def _ident(name: str) -> str:
    return ".".join(p.strip()[1:-1] if p.strip().startswith('"') else p.strip().lower() for p in name.split("."))


def _read_with_patterns(sql: str) -> SqlEffect:
    out = SqlEffect()
    found: list[tuple[int, list[str]]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sql):
            if kind == "drop":
                found += [(m.start(), ["drop", _ident(n)]) for n in m.group(1).split(",")]
            elif kind == "rename":
                old = _ident(m.group(1))
                schema = old.rpartition(".")[0]
                found.append((m.start(), ["rename", old, qualified(schema or None, _ident(m.group(2)))]))
            else:
                found.append((m.start(), [kind, *(_ident(g) for g in m.groups())]))
    out.ops = [op for _, op in sorted(found, key=lambda f: f[0])]
    if _DO.search(sql):
        out.opaque.append("a DO block (procedural code: what it does to tables is decided when it runs)")
    return out


# --- what a SQL string does that takes a table lock (weighed by netra_doctor.migrations.locks) ----------

# functions PostgreSQL marks volatile that a column default commonly calls: ADD COLUMN with such a default
# writes a value per row (a rewrite); a stable or constant default (now(), 'x') is stored once, instantly
VOLATILE_FUNCTIONS = frozenset({
    "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "random", "clock_timestamp",
    "timeofday", "nextval", "txid_current", "setseed", "random_normal", "uuidv4", "uuidv7",
})
_VOLATILE = re.compile(r"\b(" + "|".join(sorted(VOLATILE_FUNCTIONS)) + r")\s*\(", re.I)


def volatile(expression: str) -> bool:
    """A default expression that calls a volatile function (so each row gets its own value)."""
    return bool(_VOLATILE.search(expression))


@record
class SqlLock:
    """One lock-taking statement (or a lock_timeout setting) of a SQL string: LockOp's fields."""

    kind: str
    table: str = ""
    column: str = ""
    detail: str = ""
    flags: list[str] = field(default_factory=list)


def read_locks(sql: str) -> list[SqlLock]:
    """The statements of ``sql`` that the lock weighing reads, in order; nothing when pglast is missing
    or the grammar rejects the text (``read_sql`` already says the SQL was not read)."""
    if not PGLAST:
        return []
    from pglast import parse_sql
    from pglast.stream import RawStream

    try:
        statements = parse_sql(sql)
    except Exception:
        return []
    out: list[SqlLock] = []
    for raw in statements:
        st = raw.stmt
        kind = type(st).__name__
        if kind == "AlterTableStmt" and _objtype(st.objtype) == "OBJECT_TABLE":
            table = qualified(st.relation.schemaname, st.relation.relname)
            for cmd in st.cmds or ():
                lock = _alter_lock(cmd, table, lambda node: RawStream()(node))
                if lock is not None:
                    out.append(lock)
        elif kind == "IndexStmt":
            flags = [f for f, on in (("concurrently", st.concurrent), ("unique", st.unique)) if on]
            out.append(SqlLock("create_index", qualified(st.relation.schemaname, st.relation.relname),
                               detail=st.idxname or "", flags=flags))
        elif kind == "RenameStmt" and _objtype(st.renameType) == "OBJECT_TABLE":
            out.append(SqlLock("rename_table", qualified(st.relation.schemaname, st.relation.relname),
                               detail=st.newname))
        elif kind == "RenameStmt" and _objtype(st.renameType) == "OBJECT_COLUMN" and st.relation is not None:
            out.append(SqlLock("rename_column", qualified(st.relation.schemaname, st.relation.relname),
                               column=st.subname, detail=st.newname))
        elif kind == "VariableSetStmt" and (st.name or "").lower() == "lock_timeout":
            value = RawStream()(st.args[0]).strip("'") if st.args else "0"
            out.append(SqlLock("lock_timeout", detail=value, flags=["local"] if st.is_local else []))
    return out


def _alter_lock(cmd, table: str, stream) -> SqlLock | None:
    sub = getattr(cmd.subtype, "name", str(cmd.subtype))
    if sub == "AT_AddColumn" and cmd.def_ is not None:
        flags = []
        for c in cmd.def_.constraints or ():
            contype = getattr(c.contype, "name", str(c.contype))
            if contype == "CONSTR_NOTNULL":
                flags.append("not_null")
            elif contype == "CONSTR_DEFAULT" and c.raw_expr is not None:
                flags.append("volatile_default" if volatile(stream(c.raw_expr)) else "default")
        return SqlLock("add_column", table, cmd.def_.colname, stream(cmd.def_.typeName), flags)
    if sub == "AT_AlterColumnType" and cmd.def_ is not None:
        return SqlLock("alter_type", table, cmd.name, stream(cmd.def_.typeName),
                       flags=["using"] if cmd.def_.raw_default is not None else [])
    if sub == "AT_SetNotNull":
        return SqlLock("set_not_null", table, cmd.name)
    if sub == "AT_ValidateConstraint":
        return SqlLock("validate", table, detail=cmd.name)
    if sub == "AT_AddConstraint" and cmd.def_ is not None:
        c = cmd.def_
        contype = getattr(c.contype, "name", str(c.contype))
        flags = ["not_valid"] if c.skip_validation else []
        if contype == "CONSTR_FOREIGN":
            ref = qualified(c.pktable.schemaname, c.pktable.relname) if c.pktable is not None else ""
            return SqlLock("add_foreign_key", table, detail=ref, flags=flags)
        if contype == "CONSTR_CHECK":
            return SqlLock("add_check", table, detail=c.conname or "", flags=flags)
        if contype in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
            kind = "add_unique" if contype == "CONSTR_UNIQUE" else "add_primary_key"
            return SqlLock(kind, table, detail=c.conname or "", flags=["using_index"] if c.indexname else [])
    return None
