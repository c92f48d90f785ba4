"""The words the models reader (``migrations/models.py``) uses for a model it found and could not judge.

Apart from the reader so that the check sorting its problems does not import the reader itself (the
Python-source evaluators a replay never runs).
"""

from __future__ import annotations

NO_TABLE_NAME = "its table name is not known without running the code"
UNREACHED = "declares models (__tablename__) but no import from env.py reaches it"

# what the problems say of a model (class, Table() or module) that the reader found and could not judge
UNJUDGED_MARKS = (NO_TABLE_NAME, "its table is not known without running the code", UNREACHED, ": not read (",
                  "that table is not read")


def unjudged(problems: list[str]) -> list[str]:
    """The models found and not judged, from the reader's problems."""
    return [p for p in problems if any(m in p for m in UNJUDGED_MARKS)]
