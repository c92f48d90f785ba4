"""Migrations: the revision graph from Alembic's own ``ScriptDirectory``, and what each revision
does to tables, read from its source.

The graph (heads, parents, order) comes from Alembic itself, so it is the graph that
``alembic upgrade head`` walks. What a revision creates, renames and drops is read with ``ast``
from the body of its ``upgrade()`` (and the module's helper functions it calls): the doctor
never runs a migration, never executes ``env.py``, and never needs the application importable.
Alembic does import the revision files to build its graph; when one of them fails to import
(it imports the app, say), the graph is rebuilt from the files' source with Alembic's own
``RevisionMap`` and the failure is recorded in ``MigrationFacts.problems``.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from doctor.facts import MigrationFacts, RevisionFacts
from doctor.sources import Context, SourceError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap


def gather(ctx: Context) -> None:
    ctx.facts.migrations = read_migrations(ini_path(ctx.target.alembic_ini, ctx.target.root))


def ini_path(alembic_ini: str, root: Path) -> Path:
    """The configured alembic.ini: absolute as given, else relative to the repository root
    (or, failing that, to the working directory a relative ``--alembic-ini`` was typed in)."""
    path = Path(alembic_ini).expanduser()
    if path.is_absolute():
        return path
    for base in (root, Path.cwd()):
        if (base / path).is_file():
            return base / path
    return root / path


def read_migrations(ini: Path) -> MigrationFacts:
    """Heads and every revision (base first) of the scripts that ``ini`` points at."""
    if not ini.is_file():
        raise SourceError(f"no alembic.ini at {ini} (pass --alembic-ini PATH or set alembic_ini in netra-doctor.toml)")
    from alembic.util import CommandError

    try:
        with _loading():
            script = _script_directory(ini)
    except (CommandError, configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{ini}: {_one_line(exc)}") from None
    facts = MigrationFacts(alembic_ini=str(ini), script_location=str(script.dir))
    try:
        with _loading() as caught:
            rmap, paths = script.revision_map, None
            rmap.heads  # noqa: B018 -- builds the map, importing every revision file
        facts.problems += caught
    except Exception as exc:  # a revision file that will not import must not hide the graph
        rmap, paths = _map_from_source(script, ini)
        facts.problems.append(
            f"Alembic could not load the revision files ({type(exc).__name__}: {_one_line(exc)}); "
            "the graph was read from their source instead"
        )
    try:
        facts.heads = list(rmap.heads)
        walk = list(rmap.iterate_revisions("heads", "base", inclusive=True, assert_relative_length=False))
    except Exception as exc:  # cycles, a down_revision that names no file: Alembic's own verdict
        raise SourceError(f"{ini}: the revision graph is broken: {_one_line(exc)}") from None
    for rev in reversed(walk):
        path = paths[rev.revision] if paths is not None else Path(rev.path)  # type: ignore[attr-defined]
        facts.revisions.append(_revision_facts(rev, path, facts.problems))
    return facts


def _script_directory(ini: Path) -> ScriptDirectory:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(Config(str(ini)))


@contextlib.contextmanager
def _loading() -> Iterator[list[str]]:
    """Alembic prepends ``prepend_sys_path`` to sys.path and imports revision files, which
    writes bytecode next to them: undo the first and prevent the second (a diagnosis leaves
    the checkout as it found it). Its warnings are collected for the facts, not printed."""
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            yield caught
        caught += [_one_line(w.message) for w in seen]  # type: ignore[arg-type]
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _down(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _revision_facts(rev: Any, path: Path, problems: list[str]) -> RevisionFacts:
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        problems.append(f"{path.name}: could not read its source ({_one_line(exc)}); its table operations are unknown")
        tree, source = None, ""
    ops = read_ops(tree, path.name, problems) if tree is not None else TableOps()
    doc = ast.get_docstring(tree) if tree is not None else None
    return RevisionFacts(
        revision=rev.revision,
        down_revisions=_down(rev.down_revision),
        message=(doc or "").split("\n\n")[0].strip(),
        path=str(path),
        creates=ops.creates,
        drops=ops.drops,
        renames=ops.renames,
        drops_columns=ops.drops_columns,
        ops=ops.order,
    )


# --- the graph from source, when Alembic cannot import a revision file ------------------------


def _map_from_source(script: ScriptDirectory, ini: Path) -> tuple[RevisionMap, dict[str, Path]]:
    """Alembic's RevisionMap over ids read from the files' source; a gap in the chain is an error."""
    from alembic.script.revision import Revision, RevisionMap

    revisions: list[Revision] = []
    paths: dict[str, Path] = {}
    for path in _revision_files(script):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError) as exc:
            raise SourceError(f"{path}: not readable Python: {_one_line(exc)}") from None
        names = _module_assignments(tree)
        revision = names.get("revision")
        if not isinstance(revision, str):
            continue  # not a revision file (Alembic skips these too)
        down = names.get("down_revision")
        revisions.append(Revision(revision, tuple(down) if isinstance(down, list) else down))
        paths[revision] = path
    for rev in revisions:
        for down in _down(rev.down_revision):
            if down not in paths:
                raise SourceError(f"{ini}: the revision graph is broken: {paths[rev.revision].name} revises "
                                  f"{down}, which no revision file defines")
    return RevisionMap(lambda: revisions), paths


def _revision_files(script: ScriptDirectory) -> list[Path]:
    locations = [Path(p) for p in (script.version_locations or [])] or [Path(script.dir, "versions")]
    pattern = "**/*.py" if script.recursive_version_locations else "*.py"
    return sorted(
        p for loc in locations if loc.is_dir() for p in loc.glob(pattern)
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    )


def _module_assignments(tree: ast.Module) -> dict[str, Any]:
    """Module-level ``name = literal`` / ``name: T = literal`` (strings, None, tuples of strings)."""
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if literal is None or isinstance(literal, str):
            found[target] = literal
        elif isinstance(literal, (tuple, list)) and all(isinstance(v, str) for v in literal):
            found[target] = list(literal)
    return found


# --- table operations of upgrade() ------------------------------------------------------------


@dataclass
class TableOps:
    creates: list[str] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    renames: list[list[str]] = field(default_factory=list)
    drops_columns: list[list[str]] = field(default_factory=list)
    order: list[list[str]] = field(default_factory=list)  # creates, renames and drops as upgrade() runs them

    def create(self, table: str) -> None:
        self.creates.append(table)
        self.order.append(["create", table])

    def drop(self, table: str) -> None:
        self.drops.append(table)
        self.order.append(["drop", table])

    def rename(self, old: str, new: str) -> None:
        self.renames.append([old, new])
        self.order.append(["rename", old, new])


class _Unknown(Exception):
    """An argument that is not a literal (or a module-level string constant)."""


_SQL_CREATE = re.compile(r"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.\"]+)", re.I)
_SQL_DROP = re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([\w.\"]+(?:\s*,\s*[\w.\"]+)*)", re.I)
_SQL_DROP_COLUMN = re.compile(
    r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w.\"]+)\s+DROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?([\w\"]+)", re.I
)


def read_ops(tree: ast.Module, filename: str = "", problems: list[str] | None = None) -> TableOps:
    """The tables ``upgrade()`` creates, drops and renames, and the columns it drops.

    Follows calls to the module's own functions (revisions that split their work into helpers),
    ``with op.batch_alter_table(...) as batch_op`` blocks, ``schema=`` keywords (giving
    ``schema.table``) and plain SQL in ``op.execute``. ``downgrade()`` is never read.
    """
    reader = _OpsReader(tree, filename, problems if problems is not None else [])
    for name in reader.functions:
        if name == "upgrade" or name.startswith("upgrade_"):
            reader.function(name)
    return reader.ops


class _OpsReader:
    def __init__(self, tree: ast.Module, filename: str, problems: list[str]):
        self.filename, self.problems = filename, problems
        self.functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.constants = {k: v for k, v in _module_assignments(tree).items() if isinstance(v, str)}
        self.op_names, self.alembic_names = {"op"}, {"alembic"}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "alembic":
                self.op_names |= {a.asname or a.name for a in node.names if a.name == "op"}
            elif isinstance(node, ast.Import):
                self.alembic_names |= {a.asname for a in node.names if a.name == "alembic" and a.asname}
        self.ops = TableOps()
        self.seen: set[str] = set()
        self.batches: dict[str, str] = {}  # batch_op variable -> table

    def function(self, name: str) -> None:
        if name in self.seen:
            return
        self.seen.add(name)
        for stmt in self.functions[name].body:
            self.visit(stmt)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.visit(item.context_expr)
                self._batch(item)
        if isinstance(node, ast.Call):
            self.call(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(node, (ast.With, ast.AsyncWith)) and isinstance(child, ast.withitem):
                continue
            self.visit(child)

    def _batch(self, item: ast.withitem) -> None:
        call = item.context_expr
        if (isinstance(call, ast.Call) and self._is_op(call.func, "batch_alter_table")
                and isinstance(item.optional_vars, ast.Name)):
            with self._known(call):
                self.batches[item.optional_vars.id] = self._table(call, 0, "table_name")

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.functions:
            self.function(func.id)
            return
        if not isinstance(func, ast.Attribute):
            return
        with self._known(node):
            if isinstance(func.value, ast.Name) and func.value.id in self.batches and func.attr == "drop_column":
                self.ops.drops_columns.append([self.batches[func.value.id], self._arg(node, 0, "column_name")])
            elif self._is_op(func, "create_table"):
                self.ops.create(self._table(node, 0, "table_name"))
            elif self._is_op(func, "drop_table"):
                self.ops.drop(self._table(node, 0, "table_name"))
            elif self._is_op(func, "rename_table"):
                schema = self._schema(node)
                old, new = self._arg(node, 0, "old_table_name"), self._arg(node, 1, "new_table_name")
                self.ops.rename(_qualified(schema, old), _qualified(schema, new))
            elif self._is_op(func, "drop_column"):
                self.ops.drops_columns.append([self._table(node, 0, "table_name"), self._arg(node, 1, "column_name")])
            elif self._is_op(func, "execute"):
                self._sql(node)

    def _is_op(self, func: ast.expr, attr: str) -> bool:
        if not isinstance(func, ast.Attribute) or func.attr != attr:
            return False
        recv = func.value
        if isinstance(recv, ast.Name):
            return recv.id in self.op_names
        return (isinstance(recv, ast.Attribute) and recv.attr == "op"
                and isinstance(recv.value, ast.Name) and recv.value.id in self.alembic_names)

    @contextlib.contextmanager
    def _known(self, node: ast.Call) -> Iterator[None]:
        try:
            yield
        except _Unknown:
            self.problems.append(
                f"{self.filename}:{node.lineno}: {ast.unparse(node.func)}() names its table with an "
                "expression, not a literal; that operation is not counted"
            )

    def _arg(self, node: ast.Call, index: int, keyword: str) -> str:
        value = next((k.value for k in node.keywords if k.arg == keyword), None)
        if value is None and len(node.args) > index and not isinstance(node.args[index], ast.Starred):
            value = node.args[index]
        text = self._literal(value)
        if not isinstance(text, str):
            raise _Unknown
        return text

    def _literal(self, value: ast.expr | None) -> str | None:
        if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, str)):
            return value.value
        if isinstance(value, ast.Name) and value.id in self.constants:
            return self.constants[value.id]
        raise _Unknown

    def _schema(self, node: ast.Call) -> str | None:
        value = next((k.value for k in node.keywords if k.arg == "schema"), None)
        return None if value is None else self._literal(value)

    def _table(self, node: ast.Call, index: int, keyword: str) -> str:
        return _qualified(self._schema(node), self._arg(node, index, keyword))

    def _sql(self, node: ast.Call) -> None:
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.Call) and arg.args:  # op.execute(sa.text("..."))
            arg = arg.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return
        sql = arg.value
        found = [(m.start(), "create", m.group(1)) for m in _SQL_CREATE.finditer(sql)]
        found += [(m.start(), "drop", n) for m in _SQL_DROP.finditer(sql) for n in m.group(1).split(",")]
        for _, kind, name in sorted(found, key=lambda f: f[0]):  # `DROP ...; CREATE ...` in the text's order
            (self.ops.create if kind == "create" else self.ops.drop)(_sql_name(name))
        self.ops.drops_columns += [[_sql_name(t), _sql_name(c)] for t, c in _SQL_DROP_COLUMN.findall(sql)]


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _sql_name(name: str) -> str:
    return ".".join(part.strip('"') if part.startswith('"') else part.lower() for part in name.strip().split("."))
