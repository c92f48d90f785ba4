"""`--save FILE` and `netra-doctor replay FILE`: what a support engineer attaches to a ticket.

A snapshot holds the gathered facts with secrets as fingerprints; replaying it needs no network
and no Google library, and gives the report the run gave.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from netra_doctor.sources.live_api import ENDPOINT_ENV

from tests.fakegcp import BlackHole, FakeGCP
from tests.helpers import PLANTED_PASSWORDS, run_cli
from tests.test_live import incident  # noqa: F401  (fixture)

SECRET_URL_PASSWORD = "Zr4-literal-url-pw-77aa"


def _same(report: dict) -> dict:
    """A report without what legitimately differs between two runs: how long the checks took, and when."""
    out = json.loads(json.dumps(report))
    out.pop("generated_at", None)
    for c in out["checks"]:
        c.pop("duration_ms")
    return out


@pytest.fixture
def fake(incident: Path):  # noqa: F811
    # a literal password-bearing URL in the service's env: the snapshot must hold it scrubbed
    path = incident / "service.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "ANALYTICS_URL", "value": f"postgresql://reporter:{SECRET_URL_PASSWORD}@10.1.2.3:5432/analytics"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with FakeGCP().add_environment(incident) as server:
        yield server


def test_a_live_snapshot_replays_to_the_same_report(fake: FakeGCP, repo: Path, monkeypatch) -> None:
    (repo / "netra-doctor.toml").write_text(
        '[[silence]]\nid = "job-image-differs"\nreason = "the job pins a digest on purpose"\n')
    monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
    saved = repo / "staging.json"
    live = run_cli("staging", "--format", "json", "-v", "--save", str(saved))
    calls = len(fake.calls)
    replayed = run_cli("replay", str(saved), "--format", "json", "-v", cwd=saved.parent.parent)  # no config there
    assert len(fake.calls) == calls  # no network
    assert replayed.exit_code == live.exit_code
    assert _same(json.loads(replayed.stdout)) == _same(json.loads(live.stdout))
    assert json.loads(live.stdout)["causes"], "the incident has causes to compare"
    table = run_cli("replay", str(saved))
    assert "netra-doctor: staging: UNHEALTHY" in table.stdout


def test_a_snapshot_holds_fingerprints_never_secret_values(fake: FakeGCP, repo: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
    saved = repo / "snap.json"
    run_cli("staging", "--format", "json", "--save", str(saved))
    text = saved.read_text()
    assert not any(p in text for p in (*PLANTED_PASSWORDS, SECRET_URL_PASSWORD))
    data = json.loads(text)
    assert data["mode"] == "live" and data["format"] == 1
    password = data["secrets"]["postgres-password-staging@latest"]
    assert password["fingerprint"].startswith("fp:") and password["resolved_version"] == "1"
    url = next(e for e in data["service"]["containers"][0]["env"] if e["name"] == "ANALYTICS_URL")
    assert url["value"] == "postgresql://reporter:***@10.1.2.3:5432/analytics"
    assert data["targets"]["service"]["password_fingerprint"] == password["fingerprint"]


def test_replay_needs_no_network_and_no_google_library(fake: FakeGCP, repo: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
    saved = repo / "snap.json"
    run_cli("staging", "--save", str(saved))
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('LOADED=' + ','.join(sorted({m.split('.')[0] for m in sys.modules\n"
             "    if m.startswith(('google', 'grpc'))})), file=sys.stderr))\n"
             "from netra_doctor.cli import main\n"
             f"sys.argv = ['netra-doctor', 'replay', {str(saved)!r}, '--format', 'json']\n"
             "main()\n")
    with BlackHole() as hole:  # were it to call out, it would hang here
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo, timeout=60,
                                env={**__import__("os").environ, ENDPOINT_ENV: hole.endpoint})
        elapsed = time.perf_counter() - start
    assert "LOADED=\n" in result.stderr or result.stderr.rstrip().endswith("LOADED="), result.stderr
    assert json.loads(result.stdout)["environment"] == "staging"
    assert elapsed < 5, elapsed  # the benchmark holds it to 0.3 s; here: no deadline was waited for


def test_several_environments_save_and_replay_as_a_list(incident: Path, repo: Path, monkeypatch) -> None:  # noqa: F811
    fake = FakeGCP().add_environment(incident)
    fake.add_environment(incident, project="netra-prod", service="netra-backend-prod", job="netra-migrations-prod")
    saved = repo / "both.json"
    with fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        live = run_cli("staging", "prod", "--format", "json", "--save", str(saved))
    assert [f["target"]["environment"] for f in json.loads(saved.read_text())] == ["staging", "prod"]
    replayed = run_cli("replay", str(saved), "--format", "json")
    assert [_same(r) for r in json.loads(replayed.stdout)] == [_same(r) for r in json.loads(live.stdout)]


def test_an_offline_snapshot_replays_too(incident: Path, repo: Path) -> None:  # noqa: F811
    saved = repo / "offline.json"
    offline = run_cli("staging", "--from", str(incident), "--format", "json", "--save", str(saved))
    assert json.loads(saved.read_text())["mode"] == "offline"
    replayed = run_cli("replay", str(saved), "--format", "json")
    assert _same(json.loads(replayed.stdout)) == _same(json.loads(offline.stdout))


@pytest.mark.parametrize("content", ["not json at all", '{"format": 99}', "[]", '{"format": 1, "target": 3}'])
def test_a_file_that_is_no_snapshot_is_one_line_of_bad_input(repo: Path, content: str) -> None:
    bad = repo / "bad.json"
    bad.write_text(content)
    result = subprocess.run([sys.executable, "-m", "netra_doctor.cli", "replay", str(bad)], capture_output=True,
                            text=True, cwd=repo, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
