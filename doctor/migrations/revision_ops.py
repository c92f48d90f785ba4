"""What a revision's ``upgrade()`` does to tables, read from source (never run).

Follows ``upgrade`` (and ``upgrade_*``) wherever it is defined, in the revision file or imported
from another module of the checkout, and every helper it calls the same way: the module's own
functions, functions imported from the checkout (``from pkg.helpers import create_all``), and
``module.function()`` on an imported checkout module, and functions defined inside upgrade().
Constant arguments are bound to the helper's parameters (``*args`` as a tuple), loops over constant
lists, tuples and dicts are unrolled (tuple targets too), ``with op.batch_alter_table(...)``
blocks are tracked, ``sa.Column(...)`` is a value wherever it is built (a name, a helper's return,
a list, a loop) so create_table/add_column get its name, or the revision says which column it
could not read, and SQL given to ``op.execute`` (or a connection's ``execute``) is parsed
with PostgreSQL's grammar (``netra_doctor.migrations.sqlops``). ``downgrade()`` is never read.

Whatever cannot be known without running code makes the revision *opaque*, with the reason:
a table named by a run-time value, SQL built at run time, a ``DO`` block, a call into a module
outside the checkout, helpers nested deeper than the limit.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import field
from typing import Any

from netra_doctor.core.facts import LockOp
from netra_doctor.core.records import record
from netra_doctor.migrations.pysource import (
    Built,
    ColumnValue,
    Module,
    Modules,
    Unresolved,
    evaluate,
    is_external,
    lookup,
    short,
)
from netra_doctor.migrations.sqlops import (
    PGLAST,
    pyformat_text,
    qualified,
    read_locks,
    read_sql,
    sql_text,
    volatile,
)

MAX_CALL_DEPTH = 16
MAX_UNROLL = 200  # loop iterations unrolled per loop
# statement-level calls into these leave tables alone (schema objects built, values computed, logging)
_HARMLESS_MODULES = frozenset({
    "sqlalchemy", "alembic", "logging", "typing", "datetime", "uuid", "json", "enum", "decimal", "re", "os",
    "sys", "time", "warnings", "collections", "itertools", "functools", "dataclasses", "pathlib", "textwrap",
    "sqlmodel", "geoalchemy2", "sqlalchemy_utils", "pgvector", "alembic_utils", "__future__", "math", "random",
    "string", "hashlib", "secrets", "base64", "copy", "contextlib",
})
# the standard library cannot reach the database on its own (bisect.insort, json.dumps), except what runs
# other code or programs (a psql through subprocess, a module imported by name)
_RUNS_CODE = frozenset({"subprocess", "importlib", "runpy", "multiprocessing", "concurrent", "code", "codeop",
                        "pkgutil", "ctypes", "asyncio", "threading", "pty", "builtins", "os", "shutil"})
_HARMLESS_MODULES = _HARMLESS_MODULES | (frozenset(sys.stdlib_module_names) - _RUNS_CODE)
_HARMLESS_CALLS = frozenset({"print", "len", "str", "int", "list", "dict", "set", "tuple", "isinstance", "range",
                             "sorted", "getattr", "hasattr", "format", "repr", "bool", "any", "all", "min", "max"})
_SQL_METHODS = frozenset({"execute", "exec_driver_sql"})
_TEXT_FUNCS = frozenset({"text", "literal_column", "DDL"})
# what create_table takes besides columns (SQLAlchemy's SchemaItem kinds that are not a Column)
_NOT_COLUMNS = ("Constraint", "Index")
_VALUE_MARK = "\x00"  # where an f-string's part known only at run time stood
_ROW_MODULES = frozenset({"sqlalchemy", "sqlmodel"})  # their insert/update/select constructs change rows
_MUTATORS = frozenset({"insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "sort", "reverse"})


@record
class TableOps:
    creates: list[str] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    renames: list[list[str]] = field(default_factory=list)
    drops_columns: list[list[str]] = field(default_factory=list)
    order: list[list[str]] = field(default_factory=list)  # creates, renames and drops as upgrade() runs them
    lines: list[int] = field(default_factory=list)  # per entry of ``order``: line in the revision file
    columns_before: list[int] = field(default_factory=list)  # per entry of ``order``: column ops run before it
    if_absent: list[int] = field(default_factory=list)  # entries of ``order``: creates SQLAlchemy skips if present
    adds_columns: list[list[str]] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    sql_read: bool = False  # some SQL string was parsed
    column_ops: list[list[str]] = field(default_factory=list)  # add / drop / rename column, in order
    columns_unknown: list[str] = field(default_factory=list)  # tables given a column the doctor cannot read
    locks: list[LockOp] = field(default_factory=list)  # lock-taking statements, autocommit blocks, lock_timeout

    def add_column(self, table: str, column: str) -> None:
        self.adds_columns.append([table, column])
        self.column_ops.append(["add", table, column])

    def drop_column(self, table: str, column: str) -> None:
        self.drops_columns.append([table, column])
        self.column_ops.append(["drop", table, column])

    def rename_column(self, table: str, old: str, new: str) -> None:
        """Data kept: neither an add nor a drop, only an ordered rename."""
        self.column_ops.append(["rename", table, old, new])

    def create(self, table: str, line: int) -> None:
        self.creates.append(table)
        self._table_op(["create", table], line)

    def drop(self, table: str, line: int) -> None:
        self.drops.append(table)
        self._table_op(["drop", table], line)

    def rename(self, old: str, new: str, line: int) -> None:
        self.renames.append([old, new])
        self._table_op(["rename", old, new], line)

    def _table_op(self, entry: list[str], line: int) -> None:
        self.order.append(entry)
        self.lines.append(line)
        self.columns_before.append(len(self.column_ops))

    def why(self, reason: str) -> None:
        if reason not in self.opaque:
            self.opaque.append(reason)


@record(frozen=True)
class BatchValue:
    """``op.batch_alter_table("t")`` returned by a helper (``with _with_batch("t") as batch_op:``)."""

    table: str


# what a receiver the doctor cannot follow would do to a table, were it alembic's op or a batch
_TABLE_METHODS = frozenset({"add_column", "drop_column", "create_table", "drop_table", "rename_table"})


class _UnknownBatch(Unresolved):
    """A batch whose table could not be read (already said where the batch was opened)."""


@record
class LocalFunction:
    """A function defined inside upgrade() (or a helper): followed when called there, with the
    enclosing function's names as its closure."""

    module: Module
    fn: ast.FunctionDef | ast.AsyncFunctionDef
    closure: dict[str, Any]


@record
class _Frame:
    module: Module
    env: dict[str, Any] = field(default_factory=dict)  # local names bound to constants (Unresolved: unknown)
    batches: dict[str, str] = field(default_factory=dict)  # batch_op variable -> table
    depth: int = 0
    dialect_names: set[str] = field(default_factory=set)  # locals holding the dialect's name or the URL
    exprs: dict[str, ast.expr] = field(default_factory=dict)  # local name -> the expression last bound to it


def read_revision_ops(modules: Modules, mod: Module) -> TableOps:
    """The table operations of the revision ``mod``'s upgrade()."""
    reader = _Reader(modules, mod)
    names = [n for n in mod.functions if n.startswith("upgrade_")]
    if "upgrade" in mod.functions or "upgrade" in mod.imports or "upgrade" in mod.assigns:
        names.insert(0, "upgrade")
    if not names:
        reader.ops.why("defines no upgrade() the doctor can find")
    for name in names:
        if not reader.named_call(_Frame(mod), name, [], [], line=0):
            source = mod.imports.get(name, (None,))[0]
            reader.ops.why(f"{name}() comes from {source}, which is not a readable module of the checkout" if source
                           else f"{name} is not a function the doctor can read")
    return reader.ops


class _Reader:
    def __init__(self, modules: Modules, revision: Module):
        self.modules, self.revision = modules, revision
        self.ops = TableOps()
        self.active: set[tuple[str, str, int]] = set()  # functions being read (recursion guard)
        self.line = 0  # line in the revision file of the call being followed

    # --- where things are ----------------------------------------------------------------

    def where(self, frame: _Frame, node: ast.AST) -> str:
        path = frame.module.path
        name = path.name if frame.module is self.revision else _shown(path, self.modules.checkout)
        return f"{name}:{getattr(node, 'lineno', 0)}"

    def line_of(self, frame: _Frame, node: ast.AST) -> int:
        return getattr(node, "lineno", 0) if frame.module is self.revision else self.line

    def value(self, frame: _Frame, expr: ast.expr | None) -> Any:
        if expr is None:
            raise Unresolved("missing")
        return evaluate(self.modules, frame.module, expr, env=frame.env, calls=self.call_value)

    def call_value(self, mod: Module, node: ast.Call, env: dict[str, Any] | None, depth: int) -> Any:
        """What a call gives: a checkout helper's return value, a Column, or an outside module's object."""
        env = env or {}
        func = node.func
        target = self._callee(mod, func, env)
        if target is not None:
            return self._returned(_Frame(mod, dict(env), depth=depth), *target, node)
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if isinstance(func, ast.Name) and func.id not in env:  # `from sqlalchemy import Column as C`
            name = (mod.imports.get(func.id, ("", None))[1] or name)
        if name == "Column":
            return self._column(_Frame(mod, dict(env), depth=depth), node)
        if self._op_method(_Frame(mod, env), func) == "batch_alter_table":
            return BatchValue(self._table(_Frame(mod, dict(env), depth=depth), node, 0, "table_name"))
        root = func
        while isinstance(root, (ast.Attribute, ast.Call)):  # sa.update(t).values(...): sqlalchemy's
            root = root.value if isinstance(root, ast.Attribute) else root.func
        if isinstance(root, ast.Name) and root.id not in env:
            origin = is_external(self.modules, mod, root.id)
            if origin is not None:
                return Built(name, origin, node)
        # a class of the checkout (`JSONDict()`), a method of a run-time object: some object, content unknown
        return Built(name, "", node)

    def _callee(self, mod: Module, func: ast.expr, env: dict[str, Any]
                ) -> tuple[Module, ast.FunctionDef | ast.AsyncFunctionDef, dict[str, Any]] | None:
        """The checkout function (module-level, imported, or local) a call runs, with its closure."""
        if isinstance(func, ast.Name):
            local = env.get(func.id)
            if isinstance(local, LocalFunction):
                return local.module, local.fn, local.closure
            if func.id in env:
                return None
            found = lookup(self.modules, mod, func.id)
            if found is not None and found.function is not None:
                return found.module, found.function, {}
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id not in env:
            found = lookup(self.modules, mod, func.value.id)
            if found is not None and found.submodule is not None:
                inner = lookup(self.modules, found.submodule, func.attr)
                if inner is not None and inner.function is not None:
                    return inner.module, inner.function, {}
        return None

    def _returned(self, caller: _Frame, module: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                  closure: dict[str, Any], node: ast.Call) -> Any:
        """The value a helper returns, when its body only binds names and returns (``return sa.Column(...)``)."""
        key = (str(module.path), fn.name, fn.lineno)
        if key in self.active or caller.depth > MAX_CALL_DEPTH * 4:
            raise Unresolved(ast.unparse(node))
        frame = _Frame(module, {**closure, **self._bind(caller, fn, node.args, node.keywords)}, depth=caller.depth)
        self.active.add(key)
        try:
            for stmt in fn.body:
                if isinstance(stmt, ast.Return):
                    return None if stmt.value is None else self.value(frame, stmt.value)
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        self._assign(frame, target, self._try(frame, stmt.value))
                elif not (isinstance(stmt, ast.Pass)
                          or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))):
                    break  # a branch, a loop, a call: what it returns depends on running it
        finally:
            self.active.discard(key)
        raise Unresolved(f"what {fn.name}() returns")

    def _column(self, frame: _Frame, node: ast.Call) -> ColumnValue:
        first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        name = self._try(frame, first) if first is not None else None
        return ColumnValue(name if isinstance(name, str) else None, node)

    def _assign(self, frame: _Frame, target: ast.expr, value: Any) -> None:
        """Bind ``target`` (a name, or a tuple of them) to ``value`` (Unresolved where it does not fit)."""
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            parts = tuple(value) if isinstance(value, (tuple, dict)) else None
            fits = parts is not None and len(parts) == len(target.elts)
            for i, elt in enumerate(target.elts):
                self._assign(frame, elt, parts[i] if fits and parts is not None
                             else value if isinstance(value, Unresolved) else Unresolved(ast.unparse(elt)))
        elif isinstance(target, ast.Starred):
            self._assign(frame, target.value, Unresolved(ast.unparse(target)))

    # --- functions -----------------------------------------------------------------------

    def named_call(self, frame: _Frame, name: str, args: list[ast.expr], keywords: list[ast.keyword],
                   line: int, node: ast.AST | None = None) -> bool:
        """Follow ``name(...)`` when it is a function of the checkout; False when it is not one."""
        target = self._callee(frame.module, ast.Name(name, ast.Load()), frame.env)
        if target is None:
            return False
        self.function(frame, target[0], target[1], args, keywords, line, node, target[2])
        return True

    def function(self, caller: _Frame, module: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                 args: list[ast.expr], keywords: list[ast.keyword], line: int, node: ast.AST | None,
                 closure: dict[str, Any] | None = None) -> None:
        key = (str(module.path), fn.name, fn.lineno)
        if key in self.active:
            return  # recursion: its operations are already being read
        if caller.depth >= MAX_CALL_DEPTH:
            self.ops.why(f"{self.where(caller, node or fn)}: helpers nested deeper than {MAX_CALL_DEPTH} calls")
            return
        frame = _Frame(module, {**(closure or {}), **self._bind(caller, fn, args, keywords)}, depth=caller.depth + 1)
        params = [p.arg for p in (*fn.args.posonlyargs, *fn.args.args)]
        given = args[:next((i for i, a in enumerate(args) if isinstance(a, ast.Starred)), len(args))]
        handed = [*zip(params, given, strict=False), *((k.arg, k.value) for k in keywords if k.arg)]
        for param, arg in handed:  # `_add(batch_op)`: the helper's parameter is the same batch
            if isinstance(arg, ast.Name) and arg.id in caller.batches:
                frame.batches[param] = caller.batches[arg.id]
                frame.env.pop(param, None)
        saved = self.line
        if caller.module is self.revision and line:
            self.line = line
        self.active.add(key)
        try:
            self.body(frame, fn.body)
        finally:
            self.active.discard(key)
            self.line = saved

    def _bind(self, caller: _Frame, fn: ast.FunctionDef | ast.AsyncFunctionDef, args: list[ast.expr],
              keywords: list[ast.keyword]) -> dict[str, Any]:
        env: dict[str, Any] = {}
        params = [*fn.args.posonlyargs, *fn.args.args]
        defaults = fn.args.defaults
        for i, p in enumerate(params):
            d = i - (len(params) - len(defaults))
            env[p.arg] = self._try(caller, defaults[d]) if d >= 0 else Unresolved(p.arg)
        for p, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True):
            env[p.arg] = self._try(caller, d) if d is not None else Unresolved(p.arg)
        given, cut = self._positional(caller, args)
        for i, p in enumerate(params):
            if i < len(given):
                env[p.arg] = given[i]
            elif cut is not None:
                env[p.arg] = cut
        extra: dict[str, Any] = {}
        spread = False  # a `**mapping` the doctor cannot read: which keywords it gives is unknown
        for k in keywords:
            given_kw = {k.arg: self._try(caller, k.value)} if k.arg is not None else self._try(caller, k.value)
            if not isinstance(given_kw, dict):
                spread = True
                continue
            for key, value in given_kw.items():
                if key in env:
                    env[key] = value
                else:
                    extra[key] = value
        if fn.args.vararg is not None:  # `def mk(name, *cols)`: the columns it is given, as a tuple
            env[fn.args.vararg.arg] = cut if cut is not None else tuple(given[len(params):])
        if fn.args.kwarg is not None:
            env[fn.args.kwarg.arg] = Unresolved(fn.args.kwarg.arg) if spread else extra
        for p, a in zip(params, args, strict=False):  # `stmt = sa.update(t)` handed on: a statement over rows
            if isinstance(a, ast.Starred):
                break
            if self._rows(caller, a):
                env[p.arg] = ROWS
        for k in keywords:
            if k.arg is not None and k.arg in env and self._rows(caller, k.value):
                env[k.arg] = ROWS
        for p in params:  # `query: Query`: a SQLAlchemy statement over rows, whatever the caller passes
            if isinstance(env.get(p.arg), Unresolved) and _annotated_rows(p.annotation):
                env[p.arg] = ROWS
        # `op` handed to a helper as a parameter is still alembic's op
        for name in ("op", "batch_op"):
            if isinstance(env.get(name), (Unresolved, Built)):
                del env[name]
        return env

    def _positional(self, frame: _Frame, args: list[ast.expr]) -> tuple[list[Any], Unresolved | None]:
        """The values of positional arguments, ``*seq`` spread; the reason the rest is unknown, if it is."""
        out: list[Any] = []
        for a in args:
            if not isinstance(a, ast.Starred):
                out.append(self._try(frame, a))
                continue
            value = self._try(frame, a.value)
            if isinstance(value, (tuple, dict)):
                out.extend(value)
            else:
                return out, Unresolved(ast.unparse(a))
        return out, None

    def _try(self, frame: _Frame, expr: ast.expr) -> Any:
        try:
            return self.value(frame, expr)
        except Unresolved as exc:
            return exc

    # --- statements ----------------------------------------------------------------------

    def body(self, frame: _Frame, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt(frame, stmt)
            if (isinstance(stmt, ast.If) and stmt.body and isinstance(stmt.body[-1], ast.Return)
                    and _on_postgresql(stmt.test, frame.dialect_names) is True):
                return  # `if bind.dialect.name != "mysql": return`: PostgreSQL leaves here, the rest is MySQL's

    def stmt(self, frame: _Frame, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            frame.env[node.name] = LocalFunction(frame.module, node, frame.env)  # runs only when called
            return
        if isinstance(node, ast.ClassDef):
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.loop(frame, node)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            autocommit = any(isinstance(i.context_expr, ast.Call) and isinstance(i.context_expr.func, ast.Attribute)
                             and i.context_expr.func.attr == "autocommit_block" for i in node.items)
            for item in node.items:
                self.expr(frame, item.context_expr, statement=True)
                self._batch(frame, item)
            if autocommit:  # `with op.get_context().autocommit_block():` commits, runs outside a transaction
                self.ops.locks.append(LockOp("autocommit_begin", line=self.line_of(frame, node)))
            self.body(frame, node.body)
            if autocommit:
                self.ops.locks.append(LockOp("autocommit_end", line=self.line_of(frame, node)))
            return
        if isinstance(node, ast.Assign):
            self.expr(frame, node.value)  # `x = f(...)` computes a value: only a bare call acts on its own
            dialect = _mentions_dialect(node.value, frame.dialect_names)
            # `stmt = sa.text("UPDATE ...")`, then `op.execute(stmt)`: the name holds the SQL's text
            bound = _text_of(node.value) if isinstance(node.value, ast.Call) else None
            rows = bound is None and self._rows(frame, node.value)  # `stmt = sa.update(t).where(...)`
            value = ROWS if rows else self._try(frame, bound or node.value)
            for target in node.targets:
                self._assign(frame, target, value)
                if isinstance(target, ast.Name):
                    frame.exprs[target.id] = node.value
                    if dialect:
                        frame.dialect_names.add(target.id)
                elif isinstance(target, (ast.Subscript, ast.Attribute)):
                    self._changed(frame, target.value)
            return
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.expr(frame, node.value)
            grown = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
            frame.env[node.target.id] = self._try(frame, ast.copy_location(grown, node))
            return
        if isinstance(node, ast.If):
            verdict = _on_postgresql(node.test, frame.dialect_names)
            if verdict is not None:  # `if bind.dialect.name == "mysql":` and the like: PostgreSQL takes one way
                self.body(frame, node.body if verdict else node.orelse)
                return
        if isinstance(node, ast.Expr):
            self.expr(frame, node.value, statement=True)
            self._mutation(frame, node.value)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(frame, child)
            elif isinstance(child, ast.expr):
                self.expr(frame, child)
            elif isinstance(child, ast.excepthandler):
                self.body(frame, child.body)

    def _mutation(self, frame: _Frame, call: ast.expr) -> None:
        """``cols.append(c)`` / ``cols.extend(more)`` grow a local list; other changes make it unknown."""
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id in frame.env):
            return
        name, method = call.func.value.id, call.func.attr
        current = frame.env[name]
        if method in ("append", "extend") and isinstance(current, tuple) and len(call.args) == 1:
            added = self._try(frame, call.args[0])
            if method == "append":
                frame.env[name] = (*current, added)
            elif isinstance(added, tuple):
                frame.env[name] = current + added
            else:
                frame.env[name] = Unresolved(f"{name} (extended with {ast.unparse(call.args[0])})")
        elif method in _MUTATORS or method in ("append", "extend"):
            self._changed(frame, call.func.value)

    def _changed(self, frame: _Frame, target: ast.expr) -> None:
        if isinstance(target, ast.Name) and target.id in frame.env and not isinstance(frame.env[target.id],
                                                                                    (Unresolved, LocalFunction)):
            frame.env[target.id] = Unresolved(f"{target.id} (changed at run time)")

    def loop(self, frame: _Frame, node: ast.For | ast.AsyncFor) -> None:
        values = self._try(frame, node.iter)
        if isinstance(values, dict):
            values = tuple(values)
        if isinstance(values, tuple) and len(values) <= MAX_UNROLL:
            for value in values:
                self._assign(frame, node.target, value)
                self.body(frame, node.body)
        else:
            for name in ast.walk(node.target):
                if isinstance(name, ast.Name):
                    frame.env[name.id] = Unresolved(name.id)
            self.expr(frame, node.iter)
            self.body(frame, node.body)
        self.body(frame, node.orelse)

    def expr(self, frame: _Frame, node: ast.expr, statement: bool = False) -> None:
        if isinstance(node, ast.Await):
            node = node.value
        if isinstance(node, ast.Call):
            self.call(frame, node, statement)
            if self._leaf(frame, node.func):
                return  # op.create_table(..., sa.Column(...)): its arguments build values, they act on nothing
            for child in [*node.args, *(k.value for k in node.keywords)]:
                self.expr(frame, child)
            if isinstance(node.func, ast.Attribute):
                self.expr(frame, node.func.value)
            return
        if isinstance(node, (ast.Lambda,)):
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(frame, child)

    def _leaf(self, frame: _Frame, func: ast.expr) -> bool:
        """A call whose arguments need no reading: alembic's op, or a module outside the checkout."""
        if self._op_method(frame, func) is not None:
            return True
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        return (isinstance(root, ast.Name) and root.id not in frame.env
                and is_external(self.modules, frame.module, root.id) is not None)

    def _batch(self, frame: _Frame, item: ast.withitem) -> None:
        call = item.context_expr
        if not (isinstance(call, ast.Call) and isinstance(item.optional_vars, ast.Name)):
            return
        name = item.optional_vars.id
        frame.batches.pop(name, None)
        if self._op_method(frame, call.func) == "batch_alter_table":
            try:
                frame.batches[name] = self._table(frame, call, 0, "table_name")
                frame.env.pop(name, None)
            except Unresolved as exc:
                self._unknown(frame, call, exc)
                frame.env[name] = _UnknownBatch(name)
            return
        value = self._try(frame, call)  # `with _with_batch("t") as batch_op:`: a helper returning the batch
        if isinstance(value, BatchValue):
            frame.batches[name] = value.table
            frame.env.pop(name, None)

    # --- calls -----------------------------------------------------------------------------

    def call(self, frame: _Frame, node: ast.Call, statement: bool) -> None:
        func = node.func
        line = self.line_of(frame, node)
        if isinstance(func, ast.Name):
            if self.named_call(frame, func.id, node.args, node.keywords, line, node):
                return
            self._outside(frame, node, func.id, statement)
            return
        if not isinstance(func, ast.Attribute):
            return
        method = self._op_method(frame, func)
        if method is not None:
            self.op(frame, node, method, line)
            return
        if func.attr in ("create", "create_all") and self.sa_create(frame, node, line):
            return
        recv = func.value
        if isinstance(recv, ast.Name) and recv.id in frame.batches:
            self.batch_op(frame, node, frame.batches[recv.id], func.attr)
            return
        helper = self._callee(frame.module, func, frame.env)  # module.helper(...) of the checkout
        if helper is not None:
            self.function(frame, helper[0], helper[1], node.args, node.keywords, line, node, helper[2])
            return
        if func.attr in _SQL_METHODS and node.args:
            self.sql(frame, node, node.args[0], line, connection=True)
            return
        if isinstance(recv, ast.Name):
            if (statement and func.attr in _TABLE_METHODS
                    and isinstance(frame.env.get(recv.id, Unresolved()), (Unresolved, Built))
                    and not isinstance(frame.env.get(recv.id), _UnknownBatch)
                    and lookup(self.modules, frame.module, recv.id) is None
                    and is_external(self.modules, frame.module, recv.id) is None):
                self.ops.why(f"{self.where(frame, node)}: {ast.unparse(func)}() on {recv.id}, which the doctor cannot "
                             "follow to alembic's op or a batch: what it changes is unknown")
                return
            self._outside(frame, node, recv.id, statement)

    def _outside(self, frame: _Frame, node: ast.Call, name: str, statement: bool) -> None:
        """A statement that calls into a module outside the checkout may do anything to tables."""
        if not statement or name in _HARMLESS_CALLS:
            return
        module = is_external(self.modules, frame.module, name)
        if module is None or module.split(".")[0] in _HARMLESS_MODULES:
            return
        self.ops.why(f"{self.where(frame, node)}: calls {ast.unparse(node.func)}() from {module}, outside the "
                     "checkout (its code is not read)")

    def sa_create(self, frame: _Frame, node: ast.Call, line: int) -> bool:
        """``X.__table__.create(bind)``, ``Table(...).create(bind)``, ``metadata.create_all(bind, tables=[...])``:
        creates of those tables, with the columns the class or Table gives; False for any other ``create``."""
        from netra_doctor.migrations import sa_tables  # here, not at the top: keeps this module's imports as they were

        func = node.func
        assert isinstance(func, ast.Attribute)
        where = self.where(frame, node)
        module = frame.module
        if func.attr == "create":
            if not sa_tables.is_table(self.modules, module, func.value, frame.exprs):
                return False  # an Enum's or a sequence's create(): no table
            items = [func.value]
            checkfirst = _flag(node, "checkfirst", default=False)  # Table.create(bind): CREATE TABLE as is
        else:
            checkfirst = _flag(node, "checkfirst", default=True)  # create_all(): only the tables not yet there
            recv = func.value
            if isinstance(recv, ast.Name) and recv.id not in frame.env:
                found = lookup(self.modules, module, recv.id)
                if found is not None and found.submodule is not None:
                    return False  # helpers.create_all(): the checkout's own function, followed as such
            tables = next((k.value for k in node.keywords if k.arg == "tables"), None)
            if tables is None and len(node.args) > 1:
                tables = node.args[1]
            if tables is None:
                self.ops.why(f"{where}: {ast.unparse(func)}() creates every table its metadata holds, which is not "
                             "read")
                return True
            try:
                module, items = sa_tables.listed(self.modules, module, tables, frame.exprs)
            except Unresolved as exc:
                self.ops.why(f"{where}: {ast.unparse(func)}() creates tables listed at run time ({short(str(exc))})")
                return True
        for item in items:
            try:
                made = sa_tables.table_of(self.modules, module, item, frame.exprs if module is frame.module else {})
            except Unresolved as exc:
                self.ops.why(f"{where}: {ast.unparse(func)}() creates a table named by a value known only at run "
                             f"time ({short(str(exc))})")
                continue
            self.ops.create(made.name, line)
            if checkfirst:
                self.ops.if_absent.append(len(self.ops.order) - 1)
            for column in made.columns:
                self.ops.add_column(made.name, column)
            for reason in made.unknown:
                self.ops.why(f"{where}: {reason}")
        return True

    def _rows(self, frame: _Frame, expr: ast.expr) -> bool:
        """``expr`` builds a SQLAlchemy statement over rows (``sa.update(t).where(...)``, ``t.delete()``,
        ``session.query(M).filter(...)``, ``stmt.values(...)`` on one): executing it changes no table."""
        while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            recv = expr.func.value
            if expr.func.attr in _ROW_BUILDERS:
                if not isinstance(recv, ast.Name) or recv.id in frame.env:
                    return True  # table.update(), Model.__table__.delete(), session.query(...)
                module = is_external(self.modules, frame.module, recv.id)
                if module is not None:
                    return module.split(".")[0] in ("sqlalchemy", "sqlmodel")
                found = lookup(self.modules, frame.module, recv.id)
                return found is None or found.submodule is None  # helpers.update(...): the checkout's own
            expr = recv
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in _ROW_BUILDERS:
            module = is_external(self.modules, frame.module, expr.func.id)
            return module is not None and module.split(".")[0] in ("sqlalchemy", "sqlmodel")
        return isinstance(expr, ast.Name) and frame.env.get(expr.id) is ROWS

    def _op_method(self, frame: _Frame, func: ast.expr) -> str | None:
        """``create_table`` for ``op.create_table`` (any alias of alembic's op), else None."""
        if not isinstance(func, ast.Attribute):
            return None
        recv = func.value
        if isinstance(recv, ast.Name):
            if recv.id in frame.env:
                return None
            if recv.id == "op":
                return func.attr
            origin = frame.module.imports.get(recv.id)
            if origin in (("alembic", "op"), ("alembic.op", None)):
                return func.attr
            return None
        if (isinstance(recv, ast.Attribute) and recv.attr == "op" and isinstance(recv.value, ast.Name)
                and frame.module.imports.get(recv.value.id, ("", ""))[0] == "alembic"):
            return func.attr
        return None

    def op(self, frame: _Frame, node: ast.Call, method: str, line: int) -> None:
        if method in _LOCK_METHODS:
            self.lock_op(frame, node, method, line)
        try:
            if method == "create_table":
                table = self._table(frame, node, 0, "table_name")
                self.ops.create(table, line)
                given, cut = self._positional(frame, node.args)
                named = not any(k.arg == "table_name" for k in node.keywords)
                self._table_columns(frame, node, table, given[1:] if named else given, cut)
            elif method == "drop_table":
                self.ops.drop(self._table(frame, node, 0, "table_name"), line)
            elif method == "rename_table":
                schema = self._schema(frame, node)
                old, new = self._arg(frame, node, 0, "old_table_name"), self._arg(frame, node, 1, "new_table_name")
                self.ops.rename(qualified(schema, old), qualified(schema, new), line)
            elif method == "drop_column":
                self.ops.drop_column(self._table(frame, node, 0, "table_name"),
                                     self._arg(frame, node, 1, "column_name"))
            elif method == "add_column":
                table = self._table(frame, node, 0, "table_name")
                col = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "column"), None)
                self._added(frame, node, table, col)
            elif method == "alter_column" and any(k.arg == "new_column_name" for k in node.keywords):
                self.ops.rename_column(self._table(frame, node, 0, "table_name"),
                                       self._arg(frame, node, 1, "column_name"),
                                       self._arg(frame, node, 99, "new_column_name"))
            elif method == "execute":
                sql = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "sqltext"), None)
                if sql is not None:
                    self.sql(frame, node, sql, line)
        except Unresolved as exc:
            self._unknown(frame, node, exc)

    def batch_op(self, frame: _Frame, node: ast.Call, table: str, method: str) -> None:
        if method in _LOCK_METHODS:
            self.lock_op(frame, node, method, self.line_of(frame, node), table)
        try:
            if method == "drop_column":
                self.ops.drop_column(table, self._arg(frame, node, 0, "column_name"))
            elif method == "add_column":
                col = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "column"), None)
                self._added(frame, node, table, col)
            elif method == "alter_column" and any(k.arg == "new_column_name" for k in node.keywords):
                self.ops.rename_column(table, self._arg(frame, node, 0, "column_name"),
                                       self._arg(frame, node, 99, "new_column_name"))
            elif method == "execute" and node.args:
                self.sql(frame, node, node.args[0], self.line_of(frame, node))
        except Unresolved as exc:  # the batch's table is known: what is not is a column
            self.ops.why(f"{self.where(frame, node)}: {ast.unparse(node.func)}() names its column with a value "
                         f"known only at run time ({short(str(exc))})")

    def sql(self, frame: _Frame, node: ast.Call, arg: ast.expr, line: int, connection: bool = False) -> None:
        if isinstance(arg, ast.Call):
            arg = _text_of(arg)
            if arg is None or (isinstance(arg, ast.Name) and not isinstance(self._try(frame, arg), str)):
                return  # a SQLAlchemy construct (insert/update/select): rows, not tables
        try:
            text = self.value(frame, arg)
            if isinstance(text, Built) and text.origin.split(".")[0] not in _ROW_MODULES:
                raise Unresolved(text.text)  # an object some other code built: what SQL it holds is unknown
        except Unresolved:
            if connection and not isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)):
                return
            text = self._values_only(frame, arg)
            if text is not None:  # f"... {Enum.x.value} ...": the unknown parts are values, the SQL is known
                self._read_sql(frame, node, text, line)
                return
            held = frame.exprs.get(arg.id) if isinstance(arg, ast.Name) else None  # query = f"DELETE ..."
            if isinstance(held, ast.Call):
                held = _text_of(held)
            if _rows_only(arg) or (held is not None and _rows_only(held)):
                return  # f"UPDATE t SET ... {value}": built at run time, but it changes rows, not tables
            self.ops.why(f"{self.where(frame, node)}: runs SQL built at run time ({short(ast.unparse(arg))})")
            return
        if not isinstance(text, str):
            return
        if connection and len(node.args) > 1:
            text = pyformat_text(text)  # conn.execute("... WHERE id = %s", (x,)): psycopg2's paramstyle
        if not (isinstance(node.func, ast.Attribute) and node.func.attr == "exec_driver_sql"):
            text = sql_text(text)
        self._read_sql(frame, node, text, line)

    def _values_only(self, frame: _Frame, arg: ast.expr) -> str | None:
        """An f-string's SQL with each part known only at run time as ``$1``, when every such part stands
        where a value goes (PostgreSQL's grammar takes ``$1`` only as a value, never as a name); else None."""
        if not isinstance(arg, ast.JoinedStr):
            return None
        out: list[str] = []
        for part in arg.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
                continue
            value = self._try(frame, part.value) if isinstance(part, ast.FormattedValue) else None
            if isinstance(value, (str, int)) and not isinstance(value, bool) and part.format_spec is None:
                out.append(str(value))
            else:
                out.append(_VALUE_MARK)
        text = "".join(out)
        pieces = text.split(_VALUE_MARK)
        if len(pieces) == 1 or any(p and (p[-1].isalnum() or p[-1] in '_."$') for p in pieces[:-1]) or any(
                p and (p[0].isalnum() or p[0] in '_."$') for p in pieces[1:]):
            return None
        text = "$1".join(pieces)
        return text if PGLAST and not read_sql(text).opaque else None

    def _read_sql(self, frame: _Frame, node: ast.Call, text: str, line: int) -> None:
        self.ops.sql_read = True
        effect = read_sql(text)
        self.ops.locks += [LockOp(k.kind, k.table, line, k.column, k.detail, "", [*k.flags, "sql"])
                           for k in read_locks(text)]
        for reason in effect.opaque:
            self.ops.why(f"{self.where(frame, node)}: {reason}")
        for kind, *names in effect.ops:
            if kind == "create":
                self.ops.create(names[0], line)
            elif kind == "drop":
                self.ops.drop(names[0], line)
            elif kind == "rename":
                self.ops.rename(names[0], names[1], line)
            elif kind == "drop_column":
                self.ops.drop_column(*names)
            elif kind == "add_column":
                self.ops.add_column(*names)
            elif kind == "rename_column":
                self.ops.rename_column(*names)

    def lock_op(self, frame: _Frame, node: ast.Call, method: str, line: int, batch: str | None = None) -> None:
        """What the lock weighing needs of an op call (``batch``: the batch's table, not an argument). A
        table or column named at run time is left out: the table operations already say it was not read."""
        shift = 1 if batch is not None else 0  # a batch op's arguments lack the table

        def table(index: int, keyword: str = "table_name") -> str:
            return batch if batch is not None else self._table(frame, node, index, keyword)

        try:
            if method == "add_column":
                col = node.args[1 - shift] if len(node.args) > 1 - shift else _keyword(node, "column")
                value = self._try(frame, col) if col is not None else None
                if isinstance(value, ColumnValue) and value.name and isinstance(value.source, ast.Call):
                    self.ops.locks.append(LockOp("add_column", table(0), line, value.name,
                                                 _column_type(value.source), "", _column_flags(value.source)))
            elif method == "alter_column":
                t, column = table(0), self._arg(frame, node, 1 - shift, "column_name")
                existing = _shown_type(_keyword(node, "existing_type"))
                if _keyword(node, "new_column_name") is not None:
                    self.ops.locks.append(LockOp("rename_column", t, line, column,
                                                 self._arg(frame, node, 99, "new_column_name")))
                if _keyword(node, "type_") is not None:
                    using = ["using"] if _keyword(node, "postgresql_using") is not None else []
                    self.ops.locks.append(LockOp("alter_type", t, line, column, _shown_type(_keyword(node, "type_")),
                                                 existing, using))
                if _literal(node, "nullable") is False:
                    self.ops.locks.append(LockOp("set_not_null", t, line, column, "", existing))
            elif method == "create_index":
                flags = [f for f, k in (("concurrently", "postgresql_concurrently"), ("unique", "unique"))
                         if _literal(node, k) is True]
                name = self._try(frame, node.args[0]) if node.args else None
                self.ops.locks.append(LockOp("create_index", table(1), line, "", name if isinstance(name, str) else "",
                                             "", flags))
            elif method == "create_foreign_key":
                referent = self._arg(frame, node, 2 - shift, "referent_table")
                self.ops.locks.append(LockOp("add_foreign_key", table(1, "source_table"), line, "", referent, "",
                                             ["not_valid"] if _literal(node, "postgresql_not_valid") is True else []))
            elif method == "create_check_constraint":
                self.ops.locks.append(LockOp("add_check", table(1), line, "", "", "",
                                             ["not_valid"] if _literal(node, "postgresql_not_valid") is True else []))
            elif method in ("create_unique_constraint", "create_primary_key"):
                kind = "add_unique" if method == "create_unique_constraint" else "add_primary_key"
                self.ops.locks.append(LockOp(kind, table(1), line))
            elif method == "rename_table" and batch is None:
                schema = self._schema(frame, node)
                self.ops.locks.append(LockOp("rename_table", qualified(schema, self._arg(frame, node, 0,
                                                                                         "old_table_name")),
                                             line, "", self._arg(frame, node, 1, "new_table_name")))
        except Unresolved:
            return

    # --- arguments -----------------------------------------------------------------------

    def _unknown(self, frame: _Frame, node: ast.Call, exc: Unresolved) -> None:
        self.ops.why(f"{self.where(frame, node)}: {ast.unparse(node.func)}() names its table with a value known "
                     f"only at run time ({short(str(exc))})")

    def _arg(self, frame: _Frame, node: ast.Call, index: int, keyword: str) -> str:
        value = next((k.value for k in node.keywords if k.arg == keyword), None)
        if value is None and len(node.args) > index and not isinstance(node.args[index], ast.Starred):
            value = node.args[index]
        text = self.value(frame, value)
        if not isinstance(text, str):
            raise Unresolved(ast.unparse(value) if value is not None else keyword)
        return text

    def _schema(self, frame: _Frame, node: ast.Call) -> str | None:
        value = next((k.value for k in node.keywords if k.arg == "schema"), None)
        if value is None:
            for k in node.keywords:  # `op.create_table(name, *columns, **kwargs)` in a shared helper
                if k.arg is None:
                    spread = self._try(frame, k.value)
                    if not isinstance(spread, dict):
                        raise Unresolved(f"**{ast.unparse(k.value)}")
                    if "schema" in spread:
                        schema = spread["schema"]
                        if schema is not None and not isinstance(schema, str):
                            raise Unresolved(f"**{ast.unparse(k.value)}")
                        return schema
            return None
        schema = self.value(frame, value)
        if schema is not None and not isinstance(schema, str):
            raise Unresolved(ast.unparse(value))
        return schema

    def _table(self, frame: _Frame, node: ast.Call, index: int, keyword: str) -> str:
        return qualified(self._schema(frame, node), self._arg(frame, node, index, keyword))

    def _added(self, frame: _Frame, node: ast.Call, table: str, col: ast.expr | None) -> None:
        """add_column's column, wherever it was built; when its name cannot be read, the revision says so."""
        value = self._try(frame, col) if col is not None else Unresolved("no column given")
        if isinstance(value, ColumnValue) and value.name:
            self.ops.add_column(table, value.name)
            return
        if table not in self.ops.columns_unknown:
            self.ops.columns_unknown.append(table)
        self.ops.why(f"{self.where(frame, node)}: {ast.unparse(node.func)}() adds to {table} a column the doctor "
                     f"cannot read ({_shown_value(value, col)}): its name is unknown")

    def _table_columns(self, frame: _Frame, node: ast.Call, table: str, items: list[Any],
                       cut: Unresolved | None) -> None:
        """create_table's columns; what is not a column, a constraint or an index leaves them unknown."""
        unknown = [short(str(cut))] if cut is not None else []
        for item in items:
            if isinstance(item, ColumnValue) and item.name:
                self.ops.add_column(table, item.name)
            elif not (isinstance(item, Built) and item.kind.endswith(_NOT_COLUMNS)):
                unknown.append(_shown_value(item, None))
        if unknown:
            if table not in self.ops.columns_unknown:
                self.ops.columns_unknown.append(table)
            self.ops.why(f"{self.where(frame, node)}: {ast.unparse(node.func)}() creates {table} with columns the "
                         f"doctor cannot read ({short(', '.join(unknown))}): which columns it has is unknown")


_LOCK_METHODS = frozenset({"add_column", "alter_column", "create_index", "create_foreign_key",
                           "create_check_constraint", "create_unique_constraint", "create_primary_key", "rename_table"})


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _literal(node: ast.Call, name: str) -> Any:
    """A keyword's literal value (None when absent or not a literal)."""
    value = _keyword(node, name)
    return value.value if isinstance(value, ast.Constant) else None


def _shown_type(expr: ast.expr | None) -> str:
    """A SQLAlchemy type as written, without its module (``sa.String(20)`` -> ``String(20)``)."""
    if expr is None:
        return ""
    text = ast.unparse(expr)
    head, dot, rest = text.partition("(")
    return head.rpartition(".")[2] + dot + rest


def _column_type(column: ast.Call) -> str:
    args = [a for a in column.args if not (isinstance(a, ast.Constant) and isinstance(a.value, str))]
    return _shown_type(args[0] if args else _keyword(column, "type_"))


def _column_flags(column: ast.Call) -> list[str]:
    """NOT NULL and the kind of server default a ``sa.Column(...)`` asks ADD COLUMN for."""
    flags = ["not_null"] if _literal(column, "nullable") is False or _literal(column, "primary_key") is True else []
    default = _keyword(column, "server_default")
    if default is not None and not (isinstance(default, ast.Constant) and default.value is None):
        text = "" if isinstance(default, ast.Constant) else ast.unparse(default)  # a plain string is a literal
        if isinstance(default, ast.Call) and isinstance(default.func, ast.Attribute) and default.func.attr != "text":
            text = f"{default.func.attr}()"  # sa.func.gen_random_uuid()
        flags.append("volatile_default" if volatile(text) else "default")
    return flags


def _shown_value(value: Any, expr: ast.expr | None) -> str:
    if isinstance(value, (ColumnValue, Built)):
        return value.text
    if isinstance(value, Unresolved):
        return short(str(value))
    return short(ast.unparse(expr)) if expr is not None else short(repr(value))


# SQLAlchemy statements over rows: sa.update(t), t.delete(), session.query(M), and their .where()/.values() chains
_ROW_BUILDERS = frozenset({"select", "update", "delete", "insert", "union", "union_all", "exists", "query"})
_ROW_TYPES = frozenset({"Query", "Select", "Update", "Delete", "Insert", "Executable", "ClauseElement"})


class _Rows:
    """The value of a name bound to a SQLAlchemy statement over rows: executing it changes no table."""

    def __repr__(self) -> str:
        return "<rows statement>"


ROWS = _Rows()


def _flag(node: ast.Call, keyword: str, default: bool) -> bool:
    """A call's boolean keyword: its literal value, the default when absent, True when not a literal
    (a create that may skip a present table is never called a conflict)."""
    value = next((k.value for k in node.keywords if k.arg == keyword), None)
    if value is None:
        return default
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, bool) else True


def _annotated_rows(annotation: ast.expr | None) -> bool:
    """A parameter annotated as a SQLAlchemy statement (``query: Query``, ``stmt: "Select"``)."""
    if annotation is None:
        return False
    text = annotation.value if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str) \
        else ast.unparse(annotation)
    return text.rpartition(".")[2].split("[")[0] in _ROW_TYPES


def _text_of(call: ast.Call) -> ast.expr | None:
    """The SQL text a ``text("...")`` (or ``DDL``, ``literal_column``) call wraps, through
    ``.bindparams()`` and the like; None for any other call (a SQLAlchemy construct, or no argument)."""
    arg: ast.expr = call
    while (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
           and arg.func.attr in ("bindparams", "execution_options", "columns")):
        arg = arg.func.value  # text("...").bindparams(...): the SQL is the text's
    if isinstance(arg, ast.Name) and arg is not call:
        return arg  # stmt = stmt.bindparams(...): the text the name holds (the caller checks it is one)
    if not isinstance(arg, ast.Call):
        return None
    name = arg.func.attr if isinstance(arg.func, ast.Attribute) else getattr(arg.func, "id", "")
    if name not in _TEXT_FUNCS or not arg.args:
        return None
    inner = arg.args[0]
    while (isinstance(inner, ast.Call) and len(inner.args) == 1 and not inner.keywords
           and (_dotted_name(inner.func) in _SAME_SQL)):
        inner = inner.args[0]  # text(dedent("""...""")): the same statement, its indentation aside
    return inner


_SAME_SQL = frozenset({"dedent", "textwrap.dedent", "inspect.cleandoc", "cleandoc"})


def _dotted_name(node: ast.expr) -> str:
    return ast.unparse(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""


_DML = ("update ", "insert ", "delete ", "select ")


def _rows_only(expr: ast.expr) -> bool:
    """SQL built at run time whose fixed text shows a single UPDATE/INSERT/DELETE statement."""
    parts: list[str] = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    head = _leading_text(expr)
    # a SELECT reads rows, unless SELECT ... INTO makes a table of them
    return (head is not None and head.lstrip().lower().startswith(_DML)
            and not any(";" in p.rstrip().rstrip(";") for p in parts)
            and not (head.lstrip().lower().startswith("select ") and any(" into " in p.lower() for p in parts)))


def _leading_text(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.JoinedStr) and expr.values and isinstance(expr.values[0], ast.Constant):
        return str(expr.values[0].value)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
        return _leading_text(expr.left)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "format":
        return _leading_text(expr.func.value)
    return None


_DIALECT_HINTS = ("dialect.name", "engine.name", ".url", "dialect_name", "dialect_description")
_POSTGRESQL = ("postgresql", "postgresql+psycopg2", "postgresql+psycopg", "postgresql+asyncpg", "postgres")


def _mentions_dialect(expr: ast.expr, names: set[str]) -> bool:
    text = ast.unparse(expr)
    return any(h in text for h in _DIALECT_HINTS) or any(
        isinstance(n, ast.Name) and n.id in names for n in ast.walk(expr))


def _on_postgresql(test: ast.expr, names: set[str]) -> bool | None:
    """Whether ``test`` holds on PostgreSQL, when it only asks which database it runs on; None otherwise."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _on_postgresql(test.operand, names)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        parts = [_on_postgresql(v, names) for v in test.values]
        if None in parts:
            return None
        return all(parts) if isinstance(test.op, ast.And) else any(parts)
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"
            and len(test.args) == 2 and "dialect" in ast.unparse(test.args[0])):
        return _dialect_class(test.args[1])  # isinstance(bind.dialect, MySQLDialect)
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.In, ast.NotIn))
            and isinstance(test.left, ast.Constant) and isinstance(test.left.value, str)
            and _mentions_dialect(test.comparators[0], names)):  # "sqlite" in inspector.dialect.dialect_description
        found = {test.left.value.lower() in d for d in _PG_DESCRIPTIONS}
        if len(found) != 1:
            return None  # "psycopg2" in ...: depends on the driver
        return found.pop() == isinstance(test.ops[0], ast.In)
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith"
            and len(test.args) == 1 and isinstance(test.args[0], ast.Constant) and isinstance(test.args[0].value, str)
            and _mentions_dialect(test.func.value, names)):
        return any(d.startswith(test.args[0].value) for d in _POSTGRESQL)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and isinstance(right.value, bool):
            inner = _on_postgresql(left, names)
            return None if inner is None else (inner == right.value) == isinstance(op, ast.Is)
        if not _mentions_dialect(left, names):
            return None
        try:
            value = ast.literal_eval(right)
        except (ValueError, SyntaxError, TypeError):
            return None
        values = {value} if isinstance(value, str) else set(value) if isinstance(value, (tuple, list, set)) else None
        if values is None:
            return None
        hit = "postgresql" in values or "postgres" in values
        if isinstance(op, (ast.Eq, ast.In)):
            return hit
        if isinstance(op, (ast.NotEq, ast.NotIn)):
            return not hit
    return None


_PG_CLASSES = ("pgdialect", "postgres")
# what PostgreSQL's dialect_description (name+driver) or a SQLAlchemy URL's scheme can be
_PG_DESCRIPTIONS = ("postgresql+psycopg2", "postgresql+psycopg", "postgresql+asyncpg", "postgresql+pg8000")
_OTHER_CLASSES = ("mysql", "sqlite", "mssql", "oracle", "mariadb", "firebird", "sybase", "duckdb", "snowflake")


def _dialect_class(expr: ast.expr) -> bool | None:
    """Whether PostgreSQL's dialect is an instance of the class(es) ``expr`` names (MySQLDialect: no,
    PGDialect_psycopg2: yes); None for a class the name does not tell."""
    classes = expr.elts if isinstance(expr, ast.Tuple) else [expr]
    verdicts = set()
    for cls in classes:
        text = ast.unparse(cls).lower()
        if any(p in text for p in _PG_CLASSES):
            verdicts.add(True)
        elif any(o in text for o in _OTHER_CLASSES):
            verdicts.add(False)
        else:
            return None
    return any(verdicts) if verdicts else None


def _shown(path, checkout) -> str:
    """A helper module as the checkout names it (its path from the repository root)."""
    try:
        return str(path.resolve().relative_to(checkout))
    except ValueError:
        return os.path.basename(str(path))


