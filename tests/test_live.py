"""Live mode: the real Google client libraries against an in-process fake gRPC server (tests/fakegcp.py).

Nothing is monkeypatched but the environment variable that points the clients at the fake
(NETRA_DOCTOR_GCP_ENDPOINT), exactly as a user would for an air-gapped fake.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from netra_doctor.core.config import load_target
from netra_doctor.sources.live_api import ENDPOINT_ENV

from tests.fakegcp import BlackHole, FakeGCP
from tests.helpers import DATA, PLANTED_PASSWORDS, run_cli, run_subprocess

DEMO = Path(__file__).parent.parent / "doctor" / "demo" / "data"
EXPORTS = ("service.yaml", "job.yaml", "executions.yaml", "secrets.yaml", "logs.json")
INSTANCE = "netra-staging:us-central1:staging-shared-postgres"


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    """The seed incident's gcloud exports with its logs (the demo's), a planted password in secrets."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in EXPORTS:
        shutil.copy(DEMO / name, folder / name)
    path = folder / "secrets.yaml"
    path.write_text(path.read_text().replace("{password}", PLANTED_PASSWORDS[0]))
    return folder


@pytest.fixture
def fake(incident: Path):
    with FakeGCP().add_environment(incident) as server:
        yield server


@pytest.fixture
def live(fake: FakeGCP, repo: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGCP:
    monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
    return fake


def diagnose(*args: str) -> tuple[dict, int]:
    result = run_cli("staging", "--format", "json", *args)
    return json.loads(result.stdout), result.exit_code


def source(report: dict, name: str) -> dict:
    return next(s for s in report["sources"] if s["name"] == name)


def check(report: dict, check_id: str) -> dict:
    return next(c for c in report["checks"] if c["id"] == check_id)


def write_config(root: Path, text: str) -> None:
    (root / "netra-doctor.toml").write_text(text)


# --- the same facts and causes as offline ------------------------------------------------


def _comparable(workload) -> dict:
    d = dataclasses.asdict(workload)
    for key in ("source_format", "project", "cloudsql_mounts"):
        d.pop(key)  # v1 names the project by number, has no mount, and is not the API form
    d["conditions"] = [(c["type"], c["status"], c["message"]) for c in d["conditions"]]  # v2 reasons are enums
    return d


def test_live_gathers_what_the_offline_exports_hold(live: FakeGCP, incident: Path, repo: Path) -> None:
    from netra_doctor import engine

    target = load_target("staging")
    offline = engine.run(target, incident).facts
    online = engine.run(target).facts
    assert online.mode == "live" and {s.name: s.status for s in online.sources}["cloudrun"] == "ok"
    for kind in ("service", "job"):
        assert _comparable(getattr(online, kind)) == _comparable(getattr(offline, kind))
        assert getattr(online, kind).source_format == "v2-api"
    assert online.executions == offline.executions
    # offline exports say when no revision was created; GetRevision does
    assert dataclasses.replace(online.serving_revision, latest_created_at="") == offline.serving_revision
    assert online.serving_revision.latest_created == "netra-backend-staging-00042-xqv"
    assert online.serving_revision.latest_created_at == "2025-06-14T07:56:12.104233Z"
    assert online.secrets == offline.secrets  # fingerprints: one salt per process
    assert online.targets == offline.targets
    # logs: exactly the export's entries of the current revisions and of the latest execution, INFO
    # lines included (the checks select the same from an export of every entry)
    current = {"netra-backend-staging-00042-xqv", "netra-backend-staging-00041-hdz", online.job.latest_revision}
    assert online.logs == [e for e in offline.logs if e.origin in current]
    assert any(e.severity == "INFO" for e in online.logs)


def test_live_and_offline_rank_the_same_causes(live: FakeGCP, incident: Path) -> None:
    offline, offline_exit = diagnose("--from", str(incident))
    online, online_exit = diagnose()
    assert [c["id"] for c in online["causes"]] == [c["id"] for c in offline["causes"]]
    assert [r["id"] for r in online["ruled_out"]] == [r["id"] for r in offline["ruled_out"]]
    assert online_exit == offline_exit
    assert "workload-not-found" not in [c["id"] for c in online["causes"]]
    assert check(online, "workloads-exist")["status"] == "pass"
    text = json.dumps(online)
    assert not any(p in text for p in PLANTED_PASSWORDS)


def test_every_call_is_the_one_it_should_be(live: FakeGCP, repo: Path) -> None:
    diagnose()
    names = {c.method: c.request for c in live.calls}
    assert names["GetService"]["name"] == "projects/netra-staging/locations/us-central1/services/netra-backend-staging"
    assert names["GetJob"]["name"] == "projects/netra-staging/locations/us-central1/jobs/netra-migrations-staging"
    # the serving revision, and the newer one the failing Ready condition is about
    assert sorted(c.request["name"].rsplit("/", 1)[-1] for c in live.called("GetRevision")) == [
        "netra-backend-staging-00041-hdz", "netra-backend-staging-00042-xqv"]
    secrets = sorted(c.request["name"] for c in live.called("AccessSecretVersion"))
    assert secrets == [f"projects/netra-staging/secrets/postgres-{s}-staging/versions/latest"
                       for s in ("db", "host", "password", "port", "user")]  # each referenced version, once
    filters = [c.request["filter"] for c in live.called("ListLogEntries")]
    # by revision and time, never by how error-like a line reads: the same entries as offline
    assert any('resource.labels.service_name="netra-backend-staging"' in f and 'revision_name=('
               '"netra-backend-staging-00042-xqv" OR "netra-backend-staging-00041-hdz")' in f for f in filters)
    assert not any("severity" in f for f in filters)
    assert any('labels."run.googleapis.com/execution_name"="netra-migrations-staging-k7x2p"' in f for f in filters)
    assert all("timestamp>=" in f for f in filters)  # bounded by time
    assert all(0 < c.request["page_size"] <= 1000 for c in live.called("ListLogEntries"))  # and by count


def test_independent_calls_overlap_and_follow_the_critical_path(live: FakeGCP, repo: Path) -> None:
    diagnose()  # warm: the client libraries are imported once per process
    live.calls.clear()
    live.latency = 0.25
    diagnose()
    first = min(c.started for c in live.calls)
    wall = max(c.ended for c in live.calls) - first
    # GetService -> (AccessSecretVersion | GetRevision) and GetJob -> ListLogEntries: the independent
    # roots overlap, and the calls' summed time is several times the wall time (a ratio in one run, so
    # a loaded machine slows both sides alike; no absolute bound)
    service, job = live.called("GetService")[0], live.called("GetJob")[0]
    assert job.started < service.ended and service.started < job.ended
    assert sum(c.seconds for c in live.calls) > 3 * wall, [(c.method, round(c.started - first, 2)) for c in live.calls]
    revision = live.called("GetRevision")[0]
    assert min(c.started for c in live.called("AccessSecretVersion")) < revision.ended  # secrets did not wait


def test_paged_results_are_read_to_the_end(incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netra_doctor import engine

    target = load_target("staging")
    with FakeGCP(page_size=1).add_environment(incident) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        facts = engine.run(target).facts
        tokens = [c.request["page_token"] for c in fake.called("ListExecutions")]
        log_pages = len(fake.called("ListLogEntries"))
        fake.page_size = None
        whole = engine.run(target).facts
    assert tokens == ["", "1"]  # two executions, one per page
    assert [e.name for e in facts.executions] == ["netra-migrations-staging-k7x2p", "netra-migrations-staging-9wq4d"]
    assert log_pages >= len(facts.logs) >= 5  # one entry per page
    assert facts.logs == whole.logs and facts.executions == whole.executions


def _edit(folder: Path, change: str) -> None:
    """One incident variation, written into the gcloud exports as a user's environment would show it."""
    from tests.helpers import annotations, edit_yaml, job_container
    from tests.logs_json import edit_executions, fail_execution

    if change == "no-connector":
        edit_yaml(folder / "job.yaml", lambda d: annotations(d).pop("run.googleapis.com/cloudsql-instances"))
    elif change == "python-c":
        edit_yaml(folder / "job.yaml", lambda d: job_container(d).update(command=["python"]))
    elif change == "pinned-password":  # the job pins version 1; the service follows latest, now 2
        edit_yaml(folder / "job.yaml", lambda d: job_container(d)["env"][-1]["valueFrom"]["secretKeyRef"].update(
            key="1"))
        with (folder / "secrets.yaml").open("a") as f:
            f.write(f'  "2": "{PLANTED_PASSWORDS[1]}"\n')
    elif change == "missing-secret":
        path = folder / "secrets.yaml"
        path.write_text(path.read_text().replace("postgres-port-staging:", "postgres-port-staging-old:"))
    elif change == "failed-execution":
        edit_executions(folder, lambda docs: fail_execution(docs[0]))
    elif change == "stale-image":
        edit_yaml(folder / "job.yaml", lambda d: job_container(d).update(
            image="us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-backend:latest"))


@pytest.mark.parametrize("change, cause", [
    ("no-connector", "cloudsql-connector-missing"),
    ("python-c", "job-command-invalid"),
    ("pinned-password", "secret-version-drift"),
    ("missing-secret", "secret-unresolvable"),
    ("failed-execution", "job-never-succeeded"),
    ("stale-image", "job-image-differs"),
])
def test_each_workload_cause_is_found_from_live_data(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch, change: str, cause: str) -> None:
    _edit(incident, change)
    offline, _ = diagnose("--from", str(incident))
    with FakeGCP().add_environment(incident) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        online, code = diagnose()
    found = [c["id"] for c in online["causes"]]
    assert cause in found and code == 1, found
    assert found == [c["id"] for c in offline["causes"]]
    assert [r["id"] for r in online["ruled_out"]] == [r["id"] for r in offline["ruled_out"]]


# --- NotFound, PermissionDenied, retries ------------------------------------------------------


@pytest.mark.parametrize("kind", ["service", "job"])
def test_a_missing_workload_is_a_finding_that_names_where_it_was_searched(live: FakeGCP, kind: str) -> None:
    table = live.services if kind == "service" else live.jobs
    table.clear()
    report, code = diagnose("-v")
    first = report["causes"][0]
    name = "netra-backend-staging" if kind == "service" else "netra-migrations-staging"
    assert first["id"] == "workload-not-found" and code == 1
    assert any(name in e and "netra-staging" in e and "us-central1" in e for e in first["evidence"])
    assert f"gcloud run {kind}s list --project netra-staging --region us-central1" in first["fix"][0]
    assert name in source(report, "cloudrun")["error"] and "us-central1" in source(report, "cloudrun")["error"]
    other = "job" if kind == "service" else "service"
    findings = {f["object"]: f["status"] for f in check(report, "workloads-exist")["findings"]}
    assert findings == {kind: "fail", other: "pass"}  # the one that exists is still examined


def test_a_wrong_region_is_named_in_the_finding(live: FakeGCP, repo: Path) -> None:
    write_config(repo, 'region = "europe-west1"\n')
    report, code = diagnose()
    assert code == 1 and report["causes"][0]["id"] == "workload-not-found"
    evidence = " ".join(report["causes"][0]["evidence"])
    assert "europe-west1" in evidence and "netra-backend-staging" in evidence and "netra-migrations-staging" in evidence


@pytest.mark.parametrize("method, name, role, dependent, quoted", [
    ("GetService", "cloudrun", "roles/run.viewer", "secret-parity", True),
    ("AccessSecretVersion", "secrets", "roles/secretmanager.secretAccessor", "secret-parity", True),
    ("ListLogEntries", "logs", "roles/logging.viewer", "startup-errors", True),
])
def test_permission_denied_is_a_skip_that_names_the_missing_role(
        live: FakeGCP, method: str, name: str, role: str, dependent: str, quoted: bool) -> None:
    live.deny.add(method)
    report, code = diagnose()
    status = source(report, name)
    assert status["status"] == "skipped" and role in status["error"] and "netra-staging" in status["error"]
    assert check(report, dependent)["status"] == "skip"
    if quoted:  # a check that needs the source's facts says why it could not run
        assert role in check(report, dependent)["message"]
    assert report["status"] != "healthy" and code in (1, 3)
    assert "secret-unresolvable" not in [c["id"] for c in report["causes"]]  # the doctor's access is no cause


def test_denied_secrets_are_quoted_where_the_database_is_skipped(live: FakeGCP) -> None:
    """Without secretAccessor the doctor knows no target: the database's skip says why, not 'unresolved'."""
    live.deny.add("AccessSecretVersion")
    report, _ = diagnose()
    reason = ("not readable (PermissionDenied: the doctor's credentials need roles/secretmanager.secretAccessor "
              "on project netra-staging)")
    assert reason in source(report, "database")["error"]
    assert f"postgres-password-staging@latest {reason}" in check(report, "database-connect")["message"]
    assert "POSTGRES_PASSWORD could not be resolved" in check(report, "database-connect")["message"]
    assert source(report, "database")["error"].count(reason) == 2  # once per workload, not once per secret


@dataclasses.dataclass
class DenyingSome(FakeGCP):
    """IAM granted per secret: Secret Manager refuses the doctor these secrets and serves the rest."""

    refused: set[str] = dataclasses.field(default_factory=set)

    def _serve(self, method: str, fn: Any, request: Any, context: grpc.ServicerContext, call: Any) -> Any:
        if method == "AccessSecretVersion" and request.name.split("/")[3] in self.refused:
            return self._abort(context, call, grpc.StatusCode.PERMISSION_DENIED,
                               f"Permission 'secretmanager.versions.access' denied on resource '{request.name}' "
                               "(or it may not exist).")
        return super()._serve(method, fn, request, context, call)


def test_one_denied_secret_is_unknown_and_named_never_guessed(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the password is refused: the database is not tried without it, the skip names that secret
    and the role, and nothing blames the environment (the workloads may read it fine)."""
    with DenyingSome(refused={"postgres-password-staging"}).add_environment(incident) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        report, code = diagnose("--proxy", f"{INSTANCE}=127.0.0.1:9")
    quoted = ("POSTGRES_PASSWORD could not be resolved: secret postgres-password-staging@latest not readable "
              "(PermissionDenied: the doctor's credentials need roles/secretmanager.secretAccessor on project "
              "netra-staging)")
    assert check(report, "database-connect")["message"] == f"service: service target not resolved: {quoted}"
    assert source(report, "secrets")["status"] == "skipped"
    assert source(report, "secrets")["error"].startswith("secret postgres-password-staging@latest not readable")
    assert "roles/secretmanager.secretAccessor" in check(report, "secret-parity")["message"]
    causes = [c["id"] for c in report["causes"]]
    assert "secret-unresolvable" not in causes and "database-auth-failed" not in causes
    assert report["status"] != "healthy" and code in (1, 3)


def test_unavailable_is_retried_within_the_deadline(live: FakeGCP) -> None:
    live.unavailable["GetService"] = 2
    report, _ = diagnose()
    assert source(report, "cloudrun")["status"] == "ok"
    assert [c.code for c in live.called("GetService")] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]


# --- endpoints that never answer -------------------------------------------------------------


def test_a_black_holed_endpoint_ends_the_run_within_its_deadline(
        repo: Path, pg, monkeypatch: pytest.MonkeyPatch) -> None:
    """Google APIs accept the connection and never answer; the database (via --dsn) still gets checked."""
    pg.sql((Path(__file__).parent / "scenarios" / "revision_at_head" / "setup.sql").read_text()
           .replace('TO "{app_role}"', "TO PUBLIC"))
    write_config(repo, "timeout = 1.5\n")
    with BlackHole() as hole:
        monkeypatch.setenv(ENDPOINT_ENV, hole.endpoint)
        start = time.perf_counter()
        report, code = diagnose("--dsn", pg.dsn(), "--alembic-ini", str(DATA / "alembic" / "linear" / "alembic.ini"))
        elapsed = time.perf_counter() - start
    assert elapsed < 1.5 + 1.5, elapsed  # one deadline for the endpoint, not one per call
    for name in ("cloudrun", "logs"):
        assert source(report, name)["status"] == "error"
        assert "did not answer within 1.5s" in source(report, name)["error"]
    assert code == 3 and report["status"] == "incomplete"
    # what does not need the Google APIs is examined as usual
    assert source(report, "database")["status"] == "ok" and source(report, "migrations")["status"] == "ok"
    assert check(report, "revision")["status"] == "pass"
    assert "needs service" in check(report, "secret-parity")["message"]


def test_a_hanging_api_costs_one_deadline_and_keeps_the_other_results(live: FakeGCP, repo: Path) -> None:
    write_config(repo, "timeout = 1.5\n")
    live.hang.add("ListLogEntries")
    start = time.perf_counter()
    report, _ = diagnose()
    assert time.perf_counter() - start < 1.5 + 1.5
    assert source(report, "logs")["status"] == "error" and "1.5s" in source(report, "logs")["error"]
    assert source(report, "cloudrun")["status"] == "ok" and source(report, "secrets")["status"] == "ok"
    assert check(report, "secret-parity")["status"] == "pass"
    assert check(report, "startup-errors")["status"] == "skip"


# --- Application Default Credentials ---------------------------------------------------------


def _service_account_key(path: Path, token_uri: str) -> Path:
    """A service account key as `gcloud iam service-accounts keys create` writes it, for a local token URI."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "netra-staging", "private_key_id": "0123456789abcdef",
        "private_key": pem, "client_email": "doctor@netra-staging.iam.gserviceaccount.com",
        "client_id": "100000000000000000001", "token_uri": token_uri,
    }))
    return path


@pytest.fixture
def adc(repo: Path, monkeypatch: pytest.MonkeyPatch):
    """Production mode (no local endpoint) with a fresh credentials lookup for this test."""
    from netra_doctor.sources import live_api as gcp

    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    monkeypatch.setattr(gcp, "_adc", [])  # the lookup is cached per process
    write_config(repo, "timeout = 1.5\n")
    return monkeypatch


def test_no_application_default_credentials_is_one_clear_error(adc, repo: Path) -> None:
    adc.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(repo / "missing-key.json"))
    report, code = diagnose()
    assert code == 3
    for name in ("cloudrun", "logs"):
        assert "gcloud auth application-default login" in source(report, name)["error"]


def test_a_token_endpoint_that_never_answers_costs_one_deadline(adc, repo: Path) -> None:
    with BlackHole() as hole:
        key = _service_account_key(repo / "key.json", f"http://{hole.endpoint}/token")
        adc.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
        start = time.perf_counter()
        report, code = diagnose()
        elapsed = time.perf_counter() - start
    assert elapsed < 1.5 + 1.5, elapsed  # the credentials lookup is bounded, and done once
    assert code == 3 and "Application Default Credentials" in source(report, "cloudrun")["error"]
    assert source(report, "logs")["error"] == source(report, "cloudrun")["error"]


def test_refused_credentials_say_how_to_log_in_again(adc, repo: Path) -> None:
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        key = _service_account_key(repo / "key.json", f"http://127.0.0.1:{server.server_port}/token")
        adc.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
        report, code = diagnose()
    finally:
        server.shutdown()
    error = source(report, "cloudrun")["error"]
    assert code == 3 and "were refused" in error and "invalid_grant" in error
    assert "gcloud auth application-default login" in error


# --- the CLI as a user runs it --------------------------------------------------------------


def test_the_cli_as_a_subprocess_against_the_fake(fake: FakeGCP, incident: Path, repo: Path) -> None:
    result = run_subprocess("staging", "--format", "json", cwd=repo, env={ENDPOINT_ENV: fake.endpoint})
    report = json.loads(result.stdout)
    assert result.stderr == "" and {s["name"]: s["status"] for s in report["sources"]}["cloudrun"] == "ok"
    offline = run_subprocess("staging", "--from", str(incident), "--format", "json", cwd=repo)
    assert [c["id"] for c in report["causes"]] == [c["id"] for c in json.loads(offline.stdout)["causes"]]
    assert result.returncode == offline.returncode
    assert not any(p in result.stdout + result.stderr for p in PLANTED_PASSWORDS)
    # ListServices / ListJobs: the other workloads on the database are discovered (issue 20), read-only
    assert {c.method for c in fake.calls} == {"GetService", "GetJob", "ListExecutions", "GetRevision",
                                              "AccessSecretVersion", "ListLogEntries", "ListServices", "ListJobs"}


def test_several_environments_run_side_by_side(incident: Path, repo: Path, monkeypatch) -> None:
    fake = FakeGCP(latency=0.3).add_environment(incident)
    fake.add_environment(incident, project="netra-prod", service="netra-backend-prod", job="netra-migrations-prod")
    with fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        diagnose()  # warm the imports
        fake.calls.clear()
        start = time.perf_counter()
        result = run_cli("staging", "prod", "--format", "json")
        elapsed = time.perf_counter() - start
    reports = json.loads(result.stdout)
    assert [r["environment"] for r in reports] == ["staging", "prod"]
    assert {c.request.get("name", "").split("/")[1] for c in fake.called("GetService")} == {"netra-staging",
                                                                                           "netra-prod"}
    one_env = 2 * 0.3  # two calls deep
    assert elapsed < 2 * one_env, elapsed  # side by side, not one after the other


@pytest.mark.parametrize("env, config, flag, expected", [
    ({"CLOUDSDK_CORE_PROJECT": "acme-gcloud"}, "", None, "acme-gcloud"),
    ({"GOOGLE_CLOUD_PROJECT": "acme-adc"}, "", None, "acme-adc"),
    ({"CLOUDSDK_CORE_PROJECT": "acme-gcloud", "GOOGLE_CLOUD_PROJECT": "acme-adc"}, "", None, "acme-gcloud"),
    ({"CLOUDSDK_CORE_PROJECT": "acme-gcloud"}, 'project = "acme-{env}"\n', None, "acme-staging"),
    ({"CLOUDSDK_CORE_PROJECT": "acme-gcloud"}, 'project = "acme-{env}"\n', "acme-flag", "acme-flag"),
    ({}, "", None, "netra-staging"),
])
def test_the_project_comes_from_flag_config_then_gcloud_environment(
        incident: Path, repo: Path, monkeypatch, env: dict, config: str, flag: str | None, expected: str) -> None:
    for name in ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config:
        write_config(repo, config)
    with FakeGCP().add_environment(incident, project=expected) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        report, _ = diagnose(*(["--project", flag] if flag else []))
    assert fake.called("GetService")[0].request["name"].startswith(f"projects/{expected}/")
    assert source(report, "cloudrun")["status"] == "ok"
    assert fake.called("ListLogEntries")[0].request["resource_names"] == [f"projects/{expected}"]


# --- the progress line ------------------------------------------------------------------------


def _on_a_terminal(args: list[str], env: dict, cwd: Path) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; return all it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "netra_doctor.cli", *args], stdout=slave, stderr=slave, cwd=cwd,
                            env={**os.environ, **env, "TERM": "xterm"})
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(master)
    return out.decode("utf-8", "replace")


def test_progress_shows_on_a_terminal_and_never_when_piped(fake: FakeGCP, incident: Path, repo: Path) -> None:
    fake.latency = 0.3
    shown = _on_a_terminal(["staging"], {ENDPOINT_ENV: fake.endpoint}, repo)
    assert "gathering: " in shown and "cloudrun " in shown and "\r\x1b[K" in shown
    assert "netra-doctor: staging:" in shown  # the report follows, on a cleared line
    # the same line is drawn offline; it never reaches JSON output or a pipe
    offline = ["staging", "--from", str(incident)]
    assert "gathering: " not in _on_a_terminal([*offline, "--format", "json"], {}, repo)
    piped = run_subprocess(*offline, cwd=repo)
    assert "gathering" not in piped.stderr and "\x1b[" not in piped.stdout + piped.stderr


# --- every scenario: live and offline find the same causes ------------------------------------


def _scenario_names() -> list[str]:
    from tests.test_scenarios import _names

    return _names()


@pytest.mark.parametrize("name", _scenario_names())
def test_scenario_live_finds_what_offline_finds(name: str, pg, tmp_path: Path, monkeypatch) -> None:
    """The scenario's exports served by the fake give the same ranked causes as the exports themselves."""
    from tests.test_scenarios import _prepare

    spec, args, values = _prepare(name, pg, tmp_path)
    exports = Path(args[args.index("--from") + 1])
    live_args = [a for i, a in enumerate(args) if a != "--from" and (i == 0 or args[i - 1] != "--from")]
    repo = Path(values["repo"])
    offline = json.loads(run_cli(*args, *spec.get("args", []), cwd=repo).stdout)
    with FakeGCP().add_environment(exports) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        result = run_cli(*live_args, *spec.get("args", []), cwd=repo)
    online = json.loads(result.stdout)
    context = f"{name}: live={online['causes']} offline={offline['causes']} sources={online['sources']}"
    assert [c["id"] for c in online["causes"]] == [c["id"] for c in offline["causes"]], context
    assert [r["id"] for r in online["ruled_out"]] == [r["id"] for r in offline["ruled_out"]], context
    assert {s["name"]: s["status"] for s in online["sources"]}["cloudrun"] == "ok", context
    if "exit" in spec:
        assert result.exit_code == spec["exit"], context


# --- the same entries live and offline: revisions, not "error-like" lines ----------------------

FIXED = "netra-backend-staging-00043-fix"
SOCKET_ERROR = (f'connection to server on socket "/cloudsql/{INSTANCE}/.s.PGSQL.5432" failed: '
                "No such file or directory")


def _same_causes(folder: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGCP | None = None) -> tuple[dict, dict]:
    """The diagnosis of ``folder`` offline, and live with the fake serving it."""
    offline, offline_exit = diagnose("--from", str(folder), "-v")
    with (fake or FakeGCP()).add_environment(folder) as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.endpoint)
        online, online_exit = diagnose("-v")
    assert [c["id"] for c in online["causes"]] == [c["id"] for c in offline["causes"]], online["causes"]
    assert [r["id"] for r in online["ruled_out"]] == [r["id"] for r in offline["ruled_out"]]
    assert online_exit == offline_exit
    return offline, online


def _serving(folder: Path, created: str, ready: str, ready_status: str = "True", since: str = "") -> None:
    """The service's status: ``created`` is the latest created revision, ``ready`` serves."""
    from tests.helpers import edit_yaml

    def change(doc: dict) -> None:
        status = doc["status"]
        status.update(latestCreatedRevisionName=created, latestReadyRevisionName=ready)
        status["traffic"] = [{"latestRevision": True, "percent": 100, "revisionName": ready}]
        for c in status["conditions"]:
            if c["type"] in ("Ready", "ConfigurationsReady"):
                c["status"] = ready_status
                if ready_status == "True":
                    c.pop("message", None)
                    c.pop("reason", None)
                else:
                    c["message"] = f"Revision '{created}' is not ready and cannot serve traffic."
                if since:
                    c["lastTransitionTime"] = since

    edit_yaml(folder / "service.yaml", change)


def test_after_a_fix_the_old_revisions_socket_errors_are_history(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connector was attached: the new revision is Ready and logs only INFO; the previous one's
    Cloud SQL socket errors an hour earlier must not rank cloudsql-connector-missing, live or offline."""
    from tests import logs_json as L

    _serving(incident, FIXED, FIXED, since="2025-06-14T09:03:05Z")
    old = [L.service(SOCKET_ERROR, f"2025-06-14T08:0{i}:00Z", structured=False) for i in range(3)]
    old.append(L.service("Failed to create tables: {'subscriptions'}", "2025-06-14T08:04:00Z"))
    new = [L.service(text, f"2025-06-14T09:03:0{i}Z", revision=FIXED, severity="INFO")
           for i, text in enumerate(["Starting Netra backend", "Database connection established",
                                     "Application startup complete"])]
    L.write(incident, [e for e in L.demo_logs() if e["resource"]["type"] == "cloud_run_job"] + old + new)
    offline, online = _same_causes(incident, monkeypatch)
    for report in (offline, online):
        causes = [c["id"] for c in report["causes"]]
        assert "cloudsql-connector-missing" not in causes and "migration-missing-for-tables" not in causes
        assert check(report, "startup-errors")["status"] == "pass"
    found = check(online, "startup-errors")["findings"][0]["evidence"]
    assert f"service revision {FIXED}: 3 entries" in found  # the INFO lines were read live


def test_the_stale_check_judges_the_revision_the_ready_condition_names(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ready=False is about the latest created revision, deployed after the migration (07:49:36); the
    serving one predates it. A redeploy would not help: service-revision-stale is no cause, live
    (GetRevision on the revision the condition names) or offline (when the condition turned False)."""
    from tests import logs_json as L

    bad = "netra-backend-staging-00043-bad"
    _serving(incident, bad, "netra-backend-staging-00041-hdz", "False", since="2025-06-14T09:01:00Z")
    L.write(incident, [e for e in L.demo_logs() if e["resource"]["type"] == "cloud_run_job"]
            + [L.service("Starting Netra backend", "2025-06-14T09:00:30Z", revision=bad, severity="INFO")])
    fake = FakeGCP(created={"netra-backend-staging-00041-hdz": "2025-06-10T12:00:00Z",
                            bad: "2025-06-14T09:00:00Z"})
    offline, online = _same_causes(incident, monkeypatch, fake)
    for report in (offline, online):
        assert "service-revision-stale" in [r["id"] for r in report["ruled_out"]]
    evidence = " ".join(check(online, "service-revision")["findings"][0]["evidence"])
    assert f"revision {bad} was created at 2025-06-14T09:00:00Z" in evidence
    assert "netra-backend-staging-00041-hdz still serves" in evidence


def _flood(folder: Path, count: int) -> None:
    """The seed's logs and ``count`` newer error lines of the serving revision (its request logs)."""
    from tests import logs_json as L

    base = L.demo_logs()
    noise = [{
        "insertId": f"n{i}",
        "resource": {"type": "cloud_run_revision", "labels": {
            "service_name": L.SERVICE, "revision_name": "netra-backend-staging-00041-hdz",
            "location": "us-central1"}},
        "severity": "ERROR",
        "timestamp": f"2025-06-14T{8 + (i // 36000):02d}:{(i // 600) % 60:02d}:{(i // 10) % 60:02d}.{i % 10}00000Z",
        "textPayload": f"upstream request {i} failed: deadline exceeded",
    } for i in range(count)]
    entries = sorted(noise, key=lambda e: e["timestamp"], reverse=True) + base
    (folder / "logs.json").write_text(json.dumps(entries, separators=(",", ":")))


def test_fifty_thousand_newer_entries_do_not_push_the_startup_error_out(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _flood(incident, 50_000)
    fake = FakeGCP()
    _, online = _same_causes(incident, monkeypatch, fake)
    assert "migration-missing-for-tables" in [c["id"] for c in online["causes"]]  # the seed's cause, from its log
    assert source(online, "logs")["status"] == "ok"  # every entry was read
    assert len(fake.called("ListLogEntries")) > 50  # page after page


def test_a_read_the_bound_cuts_keeps_each_revisions_startup_and_says_so(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netra_doctor.sources import live_logs

    monkeypatch.setattr(live_logs, "SERVICE_MAX", 3_000)
    _flood(incident, 10_000)
    offline, online = _same_causes(incident, monkeypatch)
    assert "migration-missing-for-tables" in [c["id"] for c in online["causes"]]
    status = source(online, "logs")
    assert status["status"] == "partial" and online["status"] == offline["status"]
    assert "the bound of 3,000 entries cut the read after the newest 3,000 entries" in status["error"]
    assert "each revision's first 1,000 were read too" in status["error"]
    startup = check(online, "startup-errors")["findings"]
    assert any("the logs were read in part" in e for f in startup for e in f["evidence"]), startup


def test_the_bound_in_seconds_cuts_a_slow_read_and_says_so(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netra_doctor.sources import live_logs

    monkeypatch.setattr(live_logs, "READ_SECONDS", 0.3)
    _flood(incident, 2_000)
    fake = FakeGCP(latency=0.05, page_size=100)
    _, online = _same_causes(incident, monkeypatch, fake)
    status = source(online, "logs")
    assert status["status"] == "partial" and "the bound of 0.3 s cut the read" in status["error"]
    assert "migration-missing-for-tables" in [c["id"] for c in online["causes"]]  # the start-up was read


def test_a_cut_job_read_also_reads_how_the_run_ended(
        incident: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The latest execution's first entry only, then its last ones: the same lines as offline."""
    from netra_doctor.sources import live_logs

    monkeypatch.setattr(live_logs, "JOB_MAX", 1)
    fake = FakeGCP(page_size=1)
    offline, online = _same_causes(incident, monkeypatch, fake)
    status = source(online, "logs")
    assert status["status"] == "partial"
    assert "the job's execution netra-migrations-staging-k7x2p: the bound of 1 entries cut the read" in status["error"]
    assert "the run's last 1,000 were read too" in status["error"]
    assert check(online, "migration-log")["findings"] == check(offline, "migration-log")["findings"]
