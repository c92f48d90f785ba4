"""Secrets never leave, the doctor never writes, and a check that crashes costs only itself.

One planted environment for the module: a distinctive password with URL-special and non-ASCII
characters, and a DATABASE_URL holding it, in every place a secret reaches the doctor (the offline
secrets.yaml, the fake Secret Manager, log lines that echo the DSN or the app's settings, and real
psycopg errors from a real PostgreSQL that refuses it). Every command and format runs against it
as a program, each in a fresh process (so nothing is scrubbed merely because an earlier run in
the same interpreter remembered the value), and no stdout, stderr, saved snapshot or log record
holds the password in any form: raw, URL-encoded, JSON-escaped, base64, the whole DSN, or a
recognisable piece of it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from netra_doctor.sources.database import Route, connect
from netra_doctor.sources.live_api import ENDPOINT_ENV

from tests.exports import Exports, checkout
from tests.fakegcp import FakeGCP, mutating
from tests.helpers import INSTANCE, SEED, edit_yaml, job_container, run_cli, run_subprocess
from tests.logs_json import service as service_line
from tests.logs_json import write as write_logs

DEMO = Path(__file__).parent.parent / "doctor" / "demo" / "data"
# URL-special (@ : # / % ") and non-ASCII (ö), so every encoded form differs from the raw one
PASSWORD = 'PLNT4qx@ZK9secw:Hv2Rkz#Jm8/wörd7Yq%X"'
ENCODED = quote(PASSWORD, safe="")
REAL_PASSWORD = "nl-real-role-pw-5c1e"  # what the role really has: every login with PASSWORD fails
# a piece of the password is a leak too (a clipped line, an error that quotes part of a URL)
FRAGMENTS = tuple(re.findall(r"[A-Za-z0-9]{5,}", PASSWORD))
QUOTE_WIDTH = 220  # logparse.Hit.quote clips a log line here


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forbidden(dsn: str) -> set[str]:
    return {PASSWORD, quote(PASSWORD), ENCODED, quote_plus(PASSWORD), json.dumps(PASSWORD)[1:-1], _b64(PASSWORD),
            dsn, _b64(dsn)}


def _decoded(text: str) -> str:
    """The text plus what it says once JSON escapes are undone (a report, a snapshot, a structured log line)."""
    views = [text]
    for chunk in (text, *text.splitlines()):
        try:
            views.append(json.dumps(json.loads(chunk), ensure_ascii=False))
        except ValueError:
            continue
    return "\n".join(views)


def leaks(text: str, dsn: str) -> list[str]:
    seen = _decoded(text)
    lower = seen.lower()
    return sorted(f for f in forbidden(dsn) if f in seen) + [f for f in FRAGMENTS if f.lower() in lower]


# --- the planted environment ------------------------------------------------------------------------


@dataclass
class Planted:
    exports: Path
    repo: Path
    db: str
    user: str
    port: int
    dsn: str
    psycopg_error: str
    fake: FakeGCP
    files: Path  # snapshots and configs the runs write or read

    def proxy(self, port: int | None = None) -> list[str]:
        return ["--proxy", f"{INSTANCE}=127.0.0.1:{port or self.port}"]

    def raw_dsn(self) -> str:
        """The DSN as a user writes it who forgot to URL-encode the password."""
        return f"postgresql://{self.user}:{PASSWORD}@127.0.0.1:{self.port}/{self.db}"


def _long_line(dsn: str, user: str, error: str) -> str:
    """An app's start-up error that echoes its DSN, long enough that the report's quote of it is cut
    inside the password (a clip before scrubbing would leave the part before the cut)."""
    lead, middle = "Startup failed in phase DATABASE (trace=", "): could not connect to "
    n = QUOTE_WIDTH - 1 - 20 - len(lead) - len(middle) - len(f"postgresql://{user}:")
    text = f"{lead}{('9f03' * 60)[:n]}{middle}{dsn}: {error}"
    at = text.index(ENCODED)
    assert at < QUOTE_WIDTH - 1 < at + len(ENCODED)
    return text


def _write_exports(folder: Path, user: str, db: str, dsn: str, error: str) -> None:
    """The demo incident's gcloud exports with the planted secrets: the service reads POSTGRES_*, the job
    a DATABASE_URL secret; the service's log echoes the DSN, the password, and a real psycopg error."""
    folder.mkdir()
    for name in ("service.yaml", "job.yaml", "executions.yaml", "logs.json"):
        shutil.copy(DEMO / name, folder / name)
    import yaml

    secrets = {
        "postgres-host-staging": {"1": f"/cloudsql/{INSTANCE}"},
        "postgres-port-staging": {"1": "5432"},
        "postgres-db-staging": {"1": db},
        "postgres-user-staging": {"1": user},
        "postgres-password-staging": {"1": PASSWORD},
        "database-url-staging": {"1": dsn},
    }
    (folder / "secrets.yaml").write_text(yaml.safe_dump(secrets, allow_unicode=True), encoding="utf-8")

    def job_reads_the_url(doc: dict) -> None:
        container = job_container(doc)
        container["env"] = [e for e in container["env"] if not e["name"].startswith("POSTGRES_")] + [
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"key": "latest", "name": "database-url-staging"}}}]
        # the password typed into the job's script too: the shell parse kept between runs must not hold it
        container["args"] = ["-c", f"PGPASSWORD='{PASSWORD}' {container['args'][1]}"]

    edit_yaml(folder / "job.yaml", job_reads_the_url)
    logs = json.loads((folder / "logs.json").read_text())
    logs += [
        service_line(_long_line(dsn, user, error), "2025-06-14T08:02:40.100000Z", structured=False),
        service_line(f"psycopg.errors.InsufficientPrivilege: permission denied for table subscriptions "
                     f"(engine url: {dsn})", "2025-06-14T08:02:40.200000Z"),
        service_line(f"psycopg.errors.InsufficientPrivilege: permission denied for schema public; "
                     f"Settings(postgres_user='{user}', postgres_password='{PASSWORD}')",
                     "2025-06-14T08:02:40.300000Z"),
    ]
    write_logs(folder, logs)


@pytest.fixture(scope="module")
def planted(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    root = tmp_path_factory.mktemp("no-leaks")
    tag = uuid.uuid4().hex[:8]
    db, user = f"nl_{tag}", f"nl_app_{tag}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as su:
        su.execute(f'CREATE DATABASE "{db}"')
        su.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{REAL_PASSWORD}'")
    try:
        error = ""
        try:  # the real error an app meets when it logs in with the planted password
            psycopg.connect(host="127.0.0.1", port=pg_server.port, dbname=db, user=user, password=PASSWORD,
                            connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            error = " ".join(str(exc).split())
        assert "password authentication failed" in error
        dsn = f"postgresql://{user}:{ENCODED}@127.0.0.1:{pg_server.port}/{db}"
        _write_exports(root / "exports", user, db, dsn, error)
        (root / "repo").mkdir()
        (root / "files").mkdir()
        with FakeGCP().add_environment(root / "exports") as fake:
            yield Planted(root / "exports", root / "repo", db, user, pg_server.port, dsn, error, fake, root / "files")
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as su:
            su.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            su.execute(f'DROP ROLE IF EXISTS "{user}"')


# --- every command and format, each as a program ----------------------------------------------------


@dataclass
class Run:
    args: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    result: CompletedProcess | None = None
    files: list[Path] = field(default_factory=list)  # what the run wrote or read that must be clean too


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_dir(p: Planted, name: str, text: str) -> Path:
    folder = p.files / name
    folder.mkdir()
    (folder / "netra-doctor.toml").write_text(text, encoding="utf-8")
    return folder


def _first_runs(p: Planted) -> dict[str, Run]:
    offline = ["staging", "--from", str(p.exports), *p.proxy()]
    live = ["staging", *p.proxy()]
    on_fake = {ENDPOINT_ENV: p.fake.endpoint}
    runs = {
        "offline-table": Run(offline, p.repo),
        "offline-table-verbose": Run([*offline, "-v"], p.repo),
        "offline-json": Run([*offline, "--format", "json"], p.repo),
        "offline-json-verbose-save": Run([*offline, "--format", "json", "-v", "--save",
                                          str(p.files / "offline.json")], p.repo, files=[p.files / "offline.json"]),
        "offline-markdown": Run([*offline, "--format", "markdown"], p.repo),
        "offline-markdown-verbose": Run([*offline, "--format", "markdown", "-v"], p.repo),
        "live-json-save": Run([*live, "--format", "json", "--save", str(p.files / "live.json")], p.repo, on_fake,
                              files=[p.files / "live.json"]),
        "live-table-verbose": Run([*live, "-v"], p.repo, on_fake),
        "live-markdown-verbose": Run([*live, "--format", "markdown", "-v"], p.repo, on_fake),
        # the client libraries' own debug logging, as their docs tell a user to switch it on
        "live-sdk-debug-logging": Run([*live, "--format", "json", "-v"], p.repo,
                                      {**on_fake, "GOOGLE_SDK_PYTHON_LOGGING_SCOPE": "google"}),
        # error paths
        "dsn-unparseable-port": Run([*offline, "--dsn", p.dsn.replace(f":{p.port}/", ":notaport/")], p.repo),
        "dsn-raw-password": Run([*offline, "--dsn", p.raw_dsn()], p.repo),
        "dsn-refused-password": Run(["staging", "--from", str(p.exports), "--dsn", p.dsn, "--format", "json", "-v"],
                                    p.repo),
        "proxy-to-a-refused-port": Run(["staging", "--from", str(p.exports), *p.proxy(_closed_port()), "-v"], p.repo),
        "proxy-given-the-dsn": Run(["staging", "--from", str(p.exports), "--proxy", p.dsn], p.repo),
        "config-unterminated-dsn": Run(["staging", "--from", str(p.exports)],
                                       _config_dir(p, "unterminated", f'dsn = "{p.dsn}\ntimeout = 5\n')),
        "config-raw-password-dsn": Run(["staging", "--from", str(p.exports), "--format", "json"],
                                       _config_dir(p, "raw", f"dsn = {json.dumps(p.raw_dsn())}\n")),
    }
    return runs


def _second_runs(p: Planted) -> dict[str, Run]:
    """Replays of the saved snapshots, and snapshots that are not what --save wrote."""
    offline, live = p.files / "offline.json", p.files / "live.json"
    truncated, edited = p.files / "truncated.json", p.files / "edited.json"
    text = offline.read_text(encoding="utf-8")
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    edited.write_text(json.dumps({"format": 1, "target": p.dsn, "mode": p.dsn}), encoding="utf-8")
    return {
        "replay-offline-json": Run(["replay", str(offline), "--format", "json"], p.files),
        "replay-offline-table-verbose": Run(["replay", str(offline), "-v"], p.files),
        "replay-offline-markdown": Run(["replay", str(offline), "--format", "markdown"], p.files),
        "replay-live-json-verbose": Run(["replay", str(live), "--format", "json", "-v"], p.files),
        "replay-live-table": Run(["replay", str(live)], p.files),
        "replay-live-markdown-verbose": Run(["replay", str(live), "--format", "markdown", "-v"], p.files),
        "replay-truncated-snapshot": Run(["replay", str(truncated)], p.files, files=[truncated]),
        "replay-snapshot-holding-the-dsn": Run(["replay", str(edited), "--format", "json"], p.files),
    }


FIRST = ["offline-table", "offline-table-verbose", "offline-json", "offline-json-verbose-save", "offline-markdown",
         "offline-markdown-verbose", "live-json-save", "live-table-verbose", "live-markdown-verbose",
         "live-sdk-debug-logging", "dsn-unparseable-port", "dsn-raw-password", "dsn-refused-password",
         "proxy-to-a-refused-port", "proxy-given-the-dsn", "config-unterminated-dsn", "config-raw-password-dsn"]
SECOND = ["replay-offline-json", "replay-offline-table-verbose", "replay-offline-markdown",
          "replay-live-json-verbose", "replay-live-table", "replay-live-markdown-verbose",
          "replay-truncated-snapshot", "replay-snapshot-holding-the-dsn"]


def _execute(runs: dict[str, Run]) -> None:
    def one(run: Run) -> None:
        run.result = run_subprocess(*run.args, cwd=run.cwd, env=run.env, timeout=90)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, runs.values()))


@pytest.fixture(scope="module")
def runs(planted: Planted) -> dict[str, Run]:
    first = _first_runs(planted)
    assert sorted(first) == sorted(FIRST)
    _execute(first)
    second = _second_runs(planted)
    assert sorted(second) == sorted(SECOND)
    _execute(second)
    return {**first, **second}


def _report(run: Run) -> dict:
    return json.loads(run.result.stdout)


@pytest.mark.parametrize("name", FIRST + SECOND)
def test_no_output_of_any_command_holds_the_password(runs: dict[str, Run], planted: Planted, name: str) -> None:
    run = runs[name]
    assert "Traceback" not in run.result.stderr, run.result.stderr
    assert run.result.returncode in (0, 1, 2, 3), run.result.stderr
    for where, text in (("stdout", run.result.stdout), ("stderr", run.result.stderr),
                        *((str(f), f.read_text(encoding="utf-8")) for f in run.files)):
        assert not leaks(text, planted.dsn), f"{name}: {where} holds {leaks(text, planted.dsn)}"


def test_no_file_the_runs_keep_between_runs_holds_the_password(runs: dict[str, Run], planted: Planted) -> None:
    """The cache folder (per-file facts, bashlex tables, the job scripts' parses) holds what a snapshot would."""
    cache = Path(os.environ["NETRA_DOCTOR_CACHE"])
    kept = [f for f in cache.rglob("*") if f.is_file()]
    parses = [f.read_text(encoding="utf-8") for f in kept if f.name == "shell-parses.json"]
    assert any("PGPASSWORD" in text for text in parses), kept  # the job's script, with its password, was kept
    for f in kept:
        text = f.read_bytes().decode("utf-8", "replace")
        assert not leaks(text, planted.dsn), f"{f} holds {leaks(text, planted.dsn)}"


def test_the_planted_secrets_really_reached_the_doctor(runs: dict[str, Run], planted: Planted) -> None:
    """So that 'nothing leaked' means something: the values were read, used, and their lines reported."""
    report = _report(runs["offline-json"])
    sources = {s["name"]: s for s in report["sources"]}
    assert sources["secrets"]["status"] == "ok" and sources["logs"]["status"] == "ok"
    # both workloads logged in with the planted password (the service through the proxy, the job
    # through its DATABASE_URL) and the real server refused it
    assert "service: auth" in sources["database"]["error"] and "job: auth" in sources["database"]["error"]
    causes = {c["id"]: c for c in report["causes"]}
    assert "database-auth-failed" in causes and "tables-invisible-to-role" in causes
    evidence = "\n".join(causes["database-auth-failed"]["evidence"] + causes["tables-invisible-to-role"]["evidence"])
    assert "could not connect to ***" in evidence  # the long line that echoed the whole DSN
    assert "(engine url: ***)" in evidence and "postgres_password='***'" in evidence
    saved = json.loads((planted.files / "offline.json").read_text(encoding="utf-8"))
    assert saved["secrets"]["database-url-staging@latest"]["fingerprint"].startswith("fp:")
    assert sum("***" in e["text"] for e in saved["logs"]) == 3
    live = _report(runs["live-json-save"])
    assert [c["id"] for c in live["causes"]] == [c["id"] for c in report["causes"]]
    accessed = {c.request["name"].split("/")[3] for c in planted.fake.called("AccessSecretVersion")}
    assert {"postgres-password-staging", "database-url-staging"} <= accessed
    sdk = runs["live-sdk-debug-logging"].result.stderr
    assert "Sending request for /google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion" in sdk
    replayed = _report(runs["replay-offline-json"])
    assert [c["id"] for c in replayed["causes"]] == [c["id"] for c in report["causes"]]


def test_each_error_path_is_one_line_that_names_the_problem(runs: dict[str, Run]) -> None:
    expected = {
        "dsn-unparseable-port": "not a valid database URL",
        "dsn-raw-password": "not a valid database URL",
        "proxy-given-the-dsn": "expected INSTANCE=HOST:PORT",
        "config-unterminated-dsn": "not valid TOML",
        "replay-truncated-snapshot": "not a JSON snapshot",
        "replay-snapshot-holding-the-dsn": "not a netra-doctor snapshot",
    }
    for name, needle in expected.items():
        result = runs[name].result
        assert result.returncode == 2 and result.stdout == "", (name, result.stderr)
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
    assert "postgresql://" in runs["proxy-given-the-dsn"].result.stderr  # echoed, with its password masked
    refused = runs["dsn-refused-password"].result  # a real psycopg error for the user's own --dsn login: bad input
    assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    assert "--dsn: the login failed" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    raw = _report(runs["config-raw-password-dsn"])  # the config's DSN cannot be parsed: said, not quoted
    database = next(s for s in raw["sources"] if s["name"] == "database")
    assert "not a valid database URL" in database["error"]
    assert runs["proxy-to-a-refused-port"].result.returncode in (1, 3)
    assert "Connection refused" in runs["proxy-to-a-refused-port"].result.stdout


def test_explain_and_checks_hold_no_secret(runs: dict[str, Run], planted: Planted) -> None:
    fired = {c["id"] for name in ("offline-json", "live-json-save")
             for c in _report(runs[name])["causes"]}
    assert "database-auth-failed" in fired
    for ident in sorted(fired):
        result = run_cli("explain", ident)
        assert result.exit_code == 0 and ident in result.stdout
        assert not leaks(result.output, planted.dsn)
    listing = run_cli("checks")
    assert listing.exit_code == 0 and "startup-errors" in listing.stdout and not leaks(listing.output, planted.dsn)


# --- debug logging: every record any library writes while the doctor runs ---------------------------


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logging() -> Iterator[_Keep]:
    """DEBUG everywhere: on the root logger, on "google" (the client libraries stop propagation there)
    and on "psycopg" (which sets itself to WARNING)."""
    keep = _Keep()
    saved = []
    for name in ("", "google", "psycopg"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        if name != "psycopg":  # it propagates to the root
            logger.addHandler(keep)
    try:
        yield keep
    finally:
        for logger, level in saved:
            logger.removeHandler(keep)
            logger.setLevel(level)


def test_debug_log_records_of_every_library_hold_no_secret(
        planted: Planted, debug_logging: _Keep, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, planted.fake.endpoint)
    live = run_cli("staging", "--format", "json", "-v", *planted.proxy(), cwd=planted.repo)
    monkeypatch.delenv(ENDPOINT_ENV)
    offline = run_cli("staging", "--from", str(planted.exports), "-v", "--dsn", planted.dsn, cwd=planted.repo)
    assert json.loads(live.stdout)["causes"] and offline.exit_code == 2  # the refused --dsn is bad input
    records = debug_logging.records
    names = {r.name.split(".")[0] for r in records}
    assert {"google", "psycopg"} <= names, names  # the libraries did log: the check below is not vacuous
    assert any("AccessSecretVersion" in r.getMessage() for r in records)
    for record in records:
        text = f"{record.getMessage()}\n{vars(record)!r}"
        assert not leaks(text, planted.dsn), (record.name, record.getMessage(), leaks(text, planted.dsn))


# --- read-only Google ---------------------------------------------------------------------------------


def test_the_doctor_makes_no_mutating_google_call(runs: dict[str, Run], planted: Planted) -> None:
    methods = {c.method for c in planted.fake.calls}
    assert {"GetService", "GetJob", "AccessSecretVersion", "ListLogEntries"} <= methods
    assert mutating(planted.fake.calls) == []


def test_the_fake_logs_a_mutating_call_so_that_assertion_can_fail() -> None:
    """Any RPC the fake does not serve is still logged, and leaving the fake after one fails the test:
    a RunJob or an AddSecretVersion made by the doctor in any live test would be caught."""
    import grpc
    from google.api_core import exceptions
    from google.cloud import run_v2
    from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
        SecretManagerServiceGrpcTransport,
    )

    job = "projects/netra-staging/locations/us-central1/jobs/netra-migrations-staging"
    fake = FakeGCP()
    refused = r"mutating Google API calls were made: \['RunJob', 'AddSecretVersion'\]"
    with pytest.raises(AssertionError, match=refused), fake:
        channel = grpc.insecure_channel(fake.endpoint)
        jobs = run_v2.JobsClient(transport=JobsGrpcTransport(channel=channel))
        secrets = SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))
        with pytest.raises(exceptions.MethodNotImplemented):
            jobs.run_job(name=job, timeout=5)
        with pytest.raises(exceptions.MethodNotImplemented):
            secrets.add_secret_version(parent="projects/netra-staging/secrets/postgres-password-staging",
                                       payload={"data": b"new"}, timeout=5)
        with pytest.raises(exceptions.NotFound):
            jobs.get_job(name=job, timeout=5)  # a read the fake serves (it holds no job)
        channel.close()
    assert [(c.method, c.code) for c in fake.calls] == [
        ("RunJob", "UNIMPLEMENTED"), ("AddSecretVersion", "UNIMPLEMENTED"), ("GetJob", "NOT_FOUND")]
    assert mutating(fake.calls) == ["RunJob", "AddSecretVersion"]


# --- a third-party check that raises, registered through the real entry-point mechanism ---------------

PLUGIN = '''\
from netra_doctor.core.checking import check


@check("boom", "A third-party check with a bug", needs=("service",))
def boom(facts):
    """Good: never reached."""
    raise RuntimeError("plugin bug reading " + facts.service.name)
'''
ONLY = ("--only", "cloudsql-connector", "--only", "secret-parity", "--only", "job-command")


def _unsalted(data: object) -> str:
    """Fingerprints are salted per process: two runs agree on everything else."""
    return re.sub(r"fp:[0-9a-f]{12}", "fp:<salted>", json.dumps(data))


def _install_plugin(site: Path) -> None:
    """What `pip install` leaves on sys.path: the module and a dist-info with its entry points."""
    info = site / "netra_doctor_boom-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: netra-doctor-boom\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[netra_doctor.checks]\nboom = boom_check:boom\nbroken-plugin = boom_check:no_such_function\n")
    (site / "boom_check.py").write_text(PLUGIN)


def test_a_check_that_raises_is_an_error_and_the_rest_of_the_report_stands(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    app = checkout(tmp_path / "app", "netra_backend/alembic.ini", "netra_backend/migrations/env.py")
    broken = Exports(tmp_path / "broken")
    broken.set_command(["python"], ["-c", "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"])
    plugin_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    plugin_only = (*ONLY, "--only", "boom", "--only", "broken-plugin")
    cases = {
        ("healthy", False): (SEED, ONLY, {}),
        ("healthy", True): (SEED, plugin_only, plugin_env),
        ("broken", False): (broken.folder, ONLY, {}),
        ("broken", True): (broken.folder, plugin_only, plugin_env),
    }

    def one(case):
        folder, only, env = cases[case]
        return case, run_subprocess("staging", "--from", str(folder), "--format", "json", *only, cwd=app, env=env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(one, cases))
    for case, result in results.items():
        assert "Traceback" not in result.stderr, (case, result.stderr)
    reports = {case: json.loads(r.stdout) for case, r in results.items()}
    codes = {case: r.returncode for case, r in results.items()}
    assert codes == {("healthy", False): 0, ("healthy", True): 3, ("broken", False): 1, ("broken", True): 1}
    assert reports["healthy", True]["status"] == "incomplete"
    for kind in ("healthy", "broken"):
        without, with_plugin = reports[kind, False], reports[kind, True]
        checks = {c["id"]: c for c in with_plugin["checks"]}
        assert checks["boom"]["status"] == "error"
        assert re.search(r"check raised RuntimeError: plugin bug reading netra-backend-staging \(boom_check\.py:\d+\)",
                         checks["boom"]["message"]), checks["boom"]["message"]
        assert checks["broken-plugin"]["status"] == "error" and "could not load" in checks["broken-plugin"]["message"]
        # every other check gives what it gave without the plugin; the causes are found and ranked alike
        others = {i: (c["status"], c["message"]) for i, c in checks.items() if i not in ("boom", "broken-plugin")}
        assert others == {c["id"]: (c["status"], c["message"]) for c in without["checks"]}
        assert _unsalted(with_plugin["causes"]) == _unsalted(without["causes"])
        assert _unsalted(with_plugin["ruled_out"]) == _unsalted(without["ruled_out"])
    assert reports["broken", True]["causes"][0]["id"] == "job-command-invalid"  # 1 wins over 3
    listing = run_subprocess("checks", cwd=app, env=plugin_env)
    assert "boom" in listing.stdout and "(failed to load)" in listing.stdout


# --- database sessions: read-only and time-limited, whoever the doctor logs in as -----------------------


def test_a_session_is_read_only_even_for_a_superuser_and_a_long_statement_is_cancelled(pg) -> None:
    pg.sql("CREATE TABLE t (x int)")
    route = Route("127.0.0.1", pg.server.port, pg.name, pg.server.superuser, None, "direct", "x")
    with connect(route, 1) as conn:
        assert conn.execute("SHOW application_name").fetchone() == ("netra-doctor (read-only)",)
        for statement in ("INSERT INTO t VALUES (1)", "CREATE TABLE t2 (x int)", "ALTER TABLE t ADD y int"):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(statement)
        for inside_a_transaction in (False, True):
            start = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
                if inside_a_transaction:
                    with conn.transaction():
                        conn.execute("SELECT pg_sleep(30)")
                else:
                    conn.execute("SELECT pg_sleep(30)")
            assert time.monotonic() - start < 3
    with psycopg.connect(pg.dsn()) as su:
        assert su.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert su.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'").fetchone() == (1,)
