"""The checkout's SQLAlchemy models, read with ``ast``: which tables and columns the code declares.

Never imports the application: a model that no revision creates is found in the source about to
ship, with no database and no dependencies installed. Understood: declarative classes
(``__tablename__``, ``__table__ = Table(...)``, ``__table_args__`` with a schema, ``__abstract__``,
bases and mixins that add columns, single-table inheritance), ``Table("name", metadata, ...)``,
columns from ``Column``, ``mapped_column`` and bare ``Mapped[...]`` annotations, and SQLModel
classes with ``table=True``. A ``declared_attr`` table name is worked out over the AST where it can
be (doctor/migrations/nameeval.py); what is computed at run time beyond that is said in ``problems``, never
guessed. Models of another declarative base than the one ``target_metadata`` names are left out.

Which files: config ``models = [paths]``; else the modules ``env.py``'s ``target_metadata`` comes
from (through its imports, transitively, inside the checkout); else the whole checkout without
migrations, tests, virtualenvs and the Alembic script folder (never a source of models). Opt-in
``models_import = "pkg.module:Base.metadata"`` imports the application in a subprocess with a timeout
and reads the real ``MetaData`` instead (doctor/sources/models_import.py).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import field
from pathlib import Path

from netra_doctor.core.errors import ConfigError
from netra_doctor.core.facts import ModelFacts, ModelTable
from netra_doctor.core.files import read_source, why_not
from netra_doctor.core.records import record
from netra_doctor.migrations import nameeval
from netra_doctor.migrations.pyparse import parse
from netra_doctor.migrations.pysource import absolute_import
from netra_doctor.migrations.unjudged import NO_TABLE_NAME, UNREACHED

SKIP_DIRS = {
    ".git", ".venv", "venv", "env", ".env", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache",
    "site-packages", "build", "dist", "tests", "test", "migrations", "alembic", "versions",
}
MAX_FILES = 20000
COLUMN_CALLS = {"Column", "mapped_column"}
NOT_COLUMNS = {"relationship", "Relationship", "column_property", "synonym", "association_proxy", "backref",
               "query_expression", "composite", "deferred_relationship", "dynamic_loader", "hybrid_property"}


# --- what one file declares ----------------------------------------------------------------------


@record
class ClassInfo:
    name: str
    path: str  # repo-relative
    line: int
    bases: list[str]  # dotted names as written
    tablename: str | None = None
    tablename_computed: bool = False  # declared_attr / a function: not known without running it
    tablename_rule: ast.FunctionDef | None = None  # a declared_attr __tablename__, worked out by doctor/nameeval
    table: ModelTable | None = None  # from __table__ = Table(...)
    abstract: bool = False
    sqlmodel_table: bool = False
    schema: str | None = None  # from __table_args__
    schema_computed: str = ""  # path:line of a declared_attr __table_args__ that is not a literal
    columns: list[tuple[str, int]] = field(default_factory=list)
    plain_fields: set[str] = field(default_factory=set)  # annotated fields: columns only in a SQLModel
    module: ModuleInfo | None = field(default=None, repr=False)
    primary: bool = False  # declares a primary-key column itself (Flask-SQLAlchemy: a joined-table subclass)
    declarative: bool = False  # the declarative base itself (DeclarativeBase subclass, @as_declarative)


@record
class ModuleInfo:
    path: str
    name: str  # dotted module name, when known
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    tables: list[ModelTable] = field(default_factory=list)  # Table(...) outside classes
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target (module or module.name)
    star: list[str] = field(default_factory=list)  # modules imported with *
    constants: dict[str, str] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)  # NAME = re.compile("literal")
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)  # module-level functions
    problems: list[str] = field(default_factory=list)  # what this file declares that could not be read
    declarative_names: set[str] = field(default_factory=set)  # Base = declarative_base(...)


# (source, repo-relative path, dotted module name) -> what the file declares; pure, so it may be cached
ModuleReader = Callable[[str, str, str], ModuleInfo]


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, ast.Subscript):  # Generic[T], Base[Any]
        return _dotted(node.value)
    if isinstance(node, ast.Call):  # declarative_base()(...) style: not a name
        return None
    return None


def _last(node: ast.AST) -> str:
    name = _dotted(node) or ""
    return name.rsplit(".", 1)[-1]


def _text(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.JoinedStr):  # f"{entity}_role_map" with entity known
        parts = [_text(v.value if isinstance(v, ast.FormattedValue) and v.conversion == -1 and v.format_spec is None
                       else v, constants) for v in node.values]
        return "".join(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
    return None


def read_module(source: str, path: str, module: str = "") -> ModuleInfo:
    """Classes, Table() calls, imports and string constants of one file."""
    tree = parse(source, path)
    info = ModuleInfo(path, module)
    is_package = path.endswith("__init__.py")
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _text(node.value, {})
            if value is not None:
                info.constants[node.targets[0].id] = value
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and (target := _assigned_name(node)):
            value_node = node.value
            if (isinstance(value_node, ast.Call) and _dotted(value_node.func) == "re.compile"
                    and len(value_node.args) == 1 and not value_node.keywords
                    and (pattern := _text(value_node.args[0], {})) is not None):
                info.patterns[target] = pattern
            if isinstance(value_node, ast.Call) and _last(value_node.func) == "declarative_base":
                info.declarative_names.add(target)
        elif isinstance(node, ast.FunctionDef):
            info.functions[node.name] = node
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    info.imports[a.asname] = a.name
                else:
                    info.imports.setdefault(a.name.split(".")[0], a.name.split(".")[0])
                    info.imports[a.name] = a.name
        elif isinstance(node, ast.ImportFrom):
            package = module if is_package else module.rpartition(".")[0]
            base = absolute_import(package, node.level, node.module)
            for a in node.names:
                if a.name == "*":
                    info.star.append(base)
                else:
                    info.imports[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            cls = _read_class(node, info)
            info.classes[cls.name] = cls
            continue
        loop = _literal_loop(node, info.constants)
        report = not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))  # a function's tables are its own
        for constants in loop or [info.constants]:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and _is_table(sub.func, info):
                    table = _table_call(sub, info, _assigned_name(node), constants, report)
                    if table:
                        info.tables.append(table)
    return info


def _is_table(func: ast.expr, info: ModuleInfo) -> bool:
    """``Table(...)``, ``sa.Table(...)`` or an alias (``from sqlalchemy import Table as DBTable``)."""
    name = _dotted(func) or ""
    return _last(func) == "Table" or info.imports.get(name, "").endswith(".Table")


def _literal_loop(node: ast.stmt, constants: dict[str, str]) -> list[dict[str, str]]:
    """``for entity in ("user", "group"): ...`` at module level: the constants of each pass, unrolled."""
    if not (isinstance(node, ast.For) and isinstance(node.target, ast.Name)
            and isinstance(node.iter, (ast.Tuple, ast.List))):
        return []
    values = [_text(e, constants) for e in node.iter.elts]
    if not values or any(v is None for v in values):
        return []
    return [{**constants, node.target.id: v} for v in values if v is not None]


def _assigned_name(node: ast.stmt) -> str:
    if isinstance(node, ast.Assign) and node.targets and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return ""


def _table_call(call: ast.Call, info: ModuleInfo, model: str,
                constants: dict[str, str] | None = None, report: bool = False) -> ModelTable | None:
    """``Table("name", metadata, Column("c", ...), ..., schema="s")``."""
    if len(call.args) < 2:
        return None
    consts = info.constants if constants is None else constants
    name = _text(call.args[0], consts)
    if name is None:
        if report:
            info.problems.append(f"{info.path}:{call.lineno}: Table() names its table with a value known only at run "
                                 f"time ({ast.unparse(call.args[0])}); that table is not read")
        return None
    if name == "alembic_version" or any(
            k.arg == "autoload_with" or (k.arg == "autoload" and not (isinstance(k.value, ast.Constant)
                                                                     and k.value.value is False))
            for k in call.keywords):
        return None  # a reflected table declares nothing, and Alembic's bookkeeping table is no model
    schema = next((_text(k.value, consts) for k in call.keywords if k.arg == "schema"), None)
    table = ModelTable(f"{schema}.{name}" if schema else name, info.path, call.lineno, model or name)
    for arg in call.args[2:]:
        if isinstance(arg, ast.Call) and _last(arg.func) in COLUMN_CALLS and arg.args:
            col = _text(arg.args[0], consts)
            if col is not None:
                table.columns.append(col)
                table.column_lines.append(arg.lineno)
    return table


def _schema_of_args(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Tuple) and node.elts:
        node = node.elts[-1]
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            if isinstance(k, ast.Constant) and k.value == "schema":
                return _text(v, constants)
    return None


def _column_name(value: ast.expr, attr: str, constants: dict[str, str]) -> str | None:
    """The column an attribute's value declares, or None when it is no column."""
    if not isinstance(value, ast.Call):
        return None
    callee = _last(value.func)
    if callee == "deferred" and value.args:
        return _column_name(value.args[0], attr, constants)
    if callee in COLUMN_CALLS:
        if value.args:
            named = _text(value.args[0], constants)
            if named is not None:
                return named
        key = next((k.value for k in value.keywords if k.arg == "name"), None)
        return _text(key, constants) or attr
    if callee == "Field":  # SQLModel: Field(sa_column=Column("name", ...))
        sa = next((k.value for k in value.keywords if k.arg == "sa_column"), None)
        return _column_name(sa, attr, constants) if sa is not None else attr
    return None


def _primary_key(value: ast.expr) -> bool:
    """``Column(..., primary_key=True)`` (or mapped_column, deferred(Column(...)))."""
    if isinstance(value, ast.Call) and _last(value.func) == "deferred" and value.args:
        return _primary_key(value.args[0])
    return isinstance(value, ast.Call) and any(
        k.arg == "primary_key" and isinstance(k.value, ast.Constant) and k.value.value is True for k in value.keywords)


def _is_mapped(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.startswith("Mapped[")
    return _last(target) == "Mapped" and isinstance(annotation, ast.Subscript)


def _is_classvar(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    return _last(target) == "ClassVar"


DECLARATIVE_BASES = {"DeclarativeBase", "DeclarativeBaseNoMeta"}


def _read_class(node: ast.ClassDef, info: ModuleInfo) -> ClassInfo:
    cls = ClassInfo(node.name, info.path, node.lineno, [b for b in (_dotted(b) for b in node.bases) if b], module=info)
    # the declarative base itself (its rule and shared columns are for its subclasses): no table
    cls.declarative = (any(_last(b) in DECLARATIVE_BASES for b in node.bases)
                       or any(_last(d.func if isinstance(d, ast.Call) else d) == "as_declarative"
                              for d in node.decorator_list))
    cls.sqlmodel_table = any(k.arg == "table" and isinstance(k.value, ast.Constant) and k.value.value is True
                             for k in node.keywords)
    consts = info.constants
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__tablename__":
            cls.tablename_rule = stmt  # @declared_attr def __tablename__(cls): ... (worked out per model)
            continue
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__table_args__":
            # @declared_attr def __table_args__(cls): a literal return is read; anything else is computed
            body = [s for s in stmt.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            value = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
            if isinstance(value, (ast.Tuple, ast.Dict)):
                cls.schema = _schema_of_args(value, consts)
            else:
                cls.schema_computed = f"{info.path}:{stmt.lineno}"
            continue
        if isinstance(stmt, ast.FunctionDef) and not stmt.name.startswith("__") and any(
                _last(d) == "declared_attr" or _dotted(d) == "declared_attr.directive" for d in stmt.decorator_list):
            body = [s for s in stmt.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None and (
                    col := _column_name(body[0].value, stmt.name, consts)) is not None:
                cls.columns.append((col, stmt.lineno))  # a mixin's @declared_attr def owner_id(self): Column(...)
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            attr, value, annotation = stmt.targets[0].id, stmt.value, None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            attr, value, annotation = stmt.target.id, stmt.value, stmt.annotation
        else:
            continue
        if attr == "__tablename__":
            name = _text(value, consts)
            if value is None or (isinstance(value, ast.Constant) and value.value is None):
                continue  # `__tablename__: str | None = None`: a mixin leaving the name to its subclasses
            if name is None:
                cls.tablename_computed = True
            else:
                cls.tablename = name
        elif attr == "__abstract__":
            cls.abstract = isinstance(value, ast.Constant) and value.value is True
        elif attr == "__table_args__" and value is not None:
            cls.schema = _schema_of_args(value, consts)
        elif attr == "__table__" and isinstance(value, ast.Call) and _is_table(value.func, info):
            cls.table = _table_call(value, info, node.name)
        elif attr.startswith("__") or (isinstance(value, ast.Call) and _last(value.func) in NOT_COLUMNS):
            continue
        elif value is not None and (col := _column_name(value, attr, consts)) is not None:
            cls.columns.append((col, stmt.lineno))
            cls.primary = cls.primary or _primary_key(value)
        elif annotation is not None and _is_mapped(annotation) and value is None:
            cls.columns.append((attr, stmt.lineno))  # `x: Mapped[int]`: a column in 2.0 declarative
        elif annotation is not None and not _is_classvar(annotation):
            cls.columns.append((attr, stmt.lineno))  # a SQLModel field; kept only for SQLModel tables (below)
            cls.plain_fields.add(attr)
    return cls


# --- many files: bases across modules, then tables ----------------------------------------------


class Index:
    """Classes of every file read, to follow a model's bases into the modules it imports them from."""

    def __init__(self, modules: list[ModuleInfo]):
        self.modules = {m.name: m for m in modules if m.name}
        self.by_name: dict[str, list[ClassInfo]] = {}
        self._ancestors: dict[int, tuple[ClassInfo, ...]] = {}  # asked five times per class: once is enough
        for m in modules:
            for c in m.classes.values():
                self.by_name.setdefault(c.name, []).append(c)

    def lookup(self, module: ModuleInfo, dotted: str, depth: int = 0) -> ClassInfo | None:
        head, _, rest = dotted.partition(".")
        if not rest and head in module.classes:
            return module.classes[head]
        if depth < 8:
            target = module.imports.get(head)
            if target:
                full = f"{target}.{rest}" if rest else target
                mod_name, _, cls_name = full.rpartition(".")
                other = self.modules.get(mod_name)
                if other is not None and other is not module:
                    found = self.lookup(other, cls_name, depth + 1)
                    if found:
                        return found
            for star in module.star:
                other = self.modules.get(star)
                if other is not None and other is not module and not rest:
                    found = self.lookup(other, head, depth + 1)
                    if found:
                        return found
        candidates = self.by_name.get(dotted.rsplit(".", 1)[-1], [])
        return candidates[0] if len(candidates) == 1 else None

    def ancestors(self, cls: ClassInfo) -> tuple[ClassInfo, ...]:
        """The class's bases found in the files read, depth first (close to Python's MRO)."""
        known = self._ancestors.get(id(cls))
        if known is None:
            known = self._ancestors[id(cls)] = tuple(self._walk_bases(cls))
        return known

    def _walk_bases(self, cls: ClassInfo) -> list[ClassInfo]:
        out: list[ClassInfo] = []
        seen = {id(cls)}
        stack = [(cls, b) for b in reversed(cls.bases)]
        while stack:
            owner, base = stack.pop()
            found = self.lookup(owner.module, base) if owner.module else None
            if found is None or id(found) in seen:
                continue
            seen.add(id(found))
            out.append(found)
            stack.extend((found, b) for b in reversed(found.bases))
        return out


def _flask_model(index: Index, cls: ClassInfo) -> bool:
    """A Flask-SQLAlchemy model (``class User(db.Model)``): it names its table after the class."""
    return any(b.endswith(".Model") and c.module is not None and index.lookup(c.module, b) is None
               for c in [cls, *index.ancestors(cls)] for b in c.bases)


def _snake(name: str) -> str:
    """Flask-SQLAlchemy's camel_to_snake_case: ``CreditTransaction`` -> ``credit_transaction``."""
    import re

    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower().lstrip("_")


def _resolver(index: Index, module: ModuleInfo, depth: int = 0) -> Callable[[str], object]:
    """A module-level name's value for doctor/nameeval: constants, compiled patterns, functions, ``re``,
    followed into the checkout's modules it is imported from."""

    def resolve(name: str) -> object:
        if name in module.constants:
            return module.constants[name]
        if name in module.patterns:
            try:
                return nameeval.compile_pattern(module.patterns[name])
            except (nameeval.Unknown, re.error):
                return None
        if name in module.functions:
            return nameeval.Function(module.functions[name], resolve)
        target = module.imports.get(name)
        if target == "re":
            return nameeval.RE
        if target == "re.sub":
            return nameeval.RE_SUB
        found = _imported(index, module, name) if depth < 8 else None
        return _resolver(index, found[0], depth + 1)(found[1]) if found is not None else None

    return resolve


def _apply_rule(index: Index, ruler: ClassInfo, class_name: str) -> str | None:
    """The table ``ruler``'s declared_attr __tablename__ gives a class named ``class_name``, or None."""
    if ruler.tablename_rule is None or ruler.module is None:
        return None
    return nameeval.table_name(ruler.tablename_rule, class_name, _resolver(index, ruler.module))


def _root_of_name(index: Index, module: ModuleInfo, dotted: str, depth: int = 0) -> tuple[str, str] | None:
    """(file, name) of the ``X = declarative_base()`` that ``dotted`` names in ``module`` (through imports
    and re-exports), or None."""
    if dotted in module.declarative_names:
        return module.path, dotted
    found = _imported(index, module, dotted) if depth < 8 else None
    return _root_of_name(index, found[0], found[1], depth + 1) if found is not None else None


def _imported(index: Index, module: ModuleInfo, name: str) -> tuple[ModuleInfo, str] | None:
    """The module of the files read that ``name`` is imported from in ``module``, and its name there."""
    target = module.imports.get(name)
    if not target:
        return None
    mod, _, attr = target.rpartition(".")
    other = index.modules.get(mod)
    return (other, attr) if other is not None and other is not module else None


def _roots(index: Index, cls: ClassInfo) -> set[tuple[str, str]]:
    """The declarative bases a class maps to, as (file, name), where they are known: the declarative
    classes in its chain and the ``declarative_base()`` results its bases name. Empty when unknown."""
    roots: set[tuple[str, str]] = set()
    for c in [cls, *index.ancestors(cls)]:
        if c.module is None:
            continue
        if c.declarative:
            roots.add((c.path, c.name))
        for b in c.bases:
            if (root := _root_of_name(index, c.module, b)) is not None:
                roots.add(root)
    return roots


def _target_roots(index: Index, env: ModuleInfo, target: str) -> set[tuple[str, str]]:
    """The declarative bases of env.py's ``target_metadata = X.metadata``; empty when unknown (then no
    model is left out)."""
    if not target.endswith(".metadata"):
        return set()
    owner = target.removesuffix(".metadata")
    root = _root_of_name(index, env, owner)
    if root is not None:
        return {root}
    cls = index.lookup(env, owner) if owner.split(".")[0] in env.imports else None
    return _roots(index, cls) if cls is not None else set()


_LIBRARIES = {"sqlalchemy", "flask_sqlalchemy", "sqlmodel", "pydantic"}
_PLAIN_BASES = {"object", "ABC", "Generic", "Protocol", "Enum", "IntEnum", "StrEnum", "Exception", "TypedDict",
                "NamedTuple", "BaseModel", "dict", "str", "int"}


def _outside_base(index: Index, cls: ClassInfo, subclassed: set[int]) -> str:
    """The base, from outside the files read, that a class with columns and no table name of its own maps
    on (a declarative base or model class of an installed package, whose declared_attr names the table), or
    "": a mixin (other classes build on it), or bases that are all plain Python."""
    if id(cls) in subclassed or cls.module is None:
        return ""
    for c in [cls, *index.ancestors(cls)]:
        for b in c.bases:
            last = b.rsplit(".", 1)[-1]
            library = c.module.imports.get(b.split(".")[0], "") if c.module is not None else ""
            if library.split(".")[0] in _LIBRARIES:
                continue  # flask_sqlalchemy's Model, SQLAlchemy's own bases: a model_class, not a model
            if (c.module is not None and index.lookup(c.module, b) is None and last not in _PLAIN_BASES
                    and (last.endswith(("Model", "Base")) or "Model" in last)):
                return b
    return ""


def _is_sqlmodel(index: Index, cls: ClassInfo) -> bool:
    return any(b.rsplit(".", 1)[-1] == "SQLModel" for c in [cls, *index.ancestors(cls)] for b in c.bases)


def _own_columns(cls: ClassInfo, sqlmodel: bool) -> list[tuple[str, int]]:
    return [(n, line) for n, line in cls.columns if sqlmodel or n not in cls.plain_fields]


def tables_of(modules: list[ModuleInfo], problems: list[str],
              target: tuple[ModuleInfo, str] | None = None) -> list[ModelTable]:
    """Every table the modules declare, with the columns of the class, its mixins and abstract bases;
    with ``target`` (env.py and its ``target_metadata``, e.g. ``Base.metadata``), only the models of that
    declarative base: Alembic compares no other."""
    index = Index(modules)
    wanted = _target_roots(index, *target) if target is not None else set()
    elsewhere: dict[str, list[ClassInfo]] = {}  # models of another declarative base, by that base
    found: dict[str, ModelTable] = {}
    owner: dict[int, ModelTable] = {}  # id(ClassInfo) -> the table it maps (for single-table subclasses)

    def add(table: ModelTable) -> ModelTable:
        if table.name in found:
            kept = found[table.name]
            for col, line in zip(table.columns, table.column_lines, strict=True):
                if col not in kept.columns:
                    kept.columns.append(col)
                    kept.column_lines.append(line)
            return kept
        found[table.name] = table
        return table

    for m in modules:
        problems += m.problems
        for t in m.tables:
            add(t)
    pending: list[ClassInfo] = [c for m in modules for c in m.classes.values()]
    subclassed = {id(b) for c in pending for b in index.ancestors(c)}  # mixins and bases of the classes read
    for cls in pending:
        if cls.table is not None:
            owner[id(cls)] = add(cls.table)
    # classes first whose table comes from themselves, then single-table subclasses (bases before them)
    for cls in sorted(pending, key=lambda c: len(index.ancestors(c))):
        if id(cls) in owner or cls.abstract or cls.declarative:
            continue
        if id(cls) in subclassed and cls.bases in ([], ["object"]) and not cls.sqlmodel_table:
            # a plain mixin (`__tablename__`, `__table_args__` and columns for the models built on it) maps
            # nothing itself: its models are the subclasses, each named as its own table's model
            continue
        if wanted and target is not None and (roots := _roots(index, cls)) and not roots & wanted and (
                cls.tablename or cls.tablename_rule or cls.columns):
            elsewhere.setdefault(", ".join(f"{path}: {name}" for path, name in sorted(roots)), []).append(cls)
            continue
        ancestors = index.ancestors(cls)
        sqlmodel = _is_sqlmodel(index, cls)
        if sqlmodel and not cls.sqlmodel_table:
            continue  # a SQLModel without table=True is a plain pydantic model
        tablename = cls.tablename
        parent = next((owner[id(a)] for a in ancestors if id(a) in owner), None)
        if parent is not None and not sqlmodel and _flask_model(index, cls):
            # Flask-SQLAlchemy's rule for a subclass of a mapped model: a primary key of its own makes a
            # joined table (named after the class unless __tablename__ says), none makes single-table
            # inheritance, whatever __tablename__ says (its __table_cls__ then creates no table)
            if cls.primary:
                own = _own_columns(cls, False)
                owner[id(cls)] = add(ModelTable(cls.tablename or _snake(cls.name), cls.path, cls.line, cls.name,
                                                [c for c, _ in own], [line for _, line in own]))
                continue
            tablename = None
        if tablename is None and not sqlmodel:
            if parent is not None:  # single-table inheritance: its columns live in the parent's table
                owner[id(cls)] = parent
                own = _own_columns(cls, False)
                add(ModelTable(parent.name, parent.path, parent.line, parent.model,
                               [c for c, _ in own], [line for _, line in own]))
                continue
            inherited = next((a for a in ancestors if a.tablename is not None or a.tablename_computed
                              or a.tablename_rule), None)
            own = cls.tablename_rule is not None or cls.tablename_computed
            ruler = inherited if inherited is not None and not own and inherited.tablename_rule else None
            if cls.tablename_rule and ancestors:  # a model (it has a base) naming itself by a rule
                ruler = cls
            named = _apply_rule(index, ruler, cls.name) if ruler is not None else None
            if ruler is not None and _own_columns(cls, False) and named is None:
                problems.append(f"{cls.path}:{cls.line}: {cls.name}'s __tablename__ is computed (declared_attr at "
                                f"{ruler.path}:{ruler.tablename_rule.lineno}); its table is not known without "
                                "running the code")
                continue
            if named is not None and _own_columns(cls, False):  # named by a declared_attr rule worked out
                inherited = ClassInfo(cls.name, cls.path, cls.line, [], tablename=named)
            elif inherited is None and _flask_model(index, cls) and _own_columns(cls, False):
                inherited = ClassInfo(cls.name, cls.path, cls.line, [], tablename=_snake(cls.name))
            elif cls.tablename_computed or (inherited is not None and inherited.tablename_computed):
                if cls.columns or inherited is not None:
                    problems.append(f"{cls.path}:{cls.line}: {cls.name}'s __tablename__ is computed (declared_attr); "
                                    "its table is not known without running the code")
                continue
            if inherited is None and _own_columns(cls, False) and (outside := _outside_base(index, cls, subclassed)):
                problems.append(f"{cls.path}:{cls.line}: {cls.name} maps columns on {outside}, a base from outside "
                                f"the checkout that names its table; {NO_TABLE_NAME}")
                continue
            if inherited is None or not cls.columns:
                continue  # a base, a mixin or a plain class
            tablename = inherited.tablename
        if tablename is None:
            if not sqlmodel:
                continue
            tablename = cls.name.lower()  # SQLModel's default __tablename__
        schema = cls.schema or next((a.schema for a in ancestors if a.schema), None)
        computed = cls.schema_computed or next((a.schema_computed for a in ancestors if a.schema_computed), "")
        if schema is None and computed:
            problems.append(f"{cls.path}:{cls.line}: {cls.name}'s schema comes from a computed __table_args__ "
                            f"({computed}); its table {tablename} is matched in any schema")
        columns: list[tuple[str, int]] = []
        for c in [*reversed([a for a in ancestors if id(a) not in owner]), cls]:
            for col in _own_columns(c, sqlmodel):
                if col[0] not in (n for n, _ in columns):
                    columns.append(col)
        table = ModelTable(f"{schema}.{tablename}" if schema else tablename, cls.path, cls.line, cls.name,
                           [n for n, _ in columns], [line for _, line in columns])
        owner[id(cls)] = add(table)
    for base, classes in elsewhere.items():
        problems.append(f"{len(classes)} model(s) of another declarative base ({base}), not target_metadata's "
                        f"{target[1] if target else ''}, left out: Alembic does not compare them: "
                        + ", ".join(f"{c.name} ({c.path}:{c.line})" for c in classes))
    return sorted(found.values(), key=lambda t: (t.path, t.line))


# --- which files --------------------------------------------------------------------------------


def _module_name(root: Path, path: Path, bases: list[Path]) -> str:
    for base in sorted(bases, key=lambda b: -len(b.parts)):  # the deepest sys.path entry names it
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        if all(p.isidentifier() for p in parts):
            return ".".join(parts)
    return ""


def scan(root: Path, exclude: frozenset[str] = frozenset()) -> list[Path]:
    """Python files of the checkout that mention SQLAlchemy or SQLModel, without migrations, tests, venvs
    and the folders in ``exclude`` (absolute paths: the Alembic script folder, whatever its name)."""
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and os.path.join(folder, d) not in exclude
                         and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith("test_") and name != "conftest.py":
                out.append(Path(folder, name))
                if len(out) >= MAX_FILES:
                    return out
    return out


def _mentions_models(text: str) -> bool:
    return "sqlalchemy" in text or "sqlmodel" in text or "__tablename__" in text or "Column(" in text


def _alembic_env(root: Path, alembic_ini: Path, section: str = "alembic", cwd: Path | None = None,
                 script: tuple[Path, list[Path]] | None = None) -> tuple[Path | None, list[Path], list[Path] | None]:
    """env.py of the Alembic project, the folders its modules import from, and its own script and
    revision folders (None when the layout cannot be read), as the migrations source resolves them
    (alembic_layout: script_location, prepend_sys_path, %(here)s, the section)."""
    from netra_doctor.core.errors import SourceError
    from netra_doctor.migrations.layout import script_layout

    if not alembic_ini.is_file() and script is None:
        return None, [], None
    try:  # the migrations source's own resolution (a relative script_location falls back to the ini's folder)
        layout = script_layout(alembic_ini, cwd or root, section, *(script or (None, None)))
    except SourceError:  # e.g. Flask-Migrate's ini beside env.py, with no versions/ yet
        env_py = alembic_ini.parent / "env.py"  # only an Alembic env.py: an app's own env.py is no such thing
        alembic_env = env_py.is_file() and any(w in (_peek(env_py) or "") for w in ("alembic", "target_metadata"))
        return (env_py if alembic_env else None), [], None
    env_py = layout.script_dir / "env.py"
    return (env_py if env_py.is_file() else None), layout.search_path, [layout.script_dir, *layout.version_dirs]


# --- revisions a model's package carries itself -----------------------------------------------------

REVISION_FOLDERS = ("migrations", "migration", "alembic")
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=\n]*)?=", re.MULTILINE)


def mark_own_migrations(root: Path, tables: list[ModelTable], project: list[Path]) -> None:
    """Set ``own_migrations`` on each table whose model's package carries Alembic revisions that are not
    the project's: a plug-in's ``migrations/`` folder, run by the application's plug-in loader, not by
    the project's alembic.ini (CTFd's dynamic_challenges renames its columns so). The project's
    revisions cannot tell what those do, so the model checks leave such tables unjudged."""
    ours = {p.resolve() for p in project}
    cache: dict[Path, str] = {}
    for t in tables:
        if t.path:  # imported models (models_import) have no file
            t.own_migrations = _nearest_revisions(root, (root / t.path).parent, ours, cache)


def _nearest_revisions(root: Path, folder: Path, ours: set[Path], cache: dict[Path, str]) -> str:
    """The nearest revision folder from ``folder`` up to ``root`` (repo-relative), "" when it is the
    project's own or there is none."""
    trail: list[Path] = []
    found = ""
    while folder not in cache:
        trail.append(folder)
        hit = next((d for name in REVISION_FOLDERS for d in _revision_candidates(folder / name)
                    if _holds_revisions(d)), None)
        if hit is not None:
            found = "" if hit.resolve() in ours else os.path.relpath(hit, root)
            break
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    else:
        found = cache[folder]
    for f in trail:
        cache[f] = found
    return found


def _revision_candidates(folder: Path) -> list[Path]:
    """``NAME/``, ``NAME/versions`` and, for a folder per plug-in (CKAN's ``migration/<plugin>/versions``),
    ``NAME/*/versions``."""
    if not folder.is_dir():
        return []
    try:
        with os.scandir(folder) as entries:  # no stat per file: a version folder may hold thousands
            subs = sorted(folder / e.name / "versions" for e in entries if e.name != "versions" and e.is_dir())
    except OSError:
        subs = []
    return [folder, folder / "versions", *subs[:20]]


def _holds_revisions(folder: Path, most: int = 50) -> bool:
    """Does ``folder`` hold Alembic revision files (a module-level ``down_revision =``)? At most ``most``
    files are looked at: one revision is enough."""
    try:
        with os.scandir(folder) as entries:  # names, no Path or stat per file: 3,000 revisions cost 25 ms so
            names = sorted(e.name for e in entries if os.path.splitext(e.name)[1] == ".py" and e.is_file())
    except OSError:  # not a folder, or unreadable
        return False
    return any(is_revision_file(folder / name) for name in names[:most])


def is_revision_file(path: Path) -> bool:
    """A module-level ``down_revision =``: an Alembic revision file (read as text, never imported)."""
    return bool(_DOWN_REVISION.search(_peek(path) or ""))


def _target_names(tree: ast.Module) -> list[str]:
    """The dotted names ``target_metadata`` is set from (``Base.metadata``, ``[a.metadata, b]``)."""
    names: list[str] = []
    bound: dict[str, ast.expr] = {}  # names env.py binds (`migration_metadata = Auth.metadata`)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            bound.setdefault(node.targets[0].id, node.value)

    def add(value: ast.expr) -> None:
        nonlocal names
        values = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        names += [n for n in (_dotted(v) for v in values) if n]

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "target_metadata"
                                                for t in node.targets):
            add(node.value)
        elif isinstance(node, ast.Call):  # context.configure(..., target_metadata=Y)
            for kw in node.keywords:
                if kw.arg != "target_metadata" or (isinstance(kw.value, ast.Name) and kw.value.id == "target_metadata"):
                    continue
                if isinstance(kw.value, ast.Name) and kw.value.id in bound:
                    add(bound[kw.value.id])
                elif not isinstance(kw.value, ast.Name):
                    add(kw.value)
    return list(dict.fromkeys(names))


def _computed_target(tree: ast.Module) -> str:
    """``target_metadata = build(models)`` (or ``configure(target_metadata=build(...))``) with ``build`` not
    defined in env.py: a MetaData made when env.py runs (quay converts peewee models so), which reading
    source cannot follow. The expression, or ""."""
    local = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "target_metadata"
                                                for t in node.targets):
            values = [node.value]
        elif isinstance(node, ast.Call):
            values = [kw.value for kw in node.keywords if kw.arg == "target_metadata"]
        for value in values:
            if isinstance(value, ast.Call) and (_dotted(value.func) or "").split(".")[0] not in local:
                return ast.unparse(value)
    return ""


class _Files:
    """Resolves dotted module names to files of the checkout, reading each once."""

    def __init__(self, root: Path, bases: list[Path], reader: ModuleReader | None = None):
        self.root, self.bases = root, bases
        self.reader = reader or read_module
        self.modules: dict[Path, ModuleInfo] = {}
        self.problems: list[str] = []
        self.env: ModuleInfo | None = None  # env.py, once read
        self.targets: list[str] = []  # its target_metadata
        self.computed = ""  # its target_metadata, when a call env.py does not define makes it

    def find(self, dotted: str) -> list[Path]:
        """The files importing ``dotted`` runs: its packages' __init__ files, then the module."""
        parts = dotted.split(".")
        for base in self.bases:
            found: list[Path] = []
            for i in range(1, len(parts) + 1):
                pkg = base.joinpath(*parts[:i])
                if (pkg / "__init__.py").is_file():
                    found.append(pkg / "__init__.py")
                elif pkg.with_suffix(".py").is_file():
                    found.append(pkg.with_suffix(".py"))
                    break
                elif not pkg.is_dir():
                    break
            if found:
                return found
        return []

    def read(self, path: Path, text: str | None = None) -> ModuleInfo | None:
        """The module at ``path`` (``text``: its source, when the caller already read it)."""
        if path in self.modules:
            return self.modules[path]
        rel = os.path.relpath(path, self.root)
        try:
            source = text if text is not None else read_source(path)
            info = self.reader(source, rel, _module_name(self.root, path, self.bases))
        except ConfigError as exc:  # too large, not UTF-8, not a regular file
            self.problems.append(f"{rel}: not read ({why_not(exc, path)})")
            info = None
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            self.problems.append(f"{rel}: not read ({type(exc).__name__}: {' '.join(str(exc).split())})")
            info = None
        self.modules[path] = info  # type: ignore[assignment]
        return info

    def follow(self, starts: list[str]) -> list[ModuleInfo]:
        """The checkout's modules that importing ``starts`` imports, transitively."""
        queue = [p for s in starts for p in self.find(s)]
        seen: set[Path] = set()
        out: list[ModuleInfo] = []
        while queue and len(seen) < MAX_FILES:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            info = self.read(path)
            if info is None:
                continue
            out.append(info)
            for target in [*info.imports.values(), *info.star]:
                queue += self.find(target)
        return out


def read_models(root: Path, alembic_ini: Path, paths: list[str] | None = None,
                scan_checkout: bool = True, section: str = "alembic", cwd: Path | None = None,
                script_location: Path | None = None, version_locations: list[Path] | None = None,
                module_reader: ModuleReader | None = None) -> ModelFacts:
    """The models of the checkout at ``root`` (see the module docstring for which files); ``script_location``
    and ``version_locations`` as the migrations source takes them; ``module_reader`` stands in for
    ``read_module`` (a cache of what each file declares: doctor/sources/filecache.py)."""
    root = root.resolve()
    script = (script_location, version_locations or []) if script_location is not None else None
    env_py, prepend, project = _alembic_env(root, alembic_ini, section, cwd, script)
    bases = list(dict.fromkeys([root, *prepend, alembic_ini.parent, *([env_py.parent] if env_py else [])]))
    files = _Files(root, bases, module_reader)
    facts = ModelFacts()
    modules: list[ModuleInfo] = []
    if paths:
        chosen: list[Path] = []
        for p in paths:
            full = (root / p).resolve()
            if full.is_dir():
                chosen += scan(full) if full != root else scan(root)
            elif full.is_file():
                chosen.append(full)
            else:
                facts.problems.append(f"models: {p} does not exist under {root}")
        modules = [m for m in (files.read(p) for p in chosen) if m is not None]
        facts.where = "config models = [" + ", ".join(paths) + "]"
        tables, found = _tables(modules)
    else:
        target: tuple[ModuleInfo, str] | None = None
        if env_py is not None:
            modules, facts.where = _from_env(env_py, files, root)
            if files.env is not None and len(files.targets) == 1:
                target = (files.env, files.targets[0])
        tables, found = _tables(modules, target)
        if not tables and any("__tablename__ is computed" in p for p in found):
            # the models env.py leads to are found, their names are not: say so, and read nothing else
            facts.where += ", which led to models for which no table name could be worked out"
        elif not tables and files.computed:  # no model reached: what env.py computes is unknown, not "none"
            facts.where += ", which led to no model"
            facts.problems.append(f"target_metadata = {files.computed} in {os.path.relpath(env_py, root)} is "
                                  "computed when env.py runs, which reading source cannot follow; set models_import "
                                  "(or models = [...]) in netra-doctor.toml to judge the models")
        elif not tables:
            followed = bool(modules) or "followed" in facts.where
            why = f"{facts.where}, which led to no model" if followed else (facts.where or "no Alembic env.py found")
            # the Alembic project's own folder first (netra_backend/ holds app/ and alembic.ini), then the
            # checkout; never the script folder (Flask-Migrate keeps alembic.ini in it): its helpers are no models
            scripts = _script_dirs(env_py, project)
            here = alembic_ini.parent.resolve()
            places = ([] if any(here == s or s in here.parents for s in scripts) else [here]) + (
                [root] if scan_checkout and here != root else [])
            if not places and here == root:
                places = [root]
            shown = "no folder"
            for place in places:
                texts = {p: _peek(p) for p in scan(place, frozenset(str(s) for s in scripts))}
                # a file that cannot be read is read again by files.read, which says why
                candidates = [p for p, text in texts.items() if text is None or _mentions_models(text)]
                modules = [m for m in (files.read(p, texts[p]) for p in candidates) if m is not None]
                tables, found = _tables(modules)
                shown = os.path.relpath(place, root) if place != root else "the checkout"
                if tables:
                    break
            facts.where = f"a scan of {shown} without migrations, tests and virtualenvs ({why})"
            if not tables and files.targets and any(root == s or s in root.parents for s in scripts):
                # started inside the script folder (no VCS marker above): the models env.py names are outside
                facts.problems.append(f"the checkout read is {root}, the Alembic script folder itself, and env.py's "
                                      f"target_metadata = {files.targets[0]} names models outside it: run the doctor "
                                      "from the repository's root (or pass --alembic-ini from there)")
            if not scan_checkout:
                facts.where += f"; {root} itself was not scanned: alembic.ini is outside it"
    if tables and not paths and "followed through its imports" in facts.where:
        found += _unreached(root, files, tables, _script_dirs(env_py, project))
    facts.tables = tables
    if project is not None:
        mark_own_migrations(root, tables, project)
    facts.problems += found
    facts.files = sorted({m.path for m in modules})
    facts.problems = files.problems + facts.problems
    return facts


def _unreached(root: Path, files: _Files, tables: list[ModelTable], scripts: list[Path]) -> list[str]:
    """Modules of the models' packages that declare models and that no import from env.py reaches: loaded
    dynamically by the application (``import_modules_recursively``, plug-in loaders), so whether Alembic's
    MetaData holds them is unknown. Each is said, never read as the project's models."""
    packages: set[Path] = set()
    for where in {t.path for t in tables if t.path}:  # once per file: 1,000 models in 40 files cost 8,000 stats
        folder: Path | None = (root / where).parent
        while folder is not None and (folder.parent / "__init__.py").is_file() and folder.parent != root:
            folder = folder.parent
        if folder is not None and (folder / "__init__.py").is_file():
            packages.add(folder.resolve())
    read = {p.resolve() for p in files.modules}
    out: list[str] = []
    for package in sorted(packages):
        for path in scan(package, frozenset(str(s) for s in scripts)):
            if path.resolve() not in read and "__tablename__" in (_peek(path) or ""):
                out.append(f"{os.path.relpath(path, root)}: {UNREACHED}; its models are not judged")
    return out


def _script_dirs(env_py: Path | None, project: list[Path] | None) -> list[Path]:
    """The Alembic script folder (env.py's) and revision folders: never a source of models."""
    dirs = [*(project or []), *([env_py.parent] if env_py is not None else [])]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def _tables(modules: list[ModuleInfo], target: tuple[ModuleInfo, str] | None = None
            ) -> tuple[list[ModelTable], list[str]]:
    """The tables ``modules`` declare, and what could not be told of them."""
    problems: list[str] = []
    return (tables_of(modules, problems, target) if modules else []), problems


def _peek(path: Path) -> str | None:
    """The file's text, or None when it cannot be read (too large, not a file)."""
    try:
        return read_source(path, errors="replace")
    except ConfigError:
        return None


def _from_env(env_py: Path, files: _Files, root: Path) -> tuple[list[ModuleInfo], str]:
    """The modules env.py imports (its target_metadata's first), followed through their imports."""
    rel = os.path.relpath(env_py, root)
    try:
        tree = parse(read_source(env_py), str(env_py))
    except (ConfigError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        files.problems.append(f"{rel}: not read ({type(exc).__name__})")
        return [], f"{rel} could not be read"
    env = read_module(ast.unparse(tree), rel)
    files.env = env
    targets = files.targets = _target_names(tree)
    files.computed = _computed_target(tree)
    if not targets and files.computed:
        starts = [*env.imports.values(), *env.star]
        return files.follow([s for s in dict.fromkeys(starts) if s]), f"target_metadata = {files.computed} in {rel}"
    if not targets:
        return [], f"{rel} sets no target_metadata"
    starts = []
    for name in targets:
        head = name.split(".")[0]
        module = env.imports.get(head)
        if module:
            starts.append(module)
            starts.append(module.rpartition(".")[0])  # `from pkg.models import Base`: the module is pkg.models
    starts += [*env.imports.values(), *env.star]  # models registered by importing them in env.py
    modules = files.follow([s for s in dict.fromkeys(starts) if s])
    return modules, f"target_metadata = {', '.join(targets)} in {rel}, followed through its imports"
