"""The Dockerfile that builds the image: where its WORKDIR and COPY/ADD put the checkout's files.

The job's command runs in the image, not in the checkout, so `alembic -c PATH` must be judged
against the image's file system. The Dockerfile is parsed with Docker's grammar (``dockerparse``,
BuildKit's parser in pure Python), never with regexes, and followed through its
stages: ``COPY --from=STAGE`` takes what that stage copied from the checkout, ``FROM STAGE``
inherits it, a copy from another image is content the doctor cannot see.

:func:`read` does I/O (the repo source calls it); :func:`to_repo` and :func:`to_image` are pure
and used by checks.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import field
from pathlib import Path

from netra_doctor.core.errors import ConfigError
from netra_doctor.core.facts import ImageFacts
from netra_doctor.core.files import read_text
from netra_doctor.core.records import record

NAMES = ("Dockerfile",)
MAX_BYTES = 1_000_000
_GLOB = re.compile(r"[*?\[]")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class _Unknown(Exception):
    """A value that depends on something the Dockerfile does not fix (a build arg without default)."""


@record
class _Stage:
    name: str
    workdir: str = ""
    copies: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


# --- finding it ----------------------------------------------------------------------


def find(root: Path, alembic_ini: str, configured: str | None) -> tuple[str | None, str | None]:
    """The Dockerfile that builds the image, repo-relative: the configured one, else a ``Dockerfile``
    in the Alembic project's folder or any folder above it up to the repository root.
    Returns (path, why none)."""
    if configured:
        rel = _inside(root, configured)
        if rel is None or not (root / rel).is_file():
            return None, f"the configured dockerfile {configured} is not a file in {root}"
        return rel, None
    ini = _inside(root, alembic_ini)
    if ini is None or ini.startswith(".."):
        ini = "alembic.ini"  # scripts outside the repository: only its root is looked at
    folder = posixpath.dirname(ini)
    while True:
        for name in NAMES:
            rel = posixpath.normpath(posixpath.join(folder, name))
            if not rel.startswith("..") and (root / rel).is_file():
                return rel, None
        if folder in ("", ".", "/") or folder.startswith(".."):
            break
        folder = posixpath.dirname(folder)
    return None, f"no Dockerfile beside {ini} or in the folders above it (set `dockerfile` in the config)"


def _inside(root: Path, path: str) -> str | None:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
    return posixpath.normpath(path)


# --- reading it ----------------------------------------------------------------------


def read(root: Path, rel: str, context: str | None = None) -> ImageFacts:
    """Parse ``rel`` and lay out its final stage. The build context is ``context`` when given, else
    the Dockerfile's folder or the repository root, whichever holds the sources its COPY lines name
    (the folder when both do)."""
    from netra_doctor.cloudrun.dockerparse import ParseError, parse_string

    facts = ImageFacts(dockerfile=rel)
    try:
        commands = parse_string(read_text(root / rel, MAX_BYTES, errors="replace"))  # the size is checked first
    except ConfigError as exc:
        facts.error = f"{rel} could not be read: {exc}"
        return facts
    except ParseError as exc:
        facts.error = f"{rel} could not be parsed: {exc}"
        return facts
    folder = posixpath.dirname(rel) or "."
    candidates = [context] if context else list(dict.fromkeys([folder, "."]))
    best: tuple[int, ImageFacts] | None = None
    for ctx in candidates:
        laid = _lay_out(root, rel, ctx, commands)
        laid.dockerignore = _dockerignore(root, ctx, rel)
        missing = sum(1 for n in laid.notes if n.startswith("COPY source") or n.startswith("ADD source"))
        if best is None or missing < best[0]:
            best = (missing, laid)
    return best[1]


def _lay_out(root: Path, rel: str, context: str, commands) -> ImageFacts:
    facts = ImageFacts(dockerfile=rel, context=context)
    base = root.resolve()
    args: dict[str, str] = {}
    global_args: dict[str, str] = {}
    stages: list[_Stage] = []
    stage: _Stage | None = None
    for c in commands:
        cmd = c.cmd.upper()
        line = f"{rel}:{c.start_line}"
        if not c.value and cmd != "FROM":
            continue  # `WORKDIR` with nothing after it: BuildKit refuses it, nothing to lay out
        try:
            if cmd == "ARG":
                for item in c.value:
                    key, eq, default = item.partition("=")
                    scope = args if stage is not None else global_args
                    if eq:
                        scope[key] = _expand(default, {**global_args, **(stage.env if stage else {}), **args})
                    elif stage is not None and key in global_args:
                        args[key] = global_args[key]
                continue
            if cmd == "FROM":
                words = list(c.value)
                try:
                    image = _expand(words[0], global_args) if words else ""
                except _Unknown:
                    image = words[0]  # a base chosen at build time: another image either way
                name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
                parent = _stage(stages, image)
                stage = _Stage(name.lower())
                if parent is not None:
                    stage.workdir, stage.env = parent.workdir, dict(parent.env)
                    stage.copies = [list(x) for x in parent.copies]
                    stage.entrypoint, stage.cmd = list(parent.entrypoint), list(parent.cmd)
                stages.append(stage)
                args = {}
                continue
            if stage is None:
                continue
            scope = {**global_args, **stage.env, **args}
            if cmd == "ENV":
                values = list(c.value)
                for i in range(0, len(values) - 1, 2):
                    stage.env[values[i]] = _expand(values[i + 1], scope)
            elif cmd == "WORKDIR":
                stage.workdir = posixpath.normpath(posixpath.join(stage.workdir or "/", _expand(c.value[0], scope)))
            elif cmd in ("COPY", "ADD"):
                _copy(facts, base, stages, stage, c, cmd, scope, line)
            elif cmd in ("ENTRYPOINT", "CMD"):
                words = list(c.value) if c.json else ["/bin/sh", "-c", *c.value]
                if cmd == "ENTRYPOINT":
                    stage.entrypoint, stage.cmd = words, []  # a new ENTRYPOINT resets an inherited CMD
                else:
                    stage.cmd = words
        except _Unknown as exc:
            if cmd == "WORKDIR" and stage is not None:
                stage.workdir = "?"
            facts.notes.append(f"{line}: {cmd} uses {exc}, which the Dockerfile does not set")
    if stage is None:
        facts.error = f"{rel} has no FROM"
        return facts
    facts.workdir = stage.workdir
    facts.copies = stage.copies
    facts.entrypoint, facts.cmd = stage.entrypoint, stage.cmd
    if stage.workdir == "?":
        facts.workdir = ""
        facts.error = f"{rel}: the final stage's WORKDIR is computed at build time"
    return facts


def _stage(stages: list[_Stage], name: str) -> _Stage | None:
    """An earlier stage by name or index (``FROM build``, ``COPY --from=0``)."""
    name = name.lower()
    for i, s in enumerate(stages):
        if s.name == name or str(i) == name:
            return s
    return None


def _copy(facts: ImageFacts, base: Path, stages: list[_Stage], stage: _Stage, c, cmd: str,
          scope: dict[str, str], line: str) -> None:
    if getattr(c, "heredocs", ()):
        return  # inline content: nothing of the checkout
    flags = dict(f.lstrip("-").partition("=")[::2] for f in c.flags)
    words = [_expand(w, scope) for w in c.value]
    if len(words) < 2:
        return
    *sources, dest = words
    raw = dest
    dest = posixpath.normpath(posixpath.join(stage.workdir or "/", dest))
    # Docker copies into a folder when the destination ends with /, there are several sources, or
    # the destination already is a folder of the image (WORKDIR, a folder copied before)
    dest_is_dir = (raw.endswith("/") or raw in (".", "..") or len(sources) > 1 or any(_GLOB.search(x) for x in sources)
                   or dest == (stage.workdir or "/") or _known_dir(base, stage, dest))
    origin = flags.get("from")
    if origin is not None:
        other = _stage(stages[:-1], _expand(origin, scope))
        for src in sources:
            if other is None:
                stage.copies.append([dest, ""])  # another image's files: content unknown
                continue
            src = posixpath.normpath(posixpath.join(other.workdir or "/", src))
            for image_path, repo_path in other.copies:
                if image_path == src or image_path.startswith(src.rstrip("/") + "/"):
                    tail = posixpath.relpath(image_path, src)
                    target = dest if tail == "." and not dest_is_dir else posixpath.join(dest, tail)
                    if tail == "." and dest_is_dir and not _is_dir(base, repo_path):
                        target = posixpath.join(dest, posixpath.basename(image_path))
                    stage.copies.append([posixpath.normpath(target), repo_path])
                elif src.startswith(image_path.rstrip("/") + "/"):
                    inner = posixpath.join(repo_path, posixpath.relpath(src, image_path)) if repo_path else ""
                    name = posixpath.basename(src)
                    target = posixpath.join(dest, name) if dest_is_dir and not _is_dir(base, inner) else dest
                    stage.copies.append([posixpath.normpath(target), posixpath.normpath(inner) if inner else ""])
        return
    for src in sources:
        if cmd == "ADD" and (re.match(r"^[a-z]+://", src) or src.startswith("git@") or
                             re.search(r"\.(tar|tgz|tar\.\w+)$", src)):
            stage.copies.append([dest, ""])  # a URL, a repository or an archive ADD unpacks
            continue
        for found in _sources(base / facts.context, src):
            if found is None:
                facts.notes.append(f"{cmd} source {src} ({line}) is not in the build context {facts.context}")
                continue
            rel = _context_rel(facts.context, found)
            if _is_dir(base, rel):
                stage.copies.append([dest, rel])
            else:
                target = posixpath.join(dest, posixpath.basename(rel)) if dest_is_dir else dest
                stage.copies.append([posixpath.normpath(target), rel])


def _sources(base: Path, src: str) -> list[str | None]:
    """Context-relative paths a COPY source names (globs expanded as Docker does); [None] if absent."""
    src = posixpath.normpath(src.lstrip("/")) if src not in ("/", "") else "."
    if src.startswith(".."):
        return [None]
    if not _GLOB.search(src):
        return [src] if (base / src).exists() else [None]
    folder, pattern = posixpath.split(src)
    if _GLOB.search(folder):
        return [None]  # a glob across folders: not followed
    try:
        names = sorted(os.listdir(base / folder))
    except OSError:
        return [None]
    # a pattern matching nothing is no error while another source matches (`COPY requirements.txt* ./`)
    return [posixpath.normpath(posixpath.join(folder, n)) for n in names if fnmatch.fnmatchcase(n, pattern)]


def _known_dir(base: Path, stage: _Stage, path: str) -> bool:
    """Is ``path`` a folder of the image so far: a copied folder, or above a copied file?"""
    for image_path, repo_path in stage.copies:
        if image_path.startswith(path.rstrip("/") + "/"):
            return True
        if image_path == path and repo_path and _is_dir(base, repo_path):
            return True
    return stage.workdir.startswith(path.rstrip("/") + "/")


def _is_dir(base: Path, rel: str) -> bool:
    return bool(rel) and (base / rel).is_dir()


def _context_rel(context: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(context, path))


def _expand(text: str, scope: dict[str, str]) -> str:
    """``$X``, ``${X}``, ``${X:-default}``, ``${X:+alt}`` as Docker substitutes them."""

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        value = scope.get(name)
        if op and op.endswith("-"):
            return value if value else word
        if op and op.endswith("+"):
            return word if value else ""
        if value is None:
            raise _Unknown(f"${name}")
        return value

    return _VAR.sub(sub, text)


def _dockerignore(root: Path, context: str, rel: str) -> list[str]:
    """The patterns of ``Dockerfile.dockerignore`` beside it (BuildKit prefers it), else the context's
    ``.dockerignore``: comments and blank lines dropped, ``!`` exceptions kept."""
    for path in (root / f"{rel}.dockerignore", root / context / ".dockerignore"):
        try:
            text = read_text(path, MAX_BYTES, errors="replace")
        except ConfigError:
            continue
        return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return []


def ignored(image: ImageFacts, repo_path: str) -> bool:
    """Does the context's .dockerignore keep ``repo_path`` out of the build? Docker's rules: patterns
    are relative to the context, ``*`` stays within a folder, ``**`` spans folders, a pattern that
    matches a folder excludes what is under it, and the last matching pattern (``!`` re-includes) wins."""
    if not image.dockerignore:
        return False
    ctx = image.context.strip("/")
    rel = posixpath.normpath(repo_path)
    if ctx not in ("", "."):
        if not rel.startswith(ctx + "/"):
            return False
        rel = rel[len(ctx) + 1:]
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for raw in image.dockerignore:
        negate = raw.startswith("!")
        pattern = posixpath.normpath(raw[1:] if negate else raw).lstrip("/")
        regex = _ignore_regex(pattern)
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(ch, re.escape(ch))
        i += 1
    return re.compile(f"^{out}$")


# --- using it (pure) -------------------------------------------------------------------


def to_repo(image: ImageFacts, path: str, files: list[str]) -> tuple[str | None, str]:
    """Which checkout file the image holds at ``path`` (absolute): ``(repo path, "found")``, the file
    the copies would put there but the checkout lacks ``(repo path, "absent")``, or that .dockerignore
    keeps out ``(repo path, "dockerignored")``, ``(None, "other-image")`` when only another image's
    content covers it, ``(None, "not-copied")``."""
    known = set(files)
    path = posixpath.normpath(path)
    fallback: tuple[str | None, str] = (None, "not-copied")
    for image_path, repo_path in reversed(image.copies):
        if path != image_path and not path.startswith(image_path.rstrip("/") + "/"):
            continue
        if not repo_path:
            if fallback[1] == "not-copied":
                fallback = (None, "other-image")
            continue
        rel = posixpath.normpath(posixpath.join(repo_path, posixpath.relpath(path, image_path)))
        if rel in known and ignored(image, rel):
            fallback = (rel, "dockerignored") if fallback[1] == "not-copied" else fallback
            continue
        if rel in known:
            return rel, "found"
        if fallback[1] == "not-copied":
            fallback = (rel, "absent")
    return fallback


def to_image(image: ImageFacts, repo_path: str) -> str | None:
    """Where the image holds the checkout's ``repo_path`` (the last copy that puts it there)."""
    repo_path = posixpath.normpath(repo_path)
    if ignored(image, repo_path):
        return None
    for image_path, src in reversed(image.copies):
        if not src:
            continue
        if src == ".":
            return posixpath.normpath(posixpath.join(image_path, repo_path))
        if repo_path == src or repo_path.startswith(src + "/"):
            return posixpath.normpath(posixpath.join(image_path, posixpath.relpath(repo_path, src)))
    return None


def workdir(image: ImageFacts, working_dir: str = "") -> str:
    """The directory the container starts in: the workload's workingDir, else the image's WORKDIR."""
    return working_dir or image.workdir or "/"


def describe(image: ImageFacts) -> str:
    """One line: the Dockerfile, its context and what it copies where."""
    copies = ", ".join(f"{src or 'another image'} -> {dst}" for dst, src in image.copies[:6]) or "nothing"
    more = f" (+{len(image.copies) - 6})" if len(image.copies) > 6 else ""
    return (f"{image.dockerfile} (context {image.context}): WORKDIR {image.workdir or '/ (not set)'}; "
            f"copies {copies}{more}")
