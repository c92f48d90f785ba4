"""``ast.parse`` that is safe from several threads at once.

CPython 3.11 keeps the AST converter's recursion counter in interpreter-wide state: two threads
parsing at once (the migrations source, the models of the checkout, another workload's models) fail
at random with ``SystemError: AST constructor recursion depth mismatch``. Parsing is quick, so one
lock for the process costs nothing measurable and makes every reading deterministic.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with _LOCK:
        return ast.parse(source, filename=filename)
