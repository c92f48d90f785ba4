"""Reading files others wrote: regular files only, bounded in size, one clear line when not.

A FIFO named ``service.yaml`` blocks a reader forever, a device never ends, a symlink loop is
no file at all: each is bad input (exit 2), never "missing" and never a hang. The file is
opened without blocking and checked on the open descriptor, so what is read is what was
checked.
"""

from __future__ import annotations

import errno
import gc
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netra_doctor.core.errors import ConfigError

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def present(path: Path) -> bool:
    """Is there something at ``path``? False when nothing is; bad input when it is not a regular file
    (a FIFO, a device, a folder, a dangling or looping symlink)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise ConfigError(f"{path}: a symlink to nothing") from None
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{path}: a symlink loop, not a file") from None
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{path}: {_kind(st.st_mode)}, not a regular file")
    return True


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The whole file, if it is a regular file of at most ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{path}: a symlink loop, not a file") from None
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: {_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise ConfigError(f"{path}: larger than {_size(max_bytes)}")
        try:
            # sized by the file, not the cap: read(cap) would allocate the whole cap up front
            chunks = [f.read(st.st_size + 1)]
            total = len(chunks[0])
            while chunks[-1] and total <= max_bytes:  # it grew while being read
                chunks.append(f.read(2**20))
                total += len(chunks[-1])
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if total > max_bytes:
        raise ConfigError(f"{path}: larger than {_size(max_bytes)}")
    return chunks[0] if len(chunks) <= 2 and not chunks[-1] else b"".join(chunks)


def read_text(path: Path, max_bytes: int, errors: str = "strict") -> str:
    try:
        return read_bytes(path, max_bytes).decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


MAX_SOURCE_BYTES = 8 * 2**20  # a Python module, ini or toml of the checkout: real ones are kilobytes


def read_source(path: Path, errors: str = "strict") -> str:
    """A checkout file's text (a revision, a model, env.py, alembic.ini), its size checked before a
    byte is read: ConfigError says why not (a 1 GiB file is refused, never read whole)."""
    return read_text(path, MAX_SOURCE_BYTES, errors)


def why_not(exc: ConfigError, path: Path) -> str:
    """The reason a read of ``path`` failed, without the path the message starts with."""
    return str(exc).removeprefix(f"{path}: ")


def outside(path: Path, root: Path) -> bool:
    """Does ``path``, its symlinks followed, lead out of ``root``? (The image is built from the
    checkout: a link to a file elsewhere is not in it, and what it points at is not the project's.)"""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return True
    return False


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n} bytes"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Parsing a big document makes millions of acyclic objects; the cyclic collector would walk
    them again and again as they are made (a third of a 20 MB snapshot's load time), for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
