"""The command line as a user meets it: click's runner in-process, and the real program as a subprocess.

Exit codes (DESIGN.md): 0 healthy, 1 causes at or above --fail-on, 2 bad input (one line on
stderr, never a traceback), 3 could not check. JSON goes to stdout alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exports import Exports, checkout
from tests.helpers import SEED, run_cli, run_subprocess

SEED_SCRIPT = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
# the checks that need neither a database nor logs nor migration scripts: all the seed folder can feed
OFFLINE = ("--only", "cloudsql-connector", "--only", "secret-parity", "--only", "job-command")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The application's checkout, as the working directory."""
    root = checkout(tmp_path / "app", "netra_backend/alembic.ini", "netra_backend/migrations/env.py")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The seed team's second attempt: `--command python --args "-c,cd /app && ..."`."""
    e = Exports(tmp_path / "broken")
    e.set_command(["python"], ["-c", SEED_SCRIPT])
    return e.folder


# --- healthy -----------------------------------------------------------------------


def test_healthy_seed_exits_0_in_process(app: Path):
    result = run_cli("staging", "--from", str(SEED), "--format", "json", *OFFLINE)
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report
    assert report["status"] == "healthy" and report["causes"] == []
    assert {c["id"] for c in report["checks"]} == {"cloudsql-connector", "secret-parity", "job-command"}
    assert all(c["status"] == "pass" for c in report["checks"])


def test_healthy_seed_exits_0_as_a_program(app: Path):
    proc = run_subprocess("staging", "--from", str(SEED), "--format", "json", *OFFLINE, cwd=app)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "healthy"
    assert proc.stderr == ""


def test_a_full_offline_run_that_cannot_reach_the_database_is_incomplete_never_healthy(app: Path):
    """No --proxy for the /cloudsql host and no logs.json: the doctor says what it could not check (exit 3)."""
    proc = run_subprocess("staging", "--from", str(SEED), "--format", "json", cwd=app)
    report = json.loads(proc.stdout)
    assert proc.returncode == 3 and report["status"] != "healthy", report["causes"]
    assert all(c["severity"] == "warn" for c in report["causes"])
    sources = {s["name"]: s for s in report["sources"]}
    assert sources["database"]["status"] == "skipped" and "--proxy" in sources["database"]["error"]
    assert sources["logs"]["status"] == "skipped"
    skipped = [c["id"] for c in report["checks"] if c["status"] == "skip"]
    assert "tables" in skipped


# --- broken ------------------------------------------------------------------------


def test_broken_seed_exits_1_with_the_cause_first(app: Path, broken: Path):
    proc = run_subprocess("staging", "--from", str(broken), "--format", "json", *OFFLINE, cwd=app)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["causes"][0]["id"] == "job-command-invalid"


def test_fail_on_warn_turns_a_warning_into_exit_1(app: Path, tmp_path: Path):
    e = Exports(tmp_path / "drift")
    e.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "1")
    assert run_cli("staging", "--from", str(e.folder), *OFFLINE).exit_code == 0
    assert run_cli("staging", "--from", str(e.folder), *OFFLINE, "--fail-on", "warn").exit_code == 1


def test_a_cause_wins_over_an_incomplete_run(app: Path, broken: Path):
    result = run_cli("staging", "--from", str(broken), "--format", "json")  # database unreachable too
    assert result.exit_code == 1
    assert json.loads(result.stdout)["causes"][0]["id"] == "job-command-invalid"


# --- bad input: one line on stderr, exit 2 ---------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    bad_yaml = Exports(tmp_path / "bad-yaml")
    (bad_yaml.folder / "job.yaml").write_text("spec:\n  template: [unclosed\n")
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "netra-doctor.toml").write_text('[environments.prod]\nproject = "acme-prod"\n')
    bad_value = tmp_path / "bad-value"
    bad_value.mkdir()
    (bad_value / "netra-doctor.toml").write_text("timeout = -1\n")
    seed = ["staging", "--from", str(SEED)]
    return {
        "missing --from folder": (["staging", "--from", str(tmp_path / "nowhere")], "no such folder"),
        "malformed YAML": (["staging", "--from", str(bad_yaml.folder)], "job.yaml: not valid YAML at line"),
        "unknown environment": (["staging", "--from", str(SEED), "@" + str(envs)],
                                "unknown environment 'staging'"),
        "bad config value": ([*seed, "@" + str(bad_value)], "timeout must be a number"),
        "bad --dsn": ([*seed, "--dsn", "mysql://u@h/db"], "not a PostgreSQL URL"),
        "bad --dsn port": ([*seed, "--dsn", "postgresql://u@h:99999999/db"], "not a valid database URL"),
        "bad --proxy": ([*seed, "--proxy", "staging-shared-postgres"], "expected INSTANCE=HOST:PORT"),
        "unknown --only": ([*seed, "--only", "no-such-check"], "--only 'no-such-check': no such check"),
        "bad environment name": (["Staging!", "--from", str(SEED)], "is not valid"),
        "replay of a non-snapshot": (["replay", str(SEED / "job.yaml")], "not a JSON snapshot"),
        "explain of an unknown id": (["explain", "no-such-thing"], "no check or cause named 'no-such-thing'"),
        "missing --alembic-ini": ([*seed, "--alembic-ini", str(tmp_path / "nope" / "alembic.ini")],
                                  "alembic.ini: no such file"),
        "a typo of a command": (["chekcs"], "did you mean `checks`?"),
    }


CASES = ["missing --from folder", "malformed YAML", "unknown environment", "bad config value", "bad --dsn",
         "bad --dsn port", "bad --proxy", "unknown --only", "bad environment name", "replay of a non-snapshot",
         "explain of an unknown id", "missing --alembic-ini", "a typo of a command"]


def _split_cwd(args: list[str], default: Path) -> tuple[list[str], Path]:
    """An `@DIR` item means: run from DIR (where its netra-doctor.toml is)."""
    cwd = next((Path(a[1:]) for a in args if a.startswith("@")), default)
    return [a for a in args if not a.startswith("@")], cwd


@pytest.mark.parametrize("case", CASES)
def test_bad_input_in_process(case: str, tmp_path: Path, repo: Path):
    args, needle = _bad_inputs(tmp_path)[case]
    args, cwd = _split_cwd(args, repo)
    result = run_cli(*args, cwd=cwd)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netra-doctor: ") and needle in lines[0], lines


@pytest.mark.parametrize("case", ["missing --from folder", "malformed YAML", "unknown environment",
                                  "bad config value", "bad --dsn", "bad --proxy", "unknown --only",
                                  "missing --alembic-ini"])
def test_bad_input_as_a_program(case: str, tmp_path: Path, repo: Path):
    args, needle = _bad_inputs(tmp_path)[case]
    args, cwd = _split_cwd(args, repo)
    proc = run_subprocess(*args, cwd=cwd)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr


# --- streams ---------------------------------------------------------------------------


def test_json_is_alone_on_stdout(app: Path, broken: Path):
    proc = run_subprocess("staging", "--from", str(broken), "--format", "json", "-v", cwd=app)
    report = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert report["environment"] == "staging"
    assert proc.stderr == ""


def _run_on_terminals(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the program with stdout and stderr each on its own pseudo-terminal; return what each showed."""
    import pty
    import threading

    ends = [pty.openpty() for _ in range(2)]
    seen: list[list[bytes]] = [[], []]

    def drain(i: int) -> None:
        while True:
            try:
                chunk = os.read(ends[i][0], 4096)
            except OSError:  # EIO once the program has exited and the terminal is closed
                return
            if not chunk:
                return
            seen[i].append(chunk)

    readers = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(2)]
    for t in readers:
        t.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "netra_doctor.cli", *args], stdout=ends[0][1], stderr=ends[1][1],
                              cwd=cwd, env={**os.environ, "TERM": "xterm"}, timeout=60)
    finally:
        for _, follower in ends:
            os.close(follower)
        for t in readers:
            t.join(5)
        for leader, _ in ends:
            os.close(leader)
    return proc.returncode, *(b"".join(chunks).decode(errors="replace") for chunks in seen)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_progress_goes_to_stderr_only_when_it_is_a_terminal(app: Path):
    code, out, err = _run_on_terminals(["staging", "--from", str(SEED), *OFFLINE], app)
    assert code == 0
    assert "gathering:" in err  # the live status line, on the terminal's stderr
    assert "gathering" not in out and "netra-doctor: staging: HEALTHY" in out


# --- -v: timings -------------------------------------------------------------------------


def test_verbose_table_shows_check_and_source_timings(app: Path):
    quiet = run_cli("staging", "--from", str(SEED), *OFFLINE).stdout
    loud = run_cli("staging", "--from", str(SEED), *OFFLINE, "-v").stdout
    assert "ms" not in quiet.split()  # a healthy quiet run lists no checks or sources
    check_header = next(line for line in loud.splitlines() if line.startswith("check "))
    source_header = next(line for line in loud.splitlines() if line.startswith("source "))
    assert check_header.split() == ["check", "status", "message", "ms"]
    assert source_header.split() == ["source", "status", "ms", "detail"]
    for name in ("job-command", "secret-parity", "cloudsql-connector", "cloudrun", "secrets", "repo"):
        row = next(line for line in loud.splitlines() if line.startswith(name + " "))
        assert any(_is_number(word) for word in row.split()[1:]), row


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def test_json_always_carries_timings_and_verbose_adds_findings(app: Path):
    report = json.loads(run_cli("staging", "--from", str(SEED), "--format", "json", *OFFLINE).stdout)
    assert all(isinstance(c["duration_ms"], (int, float)) for c in report["checks"])
    assert all(isinstance(s["duration_ms"], int) for s in report["sources"])
    assert "findings" not in report["checks"][0]
    loud = json.loads(run_cli("staging", "--from", str(SEED), "--format", "json", *OFFLINE, "-v").stdout)
    assert all(c["findings"] for c in loud["checks"])


# --- silences ------------------------------------------------------------------------------


def test_silence_removes_a_cause_and_the_report_counts_it(app: Path, broken: Path):
    (app / "netra-doctor.toml").write_text(
        '[[silence]]\nid = "job-command-invalid"\nobject = "job"\nreason = "rewritten in the next release"\n')
    result = run_cli("staging", "--from", str(broken), "--format", "json", *OFFLINE)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["causes"] == []
    assert report["silenced"]["count"] == 1
    assert report["silenced"]["entries"] == ["job-command-invalid[job]: rewritten in the next release"]
    table = run_cli("staging", "--from", str(broken), *OFFLINE).stdout
    assert "1 finding(s) silenced by config (-v lists them)" in table
    assert "rewritten in the next release" in run_cli("staging", "--from", str(broken), *OFFLINE, "-v").stdout
    markdown = run_cli("staging", "--from", str(broken), "--format", "markdown", *OFFLINE).stdout
    assert "_1 finding(s) silenced by config._" in markdown


def test_silence_by_check_id(app: Path, broken: Path):
    (app / "netra-doctor.toml").write_text('[[silence]]\nid = "job-command"\nreason = "known"\n')
    report = json.loads(run_cli("staging", "--from", str(broken), "--format", "json", *OFFLINE).stdout)
    assert report["causes"] == [] and report["silenced"]["count"] == 1


def test_silence_for_another_object_leaves_the_cause(app: Path, broken: Path):
    (app / "netra-doctor.toml").write_text(
        '[[silence]]\nid = "job-command-invalid"\nobject = "service"\nreason = "only the service"\n')
    result = run_cli("staging", "--from", str(broken), "--format", "json", *OFFLINE)
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["causes"][0]["id"] == "job-command-invalid"
    assert report["silenced"]["count"] == 0


# --- several environments; the listing commands --------------------------------------------------


def test_several_environments_give_a_json_array_in_order(app: Path, broken: Path, tmp_path: Path):
    both = tmp_path / "both"
    Exports(both / "prod")
    (both / "staging").symlink_to(broken)
    # prod's exports here are a healthy copy of staging's: prod is configured with staging's names
    (app / "netra-doctor.toml").write_text('[environments.staging]\n[environments.prod]\nproject = "netra-staging"\n'
                                           'service = "netra-backend-staging"\njob = "netra-migrations-staging"\n')
    result = run_cli("staging", "prod", "--from", str(both), "--format", "json", *OFFLINE)
    reports = json.loads(result.stdout)
    assert [r["environment"] for r in reports] == ["staging", "prod"]
    assert [bool(r["causes"]) for r in reports] == [True, False]
    assert result.exit_code == 1


def test_checks_lists_the_new_checks_and_explain_describes_them():
    listing = run_cli("checks").stdout
    assert "secret-parity" in listing and "job-command" in listing
    text = run_cli("explain", "job-command").stdout
    assert "Good: the job's command + args form a program" in text
    assert "job-command-invalid" in text


# --- the grammar: typos, environment names, the listings ---------------------------------------


@pytest.mark.parametrize(("args", "guess"), [(["chekcs"], "checks"), (["explian", "tables"], "explain"),
                                             (["demoo"], "demo"), (["replya", "x.json"], "replay")])
def test_a_typo_of_a_command_is_bad_input_with_a_suggestion_not_a_diagnosis(args, guess, repo: Path):
    proc = run_subprocess(*args, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"netra-doctor: no command or environment {args[0]!r}: did you mean `{guess}`?\n"


@pytest.mark.parametrize("env", ["dev", "prod", "qa", "staging", "stage", "test", "uat", "preprod"])
def test_common_environment_names_are_not_typos(env: str):
    from netra_doctor.cli import _typo_of, cli

    assert _typo_of(env, cli.commands) is None
    assert _typo_of("dmeo", cli.commands) == "demo" and _typo_of("chekcs", cli.commands) == "checks"


def test_an_environment_the_config_lists_is_diagnosed_even_when_it_looks_like_a_command(repo: Path):
    (repo / "netra-doctor.toml").write_text(  # the seed's exports, named as environment "demos"
        '[environments.demos]\nproject = "netra-staging"\n'
        'service = "netra-backend-staging"\njob = "netra-migrations-staging"\n')
    # (an empty checkout holds no Alembic project, which the command check would rightly doubt)
    proc = run_subprocess("demos", "--from", str(SEED), "--only", "cloudsql-connector", "--only", "secret-parity",
                          cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("netra-doctor: demos: HEALTHY")


def test_causes_lists_every_cause_with_severity_and_title():
    from netra_doctor.core.causes import CAUSES

    out = run_cli("causes").stdout.splitlines()
    assert out[0].split() == ["id", "severity", "title"]
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in out[2:]}
    assert set(rows) == set(CAUSES)
    assert rows["migration-missing-for-tables"] == ["error", CAUSES["migration-missing-for-tables"].title]


def test_explain_shows_steps_as_prose_and_commands_after_a_prompt():
    text = run_cli("explain", "migration-missing-for-tables").stdout
    assert "  - review the new revision: autogenerate also drops tables the models do not declare" in text
    assert "  $ alembic -c {alembic_ini} revision --autogenerate" in text
    assert "$ review" not in text


# --- exit codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/nonexistent/dir/s.json", "/dev/full"])
def test_an_unwritable_save_prints_the_report_then_one_error_line_exit_2(target: str, app: Path):
    if target == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    proc = run_subprocess("staging", "--from", str(SEED), *OFFLINE, "--save", target, cwd=app)
    assert proc.returncode == 2
    assert proc.stdout.startswith("netra-doctor: staging: HEALTHY")  # the diagnosis is not lost
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"netra-doctor: --save {target}: cannot write (")


def test_save_dash_writes_the_snapshot_to_stdout_and_the_report_to_stderr(app: Path, tmp_path: Path):
    proc = run_subprocess("staging", "--from", str(SEED), *OFFLINE, "--save", "-", cwd=app)
    assert proc.returncode == 0, proc.stderr
    assert not (app / "-").exists()
    assert proc.stderr.startswith("netra-doctor: staging: HEALTHY")
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(proc.stdout)
    replayed = run_subprocess("replay", str(snapshot), "--format", "json", *OFFLINE, cwd=app)
    assert replayed.returncode == 0 and json.loads(replayed.stdout)["status"] == "healthy"


def test_fail_on_warn_counts_a_warning_that_names_no_cause(repo: Path):
    """The demo's start-up log says tables are missing: a warn row with no cause of its own."""
    demo_data = Path(__file__).resolve().parent.parent / "doctor" / "demo" / "data"
    args = ("staging", "--from", str(demo_data), "--only", "startup-errors")
    plain = run_cli(*args)
    assert plain.exit_code == 0 and "startup-errors  warn" in plain.stdout
    assert plain.stdout.startswith("netra-doctor: staging: HEALTHY (1 check not passing)")
    assert run_cli(*args, "--fail-on", "warn").exit_code == 1


# --- terminals: width, colour, markers -------------------------------------------------------------


def _on_a_terminal(args: list[str], cwd: Path, cols: int, env: dict | None = None) -> tuple[int, str]:
    """Run the program with stdout on a pseudo-terminal ``cols`` wide; return what it showed."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    clean_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    try:
        proc = subprocess.run([sys.executable, "-m", "netra_doctor.cli", *args], stdout=follower,
                              stderr=subprocess.DEVNULL, cwd=cwd, env={**clean_env, "TERM": "xterm", **(env or {})},
                              timeout=60)
    finally:
        os.close(follower)
        reader.join(5)
        os.close(leader)
    return proc.returncode, b"".join(seen).decode(errors="replace").replace("\r\n", "\n")


def _visible(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
@pytest.mark.parametrize("cols", [80, 200])
def test_on_a_terminal_the_report_fits_its_width_with_markers_and_colour(cols: int, app: Path, broken: Path):
    code, out = _on_a_terminal(["staging", "--from", str(broken), *OFFLINE], app, cols)
    assert code == 1
    assert "\x1b[" in out  # colour
    plain = _visible(out)
    assert plain.startswith("[✗] netra-doctor: staging: UNHEALTHY (1 cause)")
    assert "[✗] #1 job-command-invalid:" in plain
    from netra_doctor.safety.untrusted import shell_words

    for line in plain.splitlines():  # only a single (shell) word longer than the line may run past it
        assert len(line) <= cols or len(shell_words(line.strip().removesuffix(" \\"))[0]) == 1, line
    fix = [line for line in plain.splitlines() if line.strip().startswith("$ gcloud")]
    assert fix  # the command, wrapped with continuations where needed, is the whole command
    lines = plain.splitlines()
    start = lines.index(fix[0])
    block = [lines[start]]
    while block[-1].endswith(" \\"):
        block.append(lines[start + len(block)])
    import shlex

    joined = " ".join(part.strip().removesuffix("\\").strip() for part in block).removeprefix("$ ")
    assert shlex.split(joined)[-1] == f"--args=-c,{SEED_SCRIPT}"
    assert plain.rstrip().split("\n\n")[-1].startswith("[✗] netra-doctor: staging: UNHEALTHY: 1 cause")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_no_color_and_color_never_keep_a_terminal_plain(app: Path, broken: Path):
    for extra, env in (([], {"NO_COLOR": "1"}), (["--color", "never"], None)):
        _, out = _on_a_terminal(["staging", "--from", str(broken), *OFFLINE, *extra], app, 120, env)
        assert "\x1b" not in out and "[✗]" not in out
        assert out.startswith("netra-doctor: staging: UNHEALTHY")


def test_piped_output_is_plain_and_unwrapped_unless_asked(app: Path, broken: Path):
    piped = run_subprocess("staging", "--from", str(broken), *OFFLINE, cwd=app, env={"COLUMNS": ""})
    assert "\x1b" not in piped.stdout and "[✗]" not in piped.stdout
    assert any(len(line) > 120 for line in piped.stdout.splitlines())  # a log keeps whole lines
    narrow = run_subprocess("staging", "--from", str(broken), *OFFLINE, cwd=app, env={"COLUMNS": "80"})
    assert narrow.stdout != piped.stdout
    forced = run_subprocess("staging", "--from", str(broken), *OFFLINE, "--color", "always", cwd=app)
    assert "\x1b[" in forced.stdout and "[✗]" in forced.stdout


def test_quiet_prints_the_verdict_and_the_fixes_only(app: Path, broken: Path):
    out = run_cli("staging", "--from", str(broken), *OFFLINE, "-q").stdout.splitlines()
    assert out[0] == "netra-doctor: staging: UNHEALTHY (1 cause)"
    assert out[1] == "#1 job-command-invalid"
    assert all(line.startswith("  $ ") for line in out[2:]) and len(out) == 3
    assert run_cli("staging", "--from", str(SEED), *OFFLINE, "-q").stdout == "netra-doctor: staging: HEALTHY\n"


def test_a_healthy_run_fits_in_a_few_lines(app: Path):
    out = run_cli("staging", "--from", str(SEED), *OFFLINE).stdout.splitlines()
    assert len(out) <= 6, out
    assert out[-1] == ("netra-doctor: staging: HEALTHY: no cause, 6 ruled out, 3 passed: "
                       "run with -v for the evidence")


@pytest.mark.parametrize("args", [["staging", "--format", "xml"], ["replay", "x.json", "--format", "xml"]])
def test_an_invalid_format_is_one_line_said_once(args, repo: Path):
    proc = run_subprocess(*args, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("netra-doctor: Invalid value for '--format': 'xml' is not one of 'table', 'json'")
    assert line.count("xml") == 1 and line.endswith("--help`)")
