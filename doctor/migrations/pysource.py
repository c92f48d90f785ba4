"""The checkout's Python modules read as source: names resolved without importing anything.

A revision file may take ``revision`` from a helper module, or ``upgrade`` from another file;
Python would import those modules. Here they are found on the search path Alembic gives
(``prepend_sys_path``, then the working directory), parsed with ``ast`` once each, and a
name is followed through ``from x import y`` (within the checkout only, to a depth limit,
never around a cycle) to the literal or function that defines it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from netra_doctor.core.errors import ConfigError
from netra_doctor.core.files import read_source
from netra_doctor.core.records import record
from netra_doctor.migrations.pyparse import parse

MAX_DEPTH = 12  # import hops followed for one name


class Unresolved(Exception):
    """A name or expression whose value cannot be known without running code."""


def short(text: str) -> str:
    """Source text on one line, cut for a message."""
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _shown(source: ast.AST | str) -> str:
    """The source for a message, unparsed only when a message needs it (3,000 revisions' columns
    unparsed up front cost a tenth of reading them)."""
    return source if isinstance(source, str) else short(ast.unparse(source))


@record(frozen=True)
class ColumnValue:
    """``sa.Column("name", ...)`` carried as a value (bound to a name, returned, passed, collected);
    ``name`` None when the name is known only at run time."""

    name: str | None
    source: ast.AST | str = field(compare=False, repr=False)  # for messages: see ``text``

    @property
    def text(self) -> str:
        return _shown(self.source)


@record(frozen=True)
class Built:
    """What a call into a module outside the checkout returns (a type, a constraint, a connection):
    it exists, its content is not known."""

    kind: str  # the callee's last name: "PrimaryKeyConstraint", "Text", "get_bind"
    origin: str  # the module it comes from
    source: ast.AST | str = field(compare=False, repr=False)  # for messages: see ``text``

    @property
    def text(self) -> str:
        return _shown(self.source)


# the reader's way to give a call a value (a helper's return, a Column); None: calls are Unresolved
CallValue = Callable[["Module", ast.Call, "dict[str, Any] | None", int], Any]


@record
class Module:
    path: Path
    name: str  # dotted name, "" for a file loaded by path (a revision file)
    tree: ast.Module
    assigns: dict[str, ast.expr] = field(default_factory=dict)  # last module-level `name = expr`
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (module, attr|None)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)  # module-level classes (their constants)

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        if self.path.name == "__init__.py":
            return self.name
        return self.name.rpartition(".")[0]


def index(tree: ast.Module, path: Path, name: str) -> Module:
    mod = Module(path, name, tree)
    for node in tree.body:
        _index_stmt(mod, node)
    return mod


def _index_stmt(mod: Module, node: ast.stmt) -> None:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                mod.assigns[target.id] = node.value
            elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(node.value, (ast.Tuple, ast.List)) \
                    and len(target.elts) == len(node.value.elts):
                for t, v in zip(target.elts, node.value.elts, strict=True):
                    if isinstance(t, ast.Name):
                        mod.assigns[t.id] = v
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        mod.assigns[node.target.id] = node.value
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        mod.functions[node.name] = node
        mod.assigns.pop(node.name, None)
    elif isinstance(node, ast.ClassDef):
        mod.classes[node.name] = node
        mod.assigns.pop(node.name, None)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute_module(mod, node)
        for alias in node.names:
            if alias.name != "*":
                mod.imports[alias.asname or alias.name] = (base, alias.name)
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                mod.imports[alias.asname] = (alias.name, None)
            else:
                top = alias.name.split(".")[0]
                mod.imports[top] = (top, None)
    elif isinstance(node, ast.If):  # `if TYPE_CHECKING:` / try-import blocks: take what they define
        for child in [*node.body, *node.orelse]:
            _index_stmt(mod, child)
    elif isinstance(node, ast.Try):
        for child in node.body:
            _index_stmt(mod, child)


def _absolute_module(mod: Module, node: ast.ImportFrom) -> str:
    return absolute_import(mod.package, node.level, node.module)


def absolute_import(package: str, level: int, module: str | None) -> str:
    """The module ``from <level dots><module> import ...`` names, in ``package`` (level 0: as written)."""
    if not level:
        return module or ""
    parts = package.split(".") if package else []
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(p for p in [*parts, *([module] if module else [])] if p)


class Modules:
    """The checkout's modules by dotted name, parsed on first use."""

    def __init__(self, search_path: list[Path], checkout: Path):
        self.search_path = [p.resolve() for p in search_path]
        self.checkout = checkout.resolve()
        self._cache: dict[str, Module | None] = {}
        self.outside: set[str] = set()  # modules named but not in the checkout

    def find(self, name: str) -> Module | None:
        """The module ``name`` from the checkout, or None (not there, outside it, or not Python)."""
        if name in self._cache:
            return self._cache[name]
        found: Module | None = None
        for pair in self.candidates(name):
            for path in pair:
                if path.is_file():
                    found = self._load(path, name)
                    break
            if found is not None:
                break
        if found is None:
            self.outside.add(name)
        self._cache[name] = found
        return found

    def candidates(self, name: str) -> list[tuple[Path, Path]]:
        """Where ``find`` looks for ``name``, per search-path folder: ``name.py``, then ``name/__init__.py``
        (what a cached reading that followed ``name`` depends on)."""
        if not name:
            return []
        parts = name.split(".")
        return [(base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py"))
                for base in self.search_path]

    def _load(self, path: Path, name: str) -> Module | None:
        try:
            real = path.resolve()
            if not real.is_relative_to(self.checkout):
                return None
            tree = parse(read_source(real), str(path))
        except (OSError, ConfigError, SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        return index(tree, path, name)

    def submodule_or_attr(self, module: str, attr: str) -> tuple[Module | None, str | None]:
        """``from module import attr``: the submodule ``module.attr`` if it is one, else (module, attr)."""
        sub = self.find(f"{module}.{attr}") if module else self.find(attr)
        if sub is not None:
            return sub, None
        return self.find(module), attr


@record
class Found:
    """Where a name leads: an expression to evaluate, a function, or a module."""

    module: Module
    expr: ast.expr | None = None
    function: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    submodule: Module | None = None
    cls: ast.ClassDef | None = None


def lookup(modules: Modules, mod: Module, name: str, depth: int = 0, seen: frozenset = frozenset()) -> Found | None:
    """What ``name`` means at the top level of ``mod`` (following imports within the checkout)."""
    key = (str(mod.path), name)
    if depth > MAX_DEPTH or key in seen:
        return None
    seen = seen | {key}
    if name in mod.functions:
        return Found(mod, function=mod.functions[name])
    if name in mod.classes:
        return Found(mod, cls=mod.classes[name])
    if name in mod.assigns:
        return Found(mod, expr=mod.assigns[name])
    if name in mod.imports:
        source, attr = mod.imports[name]
        if attr is None:
            target = modules.find(source)
            return Found(target, submodule=target) if target is not None else None
        target, attr = modules.submodule_or_attr(source, attr)
        if target is None:
            return None
        if attr is None:
            return Found(target, submodule=target)
        return lookup(modules, target, attr, depth + 1, seen)
    return None


def named_object(modules: Modules, mod: Module, expr: ast.expr, env: dict[str, Any] | None) -> Found | None:
    """The module or class ``expr`` names (``Tag``, ``models``, ``models.Tag``); None for anything else,
    or for a local name (its value is the function's, not the module's)."""
    if isinstance(expr, ast.Name):
        return None if env is not None and expr.id in env else lookup(modules, mod, expr.id)
    if isinstance(expr, ast.Attribute):
        owner = named_object(modules, mod, expr.value, env)
        if owner is not None and owner.submodule is not None:
            return lookup(modules, owner.submodule, expr.attr)
    return None


def class_attribute(modules: Modules, mod: Module, cls: ast.ClassDef, attr: str, depth: int = 0) -> Found | None:
    """Where ``attr = <expr>`` is set in the class body, or in a base class of the checkout's, else None
    (set by a decorator or ``declared_attr``, or in a class outside the checkout: unknown)."""
    if depth > MAX_DEPTH:
        return None
    value = None
    for node in cls.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
            value = node.value  # type: ignore[union-attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            return None  # @declared_attr / a property: computed when the class is built
    if value is not None:
        return Found(mod, expr=value)
    for base in cls.bases:
        owner = named_object(modules, mod, base, None)
        if owner is not None and owner.cls is not None:
            found = class_attribute(modules, owner.module, owner.cls, attr, depth + 1)
            if found is not None:
                return found
    return None


def is_external(modules: Modules, mod: Module, name: str) -> str | None:
    """The module outside the checkout that ``name`` is imported from, if it is one."""
    if name not in mod.imports:
        return None
    source, attr = mod.imports[name]
    if attr is None:
        return source if modules.find(source) is None else None
    target, attr = modules.submodule_or_attr(source, attr)
    return source if target is None else None


def evaluate(modules: Modules, mod: Module, expr: ast.expr, depth: int = 0, env: dict[str, Any] | None = None,
             calls: CallValue | None = None) -> Any:
    """The value of a constant expression: literals, names bound to constants (here or imported from
    the checkout), tuples/lists/dicts of them, subscripts, ``+`` and f-strings over them; calls only
    through ``calls``. Else Unresolved."""
    if depth > MAX_DEPTH * 4:
        raise Unresolved("too deep")
    if isinstance(expr, ast.Constant):
        if expr.value is None or isinstance(expr.value, (str, int, bool)):
            return expr.value
        raise Unresolved(ast.unparse(expr))
    owner = named_object(modules, mod, expr.value, env) if isinstance(expr, ast.Attribute) else None
    if owner is not None and owner.cls is not None:  # Tag.__tablename__, models.Tag.__tablename__: the class body's
        found = class_attribute(modules, owner.module, owner.cls, expr.attr)  # type: ignore[union-attr]
        if found is None or found.expr is None:
            raise Unresolved(ast.unparse(expr))
        return evaluate(modules, found.module, found.expr, depth + 1, calls=calls)
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        items: list[Any] = []
        for e in expr.elts:
            if isinstance(e, ast.Starred):
                inner = evaluate(modules, mod, e.value, depth + 1, env, calls)
                if not isinstance(inner, (tuple, dict)):
                    raise Unresolved(ast.unparse(e))
                items.extend(inner)
            else:
                items.append(evaluate(modules, mod, e, depth + 1, env, calls))
        return tuple(items)
    if isinstance(expr, ast.Dict):
        out_dict: dict[Any, Any] = {}
        try:
            for k, v in zip(expr.keys, expr.values, strict=True):
                value = evaluate(modules, mod, v, depth + 1, env, calls)
                if k is None:
                    if not isinstance(value, dict):
                        raise Unresolved(ast.unparse(v))
                    out_dict.update(value)
                else:
                    out_dict[evaluate(modules, mod, k, depth + 1, env, calls)] = value
        except TypeError:  # an unhashable key
            raise Unresolved(ast.unparse(expr)) from None
        return out_dict
    if isinstance(expr, ast.Subscript):
        container = evaluate(modules, mod, expr.value, depth + 1, env, calls)
        key = evaluate(modules, mod, expr.slice, depth + 1, env, calls)
        try:
            if isinstance(container, dict) or (isinstance(container, (tuple, str)) and isinstance(key, int)):
                return container[key]
        except (KeyError, IndexError, TypeError):
            pass
        raise Unresolved(ast.unparse(expr))
    if isinstance(expr, ast.Name) and env is not None and expr.id in env:
        value = env[expr.id]
        if isinstance(value, Unresolved):
            raise value
        return value
    if isinstance(expr, ast.Name):
        found = lookup(modules, mod, expr.id)
        if found is None or found.expr is None:
            origin = is_external(modules, mod, expr.id) if calls is not None else None
            if origin is not None:  # `Boolean` from sqlalchemy: a value, its content unknown
                return Built(expr.id, origin, expr.id)
            raise Unresolved(expr.id)
        return evaluate(modules, found.module, found.expr, depth + 1, calls=calls)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        found = lookup(modules, mod, expr.value.id)
        if found is not None and found.submodule is not None:
            inner = lookup(modules, found.submodule, expr.attr)
            if inner is not None and inner.expr is not None:
                return evaluate(modules, inner.module, inner.expr, depth + 1, calls=calls)
        origin = None if calls is None or (env and expr.value.id in env) else is_external(modules, mod, expr.value.id)
        if origin is not None:  # `sa.Boolean`
            return Built(expr.attr, origin, ast.unparse(expr))
        raise Unresolved(ast.unparse(expr))
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left = evaluate(modules, mod, expr.left, depth + 1, env, calls)
        right = evaluate(modules, mod, expr.right, depth + 1, env, calls)
        if type(left) is type(right) and isinstance(left, (str, tuple)):
            return left + right
        raise Unresolved(ast.unparse(expr))
    if isinstance(expr, ast.JoinedStr):
        out = []
        for part in expr.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
                value = evaluate(modules, mod, part.value, depth + 1, env, calls)
                if not isinstance(value, (str, int)) or isinstance(value, bool):
                    raise Unresolved(ast.unparse(part.value))
                out.append(str(value))
            else:
                raise Unresolved(ast.unparse(expr))
        return "".join(out)
    if isinstance(expr, ast.BoolOp):  # `column or sa.Column(...)`: Python's rule, over known values
        value: Any = None
        for part in expr.values:
            value = evaluate(modules, mod, part, depth + 1, env, calls)
            if isinstance(value, Built):  # whether it is true is known when it runs
                raise Unresolved(ast.unparse(expr))
            if bool(value) == isinstance(expr.op, ast.Or):
                return value
        return value
    if isinstance(expr, ast.Call):
        return _call(modules, mod, expr, depth, env, calls)
    if isinstance(expr, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        return _comprehension(modules, mod, expr, depth, env, calls)
    raise Unresolved(ast.unparse(expr))


MAX_ITEMS = 1000  # items a comprehension is worked out over


def _comprehension(modules: Modules, mod: Module, expr: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                   depth: int, env: dict[str, Any] | None, calls: CallValue | None) -> Any:
    """``{name: f(name) for name in NAMES}`` over a known sequence: one generator, no condition."""
    (gen, *more) = expr.generators
    if more or gen.ifs or gen.is_async:
        raise Unresolved(ast.unparse(expr))
    seq = evaluate(modules, mod, gen.iter, depth + 1, env, calls)
    if isinstance(seq, dict):
        seq = tuple(seq)
    if not isinstance(seq, tuple) or len(seq) > MAX_ITEMS:
        raise Unresolved(ast.unparse(expr))
    names = [gen.target] if isinstance(gen.target, ast.Name) else list(getattr(gen.target, "elts", [None]))
    if not all(isinstance(n, ast.Name) for n in names):
        raise Unresolved(ast.unparse(expr))
    keys: list[Any] = []
    values: list[Any] = []
    for item in seq:
        parts = (item,) if isinstance(gen.target, ast.Name) else item
        if not isinstance(parts, tuple) or len(parts) != len(names):
            raise Unresolved(ast.unparse(expr))
        local = {**(env or {}), **{n.id: v for n, v in zip(names, parts, strict=True)}}  # type: ignore[union-attr]
        if isinstance(expr, ast.DictComp):
            keys.append(evaluate(modules, mod, expr.key, depth + 1, local, calls))
            values.append(evaluate(modules, mod, expr.value, depth + 1, local, calls))
        else:
            values.append(evaluate(modules, mod, expr.elt, depth + 1, local, calls))
    if isinstance(expr, ast.DictComp):
        try:
            return dict(zip(keys, values, strict=True))
        except TypeError:
            raise Unresolved(ast.unparse(expr)) from None
    return tuple(values)


_VIEWS = {"items": lambda d: tuple(d.items()), "keys": lambda d: tuple(d), "values": lambda d: tuple(d.values())}
_SEQUENCES = {"list": tuple, "tuple": tuple, "reversed": lambda v: tuple(reversed(v))}


def _call(modules: Modules, mod: Module, expr: ast.Call, depth: int, env: dict[str, Any] | None,
          calls: CallValue | None) -> Any:
    """``d.items()`` / ``.keys()`` / ``.values()`` of a known dict, ``list(...)`` / ``tuple(...)`` /
    ``reversed(...)`` of a known sequence; any other call only through ``calls``."""
    func = expr.func
    if isinstance(func, ast.Attribute) and func.attr in _VIEWS and not expr.args and not expr.keywords:
        try:
            target = evaluate(modules, mod, func.value, depth + 1, env, calls)
        except Unresolved:
            target = None
        if isinstance(target, dict):
            return _VIEWS[func.attr](target)
    if (isinstance(func, ast.Name) and func.id in _SEQUENCES and len(expr.args) == 1 and not expr.keywords
            and not (env and func.id in env) and lookup(modules, mod, func.id) is None):
        value = evaluate(modules, mod, expr.args[0], depth + 1, env, calls)
        if isinstance(value, (tuple, dict)):
            return _SEQUENCES[func.id](tuple(value))
        raise Unresolved(ast.unparse(expr))
    if calls is None:
        raise Unresolved(ast.unparse(expr))
    return calls(mod, expr, env, depth + 1)
