"""Loaders refuse what gcloud never writes, and a snapshot is validated before replay.

Each defect that once hung the doctor or blew its memory runs in a subprocess with a timeout and an
address-space limit (`resource.RLIMIT_AS`), so a regression fails here instead of hanging CI: a
3.6 KB YAML alias bomb, a FIFO or a device where an export should be, a symlink loop.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netra_doctor.cli import cli
from netra_doctor.core.snapshot import MAX_SNAPSHOT_BYTES

from tests.helpers import SEED, limited_cli
from tests.test_fuzz import _mutate, values

MEMORY_MB = 512


def _limited_cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`netra-doctor ARGS` in a fresh interpreter limited to MEMORY_MB of address space."""
    return limited_cli(*args, cwd=cwd, memory_mb=MEMORY_MB, timeout=timeout)


def _one_line(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-1000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netra-doctor: "), result.stderr[-1000:]
    assert needle in lines[0], lines[0]


def _seed(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    shutil.copytree(SEED, folder)
    return folder


def _alias_bomb() -> str:
    """A v2-shaped service whose nested aliases expand to 9**12 strings: a few KB on disk."""
    lines = ["apiVersion: serving.knative.dev/v1", "kind: Service", "metadata:", "  name: netra-backend-staging",
             "spec:", "  template:", "    metadata:", "      annotations:",
             "        a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"        a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 13)]
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    folder = _seed(tmp_path)
    (folder / "service.yaml").write_text(_alias_bomb())
    assert (folder / "service.yaml").stat().st_size < 4096
    _one_line(_limited_cli("staging", "--from", str(folder), cwd=tmp_path), "which gcloud never writes")


@pytest.mark.parametrize("name", ["service.yaml", "job.yaml", "executions.yaml", "secrets.yaml", "logs.json"])
def test_a_fifo_named_like_an_export_is_bad_input_not_missing_and_not_a_hang(tmp_path: Path, name: str) -> None:
    folder = _seed(tmp_path)
    (folder / name).unlink(missing_ok=True)
    os.mkfifo(folder / name)  # nothing ever writes to it: a reader that opens it blocks forever
    _one_line(_limited_cli("staging", "--from", str(folder), cwd=tmp_path), f"{name}: a FIFO, not a regular file")


def test_a_device_and_a_symlink_loop_are_bad_input(tmp_path: Path) -> None:
    folder = _seed(tmp_path)
    (folder / "logs.json").symlink_to("/dev/zero")  # endless
    _one_line(_limited_cli("staging", "--from", str(folder), cwd=tmp_path), "a character device")
    (folder / "logs.json").unlink()
    (folder / "logs.json").symlink_to("loop")
    (folder / "loop").symlink_to("logs.json")
    _one_line(_limited_cli("staging", "--from", str(folder), cwd=tmp_path), "logs.json: a symlink loop")


def test_anchors_are_refused_too_and_plain_yaml_still_loads(tmp_path: Path) -> None:
    folder = _seed(tmp_path)
    text = (folder / "secrets.yaml").read_text()
    (folder / "secrets.yaml").write_text(text.replace("postgres-port-staging:", "postgres-port-staging: &p", 1))
    result = CliRunner().invoke(cli, ["staging", "--from", str(folder), "--only", "job-command"])
    assert result.exit_code == 2 and "an anchor (&/*), which gcloud never writes" in result.stderr
    (folder / "secrets.yaml").write_text(text)
    assert CliRunner().invoke(cli, ["staging", "--from", str(folder), "--only", "job-command"]).exit_code in (0, 1)


def test_json_nested_deeper_than_an_export_is_refused(tmp_path: Path) -> None:
    folder = _seed(tmp_path)
    deep: object = "x"
    for _ in range(100):
        deep = {"a": [deep]}
    (folder / "logs.json").write_text(json.dumps([{"textPayload": "hi", "jsonPayload": deep}]))
    result = CliRunner().invoke(cli, ["staging", "--from", str(folder), "--only", "job-command"])
    assert result.exit_code == 2 and "logs.json: nested more than 64 deep" in result.stderr


# --- replay: the snapshot is validated against its schema ---------------------------------------------

TARGET = {"environment": "staging", "project": "p", "region": "r", "service": "s", "job": "j", "alembic_ini": "a"}


@pytest.mark.parametrize(("doc", "needle"), [
    ({"format": 1, "target": None}, "snapshot.target: must not be null"),
    ({"format": 1, "target": TARGET, "sources": None}, "snapshot.sources: must not be null"),
    ({"format": 1, "target": TARGET, "sources": [None]}, "snapshot.sources[0]: must not be null"),
    ({"format": 1, "target": {**TARGET, "silence": [None]}}, "snapshot.target.silence[0]: must not be null"),
    ({"format": 1, "target": {**TARGET, "silence": [{"id": "tables"}]}}, "silence[0]: reason is missing"),
    ({"format": 1, "target": TARGET, "logs": [{"timestamp": 5, "text": "x"}]}, "logs[0].timestamp: expected text"),
    ({"format": 1, "target": TARGET, "databases": {"service": {"workload": "service", "tables": "t"}}},
     "databases.service.tables: expected a list, got text"),
    ({"format": 1}, "snapshot: target is missing"),
    ({"format": 1, "target": TARGET, "sources": [{"name": "logs", "status": "ok", "duration_ms": -1}]},
     "snapshot.sources[0].duration_ms: must not be negative"),  # found by the mutation property below
    # the bulk paths (tables, names) check whole lists at once; one bad item still names its place
    ({"format": 1, "target": TARGET, "databases": {"service": {"workload": "service", "tables": [
        {"schema": "public", "name": f"t{i}", "owner": "o", "in_information_schema": True, "can_select": i != 2,
         "schema_usage": True} for i in range(100)] + [{"schema": "public", "name": "x", "owner": "o",
                                                         "in_information_schema": True, "can_select": "yes",
                                                         "schema_usage": True}]}}},
     "databases.service.tables[100].can_select: expected true/false, got text"),
    ({"format": 1, "target": TARGET, "databases": {"service": {"workload": "service", "tables": [
        {"schema": "public", "name": f"t{i}"} for i in range(99)] + [{"schema": "public"}]}}},
     "databases.service.tables[99]: name is missing"),
    ({"format": 1, "target": {**TARGET, "expected_tables": [f"t{i}" for i in range(100)] + [7]}},
     "target.expected_tables[100]: expected text, got a number"),
    ({"format": 1, "target": {**TARGET, "expected_tables": ["a", None]}},
     "target.expected_tables[1]: expected text, got null"),
])
def test_a_snapshot_with_nulls_or_wrong_types_is_one_line_not_a_traceback(tmp_path: Path, doc, needle) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["replay", str(path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr


def test_a_snapshot_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as f:  # sparse: costs no disk
        f.truncate(MAX_SNAPSHOT_BYTES + 1)
    result = _limited_cli("replay", str(path), cwd=tmp_path)
    _one_line(result, "larger than 64 MiB")


def test_a_fifo_as_the_snapshot_is_bad_input(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.json")
    _one_line(_limited_cli("replay", str(tmp_path / "s.json"), cwd=tmp_path), "a FIFO, not a regular file")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("saved")
    folder = _seed(tmp)
    path = tmp / "s.json"
    result = CliRunner().invoke(cli, ["staging", "--from", str(folder), "--save", str(path),
                                      "--dsn", "postgresql://nobody@/nowhere?host=/nonexistent/netra-doctor"])
    assert result.exit_code in (1, 3), result.output
    return json.loads(path.read_text())


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(path=st.lists(st.integers(0, 60), min_size=1, max_size=7), value=values)
def test_a_mutated_snapshot_replays_or_is_one_line(saved: dict, tmp_path_factory, path, value) -> None:
    doc = _mutate(json.loads(json.dumps(saved)), path, value)
    tmp = tmp_path_factory.mktemp("m")
    (tmp / "s.json").write_text(json.dumps(doc, allow_nan=True))
    result = CliRunner().invoke(cli, ["replay", str(tmp / "s.json"), "--format", "json"], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("netra-doctor: "), result.stderr
        return
    assert result.exit_code in (0, 1, 3), result.output[-500:]
    report = json.loads(result.stdout)
    assert not [c for c in report["checks"] if c["status"] == "error"], report["checks"]



# --- numbers no export or snapshot holds ---------------------------------------------------------

HUGE = "9" * 5000  # Python refuses to convert more than 4300 digits


def _in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in this process (no memory or time at stake here): its exit code and its two streams."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize("name", ["service.yaml", "job.yaml", "secrets.yaml", "logs.json"])
def test_a_5000_digit_number_in_an_export_is_one_line_not_a_traceback(tmp_path: Path, name: str) -> None:
    folder = _seed(tmp_path)
    path = folder / name
    text = path.read_text() if path.exists() else ""
    if name == "logs.json":
        path.write_text(f'[{{"timestamp": "2025-06-14T07:48:33Z", "severity": {HUGE}}}]')
    elif name == "secrets.yaml":
        path.write_text(text + f"huge-number: {{'1': {HUGE}}}\n")
    else:
        path.write_text(text.replace("metadata:\n", f"metadata:\n  generation: {HUGE}\n", 1))
    _one_line(_in_process("staging", "--from", str(folder), cwd=tmp_path), f"{name}: a number of 5000 digits")


def test_a_5000_digit_number_in_the_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "netra-doctor.toml").write_text(f"timeout = {HUGE}\n")
    _one_line(_in_process("staging", "--from", str(_seed(tmp_path)), cwd=tmp_path),
              "netra-doctor.toml: not valid TOML: a number of 5000 digits")


@pytest.mark.parametrize(("number", "needle"), [
    (HUGE, "(a number of 5000 digits)"),
    ("1e400", "(the number 1e400 is too large to be one)"),
    ("NaN", "(NaN, which JSON does not allow as a number)"),
    ("-Infinity", "(-Infinity, which JSON does not allow as a number)"),
    ("1.5", "duration_ms: expected a number, got 1.5 (not a whole number)"),
])
def test_a_number_no_snapshot_holds_says_what_was_wrong(saved: dict, tmp_path: Path, number: str, needle: str):
    text = json.dumps(saved).replace('"duration_ms": ', f'"duration_ms": {number}, "x": ', 1)
    (tmp_path / "s.json").write_text(text)
    _one_line(_in_process("replay", str(tmp_path / "s.json"), cwd=tmp_path), needle)

# --- bounded discovery --------------------------------------------------------------------------------


def test_the_config_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    from netra_doctor.core.config import find_config, load_target

    (tmp_path / "netra-doctor.toml").write_text('project = "not-this-checkout"\n')
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "svc" / "deep").mkdir(parents=True)
    assert find_config(checkout / "svc" / "deep") == (None, {})
    target = load_target("staging", start=checkout / "svc" / "deep")
    assert target.project == "netra-staging" and target.root == checkout  # the checkout, not the folder run from
    (checkout / "netra-doctor.toml").write_text('project = "mine"\n')
    assert load_target("staging", start=checkout / "svc" / "deep").project == "mine"


def test_the_config_search_stops_at_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netra_doctor.core.config import search_folders

    (tmp_path / "netra-doctor.toml").write_text('project = "above-home"\n')
    home = tmp_path / "home" / "me"
    (home / "work").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert search_folders(home / "work") == [home / "work", home]
    assert search_folders(Path("/")) == [Path("/")]


def test_started_from_the_file_system_root_nothing_walks_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(SEED), "--format", "json",
         "--only", "job-command"], capture_output=True, text=True, cwd="/", timeout=60,
        env={**os.environ, "NETRA_DOCTOR_GCP_ENDPOINT": "127.0.0.1:9",
             "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert result.returncode in (0, 1, 3), result.stderr
    repo = next(s for s in json.loads(result.stdout)["sources"] if s["name"] == "repo")
    assert repo["status"] == "skipped" and "is the file system's root, not a checkout" in repo["error"]


def test_a_fifo_named_like_the_config_is_bad_input(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "netra-doctor.toml")
    _one_line(_limited_cli("staging", "--from", str(SEED), cwd=tmp_path), "netra-doctor.toml: a FIFO")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(shared=st.one_of(st.lists(values, min_size=1, max_size=3), st.dictionaries(st.text(max_size=8), values,
                                                                                    min_size=1, max_size=3)),
       name=st.sampled_from(["service.yaml", "job.yaml", "executions.yaml", "secrets.yaml"]))
def test_any_document_with_an_anchor_is_refused_in_one_line(tmp_path_factory, shared, name) -> None:
    """PyYAML writes an anchor and an alias for an object it meets twice: every such document is refused,
    whatever else it holds, and nothing else happens (no expansion, no traceback)."""
    import yaml

    tmp = tmp_path_factory.mktemp("a")
    folder = _seed(tmp)
    (folder / name).write_text(yaml.safe_dump({"kind": "Service", "a": shared, "b": shared}))
    result = CliRunner().invoke(cli, ["staging", "--from", str(folder), "--only", "job-command"],
                                catch_exceptions=False)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "which gcloud never writes" in result.stderr
