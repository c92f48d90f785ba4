"""What a revision's ``upgrade()`` does to tables, read from source (never run).

Follows ``upgrade`` (and ``upgrade_*``) wherever it is defined, in the revision file or imported
from another module of the checkout, and every helper it calls the same way: the module's own
functions, functions imported from the checkout (``from pkg.helpers import create_all``), and
``module.function()`` on an imported checkout module. Constant arguments are bound to the
helper's parameters, loops over constant tuples are unrolled, ``with op.batch_alter_table(...)``
blocks are tracked, and SQL given to ``op.execute`` (or a connection's ``execute``) is parsed
with PostgreSQL's grammar (``doctor.sqlops``). ``downgrade()`` is never read.

Whatever cannot be known without running code makes the revision *opaque*, with the reason:
a table named by a run-time value, SQL built at run time, a ``DO`` block, a call into a module
outside the checkout, helpers nested deeper than the limit.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any

from doctor.sources.pysource import Module, Modules, Unresolved, evaluate, is_external, lookup
from doctor.sqlops import qualified, read_sql, sql_text

MAX_CALL_DEPTH = 16
MAX_UNROLL = 200  # loop iterations unrolled per loop
# statement-level calls into these leave tables alone (schema objects built, values computed, logging)
_HARMLESS_MODULES = frozenset({
    "sqlalchemy", "alembic", "logging", "typing", "datetime", "uuid", "json", "enum", "decimal", "re", "os",
    "sys", "time", "warnings", "collections", "itertools", "functools", "dataclasses", "pathlib", "textwrap",
    "sqlmodel", "geoalchemy2", "sqlalchemy_utils", "pgvector", "alembic_utils", "__future__", "math", "random",
    "string", "hashlib", "secrets", "base64", "copy", "contextlib",
})
_HARMLESS_CALLS = frozenset({"print", "len", "str", "int", "list", "dict", "set", "tuple", "isinstance", "range",
                             "sorted", "getattr", "hasattr", "format", "repr", "bool", "any", "all", "min", "max"})
_SQL_METHODS = frozenset({"execute", "exec_driver_sql"})
_TEXT_FUNCS = frozenset({"text", "literal_column", "DDL"})


@dataclass
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


@dataclass
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
        self.active: set[tuple[str, str]] = set()  # functions being read (recursion guard)
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
        return evaluate(self.modules, frame.module, expr, env=frame.env)

    # --- functions -----------------------------------------------------------------------

    def named_call(self, frame: _Frame, name: str, args: list[ast.expr], keywords: list[ast.keyword],
                   line: int, node: ast.AST | None = None) -> bool:
        """Follow ``name(...)`` when it is a function of the checkout; False when it is not one."""
        if name in frame.env:
            return False
        found = lookup(self.modules, frame.module, name)
        if found is None or found.function is None:
            return False
        self.function(frame, found.module, found.function, args, keywords, line, node)
        return True

    def function(self, caller: _Frame, module: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                 args: list[ast.expr], keywords: list[ast.keyword], line: int, node: ast.AST | None) -> None:
        key = (str(module.path), fn.name)
        if key in self.active:
            return  # recursion: its operations are already being read
        if caller.depth >= MAX_CALL_DEPTH:
            self.ops.why(f"{self.where(caller, node or fn)}: helpers nested deeper than {MAX_CALL_DEPTH} calls")
            return
        frame = _Frame(module, self._bind(caller, fn, args, keywords), depth=caller.depth + 1)
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
        for p, a in zip(params, args, strict=False):
            if isinstance(a, ast.Starred):
                break
            env[p.arg] = ROWS if self._rows(caller, a) else self._try(caller, a)
        for k in keywords:
            if k.arg is not None and k.arg in env:
                env[k.arg] = ROWS if self._rows(caller, k.value) else self._try(caller, k.value)
        for p in params:  # `query: Query`: a SQLAlchemy statement over rows, whatever the caller passes
            if isinstance(env.get(p.arg), Unresolved) and _annotated_rows(p.annotation):
                env[p.arg] = ROWS
        for extra in (fn.args.vararg, fn.args.kwarg):
            if extra is not None:
                env[extra.arg] = Unresolved(extra.arg)
        # `op` handed to a helper as a parameter is still alembic's op
        for name in ("op", "batch_op"):
            if isinstance(env.get(name), Unresolved):
                del env[name]
        return env

    def _try(self, frame: _Frame, expr: ast.expr) -> Any:
        try:
            return self.value(frame, expr)
        except Unresolved as exc:
            return exc

    # --- statements ----------------------------------------------------------------------

    def body(self, frame: _Frame, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt(frame, stmt)

    def stmt(self, frame: _Frame, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return  # a nested definition runs only when called
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.loop(frame, node)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(frame, item.context_expr, statement=True)
                self._batch(frame, item)
            self.body(frame, node.body)
            return
        if isinstance(node, ast.Assign):
            self.expr(frame, node.value)  # `x = f(...)` computes a value: only a bare call acts on its own
            dialect = _mentions_dialect(node.value, frame.dialect_names)
            # `stmt = sa.text("UPDATE ...")`, then `op.execute(stmt)`: the name holds the SQL's text
            bound = _text_of(node.value) if isinstance(node.value, ast.Call) else None
            rows = bound is None and self._rows(frame, node.value)  # `stmt = sa.update(t).where(...)`
            for target in node.targets:
                if isinstance(target, ast.Name):
                    frame.env[target.id] = ROWS if rows else self._try(frame, bound or node.value)
                    frame.exprs[target.id] = node.value
                    if dialect:
                        frame.dialect_names.add(target.id)
            return
        if isinstance(node, ast.If):
            verdict = _on_postgresql(node.test, frame.dialect_names)
            if verdict is not None:  # `if bind.dialect.name == "mysql":` and the like: PostgreSQL takes one way
                self.body(frame, node.body if verdict else node.orelse)
                return
        if isinstance(node, ast.Expr):
            self.expr(frame, node.value, statement=True)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(frame, child)
            elif isinstance(child, ast.expr):
                self.expr(frame, child)
            elif isinstance(child, ast.excepthandler):
                self.body(frame, child.body)

    def loop(self, frame: _Frame, node: ast.For | ast.AsyncFor) -> None:
        values = self._try(frame, node.iter)
        if isinstance(node.target, ast.Name) and isinstance(values, tuple) and len(values) <= MAX_UNROLL:
            for value in values:
                frame.env[node.target.id] = value
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
        if (isinstance(call, ast.Call) and self._op_method(frame, call.func) == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)):
            try:
                frame.batches[item.optional_vars.id] = self._table(frame, call, 0, "table_name")
            except Unresolved as exc:
                self._unknown(frame, call, exc)
                frame.batches.pop(item.optional_vars.id, None)

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
        if isinstance(recv, ast.Name) and recv.id not in frame.env:
            found = lookup(self.modules, frame.module, recv.id)
            if found is not None and found.submodule is not None:
                inner = lookup(self.modules, found.submodule, func.attr)
                if inner is not None and inner.function is not None:
                    self.function(frame, inner.module, inner.function, node.args, node.keywords, line, node)
                    return
        if func.attr in _SQL_METHODS and node.args:
            self.sql(frame, node, node.args[0], line, connection=True)
            return
        if isinstance(recv, ast.Name):
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
        from doctor.sources import sa_tables  # here, not at the top: keeps this module's imports as they were

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
        try:
            if method == "create_table":
                table = self._table(frame, node, 0, "table_name")
                self.ops.create(table, line)
                for col in node.args[1:]:
                    name = self._column_name(frame, col)
                    if name:
                        self.ops.add_column(table, name)
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
                name = self._column_name(frame, col) if col is not None else None
                if name:
                    self.ops.add_column(table, name)
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
        try:
            if method == "drop_column":
                self.ops.drop_column(table, self._arg(frame, node, 0, "column_name"))
            elif method == "add_column":
                col = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "column"), None)
                name = self._column_name(frame, col) if col is not None else None
                if name:
                    self.ops.add_column(table, name)
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
            if arg is None:
                return  # a SQLAlchemy construct (insert/update/select): rows, not tables
        try:
            text = self.value(frame, arg)
        except Unresolved:
            if connection and not isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)):
                return
            if _rows_only(arg):
                return  # f"UPDATE t SET ... {value}": built at run time, but it changes rows, not tables
            self.ops.why(f"{self.where(frame, node)}: runs SQL built at run time ({short(ast.unparse(arg))})")
            return
        if not isinstance(text, str):
            return
        self.ops.sql_read = True
        if not (isinstance(node.func, ast.Attribute) and node.func.attr == "exec_driver_sql"):
            text = sql_text(text)
        effect = read_sql(text)
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
            return None
        schema = self.value(frame, value)
        if schema is not None and not isinstance(schema, str):
            raise Unresolved(ast.unparse(value))
        return schema

    def _table(self, frame: _Frame, node: ast.Call, index: int, keyword: str) -> str:
        return qualified(self._schema(frame, node), self._arg(frame, node, index, keyword))

    def _column_name(self, frame: _Frame, col: ast.expr) -> str | None:
        if not (isinstance(col, ast.Call) and (getattr(col.func, "attr", None) == "Column"
                                               or getattr(col.func, "id", None) == "Column")):
            return None
        first = col.args[0] if col.args else next((k.value for k in col.keywords if k.arg == "name"), None)
        if first is None:
            return None
        try:
            name = self.value(frame, first)
        except Unresolved:
            return None
        return name if isinstance(name, str) else None


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
    if not isinstance(arg, ast.Call):
        return None
    name = arg.func.attr if isinstance(arg.func, ast.Attribute) else getattr(arg.func, "id", "")
    return arg.args[0] if name in _TEXT_FUNCS and arg.args else None


_DML = ("update ", "insert ", "delete ")


def _rows_only(expr: ast.expr) -> bool:
    """SQL built at run time whose fixed text shows a single UPDATE/INSERT/DELETE statement."""
    parts: list[str] = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    head = _leading_text(expr)
    return (head is not None and head.lstrip().lower().startswith(_DML)
            and not any(";" in p.rstrip().rstrip(";") for p in parts))


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


def short(text: str) -> str:
    """Source text on one line, cut for a message."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
