"""A one-line live status on stderr while sources are gathered (terminals only)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_line(enabled: bool) -> Iterator[Callable[[str, str], None] | None]:
    if not enabled:
        yield None
        return
    lock = threading.Lock()
    started: dict[str, float] = {}
    finished: list[str] = []

    def report(source: str, state: str) -> None:
        with lock:
            if state == "start":
                started[source] = time.perf_counter()
            else:
                ms = (time.perf_counter() - started.pop(source, time.perf_counter())) * 1000
                finished.append(f"{source} {state} {ms:.0f}ms")
            running = ", ".join(started) or "done"
            sys.stderr.write(f"\r\033[Kgathering: {running}  [{len(finished)} finished]")
            sys.stderr.flush()

    try:
        yield report
    finally:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
