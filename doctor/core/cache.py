"""The doctor's cache folder, and writing its files so that no reader ever sees half of one.

Every cache (bashlex's tables, the job scripts' parses, the per-file stores) lives in one folder. A
file goes to a temporary file in that folder, which then replaces the target in one rename: a
concurrent run reads the old file or the whole new one. While it is written the temporary file is
held (core/cleanup.py), so Ctrl-C removes it; a failure removes it too and only says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from netra_doctor.core.cleanup import held


def cache_dir() -> Path:
    """$NETRA_DOCTOR_CACHE, else $XDG_CACHE_HOME/netra-doctor, else ~/.cache/netra-doctor."""
    explicit = os.environ.get("NETRA_DOCTOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netra-doctor"


def write_atomic(path: Path, chunks: Iterable[str], prefix: str) -> bool:
    """Write ``chunks`` (UTF-8) to ``path`` atomically; False when the folder or the file could not be
    written (a cache is best effort: the caller goes on without it)."""
    import tempfile  # here: a run that writes nothing (most warm runs) never imports it

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        with held(Path(tmp).unlink), os.fdopen(fd, "w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(chunk)
            out.close()
            os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
