"""Redaction never changes structure: a secret is masked where it is a secret, whatever it equals.

Scrubbing the saved JSON as text turned `"port": 5432` into `"port": ***` when some secret was
`5432`, and the snapshot no longer loaded. Facts are now redacted field by field: free text (log
lines, messages, command arguments) is masked, names and numbers stay, and every `--save`
replays to the report its run printed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import netra_doctor
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netra_doctor import __version__
from netra_doctor.output.report import scrub_report
from netra_doctor.safety import secrecy

from tests.helpers import copy_seed, edit_yaml, job_container, run_cli
from tests.logs_json import job as job_line
from tests.logs_json import service as service_line
from tests.logs_json import write as write_logs

NO_DATABASE = "postgresql://nobody@/nowhere?host=/nonexistent/netra-doctor-redaction"
# what secrets often equal in real setups: numbers, the user, the database, words of the JSON itself
COMMON = ["5432", "postgres", "netra_app", "netra_staging", "public", "staging", "status", "true", "null",
          "error", "latest", "2025", "alembic", "service", __version__[:4]]


@contextlib.contextmanager
def fresh_process_secrets() -> Iterator[None]:
    """What a new `netra-doctor` process knows: no remembered secret (a replay runs in another process)."""
    saved = secrecy._known, secrecy._public, secrecy._cache, getattr(secrecy, "_names", set())
    secrecy._known, secrecy._public, secrecy._cache, secrecy._names = {}, set(), {}, set()
    try:
        yield
    finally:
        secrecy._known, secrecy._public, secrecy._cache, secrecy._names = saved


def _exports(folder: Path, password: str, port_secret_hidden: bool) -> Path:
    """The seed exports with `password` as the database password, echoed in the service's and the job's
    logs; optionally the job reads its port from an env name the config does not know (so `5432` is
    just a secret, scrubbed wherever it is free text)."""
    copy_seed(folder)
    table = yaml.safe_load((folder / "secrets.yaml").read_text())
    table["postgres-password-staging"] = {"1": password}
    (folder / "secrets.yaml").write_text(yaml.safe_dump(table, allow_unicode=True))
    if port_secret_hidden:
        def rename(doc: dict) -> None:
            for var in job_container(doc)["env"]:
                if var["name"] == "POSTGRES_PORT":
                    var["name"] = "PGPORT_FROM_SECRET"

        edit_yaml(folder / "job.yaml", rename)
    write_logs(folder, [
        service_line(f"could not connect: password {password} refused on port 5432 as netra_app",
                     "2025-06-14T08:02:38.403127Z"),
        service_line("Failed to create tables: {'subscriptions'}", "2025-06-14T08:02:39.000000Z"),
        job_line(f"INFO [alembic.runtime.migration] Context impl PostgresqlImpl. settings={password!r}",
                 "2025-06-14T07:48:33.204517Z"),
    ])
    return folder


def _same(report: dict | list) -> dict | list:
    """A report without how long things took and when it was made: all a replay may change."""
    text = json.dumps(report)
    out = json.loads(text)
    for one in out if isinstance(out, list) else [out]:
        one.pop("generated_at", None)
        for c in one["checks"]:
            c.pop("duration_ms", None)
        for s in one["sources"]:
            s.pop("duration_ms", None)
    return out


def _texts(snapshot: dict) -> dict[str, str]:
    """The snapshot's log lines by their first word."""
    return {e["text"].split()[0]: e["text"] for e in snapshot["logs"]}


def _save_and_replay(folder: Path, work: Path) -> tuple[dict, dict, dict]:
    """The run's report, its replay's as the run would print it, and the snapshot.

    The replay knows no secret (another process); the run masks a secret wherever it occurs, also
    inside the doctor's own prose (a password `newe` in "its newest error"), which no snapshot can
    carry. So the replay's report is compared after the run's scrubbing: every fact, id, number and
    word the replay derives must then be the run's."""
    saved = work / "snapshot.json"
    run = run_cli("staging", "--from", str(folder), "--dsn", NO_DATABASE, "--format", "json", "-v",
                  "--save", str(saved), cwd=work)
    snapshot = json.loads(saved.read_text(encoding="utf-8"))  # always JSON
    with fresh_process_secrets():
        replay = run_cli("replay", str(saved), "--format", "json", "-v", cwd=work)
    assert replay.exit_code == run.exit_code, replay.output
    return json.loads(run.stdout), scrub_report(json.loads(replay.stdout)), snapshot


def test_a_secret_equal_to_the_port_and_the_user_keeps_the_snapshot_loadable(tmp_path: Path) -> None:
    with fresh_process_secrets():
        folder = _exports(tmp_path / "exports", "5432", port_secret_hidden=True)
        run, replay, snapshot = _save_and_replay(folder, tmp_path)
    assert _same(replay) == _same(run)
    assert snapshot["targets"]["service"]["port"] == 5432  # a number where it is a port
    texts = _texts(snapshot)
    assert texts["could"] == "could not connect: password *** refused on port *** as netra_app"  # free text
    assert "settings='***'" in texts["INFO"]
    assert all("5432" not in e["text"] for e in snapshot["logs"])


def test_a_password_equal_to_the_user_name_is_masked_in_text_and_kept_as_the_user(tmp_path: Path) -> None:
    with fresh_process_secrets():
        folder = _exports(tmp_path / "exports", "netra_app", port_secret_hidden=False)
        run, replay, snapshot = _save_and_replay(folder, tmp_path)
    assert _same(replay) == _same(run)
    assert snapshot["targets"]["service"]["user"] == "netra_app"
    assert _texts(snapshot)["could"] == "could not connect: password *** refused on port 5432 as ***"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.one_of(st.sampled_from(COMMON),
                          st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                  min_size=4, max_size=24).filter(lambda s: s.strip() == s and s.strip())),
       hidden=st.booleans())
def test_every_save_replays_to_the_same_report(password: str, hidden: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, fresh_process_secrets():
        work = Path(tmp)
        folder = _exports(work / "exports", password, port_secret_hidden=hidden)
        run, replay, snapshot = _save_and_replay(folder, work)
        assert _same(replay) == _same(run)
        assert snapshot["format"] == 1 and isinstance(snapshot["targets"]["service"]["port"], int)
        assert password not in _texts(snapshot)["INFO"]  # where it is a secret, it is masked


# words of each report format's own structure, and the doctor's version, as a password
@pytest.mark.parametrize("password", ["version", "error", "warning", "testcase", "failure", "level", "2.1.0",
                                      "message", __version__])
def test_a_secret_equal_to_a_word_of_the_format_leaves_every_report_valid(tmp_path: Path, password: str) -> None:
    from tests.test_report import junit_valid
    from tests.test_sarif import validate as sarif_valid

    with fresh_process_secrets():
        folder = _exports(tmp_path / "exports", password, port_secret_hidden=False)
        out = {fmt: run_cli("staging", "--from", str(folder), "--dsn", NO_DATABASE, "--format", fmt, cwd=tmp_path)
               for fmt in ("json", "sarif", "junit")}
    report = json.loads(out["json"].stdout)
    assert report["tool_version"] == __version__ and report["schema_version"] == "1.1"
    sarif = sarif_valid(out["sarif"].stdout)
    assert sarif["runs"][0]["tool"]["driver"]["version"] == __version__
    junit_valid(out["junit"].stdout)
    assert report["causes"] and sarif["runs"][0]["results"]  # the seed's causes, reported in each


@pytest.mark.parametrize("tables", [3, 200])  # 200: over the bulk size, where a list is searched compactly
def test_a_secret_that_names_a_table_owner_stays_readable_however_many_tables(tables: int) -> None:
    from netra_doctor.core.facts import DatabaseFacts, Facts, LogEntry, TableInfo, TargetInfo
    from netra_doctor.safety.redact import redact_facts

    with fresh_process_secrets():
        secrecy.remember("migrator_x")
        secrecy.remember("hunter22")
        db = DatabaseFacts("service", "p:r:i/app", "proxy", True, current_user="app",
                           tables=[TableInfo("public", f"t_{i}", "migrator_x" if i == tables - 1 else "app")
                                   for i in range(tables)])
        logs = [LogEntry("2025-06-14T08:02:38Z", f"password hunter22 refused ({i})", "ERROR", "service")
                for i in range(tables)]
        facts = redact_facts(Facts(target=TargetInfo("staging", "p", "r", "svc", "job", "alembic.ini"),
                                   databases={"service": db}, logs=logs))
        assert secrecy.scrub("owned by migrator_x") == "owned by migrator_x"  # a name the facts show
        assert secrecy.scrub("password hunter22") == "password ***"  # free text, masked in the facts
        assert facts.logs[-1].text == f"password *** refused ({tables - 1})"


def _demo_exports(folder: Path, password: str) -> Path:
    """The demo's incident (exports, logs and the netra_backend checkout) with ``password`` as the
    database password, echoed by the service's log as a DSN and as a word."""
    shutil.copytree(Path(netra_doctor.__file__).parent / "demo" / "data", folder)
    table = yaml.safe_load((folder / "secrets.yaml").read_text())
    table["postgres-password-staging"] = {"1": password}
    (folder / "secrets.yaml").write_text(yaml.safe_dump(table))
    logs = json.loads((folder / "logs.json").read_text())
    echo = dict(logs[0], textPayload=f"connecting to postgresql://netra_app:{password}@10.0.0.5/netra_staging "
                                     f"with password {password}")
    (folder / "logs.json").write_text(json.dumps([*logs, echo]))
    return folder


def test_a_password_equal_to_a_word_of_the_names_changes_neither_the_diagnosis_nor_the_names(tmp_path: Path):
    """Password `staging`: the log lines of `netra-backend-staging` and the `--proxy` hint keep their names
    (so the top cause stays the seed's), and the password is still masked where it is the password."""
    reports = {}
    for password in ("Sx9-planted-PW-4f1c", "staging"):
        with fresh_process_secrets():
            folder = _demo_exports(tmp_path / password, password)
            result = run_cli("staging", "--from", str(folder), "--format", "json", "-v", cwd=folder)
        reports[password] = json.loads(result.stdout)
    planted, word = reports["Sx9-planted-PW-4f1c"], reports["staging"]
    assert [c["id"] for c in word["causes"]] == [c["id"] for c in planted["causes"]]
    assert word["causes"][0]["id"] == "migration-missing-for-tables"
    database = next(s for s in word["sources"] if s["name"] == "database")["error"]
    assert "--proxy netra-staging:us-central1:staging-shared-postgres=127.0.0.1:5432" in database
    text = json.dumps(word)
    assert "netra-***" not in text and "***-shared" not in text
    assert ":staging@" not in text and "password staging" not in text  # where it is the secret, it is masked
    assert "Sx9-planted-PW-4f1c" not in json.dumps(planted)
