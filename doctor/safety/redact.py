"""Redact gathered facts field by field, so a snapshot keeps its shape whatever a secret equals.

Scrubbing the serialised JSON replaced text wherever a secret's spelling occurred: a secret
``5432`` turned ``"port": 5432`` into ``"port": ***`` (not JSON), a secret ``postgres`` renamed a
user or a key. Here every string of the facts is scrubbed where it is free text (log lines,
messages, command arguments, literal env values, and any field not listed below, so a field
added later is redacted by default), and left alone where it names something (ports, users,
databases, tables, workloads, revisions, timestamps, dict keys). Numbers are never touched.

The run diagnoses the redacted facts, the same ones ``--save`` writes, so its replay prints the
same report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from itertools import chain
from operator import attrgetter, is_
from typing import TYPE_CHECKING, Any

from netra_doctor.safety.secrecy import any_known, declare_names, declare_public, scrub

if TYPE_CHECKING:
    from netra_doctor.core.facts import Facts

# (dataclass name, field): values that name things; the whole subtree is kept as gathered
PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("Facts", "target"), ("Facts", "not_found"), ("Facts", "gathered_at"), ("Facts", "mode"),
    ("Facts", "repo"),
    ("Workload", "kind"), ("Workload", "name"), ("Workload", "project"), ("Workload", "region"),
    ("Workload", "cloudsql_instances"), ("Workload", "cloudsql_mounts"), ("Workload", "service_account"),
    ("Workload", "latest_revision"), ("Workload", "source_format"),
    ("Container", "name"), ("Container", "image"), ("Container", "volume_mounts"), ("Container", "working_dir"),
    ("EnvVar", "name"), ("EnvVar", "secret"),
    ("Condition", "type"), ("Condition", "status"), ("Condition", "reason"),
    ("Execution", "name"), ("Execution", "status"), ("Execution", "started"), ("Execution", "completed"),
    ("Execution", "image"),
    ("ServingRevision", "name"), ("ServingRevision", "image"), ("ServingRevision", "created"),
    ("ServingRevision", "ready"),
    ("SecretValue", "ref"), ("SecretValue", "fingerprint"), ("SecretValue", "resolved_version"),
    ("DbTarget", "workload"), ("DbTarget", "instance"), ("DbTarget", "host"), ("DbTarget", "port"),
    ("DbTarget", "database"), ("DbTarget", "user"), ("DbTarget", "password_fingerprint"), ("DbTarget", "origin"),
    ("DatabaseFacts", "workload"), ("DatabaseFacts", "target"), ("DatabaseFacts", "via"),
    ("DatabaseFacts", "reached"), ("DatabaseFacts", "error_kind"), ("DatabaseFacts", "current_user"),
    ("DatabaseFacts", "current_database"), ("DatabaseFacts", "search_path"),
    ("DatabaseFacts", "search_path_setting"), ("DatabaseFacts", "server_version"), ("DatabaseFacts", "databases"),
    ("DatabaseFacts", "schemas"), ("DatabaseFacts", "tables"), ("DatabaseFacts", "alembic_versions"),
    ("DatabaseFacts", "other_databases"),
    ("MigrationFacts", "alembic_ini"), ("MigrationFacts", "script_location"), ("MigrationFacts", "heads"),
    ("MigrationFacts", "revisions"),
    ("LogEntry", "timestamp"), ("LogEntry", "severity"), ("LogEntry", "resource"), ("LogEntry", "origin"),
    ("SourceStatus", "name"), ("SourceStatus", "status"), ("SourceStatus", "duration_ms"),
})


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value, everything=True)
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        owner = type(value).__name__
        for f in dataclasses.fields(value):
            if (owner, f.name) not in PUBLIC:
                setattr(value, f.name, _redact(getattr(value, f.name)))
        return value
    return value


def _plain(obj: Any) -> Any:
    """A dataclass as its fields, anything else JSON does not know as its text."""
    if not hasattr(obj, "__dict__"):
        return sorted(map(str, obj)) if isinstance(obj, set) else str(obj)
    return obj.__dict__


_BULK = 64


def _searchable() -> Callable[[Any], Any]:
    """json.dumps' ``default`` for a text searched for the secrets the facts show as names: each
    dataclass as its fields, and a long list of one dataclass (10,000 tables, 100,000 log entries)
    as its field names once, then every value in one flat list: the same names and values, encoded
    in a quarter of the time (each object was a callback and a dict for the encoder). A list whose
    objects were already written (the job's copy of the service's tables) is written once."""
    written: dict[tuple[int, int, int], list[Any]] = {}

    def compact(items: list[Any]) -> Any:
        kinds = set(map(type, items))
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None or not dataclasses.is_dataclass(kind):
            return items
        names = [f.name for f in dataclasses.fields(kind)]
        if len(names) < 2:
            return items
        key = (id(items[0]), id(items[-1]), len(items))
        if key in written and all(map(is_, written[key], items)):
            return names
        written[key] = items
        # attrgetter, not vars(): a __dict__ is made on demand, 20,000 allocations for two lists
        return [names, list(chain.from_iterable(map(attrgetter(*names), items)))]

    def default(obj: Any) -> Any:
        fields = _plain(obj)
        if type(fields) is dict and any(type(v) is list and len(v) >= _BULK for v in fields.values()):
            fields = {k: compact(v) if type(v) is list and len(v) >= _BULK else v for k, v in fields.items()}
        return fields

    return default


def _names(value: Any, out: set[str]) -> set[str]:
    """Every string of the public fields (the names the facts hold), dict keys included."""
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _names(v, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _names(k, out)
            _names(v, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        owner = type(value).__name__
        for f in dataclasses.fields(value):
            if (owner, f.name) in PUBLIC:
                _names(getattr(value, f.name), out)
            else:
                _names_below(getattr(value, f.name), out)
    return out


def _names_below(value: Any, out: set[str]) -> None:
    """Public fields of the dataclasses under a free-text field (a Workload under Facts.service)."""
    if isinstance(value, (list, tuple)):
        for v in value:
            _names_below(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _names_below(v, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _names(value, out)


def redact_facts(facts: Facts) -> Facts:
    """Scrub the facts' free text in place, then let output keep what the public fields show: once
    the free text is clean, a secret still found in the facts stands in a field that names something.
    Names that contain a secret as a part are kept whole first (a password `staging` must not turn the
    log line of `netra-backend-staging-00042` into `netra-backend-***-00042`, which no check can read)."""
    if any_known():
        declare_names(_names(facts, set()))
    _redact(facts)
    if any_known():  # else the text would be searched for nothing
        declare_public(json.dumps(facts, default=_searchable(), ensure_ascii=False))
    return facts
