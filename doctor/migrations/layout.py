"""Where an Alembic project's files are, read from its alembic.ini the way Alembic reads it.

Mirrors ``alembic.config.Config`` and ``ScriptDirectory.from_config`` (Alembic 1.16+):
``%(here)s`` is the ini's folder; ``script_location``, ``version_locations`` and
``prepend_sys_path`` that are relative resolve against the working directory alembic runs
in (``cwd``: the repository root the alembic.ini path is given from); ``version_locations``
and ``prepend_sys_path`` split on ``path_separator`` (``version_path_separator`` for the
former, deprecated) or, without one, on Alembic's legacy separators. The ``package:path``
form of a location is found on the module search path without importing the package
(Alembic imports it; the doctor must not run the checkout's code).
"""

from __future__ import annotations

import configparser
import locale
import os
import re
from dataclasses import field
from pathlib import Path

from netra_doctor.core.errors import ConfigError, SourceError
from netra_doctor.core.files import MAX_SOURCE_BYTES, read_bytes, read_source
from netra_doctor.core.records import record

_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_VERSIONS = re.compile(r", *|(?: +)")
_LEGACY_SYS_PATH = re.compile(r", *|(?: +)|\:")


@record
class Layout:
    """The folders Alembic reads for one alembic.ini."""

    ini: Path
    script_dir: Path
    version_dirs: list[Path]
    recursive: bool = False
    sourceless: bool = False
    search_path: list[Path] = field(default_factory=list)  # where `import x` finds the checkout's modules
    problems: list[str] = field(default_factory=list)
    cwd: Path = Path()  # the directory relative locations were resolved against


def read_layout(ini: Path, cwd: Path, section: str = "alembic") -> Layout:
    """The project's folders; SourceError when Alembic itself would refuse the file."""
    parser = configparser.ConfigParser({"here": ini.absolute().parent.as_posix()})
    try:  # as alembic reads it (the locale's encoding), its size checked first
        parser.read_string(read_bytes(ini, MAX_SOURCE_BYTES).decode(locale.getpreferredencoding(False)), str(ini))
    except ConfigError as exc:
        raise SourceError(str(exc)) from None
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        raise SourceError(f"{ini}: {' '.join(str(exc).split())}") from None

    def option(name: str) -> str | None:
        try:
            return parser.get(section, name) if parser.has_option(section, name) else None
        except (configparser.Error, ValueError) as exc:  # a bad %(interpolation)
            raise SourceError(f"{ini}: {name}: {' '.join(str(exc).split())}") from None

    toml = _toml(cwd / "pyproject.toml")  # Alembic 1.16+: [tool.alembic] answers what the ini does not
    location = option("script_location")
    if location is None and isinstance(toml.get("script_location"), str):
        location = toml["script_location"]
    problems: list[str] = []
    if location is None and (ini.parent / "env.py").is_file() and (ini.parent / "versions").is_dir():
        # Flask-Migrate writes migrations/alembic.ini with no script_location and passes the folder
        # itself (`flask db upgrade`, `-d migrations`): the scripts are the ini's own folder
        location = ini.absolute().parent.as_posix()
        problems.append(f"{ini}: no script_location; its own folder holds env.py and versions/ (the Flask-Migrate "
                        "layout), so that folder was read")
    if location is None:
        named = [n for n in parser.sections() if n != section and parser.has_option(n, "script_location")]
        hint = (f"; its sections {', '.join(named)} have one: this project runs `alembic -n NAME`: set "
                f"alembic_name = \"{named[0]}\" (the section the job runs) in netra-doctor.toml") if named else ""
        raise SourceError(f"{ini}: No 'script_location' key found in configuration{hint}.")
    sys_paths = [_absolute(p, cwd) for p in _split(option, "prepend_sys_path", ("path_separator",),
                                                   _LEGACY_SYS_PATH, problems) or _list(toml, "prepend_sys_path")]
    # `python -m alembic` (and an installed console script run from the project) import from the cwd
    search = [*sys_paths, cwd]
    script_dir = _location(location, cwd, search, ini, "script_location")
    own = Path(os.path.normpath(ini.absolute().parent))
    if (script_dir != own and not (script_dir / "env.py").is_file() and (own / "env.py").is_file()
            and (own / "versions").is_dir()):
        # `script_location = .` in Flask-Migrate's migrations/alembic.ini: `flask db` passes the ini's own
        # folder (its -d DIR), so that folder runs, not the one a plain alembic would resolve from the cwd
        problems.append(f"{ini}: script_location {location!r} resolves to {script_dir}, which holds no env.py; the "
                        "ini's own folder holds env.py and versions/ (the Flask-Migrate layout, whose `flask db` "
                        "passes that folder), so that folder was read")
        script_dir = own
    if (cwd / "src") not in search and script_dir.is_relative_to(cwd / "src"):
        search.append(cwd / "src")  # the package was found in a src layout: its modules import from there
    if not script_dir.exists():
        raise SourceError(f"{ini}: Path doesn't exist: {script_dir}.  Please use the 'init' command to create a new "
                          "scripts folder.")
    versions = _split(option, "version_locations", ("path_separator", "version_path_separator"),
                      _LEGACY_VERSIONS, problems) or _list(toml, "version_locations")
    version_dirs = ([_location(v, cwd, search, ini, "version_locations") for v in versions]
                    if versions else [script_dir / "versions"])
    recursive = option("recursive_version_locations")
    return Layout(
        ini=ini, script_dir=script_dir, version_dirs=version_dirs,
        recursive=recursive == "true" if recursive is not None else toml.get("recursive_version_locations") is True,
        sourceless=option("sourceless") == "true", search_path=search, problems=problems, cwd=cwd,
    )


def with_script_location(layout: Layout, script_dir: Path, extra: list[Path] | None = None) -> Layout:
    """The layout with the script folder the job really runs (``--script-location``, config
    ``script_location``): Flask-Migrate's ``-d DIR`` or Flask-Alembic's ``ALEMBIC["script_location"]``.
    Revisions are in its ``versions/`` (Alembic, Flask-Migrate) or, without one, in the folder itself
    (Flask-Alembic); ``extra`` folders (per-package version locations) are read too."""
    script_dir = Path(os.path.normpath(script_dir.absolute()))
    default = layout.version_dirs == [layout.script_dir / "versions"] or not layout.version_dirs
    versions = ([script_dir / "versions" if (script_dir / "versions").is_dir() else script_dir] if default
                else layout.version_dirs)
    if layout.script_dir != script_dir and layout.ini.is_file():
        layout.problems.append(f"the script folder {script_dir} (script_location in the doctor's config or "
                               f"--script-location) was read instead of {layout.ini.name}'s {layout.script_dir}")
    layout.script_dir = script_dir
    layout.version_dirs = list(dict.fromkeys([*versions, *(Path(os.path.normpath(p.absolute())) for p in extra or [])]))
    if script_dir.parent not in layout.search_path:
        layout.search_path.append(script_dir.parent)
    return layout


def script_layout(ini: Path, cwd: Path, section: str = "alembic", script_dir: Path | None = None,
                  extra: list[Path] | None = None) -> Layout:
    """The folders alembic reads: the ini's (``locate_layout``), over which a script folder given to the
    doctor wins; with no alembic.ini (Flask-Alembic), that folder alone."""
    if script_dir is None:
        return locate_layout(ini, cwd, section)
    if not script_dir.is_dir():
        raise SourceError(f"script_location {script_dir}: no such folder")
    if ini.is_file():
        try:
            layout = locate_layout(ini, cwd, section)
        except SourceError:  # the ini's own script_location is wrong: the folder given is what runs
            layout = Layout(ini=ini, script_dir=script_dir, version_dirs=[], search_path=[cwd], cwd=cwd)
    else:
        layout = Layout(ini=ini, script_dir=script_dir, version_dirs=[], search_path=[cwd], cwd=cwd)
    return with_script_location(layout, script_dir, extra)


def locate_layout(ini: Path, cwd: Path, section: str = "alembic") -> Layout:
    """Alembic resolves a relative script_location against the directory it runs in; when the doctor
    is started elsewhere, the first folder above the ini that holds it is used, and said."""
    try:
        return read_layout(ini, cwd, section)
    except SourceError as first:
        if "Path doesn't exist" not in str(first):
            raise
        for base in [ini.parent, *ini.parent.parents]:
            if base == cwd:
                continue
            try:
                layout = read_layout(ini, base, section)
            except SourceError:
                continue
            layout.problems.append(f"script_location is relative to the directory alembic runs in; it is not under "
                                   f"{cwd} but under {base}, which was used")
            return layout
        raise


def _toml(path: Path) -> dict:
    """[tool.alembic] of the pyproject.toml alembic would read, with ``%(here)s`` filled in."""
    if not path.is_file():
        return {}
    import tomli

    try:
        data = tomli.loads(read_source(path)).get("tool", {}).get("alembic", {})
    except (ValueError, ConfigError):  # TOMLDecodeError, or a number of thousands of digits
        return {}
    here = {"here": path.absolute().parent.as_posix()}

    def fill(value):
        if isinstance(value, str):
            try:
                return value % here
            except (KeyError, ValueError, TypeError):
                return value
        return [fill(v) for v in value] if isinstance(value, list) else value

    return {k: fill(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _list(toml: dict, name: str) -> list[str]:
    value = toml.get(name)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _split(option, name: str, separators: tuple[str, ...], legacy: re.Pattern[str], problems: list[str]) -> list[str]:
    value = option(name)
    if not value:
        return []
    for sep_name in separators:
        sep = option(sep_name)
        if sep is not None:
            if sep not in _SEPARATORS:
                raise SourceError(f"'{sep}' is not a valid value for {sep_name}; expected 'space', 'newline', 'os', "
                                  "':', ';'")
            return [x.strip() for x in value.split(_SEPARATORS[sep]) if x]
    return legacy.split(value)


def _absolute(path: str, cwd: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else cwd / p


def _location(value: str, cwd: Path, search: list[Path], ini: Path, name: str) -> Path:
    """A folder, or ``package:sub/path`` found on the search path without importing the package."""
    if not os.path.isabs(value) and ":" in value:
        package, *rest = value.split(":")
        parts = package.split(".")
        # an installed src-layout package of the checkout sits under src/ (Alembic imports it from site-packages)
        for base in [*search, cwd / "src"]:
            folder = base.joinpath(*parts)
            if folder.is_dir():
                return folder.joinpath(*rest)
        # a monorepo (python_modules/dagster/dagster) run from its root: the ini sits inside the package
        for above in [ini.absolute().parent, *ini.absolute().parent.parents]:
            if len(above.parts) > len(parts) and list(above.parts[-len(parts):]) == parts \
                    and above.joinpath(*rest).exists():
                search.append(above.parents[len(parts) - 1])  # where `import package` finds it
                return above.joinpath(*rest)
        raise SourceError(f"{ini}: {name} {value!r}: package {package!r} is not in the checkout (looked in "
                          f"{', '.join(str(b) for b in search)} and the folders above {ini.name}); the doctor does "
                          "not import installed packages")
    return Path(os.path.normpath(_absolute(value, cwd)))
