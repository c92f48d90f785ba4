"""A tiny, safe interpreter for the table-name rules models compute from their class name.

``@declared_attr def __tablename__(cls)`` returns a literal, ``cls.__name__`` through string methods,
``re.sub`` / a compiled pattern's ``.sub`` with literal patterns, ``+`` and f-strings, or calls a small
helper function of the checkout. Those are worked out over the AST, never by running the checkout's
code; anything else (a loop, an attribute of another object, a call to an unknown function) is
unknown, and the caller says so instead of guessing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from netra_doctor.core.records import record

MAX_DEPTH = 4  # helper calls deep
MAX_STATEMENTS = 12  # in one helper body
MAX_NAME = 200  # longer class names are not fed to a checkout's regular expression
STR_METHODS = {"lower", "upper", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip",
               "replace", "removeprefix", "removesuffix"}


# a repeated group that itself repeats or alternates ((a+)+, (a|aa)+): a checkout's pattern that can
# backtrack for ever is not run
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}|](?:[^()\\]|\\.)*\)[+*{]")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    if _NESTED.search(pattern):
        raise Unknown("a nested repetition")
    return re.compile(pattern)


class Unknown(Exception):
    """The rule uses something this interpreter does not follow."""


@record(frozen=True)
class ClassRef:
    """The ``cls`` a declared_attr receives: only its ``__name__`` is known."""

    name: str


@record(frozen=True)
class Function:
    """A function of the checkout, with the names its module can see."""

    node: ast.FunctionDef
    resolve: Callable[[str], object]


RE = object()  # the ``re`` module
RE_SUB = object()  # ``from re import sub``


@record(frozen=True)
class _Method:
    owner: object
    name: str


def table_name(fn: ast.FunctionDef, class_name: str, resolve: Callable[[str], object]) -> str | None:
    """What ``fn(cls)`` returns for a class named ``class_name``, or None when it cannot be worked out.

    ``resolve(name)`` gives a module-level name's value: a str, a compiled ``re.Pattern``, a
    ``Function``, ``RE``, or None when it is not known."""
    if len(class_name) > MAX_NAME:
        return None
    try:
        value = call(Function(fn, resolve), [ClassRef(class_name)], 0)
    except (Unknown, re.error, RecursionError, TypeError, ValueError):
        return None
    return value if isinstance(value, str) and value else None


def call(fn: Function, args: list[object], depth: int) -> object:
    if depth > MAX_DEPTH:
        raise Unknown("too deep")
    a = fn.node.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults or len(a.args) != len(args):
        raise Unknown("signature")
    scope: dict[str, object] = {p.arg: v for p, v in zip(a.args, args, strict=True)}
    body = [s for s in fn.node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    for stmt in body[:MAX_STATEMENTS]:
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            return _eval(stmt.value, scope, fn.resolve, depth)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            scope[stmt.targets[0].id] = _eval(stmt.value, scope, fn.resolve, depth)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            scope[stmt.target.id] = _eval(stmt.value, scope, fn.resolve, depth)
        else:
            raise Unknown(type(stmt).__name__)
    raise Unknown("no return")


def _eval(node: ast.expr, scope: dict[str, object], resolve: Callable[[str], object], depth: int) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in scope:
            return scope[node.id]
        value = resolve(node.id)
        if value is None:
            raise Unknown(node.id)
        return _Method(RE, "sub") if value is RE_SUB else value
    if isinstance(node, ast.Attribute):
        owner = _eval(node.value, scope, resolve, depth)
        if isinstance(owner, ClassRef) and node.attr == "__name__":
            return owner.name
        if (isinstance(owner, str) and node.attr in STR_METHODS) or (
                owner is RE and node.attr in ("sub", "compile")) or (
                isinstance(owner, re.Pattern) and node.attr == "sub"):
            return _Method(owner, node.attr)
        raise Unknown(node.attr)
    if isinstance(node, ast.Call):
        if node.keywords:
            raise Unknown("keywords")
        func = _eval(node.func, scope, resolve, depth)
        args = [_eval(a, scope, resolve, depth) for a in node.args]
        if isinstance(func, Function):
            return call(func, args, depth + 1)
        if isinstance(func, _Method) and func.owner is RE and func.name == "sub" and len(args) == 3 and isinstance(
                args[0], re.Pattern):  # re.sub(COMPILED, repl, s)
            args = [args[0].pattern, *args[1:]]
        if not isinstance(func, _Method) or not all(isinstance(a, str) for a in args):
            raise Unknown("call")
        if isinstance(func.owner, str):
            return getattr(func.owner, func.name)(*args)
        if func.owner is RE and func.name == "compile" and len(args) == 1:
            return compile_pattern(args[0])
        if func.owner is RE and func.name == "sub" and len(args) == 3:
            return compile_pattern(args[0]).sub(args[1], args[2])
        if isinstance(func.owner, re.Pattern) and len(args) == 2:
            return func.owner.sub(args[0], args[1])
        raise Unknown("call")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _eval(node.left, scope, resolve, depth), _eval(node.right, scope, resolve, depth)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        raise Unknown("+")
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                part = _eval(value.value, scope, resolve, depth)
                if not isinstance(part, str):
                    raise Unknown("f-string")
                parts.append(part)
            else:
                raise Unknown("f-string")
        return "".join(parts)
    raise Unknown(type(node).__name__)
