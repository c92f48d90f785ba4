"""Tables a revision makes through SQLAlchemy itself (``X.__table__.create(bind)``,
``metadata.create_all(bind, tables=[...])``), read from source: which table, and its columns.

A mapped class gives its ``__tablename__`` and the ``Column``/``mapped_column`` attributes of its
body and of its bases in the checkout; a ``Table("name", metadata, Column(...))`` gives its own.
What cannot be known without running code (a base class outside the checkout, a name computed at
run time) is said, never taken as "no column".
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import field
from typing import Any

from netra_doctor.core.records import record
from netra_doctor.migrations.pysource import (
    MAX_DEPTH,
    Module,
    Modules,
    Unresolved,
    class_attribute,
    evaluate,
    is_external,
    lookup,
    named_object,
    short,
)
from netra_doctor.migrations.sqlops import qualified

_COLUMN_FUNCS = frozenset({"Column", "mapped_column"})
# bases from these add no column of their own (the declarative base, Generic, typing helpers)
_PLAIN_BASES = frozenset({"sqlalchemy", "typing", "abc", "enum", "dataclasses"})


@record
class MadeTable:
    name: str  # schema-qualified when the class or Table gives a schema
    columns: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # why the columns above may not be all


def callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def is_table_call(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and callee(expr) == "Table" and bool(expr.args)


def definition(modules: Modules, mod: Module, expr: ast.expr, local: dict[str, ast.expr]) -> tuple[Module, ast.expr]:
    """The expression a name stands for (a local assignment first, then the module's, through imports)."""
    if isinstance(expr, ast.Name) and expr.id in local:
        return mod, local[expr.id]
    if isinstance(expr, ast.Name):
        found = lookup(modules, mod, expr.id)
        if found is not None and found.expr is not None:
            return found.module, found.expr
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id not in local:
        found = lookup(modules, mod, expr.value.id)
        if found is not None and found.submodule is not None:
            inner = lookup(modules, found.submodule, expr.attr)
            if inner is not None and inner.expr is not None:
                return inner.module, inner.expr
    return mod, expr


def is_table(modules: Modules, mod: Module, expr: ast.expr, local: dict[str, ast.expr]) -> bool:
    """``X.__table__``, ``Table(...)`` or a name bound to one: a ``.create()`` on it makes a table
    (``my_enum.create(bind)`` makes a type, and is not this)."""
    if isinstance(expr, ast.Attribute) and expr.attr == "__table__":
        return True
    return is_table_call(definition(modules, mod, expr, local)[1])


def listed(modules: Modules, mod: Module, expr: ast.expr, local: dict[str, ast.expr]) -> tuple[Module, list[ast.expr]]:
    """The items of ``tables=[...]`` (a literal, or a name bound to one)."""
    where, value = definition(modules, mod, expr, local)
    if not isinstance(value, (ast.List, ast.Tuple)) or any(isinstance(e, ast.Starred) for e in value.elts):
        raise Unresolved(ast.unparse(expr))
    return where, list(value.elts)


def table_of(modules: Modules, mod: Module, expr: ast.expr, local: dict[str, ast.expr]) -> MadeTable:
    """The table ``expr`` (``X.__table__``, ``Table(...)``, a name bound to one) makes."""
    if isinstance(expr, ast.Attribute) and expr.attr == "__table__":
        where, cls = _class(modules, mod, expr.value, local)
        return _class_table(modules, where, cls)
    where, value = definition(modules, mod, expr, local)
    if is_table_call(value):
        return _table_call(modules, where, value)  # type: ignore[arg-type]
    raise Unresolved(ast.unparse(expr))


def _class(modules: Modules, mod: Module, expr: ast.expr, local: dict[str, ast.expr]) -> tuple[Module, ast.ClassDef]:
    found = named_object(modules, mod, expr, local)
    if found is None or found.cls is None:
        raise Unresolved(ast.unparse(expr))
    return found.module, found.cls


def _string(modules: Modules, mod: Module, expr: ast.expr) -> str:
    value = evaluate(modules, mod, expr)
    if not isinstance(value, str):
        raise Unresolved(ast.unparse(expr))
    return value


def _table_call(modules: Modules, mod: Module, call: ast.Call) -> MadeTable:
    name = _string(modules, mod, call.args[0])
    schema = next((k.value for k in call.keywords if k.arg == "schema"), None)
    made = MadeTable(qualified(_string(modules, mod, schema) if schema is not None else None, name))
    for arg in call.args[2:]:
        if isinstance(arg, ast.Starred):
            made.unknown.append(f"columns of table {name} given as {ast.unparse(arg)} are not read")
        elif isinstance(arg, ast.Call) and callee(arg) in _COLUMN_FUNCS:
            column = _column_name(modules, mod, arg, None)
            if column is None:
                made.unknown.append(f"a column of table {name} is named at run time ({short(ast.unparse(arg))})")
            else:
                made.columns.append(column)
    return made


def _class_table(modules: Modules, mod: Module, cls: ast.ClassDef) -> MadeTable:
    own = next((n.value for n in cls.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__table__" for t in n.targets)), None)
    if own is not None and is_table_call(own):
        return _table_call(modules, mod, own)  # type: ignore[arg-type]
    found = class_attribute(modules, mod, cls, "__tablename__")
    if found is None or found.expr is None:
        raise Unresolved(f"{cls.name}.__tablename__")
    name = _string(modules, found.module, found.expr)
    made = MadeTable(qualified(_class_schema(modules, mod, cls), name))
    _class_columns(modules, mod, cls, made, 0)
    return made


def _class_schema(modules: Modules, mod: Module, cls: ast.ClassDef) -> str | None:
    """``__table_args__ = {"schema": "x"}`` (or a tuple ending in that dict)."""
    found = class_attribute(modules, mod, cls, "__table_args__")
    if found is None or found.expr is None:
        return None
    args = found.expr
    options = args.elts[-1] if isinstance(args, ast.Tuple) and args.elts else args
    if isinstance(options, ast.Tuple):
        return None  # constraints only
    if not isinstance(options, ast.Dict):
        raise Unresolved(f"{cls.name}.__table_args__")
    for key, value in zip(options.keys, options.values, strict=True):
        if key is None:
            raise Unresolved(f"{cls.name}.__table_args__")
        if isinstance(key, ast.Constant) and key.value == "schema":
            return _string(modules, found.module, value)
    return None


def _class_columns(modules: Modules, mod: Module, cls: ast.ClassDef, made: MadeTable, depth: int) -> None:
    if depth > MAX_DEPTH:
        made.unknown.append(f"columns {cls.name} inherits through more than {MAX_DEPTH} classes are not read")
        return
    for base in cls.bases:
        _base_columns(modules, mod, cls, base, made, depth)
    for node in cls.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            _attribute_column(modules, mod, node.targets[0].id, node.value, None, made)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            _attribute_column(modules, mod, node.target.id, node.value, node.annotation, made)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("__") and any(
                "declared_attr" in ast.unparse(d) for d in node.decorator_list):
            returned = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
            if returned and isinstance(returned[-1], ast.Call) and callee(returned[-1]) in _COLUMN_FUNCS:
                _attribute_column(modules, mod, node.name, returned[-1], None, made)


def _base_columns(modules: Modules, mod: Module, cls: ast.ClassDef, base: ast.expr, made: MadeTable,
                  depth: int) -> None:
    root = base.value if isinstance(base, ast.Subscript) else base  # Generic[T]
    try:
        where, parent = _class(modules, mod, root, {})
    except Unresolved:
        parent = None
    if parent is not None:
        _class_columns(modules, where, parent, made, depth + 1)
        return
    head = root
    while isinstance(head, ast.Attribute):
        head = head.value
    if not isinstance(head, ast.Name) or head.id == "object":
        return
    outside = is_external(modules, mod, head.id)
    if outside is not None:
        if outside.split(".")[0] not in _PLAIN_BASES:
            made.unknown.append(f"columns {cls.name} inherits from {ast.unparse(base)} ({outside}, outside the "
                                "checkout) are not read")
        return
    found = lookup(modules, mod, head.id)
    if found is None and not hasattr(builtins, head.id) and head.id not in ("Generic", "Protocol"):
        made.unknown.append(f"columns {cls.name} inherits from {ast.unparse(base)} are not read")
    # a name bound to a value (Base = declarative_base()): the declarative base adds no column


def _attribute_column(modules: Modules, mod: Module, attr: str, value: ast.expr | None,
                      annotation: ast.expr | None, made: MadeTable) -> None:
    if attr.startswith("__"):
        return
    if isinstance(value, ast.Call) and callee(value) in _COLUMN_FUNCS:
        column = _column_name(modules, mod, value, attr)
        if column is None:
            made.unknown.append(f"a column of {made.name} is named at run time ({short(ast.unparse(value))})")
        elif column not in made.columns:
            made.columns.append(column)
    elif (value is None and annotation is not None and attr not in made.columns
          and ast.unparse(annotation).startswith(("Mapped[", "orm.Mapped[", "sa.orm.Mapped["))):
        made.columns.append(attr)  # `name: Mapped[str]`: a column, typed by its annotation


def _column_name(modules: Modules, mod: Module, call: ast.Call, attr: str | None) -> str | None:
    """``Column("name", ...)``'s name; the attribute's when the first argument is a type."""
    first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    if first is None:
        return attr
    try:
        value: Any = evaluate(modules, mod, first)
    except Unresolved:
        return attr if not (isinstance(first, ast.Name) and first.id[:1].islower()) else None
    return value if isinstance(value, str) else attr
