"""Save and load facts snapshots (`--save FILE`, `netra-doctor replay FILE`).

A snapshot holds fingerprints, never secret values; it is what a support engineer
attaches to a ticket. Fingerprints compare within one snapshot only (see secrecy).
"""

from __future__ import annotations

import json
from pathlib import Path

from doctor.config import ConfigError
from doctor.facts import Facts
from doctor.redact import redact_facts


def save_snapshot(path: Path, facts: list[Facts]) -> None:
    data = [redact_facts(f).to_dict() for f in facts]
    # redacted field by field, never as text: a secret equal to `5432` must not turn `"port": 5432` into
    # `"port": ***`. Keys keep their order: checks list secrets and env vars in the order the workloads hold them,
    # and a replay must print the same report
    text = json.dumps(data[0] if len(data) == 1 else data, indent=2)
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--save {path}: cannot write ({exc.strerror})") from None


def load_snapshot(path: Path) -> list[Facts]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ConfigError(f"{path}: not a JSON snapshot written by --save") from None
    items = data if isinstance(data, list) else [data]
    try:
        facts = [Facts.from_dict(item) for item in items]
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a netra-doctor snapshot ({exc})") from None
    if not facts:
        raise ConfigError(f"{path}: the snapshot is empty")
    for f in facts:
        f.mode = "replay"
    return facts
