"""Build `gcloud logging read --format=json` exports and edit `executions list` exports for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT = "netra-staging"
SERVICE = "netra-backend-staging"
JOB = "netra-migrations-staging"
REVISION = "netra-backend-staging-00042-xqv"
LATEST = "netra-migrations-staging-k7x2p"  # the seed's latest execution (succeeded 07:49:36)
OLDER = "netra-migrations-staging-9wq4d"  # the seed's earlier, failed execution
DEMO_LOGS = Path(__file__).parent.parent / "doctor" / "demo" / "data" / "logs.json"


def service(text: str, ts: str, revision: str = REVISION, severity: str = "ERROR", structured: bool = True) -> dict:
    """A line of the service: the app's structured JSON (jsonPayload.message) or plain text."""
    entry: dict[str, Any] = {
        "insertId": f"s{abs(hash((text, ts))) % 10**12}",
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_revision", "labels": {
            "service_name": SERVICE, "revision_name": revision, "location": "us-central1", "project_id": PROJECT}},
        "severity": severity,
        "timestamp": ts,
    }
    if structured:
        entry["jsonPayload"] = {"message": text, "logger": "netra_backend.app"}
    else:
        entry["textPayload"] = text
    return entry


def job(text: str, ts: str, execution: str = LATEST) -> dict:
    """A line the job's container wrote to stderr (plain text, no severity, as Cloud Run records it)."""
    return {
        "insertId": f"j{abs(hash((text, ts))) % 10**12}",
        "labels": {"run.googleapis.com/execution_name": execution, "run.googleapis.com/task_index": "0",
                   "run.googleapis.com/task_attempt": "0"},
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_job", "labels": {
            "job_name": JOB, "location": "us-central1", "project_id": PROJECT}},
        "textPayload": text,
        "timestamp": ts,
    }


def alembic_noop(execution: str = LATEST, at: str = "2025-06-14T07:48:33") -> list[dict]:
    return [job("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.", f"{at}.204517Z", execution),
            job("INFO  [alembic.runtime.migration] Will assume transactional DDL.", f"{at}.204733Z", execution)]


def alembic_upgrades(*steps: tuple[str, str], execution: str = LATEST) -> list[dict]:
    lines = alembic_noop(execution)
    for i, (a, b) in enumerate(steps):
        lines.append(job(f"INFO  [alembic.runtime.migration] Running upgrade {a} -> {b}, step {i}",
                         f"2025-06-14T07:48:34.{i:06d}Z", execution))
    return lines


def write(folder: Path, entries: list[dict]) -> Path:
    """Newest first, as gcloud prints them."""
    path = folder / "logs.json"
    path.write_text(json.dumps(sorted(entries, key=lambda e: e["timestamp"], reverse=True), indent=2))
    return path


def demo_logs() -> list[dict]:
    return json.loads(DEMO_LOGS.read_text())


def edit_executions(folder: Path, change) -> None:
    """Load the multi-document `executions list --format=yaml` export, change the list, write it back."""
    path = folder / "executions.yaml"
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    changed = change(docs)
    docs = docs if changed is None else changed
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False) if docs else "")


def fail_execution(doc: dict, message: str = "Task failed: The container exited with an error.") -> None:
    status = doc["status"]
    status.pop("succeededCount", None)
    status["failedCount"] = 1
    done = next(c for c in status["conditions"] if c["type"] == "Completed")
    done.update({"status": "False", "reason": "NonZeroExitCode", "message": message})
