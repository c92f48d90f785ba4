"""Migrations: the revision graph and what each revision does to tables, read from source only.

No revision file, ``env.py`` or module of the application is ever imported or run: a revision
whose module-level code writes files, exits or loops changes nothing about a diagnosis. The
files are found as Alembic finds them (``netra_doctor.migrations.layout``); ``revision``,
``down_revision``, ``branch_labels`` and ``depends_on`` are read as literals, constants built
from literals, or names imported from other modules of the checkout
(``netra_doctor.migrations.pysource``); the graph is Alembic's own ``RevisionMap`` over ``Revision``
objects made from those values, so heads, merges, branch labels and dependencies mean what
they mean to ``alembic upgrade``. The order (base first) is a linear-time topological sort.
What each ``upgrade()`` does to tables is read by ``netra_doctor.migrations.revision_ops``.
"""

from __future__ import annotations

import ast
import functools
import heapq
import json
import os
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_doctor.core.errors import ConfigError, SourceError
from netra_doctor.core.facts import MigrationFacts, RevisionFacts
from netra_doctor.core.files import MAX_SOURCE_BYTES, gc_paused, outside, read_bytes, read_source, why_not
from netra_doctor.core.records import record
from netra_doctor.migrations.layout import Layout, script_layout
from netra_doctor.migrations.models import is_revision_file
from netra_doctor.migrations.pyparse import parse
from netra_doctor.migrations.pysource import Module, Modules, Unresolved, evaluate, index, lookup, short
from netra_doctor.migrations.sqlops import FALLBACK_NOTE, PGLAST
from netra_doctor.sources.context import Context
from netra_doctor.sources.filecache import Store, code_digest, decode, digest, encode, signature

if TYPE_CHECKING:  # what each upgrade() does is read only for files the cache does not answer
    from netra_doctor.migrations.revision_ops import TableOps

_SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")  # Alembic's _only_source_rev_file
_LEGACY_REV = re.compile(r"([a-f0-9]+)\.py$")


def gather(ctx: Context) -> None:
    ini, cwd = ini_and_cwd(ctx.target.alembic_ini, ctx.target.root)
    root = ctx.target.root.absolute()
    inside = ini.absolute().is_relative_to(root)
    # an alembic.ini given from outside the repository (--alembic-ini elsewhere) brings its own project
    script, extra = script_folders(ctx.target.script_location, ctx.target.version_locations, root)
    ctx.facts.migrations = read_migrations(ini, cwd=cwd if inside else None, checkout=root if inside else None,
                                           section=ctx.target.alembic_name, script_location=script,
                                           version_locations=extra, cache=ctx.target.cache)


def script_folders(script_location: str | None, version_locations: list[str], root: Path
                   ) -> tuple[Path | None, list[Path]]:
    """The configured script folder and extra revision folders, relative to the repository root."""
    def where(p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else root / path

    return (where(script_location) if script_location else None), [where(v) for v in version_locations]


def ini_path(alembic_ini: str, root: Path) -> Path:
    """The configured alembic.ini: absolute as given, else relative to the repository root
    (or, failing that, to the working directory a relative ``--alembic-ini`` was typed in)."""
    return ini_and_cwd(alembic_ini, root)[0]


def ini_and_cwd(alembic_ini: str, root: Path) -> tuple[Path, Path]:
    """The alembic.ini and the directory alembic runs in: where ``-c PATH`` was given from (the
    job's ``cd /app && alembic -c netra_backend/alembic.ini`` runs at the repository root)."""
    path = Path(alembic_ini).expanduser()
    if path.is_absolute():
        return path, root
    for base in (root, Path.cwd()):
        if (base / path).is_file():
            return base / path, base
    return root / path, root


def read_migrations(ini: Path, cwd: Path | None = None, checkout: Path | None = None,
                    section: str = "alembic", script_location: Path | None = None,
                    version_locations: list[Path] | None = None, cache: bool = True) -> MigrationFacts:
    """Heads and every revision (base first) of the scripts that ``ini`` points at.

    ``cwd``: the directory alembic runs in (relative locations resolve against it; default the
    ini's folder); ``checkout``: the repository being diagnosed (default: the directory relative
    locations resolved against), the only place modules are read from; ``section``: the ini's
    section (`alembic -n NAME`); ``script_location``: the script folder the job runs, over the ini's (with
    no ini: Flask-Alembic), and ``version_locations`` more revision folders; ``cache``: keep and reuse what
    each file yielded (filecache.py)."""
    if not ini.is_file() and script_location is None:
        raise SourceError(f"no alembic.ini at {ini} (pass --alembic-ini PATH, or --script-location DIR for a project "
                          "without one, or set alembic_ini in netra-doctor.toml)")
    # the cyclic collector off while a history is read: its passes over every fact read so far made the cost
    # per revision grow with the history (10,000 revisions: 1.1-1.2x what 1,000 cost per revision; 1.0x without)
    with gc_paused():
        return _read(ini, cwd, checkout, section, script_location, version_locations, cache)


def _read(ini: Path, cwd: Path | None, checkout: Path | None, section: str, script_location: Path | None,
          version_locations: list[Path] | None, cache: bool) -> MigrationFacts:
    ini = ini.absolute()
    cwd = (cwd or ini.parent).absolute()
    layout = script_layout(ini, cwd, section, script_location, version_locations)
    checkout = (checkout or layout.cwd).absolute()
    facts = MigrationFacts(alembic_ini=str(ini), script_location=str(layout.script_dir), problems=layout.problems)
    if layout.sourceless:
        facts.problems.append("sourceless = true: revisions kept only as .pyc files have no source to read and are "
                              "not counted")
    _where(layout, checkout, facts)
    modules = _Recording(layout.search_path, checkout)
    store = Store("revisions", [_reader_digest(), str(ini), str(checkout), section, *map(str, modules.search_path),
                                str(PGLAST)], enabled=cache)
    unread: list[str] = []  # revision files not read: what alembic runs is not all known
    scripts = _scripts(layout, modules, store, facts.problems, checkout, unread)
    facts.warnings += unread
    facts.unknown += unread
    _unseen(layout, len(scripts), facts)
    _env_transactions(layout.script_dir / "env.py", checkout, facts)
    facts.heads, order = _graph(scripts, ini, store, facts.problems if unread else None)
    sql_read = False
    for rev_id in order:
        script = scripts[rev_id]
        sql_read = sql_read or script.sql_read
        facts.revisions.append(script.facts)
    store.save()
    if sql_read and not PGLAST:
        facts.problems.append(FALLBACK_NOTE)
    return facts


def _reader_digest() -> str:
    """The code that turns a revision file into facts: the static readers, the facts, this module."""
    from netra_doctor.core import facts as facts_module
    from netra_doctor.migrations import revision_ops

    readers = Path(revision_ops.__file__).parent
    return code_digest(__file__, str(facts_module.__file__), *map(str, readers.glob("*.py")))


def _where(layout: Layout, checkout: Path, facts: MigrationFacts) -> None:
    """A script folder outside the checkout, or none at all, makes every verdict doubtful: say so."""
    root = checkout.resolve()
    script_dir = layout.script_dir.resolve()
    if not script_dir.is_relative_to(root):
        facts.warnings.append(f"script_location {layout.script_dir} (from {layout.ini.name}) is outside the checkout "
                              f"{root}: the revisions read are not the ones this repository ships")
    for folder in layout.version_dirs:
        if not folder.is_dir():
            facts.warnings.append(f"the revision folder {folder} does not exist: Alembic finds no revisions there")
        elif not folder.resolve().is_relative_to(root) and script_dir.is_relative_to(root):
            facts.warnings.append(f"version location {folder} is outside the checkout {root}")


def _unseen(layout: Layout, found: int, facts: MigrationFacts) -> None:
    """What makes the revisions read possibly not the ones alembic runs: said as a warning and kept in
    ``facts.unknown``, so that no check reads "no revision creates it" out of revisions never seen."""
    reasons: list[str] = []
    where = _sets_version_locations(layout.script_dir / "env.py")
    named = layout.version_dirs != [layout.script_dir / "versions"]  # the ini names its folders
    if where and named:  # an ini written for the doctor (or the job) says which folder is meant: read it
        facts.warnings.append(f"{where} sets version_locations when it runs, which the doctor does not run; the "
                              f"folders {layout.ini.name} names were read ({', '.join(map(str, layout.version_dirs))})")
    elif where:
        reasons.append(f"{where} sets version_locations when it runs, which the doctor does not run: the revision "
                       f"folders alembic uses may not be the ones {layout.ini.name} names ("
                       f"{', '.join(str(d) for d in layout.version_dirs)}); set version_locations in "
                       f"{layout.ini.name} to the folder the job runs")
    if not layout.recursive:
        for folder in layout.version_dirs:
            nested = _nested(folder)
            if nested and not _revision_files(folder):
                reasons.append(f"{folder} holds revision files only in its subfolders ({', '.join(nested)}) and "
                               "recursive_version_locations is off: Alembic as configured reads none of them")
            elif nested and (beside := _nested_revisions(folder, layout.version_dirs)):
                # keystone: versions/ holds the first revision, versions/<release>/{expand,contract}/ the rest,
                # added to version_locations by the project's own runner: the history is longer than the ini says
                reasons.append(f"{folder} holds {len(beside)} revision file(s) in subfolders the ini does not read "
                               f"({_few_paths(beside, folder)}) and recursive_version_locations is off: a wrapper "
                               "(the project's own migration command) may add them to version_locations, so the "
                               "revisions alembic runs are not known; name them in version_locations (or set "
                               "recursive_version_locations = true) if the job runs them")
    facts.warnings += reasons
    if not found and not reasons:  # a new project, or a layout not understood: the model checks say which
        reasons.append(f"no revision file was found in {', '.join(str(d) for d in layout.version_dirs)}")
    facts.unknown += reasons


def _subfolders(folder: Path) -> list[Path]:
    """``folder``'s subfolders but __pycache__, sorted: one scandir, no stat per file (10,000 revision files
    cost 10,000 stats through Path.is_dir)."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.name != "__pycache__" and e.is_dir())


def _revision_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return [Path(e.path) for e in entries if _SOURCE_FILE.match(e.name) and e.is_file()]


def _nested_revisions(folder: Path, read: list[Path]) -> list[Path]:
    """Revision files (a module-level ``down_revision =``) below ``folder``'s subfolders that no version
    location of the ini reads."""
    places = {d.resolve() for d in read}
    out: list[Path] = []
    for sub in _subfolders(folder):
        for path in sorted(sub.rglob("*.py")):
            if (_SOURCE_FILE.match(path.name) and "__pycache__" not in path.parts
                    and path.parent.resolve() not in places and is_revision_file(path)):
                out.append(path)
    return out


def _few_paths(paths: list[Path], folder: Path) -> str:
    shown = sorted({p.parent.relative_to(folder).as_posix() + "/" for p in paths})
    return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more folder(s)" if len(shown) > 5 else "")


def _nested(folder: Path) -> list[str]:
    """Subfolders of a version folder holding .py files (a folder per database, say)."""
    if not folder.is_dir():
        return []
    return [f"{d.name}/" for d in _subfolders(folder) if any(_SOURCE_FILE.match(p.name) for p in d.rglob("*.py"))]


def _sets_version_locations(env: Path) -> str:
    """``path:line`` where env.py assigns ``version_locations`` (``context.script.version_locations = [...]``)
    or sets the option (``config.set_main_option("version_locations", ...)``); "" when it does not."""
    try:
        tree = parse(read_source(env, errors="replace"))
    except (ConfigError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute) and t.attr == "version_locations" for t in targets):
            return f"{env}:{node.lineno}"
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("set_main_option", "set_section_option")
                and any(isinstance(a, ast.Constant) and a.value == "version_locations" for a in node.args)):
            return f"{env}:{node.lineno}"
    return ""


_LOCK_TIMEOUT = re.compile(r"lock_timeout\s*(?:=|\bto\b)\s*'?([\w.]+)", re.I)


def _env_transactions(env: Path, checkout: Path, facts: MigrationFacts) -> None:
    """What env.py decides about transactions, read statically: ``transaction_per_migration=True`` given to
    ``context.configure`` (each revision commits on its own), and a lock_timeout it sets on the connection
    (``SET lock_timeout``, or ``-c lock_timeout=...`` in connect options). Left unknown when env.py is not read."""
    try:
        tree = parse(read_source(env, errors="replace"))
    except (ConfigError, SyntaxError, ValueError, RecursionError, MemoryError):
        return
    facts.transaction_per_migration = False
    try:
        shown = str(env.resolve().relative_to(checkout.resolve()))
    except ValueError:
        shown = env.name
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "transaction_per_migration":
            facts.transaction_per_migration = not (isinstance(node.value, ast.Constant) and not node.value.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and not facts.env_lock_timeout:
            found = _LOCK_TIMEOUT.search(node.value)
            if found and found.group(1).strip("'") not in ("0", "0s", "0ms"):
                facts.env_lock_timeout = f"{shown}:{getattr(node, 'lineno', 0)} {found.group(1)}"


# --- revision files -------------------------------------------------------------------------------


class _Recording(Modules):
    """The checkout's modules, noting every name looked up while ``names`` is a set: what one revision
    file's reading depended on besides its own bytes."""

    names: set[str] | None = None

    def find(self, name: str) -> Module | None:
        if self.names is not None:
            self.names.add(name)
        return super().find(name)


@record
class _Script:
    """One revision file: its identifiers as written (for Alembic's map) and the facts it yields."""

    path: str
    rev: str
    down: Any
    labels: Any
    depends: Any
    facts: RevisionFacts
    sql_read: bool
    revision: Any = None  # Alembic's Revision, when this run built one (a cold read)


def _files(layout: Layout, checkout: Path, unread: list[str]) -> list[str]:
    """Revision files in Alembic's order: each version location, files sorted, subfolders when recursive.
    A symlink leading out of the checkout is not followed (the image is built from the checkout: it will
    not hold what the link points at), and is named in ``unread``. Plain strings, and one scandir per
    folder: no Path, stat or resolve per file unless it is a symlink (for 3,000 files those cost more
    than reading them from the cache)."""
    out: list[str] = []
    seen: set[str] = set()
    for folder in layout.version_dirs:
        if not folder.is_dir():
            continue
        if layout.recursive:
            for p in sorted(folder.rglob("*")):
                if "__pycache__" in p.parts or not _SOURCE_FILE.match(p.name) or _left(p, folder, checkout, unread):
                    continue
                if p.is_file():
                    _add(str(p), str(p.resolve()), seen, out)
            continue
        base, real_base = str(folder), str(folder.resolve())
        with os.scandir(folder) as entries:
            for e in sorted(entries, key=lambda e: e.name):
                if not _SOURCE_FILE.match(e.name):
                    continue
                if e.is_symlink():
                    path = Path(e.path)
                    if not _left(path, folder, checkout, unread) and path.is_file():
                        _add(e.path, str(path.resolve()), seen, out)
                elif e.is_file():
                    _add(os.path.join(base, e.name), os.path.join(real_base, e.name), seen, out)
    return out


def _left(path: Path, folder: Path, checkout: Path, unread: list[str]) -> bool:
    """A revision file reached through a symlink out of the checkout: said in ``unread``, not read."""
    if _linked_out(path, folder, checkout):
        unread.append(f"{_shown(path, checkout)}: a symlink to {path.resolve()}, outside the checkout: "
                      "not followed (the image will not hold it); what it does is unknown")
        return True
    return False


def _linked_out(path: Path, folder: Path, checkout: Path) -> bool:
    """Is ``path`` reached through a symlink (itself or a folder below ``folder``) that leaves the checkout?"""
    linked = any(p.is_symlink() for p in (path, *path.parents) if p == path or folder in p.parents)
    return linked and outside(path, checkout)


def _shown(path: Path, checkout: Path) -> str:
    try:
        return path.relative_to(checkout).as_posix()
    except ValueError:
        return str(path)


def _add(path: str, real: str, seen: set[str], out: list[str]) -> None:
    if real not in seen:
        seen.add(real)
        out.append(path)


def _scripts(layout: Layout, modules: _Recording, store: Store, problems: list[str], checkout: Path,
             unread: list[str]) -> dict[str, _Script]:
    scripts: dict[str, _Script] = {}
    fingerprints: dict[str, str] = {}
    for path in _files(layout, checkout, unread):
        try:
            script, said = _script(path, modules, store, fingerprints)
        except _Unread as exc:
            unread.append(f"{_shown(Path(path), checkout)}: {exc}")
            continue
        problems += said
        if script is None:
            continue
        if script.rev in scripts:
            problems.append(f"revision {script.rev} is defined twice ({os.path.basename(scripts[script.rev].path)} "
                            f"and {os.path.basename(path)}); Alembic keeps the last")
        scripts[script.rev] = script
    return scripts


def _script(path: str, modules: _Recording, store: Store, fingerprints: dict[str, str]
            ) -> tuple[_Script | None, list[str]]:
    """One revision file, from the cache when its bytes (its stat signature, else a hash of them) and every
    module its reading followed are unchanged, else read (and kept for the next run)."""
    stat = signature(path) if store.enabled else None
    entry = store.unchanged(path, stat)
    if entry is not None and (kept := _kept(path, entry, modules, fingerprints)) is not None:
        return kept
    try:
        data = read_bytes(path, MAX_SOURCE_BYTES)  # type: ignore[arg-type]  (a str opens the same; no Path per file)
    except ConfigError as exc:  # too large (checked before reading), not a regular file
        raise _Unread(f"not read ({why_not(exc, Path(path))}); what it does is unknown") from None
    sha = digest(data)
    entry = store.get(path, sha)
    if entry is not None and (kept := _kept(path, entry, modules, fingerprints)) is not None:
        store.restat(path, stat)
        return kept
    modules.names = set()
    try:
        script, said = _read_script(path, data, modules)
    finally:
        names, modules.names = modules.names, None
    if not store.enabled:
        return script, said
    entry = {"deps": {n: _fingerprint(modules, n, fingerprints) for n in sorted(names)}, "problems": said}
    if script is not None:
        # only what differs from the defaults (the path is the key): a third of the store to parse; the
        # values are plain lists of strings, written before anything could change them (no deep copy)
        # (lists of dataclasses, such as lock_ops, in filecache's plain form, marked {"~": ...})
        facts = {f.name: v if _plain(v) else {"~": encode(v)} for f in _FACT_FIELDS
                 if (v := getattr(script.facts, f.name)) not in ("", [])}
        entry.update(rev=script.rev, down=script.down, labels=script.labels, depends=script.depends, facts=facts,
                     sql_read=script.sql_read)
    store.put(path, sha, entry, stat)
    return script, said


def _kept(path: str, entry: dict[str, Any], modules: _Recording, fingerprints: dict[str, str]
          ) -> tuple[_Script | None, list[str]] | None:
    """The script a cache entry stands for, when every module its reading followed is unchanged."""
    try:
        if all(_fingerprint(modules, n, fingerprints) == fp for n, fp in entry["deps"].items()):
            return _from_entry(path, entry), list(entry["problems"])
    except (KeyError, TypeError, ValueError, AttributeError):
        pass  # not an entry this doctor wrote: read the file
    return None


_FACT_FIELDS = [f for f in fields(RevisionFacts) if f.name != "path"]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> bool:
    """Strings, numbers and lists of them (nested): JSON as it is (what json.loads makes: exact types)."""
    kind = type(value)
    if kind is list:
        return all(map(_plain, value))
    return kind in _SCALARS


def _fact_value(data: Any) -> Any:
    """A stored list of dataclasses (lock_ops): built straight from fields that are plain, as most are;
    filecache's decode for anything else."""
    classes = _fact_classes()
    if isinstance(data, list) and all(isinstance(x, dict) and x.keys() == {"c", "f"} and x["c"] in classes
                                      and all(_plain(v) for v in x["f"].values()) for x in data):
        return [classes[x["c"]](**x["f"]) for x in data]
    return decode(data, classes)


@functools.cache
def _fact_classes() -> dict[str, type]:
    from netra_doctor.core import facts as facts_module

    return {name: c for name, c in vars(facts_module).items() if isinstance(c, type) and is_dataclass(c)}


def _fingerprint(modules: Modules, name: str, seen: dict[str, str]) -> str:
    """Everything ``modules.find(name)`` looks at: each candidate file's bytes (hashed), or that it is
    absent or outside the checkout. Equal fingerprints: the same module is found, with the same source."""
    if name not in seen:
        states = []
        for pair in modules.candidates(name):
            for candidate in pair:
                try:
                    if not candidate.is_file():
                        states.append("-")
                        continue
                    real = candidate.resolve()
                    states.append(digest(real.read_bytes()) if real.is_relative_to(modules.checkout) else "outside")
                except OSError:
                    states.append("!")
        seen[name] = ",".join(states)
    return seen[name]


def _tupled(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _from_entry(path: str, entry: dict[str, Any]) -> _Script | None:
    if "rev" not in entry:
        return None  # a file Alembic does not count (its problem is in the entry)
    facts = {k: _fact_value(v["~"]) if isinstance(v, dict) else v for k, v in entry["facts"].items()}
    return _Script(path, entry["rev"], _tupled(entry["down"]), _tupled(entry["labels"]), _tupled(entry["depends"]),
                   RevisionFacts(path=path, **facts), bool(entry["sql_read"]))


def _read_script(name: str, data: bytes, modules: Modules) -> tuple[_Script | None, list[str]]:
    """Read one revision file from source: its identifiers, then what its upgrade() does."""
    from netra_doctor.migrations.revision_ops import TableOps, read_revision_ops

    path = Path(name)
    said: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unread("not read (not UTF-8 text); what it does is unknown") from None
    try:
        tree = parse(text, str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"{path}: not readable Python: {_one_line(exc)}") from None
    module = index(tree, path, "")
    try:
        rev_id = _name(modules, module, "revision", path)
    except (RecursionError, MemoryError) as exc:
        raise _Unread(f"its revision id is nested too deep to read ({type(exc).__name__}): not counted; what it "
                      "does and where it stands in the history are unknown") from None
    if rev_id is _MISSING:
        legacy = _LEGACY_REV.match(path.name)
        if not legacy:
            said.append(f"{path.name}: no `revision` variable (Alembic refuses such a file in its versions "
                        "folder); not counted")
            return None, said
        rev_id = legacy.group(1)
    down = _name(modules, module, "down_revision", path)
    if down is _MISSING:
        said.append(f"{path.name}: no `down_revision` variable (Alembic fails on it); read as a base")
        down = None
    labels = _name(modules, module, "branch_labels", path, optional=True)
    depends = _name(modules, module, "depends_on", path, optional=True)
    if not isinstance(rev_id, str) or not _ids(down) or not _ids(labels) or not _ids(depends):
        raise SourceError(f"{path}: revision identifiers must be strings (revision={rev_id!r}, "
                          f"down_revision={down!r})")
    revision = _revision(name, rev_id, down, labels, depends)
    try:
        ops = read_revision_ops(modules, module)
    except (RecursionError, MemoryError) as exc:  # one revision beyond reading: opaque, the rest still read
        ops = TableOps()
        ops.why(f"its upgrade() is nested too deep to read ({type(exc).__name__})")
    facts = _revision_facts(revision, ast.get_docstring(tree), ops)
    return _Script(name, rev_id, down, labels, depends, facts, ops.sql_read, revision), said


def _revision(path: str, rev_id: str, down: Any, labels: Any, depends: Any) -> Any:
    """Alembic's ``Revision`` for these identifiers (its own checks: a revision that revises itself...)."""
    from alembic.script.revision import Revision, RevisionError
    from alembic.util import to_tuple

    try:
        # `depends_on = ""` is no dependency to Alembic (an empty string is falsy where it looks)
        revision = Revision(rev_id, down, dependencies=tuple(d for d in to_tuple(depends, default=()) if d) or None,
                            branch_labels=to_tuple(labels, default=()))
    except RevisionError as exc:
        raise SourceError(f"{path}: {_one_line(exc)}") from None
    revision.path = path  # type: ignore[attr-defined]
    return revision


_MISSING = object()


class _Unread(Exception):
    """A revision file not read (too large, not UTF-8, nested too deep): said, never cached."""


def _name(modules: Modules, module: Module, name: str, path: Path, optional: bool = False) -> Any:
    found = lookup(modules, module, name)
    if found is None:
        if name in module.imports:
            source = module.imports[name][0]
            raise SourceError(f"{path}: `{name}` is imported from {source}, which is not a module of the checkout "
                              "(the doctor reads source only and never imports installed packages)")
        return None if optional else _MISSING
    if found.expr is None:
        raise SourceError(f"{path}: `{name}` is not a value")
    try:
        return evaluate(modules, found.module, found.expr)
    except Unresolved:
        where = "" if found.module is module else f" (in {found.module.path})"
        raise SourceError(f"{path}: `{name} = {short(ast.unparse(found.expr))}`{where} is computed when the file "
                          "runs; the doctor reads revision ids only from literals and constants") from None


def _ids(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, tuple) and all(isinstance(v, str)
                                                                                         for v in value))


# --- the graph ------------------------------------------------------------------------------------


def _graph(scripts: dict[str, _Script], ini: Path, store: Store, unread: list[str] | None = None
           ) -> tuple[list[str], list[str]]:
    """Heads and a base-first order: Alembic's RevisionMap over the scripts (the order computed in linear
    time), or, when every revision's identifiers are as a run already saw them, that run's answer (a
    pure function of them), without importing Alembic. ``unread``: problems, when some revision files
    were not read: a revision of one of those is read as a base, and said, rather than the whole graph
    refused (never from or into the cache: what is said depends on the files not read)."""
    shape = json.dumps([[s.rev, s.down, s.labels, s.depends, s.path] for s in scripts.values()])
    key = digest(shape.encode())
    cached = store.get(_GRAPH, key) if unread is None else None
    if cached is not None:
        heads, order = cached.get("heads"), cached.get("order")
        if isinstance(heads, list) and isinstance(order, list) and all(isinstance(r, str) and r in scripts
                                                                       for r in order):
            return heads, order
    from alembic.script.revision import RevisionMap

    revisions = [s.revision or _revision(s.path, s.rev, s.down, s.labels, s.depends) for s in scripts.values()]
    labels = {label for r in revisions for label in (r.branch_labels or ())}
    for rev in revisions:
        for down in _down(rev.down_revision):
            if down not in scripts and unread is not None:
                unread.append(f"{Path(rev.path).name} revises {down}, which no revision file read defines (one not "
                              "read may): read without that parent")
                kept = tuple(d for d in _down(rev.down_revision) if d != down)
                rev.down_revision = kept[0] if len(kept) == 1 else (kept or None)
                scripts[rev.revision].facts.down_revisions = _down(rev.down_revision)  # a new list: the store's stays
            elif down not in scripts:
                raise SourceError(f"{ini}: the revision graph is broken: {Path(rev.path).name} revises "
                                  f"{down}, which no revision file defines")
        for dep in _down(rev.dependencies):
            if dep not in scripts and dep not in labels:
                raise SourceError(f"{ini}: the revision graph is broken: {Path(rev.path).name} depends on "
                                  f"{dep}, which no revision file defines")
    rmap = RevisionMap(lambda: revisions)
    try:
        heads = list(rmap.heads)  # builds the map: branch labels, dependencies, cycle detection
    except Exception as exc:  # cycles and the like: Alembic's own verdict
        raise SourceError(f"{ini}: the revision graph is broken: {_one_line(exc)}") from None
    order = _topological(revisions)
    if unread is None:
        store.put(_GRAPH, key, {"heads": heads, "order": order})
    return heads, order


_GRAPH = "<graph>"  # the store's key for the graph (file keys are paths)


def _topological(revisions: list[Any]) -> list[str]:
    """Parents (and dependencies) before children; among the ready ones, the file order. O(n log n)."""
    position = {r.revision: i for i, r in enumerate(revisions)}
    children: dict[str, list[str]] = {r.revision: [] for r in revisions}
    waiting: dict[str, int] = {}
    for r in revisions:
        parents = {p for p in _all_down(r) if p in position and p != r.revision}
        waiting[r.revision] = len(parents)
        for p in parents:
            children[p].append(r.revision)
    ready = [(position[r], r) for r, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, rev = heapq.heappop(ready)
        order.append(rev)
        for child in children[rev]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    return order


def _all_down(rev: Any) -> tuple[str, ...]:
    """down_revision and the resolved depends_on (branch labels turned into revisions by the map)."""
    try:
        return tuple(rev._all_down_revisions)
    except AttributeError:
        return (*_down(rev.down_revision), *_down(rev.dependencies))


def _down(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _revision_facts(rev: Any, doc: str | None, ops: TableOps) -> RevisionFacts:
    return RevisionFacts(
        revision=rev.revision,
        down_revisions=_down(rev.down_revision),
        message=(doc or "").split("\n\n")[0].strip(),
        path=rev.path,
        creates=ops.creates,
        drops=ops.drops,
        renames=ops.renames,
        drops_columns=ops.drops_columns,
        ops=ops.order,
        op_lines=ops.lines,
        adds_columns=ops.adds_columns,
        opaque=ops.opaque,
        column_ops=ops.column_ops,
        columns_unknown=ops.columns_unknown,
        branch_labels=sorted(rev._orig_branch_labels or ()) if hasattr(rev, "_orig_branch_labels")
        else sorted(rev.branch_labels or ()),
        depends_on=_down(rev.dependencies),
        op_columns_before=ops.columns_before,
        creates_if_absent=ops.if_absent,
        lock_ops=ops.locks,
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_ops(tree: ast.Module, filename: str = "rev.py", problems: list[str] | None = None) -> TableOps:
    """One revision file's table operations, with no other module to follow (its opaque reasons
    are also appended to ``problems``)."""
    from netra_doctor.migrations.revision_ops import read_revision_ops

    path = Path(filename).absolute()
    ops = read_revision_ops(Modules([], path.parent), index(tree, path, ""))
    if problems is not None:
        problems += ops.opaque
    return ops
