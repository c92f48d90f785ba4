"""What a run started that must not outlive it, for Ctrl-C to remove at once.

An interrupted run ends within a second (exit 130), without waiting for the threads still blocked in a
database connect or a live call: so nothing can rely on a ``finally`` in those threads. A child
process or a temporary file is registered with :func:`held` while it exists, and :func:`undo_all`
removes whatever is registered when the run is interrupted. :func:`threads` is a thread pool that
waits for its workers when its block ends normally, and abandons them when it is interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_LOCK = threading.Lock()
_HELD: dict[int, Callable[[], None]] = {}


@contextmanager
def held(undo: Callable[[], None]) -> Iterator[None]:
    """While the block runs, ``undo`` (kill the child, delete the file) is what an interruption calls."""
    key = id(undo)
    with _LOCK:
        _HELD[key] = undo
    try:
        yield
    finally:
        with _LOCK:
            _HELD.pop(key, None)


def undo_all() -> None:
    """Undo everything still held (each at most once, failures ignored: the process is ending)."""
    with _LOCK:
        pending = list(_HELD.values())
        _HELD.clear()
    for undo in pending:
        with suppress(Exception):
            undo()


@contextmanager
def threads(workers: int, prefix: str) -> Iterator[ThreadPoolExecutor]:
    """A ThreadPoolExecutor that is waited for on a normal exit (as ``with ThreadPoolExecutor``) but
    not on KeyboardInterrupt: its threads may be blocked for seconds in I/O the process is abandoning."""
    from concurrent.futures import ThreadPoolExecutor  # here: with logging and queue, 5 ms a replay never needs

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)
    try:
        yield pool
    except BaseException as exc:
        pool.shutdown(wait=isinstance(exc, Exception), cancel_futures=True)
        raise
    pool.shutdown(wait=True)
