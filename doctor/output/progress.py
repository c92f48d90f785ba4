"""A one-line live status on stderr while sources are gathered: which source, for how long (terminals only).

The line is redrawn on every change and by a ticker every 0.2 s, so a slow source's clock keeps
moving; it is erased before the report is printed. Nothing is written when stdout or stderr is
not a terminal (piped, redirected, CI) or for ``--format json``.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

TICK = 0.2


def wanted(fmt: str) -> bool:
    """A status line only for people watching a terminal, never in machine-read output."""
    return (fmt != "json" and sys.stderr.isatty() and sys.stdout.isatty()
            and os.environ.get("TERM", "") != "dumb")


class ProgressLine:
    """Callable as ``report(source, state)``; ``scoped(env)`` tags one environment's sources."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}  # "env/source" or "source" -> start time
        self._done = 0
        self._failed = 0

    def __call__(self, source: str, state: str) -> None:
        self.update("", source, state)

    def scoped(self, environment: str) -> Callable[[str, str], None]:
        return lambda source, state: self.update(environment, source, state)

    def update(self, environment: str, source: str, state: str) -> None:
        key = f"{environment}/{source}" if environment else source
        with self._lock:
            if state == "start":
                self._running[key] = time.perf_counter()
            else:
                self._running.pop(key, None)
                self._done += 1
                self._failed += state == "error"
            self._draw()

    def line(self) -> str:
        now = time.perf_counter()
        running = ", ".join(f"{k} {now - t:.1f}s" for k, t in sorted(self._running.items(), key=lambda kv: kv[1]))
        failed = f", {self._failed} failed" if self._failed else ""
        return f"gathering: {running or 'finishing'}  [{self._done} done{failed}]"

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = self.line()
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        self.stream.write(f"\r\033[K{text}")
        self.stream.flush()

    def tick(self) -> None:
        with self._lock:
            if self._running:
                self._draw()

    def clear(self) -> None:
        with self._lock:
            self.stream.write("\r\033[K")
            self.stream.flush()


@contextmanager
def progress_line(enabled: bool, stream: TextIO | None = None) -> Iterator[ProgressLine | None]:
    if not enabled:
        yield None
        return
    line = ProgressLine(stream or sys.stderr)
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(TICK):
            line.tick()

    thread = threading.Thread(target=ticker, name="progress", daemon=True)
    thread.start()
    try:
        yield line
    finally:
        stop.set()
        thread.join()
        line.clear()
