"""Which service entries are judged: the current revisions' (latest created and serving), offline as live."""

from __future__ import annotations

import json
from pathlib import Path

from netra_doctor.cloudrun import serving
from netra_doctor.core.facts import Facts, LogEntry, ServingRevision, TargetInfo, Workload

from tests import logs_json as L
from tests.helpers import cause_ids, diagnose_json, edit_yaml, run_cli

SOCKET = ('connection to server on socket "/cloudsql/netra-staging:us-central1:staging-shared-postgres/.s.PGSQL.5432" '
          "failed: No such file or directory")


def _facts(logs: list[LogEntry], created: str = "svc-3", ready: str = "svc-2") -> Facts:
    return Facts(target=TargetInfo("staging", "p", "r", "svc", "job", "a.ini"),
                 service=Workload("service", "svc", latest_revision=ready, latest_created=created),
                 serving_revision=ServingRevision(ready, latest_created=created), logs=logs)


def test_the_latest_created_and_the_serving_revision_are_current_older_ones_are_history() -> None:
    logs = [LogEntry("2025-06-14T08:00:00Z", "old", resource="service", origin="svc-1"),
            LogEntry("2025-06-14T09:00:00Z", "serving", resource="service", origin="svc-2"),
            LogEntry("2025-06-14T09:10:00Z", "newest", resource="service", origin="svc-3")]
    facts = _facts(logs)
    assert serving.current_revisions(facts) == ["svc-3", "svc-2"]
    assert serving.condition_revision(facts) == "svc-3"
    assert [e.text for e in serving.service_entries(facts)] == ["serving", "newest"]


def test_without_the_latest_created_revision_the_newest_that_logged_stands_for_it() -> None:
    logs = [LogEntry("2025-06-14T08:00:00Z", "old", resource="service", origin="svc-1"),
            LogEntry("2025-06-14T09:00:00Z", "newer", resource="service", origin="svc-2")]
    facts = _facts(logs, created="", ready="svc-1")
    assert serving.current_revisions(facts) == []
    assert [e.text for e in serving.service_entries(facts)] == ["newer"]


def test_an_older_revisions_socket_errors_are_no_cause_once_a_new_one_is_ready(seed: Path, repo: Path) -> None:
    def fixed(doc: dict) -> None:
        doc["status"].update(latestCreatedRevisionName="netra-backend-staging-00043-fix",
                             latestReadyRevisionName="netra-backend-staging-00043-fix")
        for c in doc["status"]["conditions"]:
            c.update(status="True")

    L.write(seed, [L.service(SOCKET, "2025-06-14T08:02:00Z")])  # the previous revision, 00042
    report, _ = diagnose_json(seed, "--only", "startup-errors")
    assert "cloudsql-connector-missing" in cause_ids(report)  # 00042 is still the latest created
    edit_yaml(seed / "service.yaml", fixed)
    report, _ = diagnose_json(seed, "--only", "startup-errors")
    assert "cloudsql-connector-missing" not in cause_ids(report)


def test_a_snapshot_saved_before_the_latest_created_revision_was_read_replays_the_same(seed: Path, repo: Path) -> None:
    L.write(seed, L.demo_logs())
    saved = repo / "snap.json"
    first = run_cli("staging", "--from", str(seed), "--format", "json", "--save", str(saved))
    data = json.loads(saved.read_text())
    for key in ("latest_created", "latest_created_at", "ready_since"):
        data["serving_revision"].pop(key, None)
    data["service"].pop("latest_created", None)
    saved.write_text(json.dumps(data))
    again = run_cli("replay", str(saved), "--format", "json")
    assert cause_ids(json.loads(again.stdout)) == cause_ids(json.loads(first.stdout))
