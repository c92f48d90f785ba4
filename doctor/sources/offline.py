"""The offline folder (``--from DIR``): gcloud's own exports, read and validated up front.

Everything is parsed before any source runs, so a malformed file is bad input (one
line, exit 2) rather than a half-finished diagnosis. Missing optional files stay
``None``: unknown, never healthy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from netra_doctor.cloudrun.model import (
    ExportError,
    detect,
    execution_from_v1,
    execution_from_v2,
    latest_execution,
    workload_from_export,
)
from netra_doctor.cloudrun.workloads import runs_of
from netra_doctor.core.config import ConfigError, Target, nearest
from netra_doctor.core.errors import value_problem
from netra_doctor.core.facts import Execution, LogEntry, Workload
from netra_doctor.core.files import gc_paused, present, read_text
from netra_doctor.core.records import record
from netra_doctor.core.snapshot import parse_json
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64  # gcloud's exports nest about 10 deep; deeper is not an export


class _NoAliases(Composer):
    """Composes YAML nodes but refuses anchors and aliases, which gcloud never writes: an alias bomb
    (a few KB of nested aliases that expand to gigabytes) stops at its first ``&``, before anything grows."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            what = "an alias" if isinstance(event, AliasEvent) else "an anchor"
            raise ComposerError(None, None, f"{what} (&/*), which gcloud never writes", event.start_mark)
        return super().compose_node(parent, index)


try:  # libyaml's parser (fast) under the refusing composer; both are safe loaders
    from yaml._yaml import CParser

    class _Loader(_NoAliases, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _NoAliases.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
except ImportError:  # pragma: no cover - PyYAML built without libyaml

    class _Loader(Reader, Scanner, Parser, _NoAliases, SafeConstructor, Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _NoAliases.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


@record
class Exports:
    folder: Path
    service: Workload | None
    job: Workload | None
    executions: list[Execution] | None
    secrets: dict[str, dict[str, str]] | None
    logs: list[LogEntry] | None
    # every execution the export listed (an export without --job holds other jobs' runs too)
    all_executions: list[Execution] | None = None
    # `gcloud run services list` / `gcloud run jobs list`: the project's other workloads (None: not exported)
    services: list[Workload] | None = None
    jobs: list[Workload] | None = None


def _read(path: Path) -> str:
    return read_text(path, MAX_FILE_BYTES)


def _depth_ok(doc: Any, path: Path) -> Any:
    """Bounded nesting, checked level by level without recursion (a list of a list of ... is not an
    export, and code that walks it later must not meet the interpreter's recursion limit)."""
    level = [doc]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for node in level:
            items = node.values() if type(node) is dict else node if type(node) is list else ()
            below += [v for v in items if type(v) is dict or type(v) is list]
        if not below:
            return doc
        level = below
    raise ConfigError(f"{path}: nested more than {MAX_DEPTH} deep")


def _yaml_docs(path: Path) -> list[Any]:
    try:
        return [_depth_ok(d, path) for d in yaml.load_all(_read(path), Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except ValueError as exc:  # `port: 999...9` (5,000 digits): Python refuses to convert it
        raise ConfigError(f"{path}: {value_problem(exc)}, which gcloud never writes") from None


def _json(path: Path) -> Any:
    try:
        with gc_paused():
            return _depth_ok(parse_json(_read(path)), path)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # NaN, 1e400, a number of thousands of digits: gcloud never writes them
        raise ConfigError(f"{path}: {exc}, which gcloud never writes") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None


def _one(path: Path) -> Any:
    docs = _yaml_docs(path) if path.suffix == ".yaml" else [_json(path)]
    if len(docs) != 1:
        raise ConfigError(f"{path}: expected one document, found {len(docs)}")
    return docs[0]


def _workload(folder: Path, kind: str) -> tuple[Workload | None, Execution | None]:
    """The workload and, for a job, its newest execution as its own status records it."""
    for name in (f"{kind}.yaml", f"{kind}.yml", f"{kind}.json"):
        path = folder / name
        if present(path):
            try:
                doc = _one(path)
                return workload_from_export(doc, kind), latest_execution(doc) if kind == "job" else None
            except (ExportError, RecursionError) as exc:
                raise ConfigError(f"{path}: not a Cloud Run {kind} export: {exc}") from None
    return None, None


def _executions(folder: Path) -> list[Execution] | None:
    for name in ("executions.yaml", "executions.yml", "executions.json"):
        path = folder / name
        if not present(path):
            continue
        docs = _yaml_docs(path) if path.suffix != ".json" else [_json(path)]
        if len(docs) == 1 and isinstance(docs[0], list):
            docs = docs[0]  # --format=json, or a YAML list
        try:
            out = [execution_from_v1(d) if detect(d) == "v1" else execution_from_v2(d) for d in docs]
        except (ExportError, RecursionError) as exc:
            raise ConfigError(f"{path}: not a list of Cloud Run executions: {exc}") from None
        return sorted(out, key=lambda e: e.started, reverse=True)
    return None


def _listed(folder: Path, kind: str) -> list[Workload] | None:
    """``gcloud run services list --format=yaml`` / ``gcloud run jobs list --format=yaml``: one v1
    document per resource (a JSON list of them, or of v2 resources, is read too)."""
    for name in (f"{kind}s.yaml", f"{kind}s.yml", f"{kind}s.json"):
        path = folder / name
        if not present(path):
            continue
        docs = _yaml_docs(path) if path.suffix != ".json" else [_json(path)]
        if len(docs) == 1 and isinstance(docs[0], list):
            docs = docs[0]
        try:
            return [workload_from_export(d, kind) for d in docs]
        except (ExportError, RecursionError) as exc:
            raise ConfigError(f"{path}: not a list of Cloud Run {kind}s (`gcloud run {kind}s list "
                              f"--format=yaml`): {exc}") from None
    return None


def _secrets(folder: Path) -> dict[str, dict[str, str]] | None:
    path = folder / "secrets.yaml"
    if not present(path):
        return None
    data = _one(path) if path.stat().st_size else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected {{SECRET_NAME: {{VERSION: value}}}}")
    out: dict[str, dict[str, str]] = {}
    for name, versions in data.items():
        if not isinstance(versions, dict):
            raise ConfigError(f"{path}: secret {str(name)[:80]!r} must map versions to values")
        for version, value in versions.items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ConfigError(f"{path}: {str(name)[:80]}/{str(version)[:20]}: value must be text")
        out[str(name)] = {str(v): str(val) for v, val in versions.items()}
    return out


def log_entries(data: Any) -> list[LogEntry]:
    """``gcloud logging read --format=json``: a list of LogEntry objects, newest first."""
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of log entries")
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError("every log entry must be an object")
        payload = item.get("jsonPayload")
        text = item.get("textPayload")
        if text is None and isinstance(payload, dict):
            text = payload.get("message") or payload.get("msg") or ""
        resource = item.get("resource") if isinstance(item.get("resource"), dict) else {}
        rlabels = resource.get("labels") if isinstance(resource.get("labels"), dict) else {}
        labels = item.get("labels") if isinstance(item.get("labels"), dict) else {}
        kind = {"cloud_run_revision": "service", "cloud_run_job": "job"}.get(str(resource.get("type", "")), "")
        origin = labels.get("run.googleapis.com/execution_name") or rlabels.get("revision_name") or ""
        owner = rlabels.get("service_name") if kind == "service" else rlabels.get("job_name") if kind == "job" else ""
        out.append(LogEntry(
            timestamp=str(item.get("timestamp") or item.get("receiveTimestamp") or ""),
            text=str(text if text is not None else ""),
            severity=str(item.get("severity") or ""),
            resource=kind,
            origin=str(origin),
            workload=str(owner or ""),
        ))
    return out


def _logs(folder: Path) -> list[LogEntry] | None:
    path = folder / "logs.json"
    if not present(path):
        return None
    try:
        data = _json(path)
        with gc_paused():
            return log_entries(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a `gcloud logging read --format=json` export: {exc}") from None


def load_folder(folder: Path) -> Exports:
    if not folder.is_dir():
        raise ConfigError(f"--from {folder}: no such folder")
    service, _ = _workload(folder, "service")
    job, latest = _workload(folder, "job")
    executions = every = _executions(folder)
    if latest is not None and job is not None:
        latest.job = job.name
    if executions is not None and job is not None:
        # an export without --job lists every job's runs: only this job's are its own
        own = runs_of(executions, job.name)
        # listing only other jobs' runs says nothing of this one: its own status still does
        executions = own or ([latest] if latest is not None and executions else [])
    if executions is None and latest is not None:
        executions = [latest]  # `jobs describe` already says how the last run ended
    exports = Exports(folder, service, job, executions, _secrets(folder), _logs(folder), every,
                      _listed(folder, "service"), _listed(folder, "job"))
    if exports.service is None and exports.job is None:
        raise ConfigError(f"--from {folder}: holds neither service.yaml nor job.yaml (see README: exporting)")
    return exports


# --- are these exports the environment's? -------------------------------------------------


def _same_project(exported: str, wanted: str) -> bool | None:
    """Whether two project spellings name the same project; None when they cannot be compared.

    gcloud's v1 YAML names the project by NUMBER (``metadata.namespace``) while config names it by
    id, and a number cannot be turned into an id offline: such a pair is unknown, never a mismatch.
    """
    if not exported or not wanted or exported.isdigit() != wanted.isdigit():
        return None
    return exported == wanted


def _mismatch(w: Workload, target: Target) -> str | None:
    """What about this exported workload is not the environment's, or None."""
    wanted = target.service if w.kind == "service" else target.job
    problems = []
    if w.name and wanted and w.name != wanted:
        problems.append("name")
    project = _same_project(w.project, target.project)
    if project is False:
        problems.append("project")
    # a region is judged within a project known to be the environment's (or not named): beside a
    # project number it would be the one difference the doctor could see of two it cannot weigh
    judged = project is not None or not w.project
    if judged and w.region and target.region and w.region != target.region:
        problems.append("region")
    if not problems:
        return None
    return (f"the {w.kind} in --from is {_place(w.name, w.project, w.region)}, not environment "
            f"{target.environment}'s {_place(wanted, target.project, target.region)} "
            f"({' and '.join(problems)} differ{'s' if len(problems) == 1 else ''})")


def _place(name: str, project: str, region: str) -> str:
    return f"{name or '?'} (project {project or '?'}, region {region or '?'})"


def check_environment(exports: Exports, target: Target) -> None:
    """Refuse exports of another environment (``prod --from staging-exports``): every fix would be
    rendered with prod's names while all the evidence is staging's. One line naming both, exit 2."""
    for workload in (exports.service, exports.job):
        problem = _mismatch(workload, target) if workload is not None else None
        if problem:
            guess = _their_environment(workload, target)
            if guess and nearest(target.environment, [guess]):  # a typo (`stagign`), not another environment
                raise ConfigError(f"the exports in --from are environment {guess}'s ({workload.name}), not "
                                  f"{target.environment}'s: did you mean `{guess}`?")
            raise ConfigError(f"{problem}; export environment {target.environment}'s {workload.kind}, "
                              "or name the environment these exports belong to")


def _their_environment(w: Workload, target: Target) -> str | None:
    """The environment whose name, put where this one's is in the workload's name, gives the exported
    name (`netra-backend-staging` for `stagign`): the user's likely typo, or the wrong folder."""
    import re

    wanted = target.service if w.kind == "service" else target.job
    env = target.environment
    if not w.name or env not in wanted or wanted.count(env) != 1:
        return None
    before, after = wanted.split(env)
    found = re.fullmatch(re.escape(before) + r"([a-z][a-z0-9-]{0,62})" + re.escape(after), w.name)
    return found.group(1) if found and found.group(1) != env else None


# --- where a fact came from, for reports that point at files (SARIF) ------------------------------

_EXPORTS = {"service": ("service.yaml", "service.yml", "service.json"), "job": ("job.yaml", "job.yml", "job.json"),
            "executions": ("executions.yaml", "executions.yml", "executions.json"), "logs": ("logs.json",),
            "secrets": ("secrets.yaml", "secrets.yml")}


def export_anchors(folder: Path) -> dict[str, str]:
    """Each export of ``folder`` as "path:line": the line naming the resource (``name:``), else 1."""
    found: dict[str, str] = {}
    for kind, names in _EXPORTS.items():
        path = next((folder / n for n in names if present(folder / n)), None)
        if path is None:
            continue
        line = 1
        if kind in ("service", "job"):
            try:
                text = read_text(path, MAX_FILE_BYTES)
            except (ConfigError, OSError):
                text = ""
            line = next((i for i, row in enumerate(text.splitlines(), 1)
                         if row.strip().startswith(("name:", '"name":'))), 1)
        found[kind] = f"{path}:{line}"
    return found
