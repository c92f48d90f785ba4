"""Save and load facts snapshots (`--save FILE`, `netra-doctor replay FILE`).

A snapshot holds fingerprints, never secret values; it is what a support engineer
attaches to a ticket. Fingerprints compare within one snapshot only (see secrecy).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from netra_doctor.core.errors import ConfigError
from netra_doctor.core.facts import Facts
from netra_doctor.core.files import gc_paused, read_bytes

# like the exports' cap: a snapshot holds them (logs, catalog) plus what was read live
MAX_SNAPSHOT_BYTES = 64 * 2**20


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large to be one")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 4000:  # Python refuses to convert past 4300 digits: say so, in one line
        raise ValueError(f"a number of {len(text.lstrip('-'))} digits")
    return int(text)


def _constant(text: str) -> Any:
    raise ValueError(f"{text}, which JSON does not allow as a number")


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` for documents from outside (snapshots, exports): a number JSON does not allow (NaN,
    Infinity), one too large for a float, or one of thousands of digits is a ValueError that says which."""
    return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=_constant)


def snapshot_text(facts: list[Facts]) -> str:
    """The snapshot as saved (``--save -`` prints it): secrets fingerprinted, and free text already
    redacted field by field where gathering ended (``sources.runner.gather``), never as serialized text: a
    secret equal to `5432` must not turn `"port": 5432` into `"port": ***`."""
    data = [f.to_dict() for f in facts]
    # keys keep their order: checks list secrets and env vars in the order the workloads hold them,
    # and a replay must print the same report
    return json.dumps(data[0] if len(data) == 1 else data, indent=2) + "\n"


def save_snapshot(path: Path, facts: list[Facts]) -> None:
    text = snapshot_text(facts)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--save {path}: cannot write ({exc.strerror})") from None


def load_snapshot(path: Path) -> list[Facts]:
    """The snapshot's facts, validated against their schema before any check sees them: a wrong
    type, a null where a value must be, or a missing field is one line (exit 2), never a traceback."""
    text = read_bytes(path, MAX_SNAPSHOT_BYTES)
    with gc_paused():
        try:
            data = parse_json(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ConfigError(f"{path}: not a JSON snapshot written by --save") from None
        except ValueError as exc:  # a number --save never writes
            raise ConfigError(f"{path}: not a netra-doctor snapshot ({str(exc)[:200]})") from None
        items = data if isinstance(data, list) else [data]
        if items and all(isinstance(i, dict) and "schema_version" in i and "causes" in i for i in items):
            raise ConfigError(f"{path}: a JSON report (--format json), not a snapshot: replay reads what "
                              "--save FILE writes")
        try:
            facts = [Facts.from_dict(item) for item in items]
            for f in facts:
                _valid_silences(f)
                _valid_durations(f)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ConfigError(f"{path}: not a netra-doctor snapshot ({str(exc)[:200]})") from None
    if not facts:
        raise ConfigError(f"{path}: the snapshot is empty")
    for f in facts:
        f.mode = "replay"
    return facts


def _valid_durations(facts: Facts) -> None:
    """A source's time is a duration: a negative one would reach the report (whose schema says minimum 0)."""
    for i, source in enumerate(facts.sources):
        if source.duration_ms < 0:
            raise ValueError(f"snapshot.sources[{i}].duration_ms: must not be negative")


def _valid_silences(facts: Facts) -> None:
    """A replay applies the run's silences: each needs an id and a reason, as the config did."""
    for i, entry in enumerate(facts.target.silence):
        for key in ("id", "reason"):
            if not entry.get(key):
                raise ValueError(f"snapshot.target.silence[{i}]: {key} is missing")
