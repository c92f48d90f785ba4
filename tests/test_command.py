"""The job's command: parsed as the container would run it, never executed; the fix reads back right.

Each case edits the seed's job export (v1 YAML and v2 JSON alike) and runs the CLI from a
folder standing for the application's checkout (it holds netra_backend/alembic.ini).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netra_doctor.checks.command import job_command
from netra_doctor.cloudrun.shellcmd import (
    GcloudListError,
    ShellSyntaxError,
    gcloud_flag,
    gcloud_join,
    gcloud_split,
    parse_shell,
    python_syntax_error,
)
from netra_doctor.core.facts import Container, Facts, ImageFacts, RepoFacts, TargetInfo, Workload
from netra_doctor.sources.offline import load_folder

from tests.exports import FORMATS, Exports, checkout
from tests.helpers import cause_ids, check_status, diagnose_json, ruled_out_ids

SEED_SCRIPT = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
UPDATE = "gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "


@pytest.fixture(params=FORMATS)
def exports(request, tmp_path: Path) -> Exports:
    return Exports(tmp_path / "exports", request.param)


SEED_DOCKERFILE = (
    "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nCOPY . .\nCMD [\"python\", \"-m\", \"app\"]\n"
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The application's checkout: where the job's `-c netra_backend/alembic.ini` must exist, with the
    Dockerfile that copies it to the image's WORKDIR /app."""
    root = checkout(tmp_path / "app", "netra_backend/alembic.ini", "netra_backend/migrations/env.py",
                    "requirements.txt")
    (root / "Dockerfile").write_text(SEED_DOCKERFILE)
    return root


def run(exports: Exports, cwd: Path) -> tuple[dict, int]:
    return diagnose_json(exports.folder, "--only", "job-command", cwd=cwd)


def top(report: dict) -> dict:
    assert report["causes"], report["checks"]
    return report["causes"][0]


def fix_argv(fix_line: str) -> tuple[str, list[str]]:
    """What gcloud stores for a printed fix: shell words first, then gcloud's own list split."""
    words = shlex.split(fix_line)
    command = next(w.split("=", 1)[1] for w in words if w.startswith("--command="))
    args = next(w.split("=", 1)[1] for w in words if w.startswith("--args="))
    return command, gcloud_split(args)


# --- gcloud's list rule ------------------------------------------------------------


@pytest.mark.parametrize(("value", "items"), [
    ("a,b,c", ["a", "b", "c"]),
    ("-c,cd /app && x,y", ["-c", "cd /app && x", "y"]),  # TESTING.md: three args
    ("^:^a,b:c", ["a,b", "c"]),  # gcloud topic escaping's own examples
    ("^::^a:b::c", ["a:b", "c"]),
    ("^,^^a^,b,c", ["^a^", "b", "c"]),  # what ArgList's code does (its docstring says ',b')
    ("^a,b,c", ["^a", "b", "c"]),  # one ^ means nothing
    ("a,", ["a"]),  # one trailing delimiter is dropped
    ("a,,", ["a", ""]),
    ("", []),
])
def test_gcloud_split_follows_gclouds_rule(value: str, items: list[str]):
    assert gcloud_split(value) == items


@pytest.mark.parametrize("value", ["^^a,b", "a,b,a"])
def test_gcloud_split_rejects_what_gcloud_rejects(value: str):
    with pytest.raises(GcloudListError):
        gcloud_split(value)


@given(st.lists(st.text(max_size=30), max_size=6, unique=True))
def test_gcloud_join_round_trips_any_list(items: list[str]):
    assert gcloud_split(gcloud_join(items)) == items


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                        max_size=40), min_size=1, max_size=4, unique=True))
def test_a_printed_flag_survives_the_shell_and_gcloud(items: list[str]):
    """What a user pastes: the shell removes the quoting, gcloud splits the rest."""
    (word,) = shlex.split(gcloud_flag("args", items))
    assert gcloud_split(word.removeprefix("--args=")) == items


def test_join_uses_plain_commas_unless_an_item_holds_one():
    assert gcloud_join(["-c", SEED_SCRIPT]) == f"-c,{SEED_SCRIPT}"
    assert gcloud_join(["-c", "echo a, b | tr ; x"]) == "^@^-c@echo a, b | tr ; x"


# --- parsers -----------------------------------------------------------------------


def test_shell_parser_reads_words_and_positions():
    script = parse_shell("cd /app && X=1 python -m alembic -c 'a b.ini' upgrade head")
    assert [c.words for c in script.commands] == [["cd", "/app"], ["python", "-m", "alembic", "-c", "a b.ini",
                                                                    "upgrade", "head"]]
    assert script.commands[1].assignments == {"X": "1"}
    assert not script.uses_positional
    assert parse_shell('exec "$@"').uses_positional


@pytest.mark.parametrize("text", ["cd /app && (alembic upgrade head", "echo 'open", "a &&& b", "fi"])
def test_shell_parser_rejects_what_bash_rejects(text: str):
    with pytest.raises(ShellSyntaxError):
        parse_shell(text)


def test_python_compile_is_the_judge_and_nothing_runs(tmp_path: Path):
    marker = tmp_path / "ran"
    assert python_syntax_error(f"open({str(marker)!r}, 'w')") is None
    assert not marker.exists()
    err = python_syntax_error(SEED_SCRIPT)
    assert isinstance(err, SyntaxError) and err.lineno == 1


# --- healthy -----------------------------------------------------------------------


def test_seed_command_is_valid_and_rules_the_guess_out(exports: Exports, app: Path):
    report, code = run(exports, app)
    assert code == 0 and report["status"] == "healthy"
    assert check_status(report, "job-command") == "pass"
    assert "job-command-invalid" in ruled_out_ids(report)
    ruled = next(r for r in report["ruled_out"] if r["id"] == "job-command-invalid")
    assert any("python -m alembic -c netra_backend/alembic.ini upgrade head" in e for e in ruled["evidence"])


def test_outside_the_checkout_the_ini_is_not_judged(exports: Exports, repo: Path):
    """An empty working folder is not the application: say the path was not verified, never fail on it."""
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report)
    ruled = next(r for r in report["ruled_out"] if r["id"] == "job-command-invalid")
    assert any("not verified" in e and "netra_backend/alembic.ini" in e for e in ruled["evidence"])


@pytest.mark.parametrize(("command", "args"), [
    (["alembic"], ["-c", "netra_backend/alembic.ini", "upgrade", "head"]),
    (["/bin/bash"], ["-ec", "cd /app; exec alembic -c netra_backend/alembic.ini upgrade heads"]),
    (["sh"], ["-c", "cd /app/netra_backend && uv run alembic -c alembic.ini upgrade head"]),
    (["python3"], ["-m", "alembic", "-c", "/app/netra_backend/alembic.ini", "upgrade", "+1"]),
    (None, ["sh", "-c", SEED_SCRIPT]),  # args only: the image has no ENTRYPOINT
])
def test_other_valid_shapes_pass(exports: Exports, app: Path, command, args):
    exports.set_command(command, args)
    report, code = run(exports, app)
    assert (code, check_status(report, "job-command")) == (0, "pass"), report["checks"]


# --- python -c given shell text (the seed's first attempt) -------------------------


def test_python_given_shell_text_is_a_syntax_error_with_the_fix(exports: Exports, app: Path):
    exports.set_command(["python"], ["-c", SEED_SCRIPT])
    report, code = run(exports, app)
    assert code == 1
    cause = top(report)
    assert cause["id"] == "job-command-invalid" and cause["rank"] == 1
    assert any("SyntaxError: invalid syntax (line 1: cd /app && python -m alembic" in e for e in cause["evidence"])
    assert cause["fix"] == [UPDATE + f"--command=sh --args='-c,{SEED_SCRIPT}'"]
    assert fix_argv(cause["fix"][0]) == ("sh", ["-c", SEED_SCRIPT])


def test_python_code_that_compiles_passes_the_syntax_part(exports: Exports, app: Path):
    exports.set_command(["python"], ["-c", "import runpy; runpy.run_module('alembic')"])
    report, code = run(exports, app)
    assert code == 0 and not cause_ids(report)
    assert check_status(report, "job-command") == "warn"  # it compiles; the alembic inside is not followed
    assert "driven from Python code" in report["checks"][0]["message"]


# --- sh -c text that does not parse ------------------------------------------------


def test_shell_script_that_does_not_parse(exports: Exports, app: Path):
    exports.set_command(["sh"], ["-c", "cd /app && (python -m alembic -c netra_backend/alembic.ini upgrade head"])
    report, code = run(exports, app)
    cause = top(report)
    assert code == 1 and cause["id"] == "job-command-invalid"
    assert any("does not parse: unexpected EOF" in e for e in cause["evidence"])
    assert fix_argv(cause["fix"][0]) == ("sh", ["-c", SEED_SCRIPT])


def test_a_script_bashlex_cannot_judge_is_still_walked(exports: Exports, app: Path):
    """bashlex has no arithmetic expansion: the syntax is 'not verified', the commands are still read."""
    exports.set_command(["sh"], ["-c", "cd /app && n=$((1 + 1)) && " + SEED_SCRIPT.removeprefix("cd /app && ")])
    report, code = run(exports, app)
    assert code == 0 and check_status(report, "job-command") == "pass"
    ruled = next(r for r in report["ruled_out"] if r["id"] == "job-command-invalid")
    assert any("not verified" in e and "arithmetic" in e for e in ruled["evidence"])
    exports.set_command(["sh"], ["-c", "cd /app && n=$((1 + 1)) && alembic -c netra_backend/alembic.ini current"])
    report, code = run(exports, app)
    assert code == 1 and fix_argv(top(report)["fix"][0]) == ("sh", ["-c", SEED_SCRIPT])


# --- gcloud's comma split ------------------------------------------------------------


def test_script_cut_at_a_comma_is_explained_and_the_fix_escapes_it(exports: Exports, app: Path):
    meant = "echo migrating, please wait && " + SEED_SCRIPT
    exports.set_command(["sh"], gcloud_split(f"-c,{meant}"))  # what `--args "-c,{meant}"` stored
    report, code = run(exports, app)
    cause = top(report)
    assert code == 1 and cause["id"] == "job-command-invalid"
    assert any("gcloud splits --args on every comma" in e for e in cause["evidence"])
    assert any(f"as one text it reads: {meant}" in e for e in cause["evidence"])
    (fix,) = cause["fix"]
    assert "--args='^" in fix  # the ^DELIM^ form, since the script holds a comma
    assert fix_argv(fix) == ("sh", ["-c", meant])


def test_extra_args_a_script_reads_are_not_a_split(exports: Exports, app: Path):
    exports.set_command(["sh"], ["-c", 'cd /app && exec python -m alembic -c "$0" upgrade head',
                                 "netra_backend/alembic.ini"])
    report, _ = run(exports, app)
    assert not any("comma" in e for c in report["causes"] for e in c["evidence"])


def test_python_code_cut_at_a_comma(exports: Exports, app: Path):
    exports.set_command(["python"], gcloud_split("-c,import os, sys; print(sys.path)"))
    report, _ = run(exports, app)
    cause = top(report)
    assert any("gcloud splits --args on every comma" in e for e in cause["evidence"])
    assert fix_argv(cause["fix"][0]) == ("python", ["-c", "import os, sys; print(sys.path)"])


# --- alembic -c PATH missing from the checkout ---------------------------------------


def test_alembic_ini_missing_from_the_checkout(exports: Exports, app: Path):
    exports.set_command(["sh"], ["-c", "cd /app && alembic -c alembic.ini upgrade head"])
    report, code = run(exports, app)
    cause = top(report)
    assert code == 1 and cause["id"] == "job-command-invalid"
    assert any("alembic reads alembic.ini, which is not in the image" in e for e in cause["evidence"])
    assert any("runs in /app (the image's WORKDIR), so it reads /app/alembic.ini" in e for e in cause["evidence"])
    assert any("netra_backend/alembic.ini" in e for e in cause["evidence"])  # what the checkout does hold
    assert fix_argv(cause["fix"][0]) == ("sh", ["-c", "cd /app && alembic -c netra_backend/alembic.ini upgrade head"])


def test_alembics_default_ini_counts_too(exports: Exports, app: Path):
    exports.set_command(["python"], ["-c", "cd /app && alembic upgrade head"])
    report, _ = run(exports, app)
    evidence = top(report)["evidence"]
    assert any("SyntaxError" in e for e in evidence)
    assert any("its default alembic.ini" in e for e in evidence)  # found before the next deploy, not after
    assert fix_argv(top(report)["fix"][0]) == ("sh", ["-c", "cd /app && alembic -c netra_backend/alembic.ini "
                                                             "upgrade head"])


@pytest.mark.parametrize("ini", ["migrations/alembic.ini", "netra_backend/alembic.ini"])
def test_ini_path_is_resolved_from_the_directory_the_script_cd_s_into(exports: Exports, app: Path, ini: str):
    """`cd /app/netra_backend` (a folder of the checkout, so the checkout sits at /app) then a path
    relative to it: /app/netra_backend/INI, which the checkout does not hold."""
    exports.set_command(["sh"], ["-c", f"cd /app/netra_backend && python -m alembic -c {ini} upgrade head"])
    report, _ = run(exports, app)
    assert any("not in the image" in e and "/app/netra_backend" in " ".join(top(report)["evidence"])
               for e in top(report)["evidence"])
    fixed = fix_argv(top(report)["fix"][0])[1][-1]
    assert fixed == "cd /app/netra_backend && python -m alembic -c /app/netra_backend/alembic.ini upgrade head"


# --- no upgrade target -------------------------------------------------------------


@pytest.mark.parametrize(("tail", "needle"), [
    ("current", "runs `current`, which applies no migration"),
    ("upgrade", "names no revision"),
    ("upgrade --sql head", "--sql (offline) mode"),
    ("stamp head", "records a revision without running any migration"),
    ("", "names no subcommand"),
])
def test_alembic_without_upgrade(exports: Exports, app: Path, tail: str, needle: str):
    exports.set_command(["sh"], ["-c", f"cd /app && alembic -c netra_backend/alembic.ini {tail}".rstrip()])
    report, code = run(exports, app)
    cause = top(report)
    assert code == 1 and cause["id"] == "job-command-invalid"
    assert any(needle in e for e in cause["evidence"]), cause["evidence"]
    program, argv = fix_argv(cause["fix"][0])
    assert program == "sh"
    assert argv[-1].endswith("alembic -c netra_backend/alembic.ini upgrade head")


def test_no_alembic_at_all_is_a_warning(exports: Exports, app: Path):
    exports.set_command(["/app/bin/migrate.sh"], [])
    report, code = run(exports, app)
    assert code == 0 and not cause_ids(report)
    assert check_status(report, "job-command") == "warn"


def test_a_job_with_no_command_runs_its_images_default(exports: Exports, app: Path):
    exports.set_command(None, None)
    report, code = run(exports, app)
    assert code == 0 and check_status(report, "job-command") == "skip"
    assert report["status"] == "healthy"  # nothing to parse is not "could not gather"


def test_command_word_with_spaces(exports: Exports, app: Path):
    exports.set_command(["python -m alembic"], ["-c", "netra_backend/alembic.ini", "upgrade", "head"])
    report, _ = run(exports, app)
    assert any("one word with spaces" in e for e in top(report)["evidence"])
    assert fix_argv(top(report)["fix"][0]) == ("sh", ["-c", "python -m alembic -c netra_backend/alembic.ini "
                                                             "upgrade head"])


# --- both export forms agree -----------------------------------------------------------


@pytest.mark.parametrize(("command", "args"), [
    (["python"], ["-c", SEED_SCRIPT]),
    (["sh"], gcloud_split("-c,echo a, b && " + SEED_SCRIPT)),
])
def test_v1_yaml_and_v2_json_give_the_same_command_and_findings(tmp_path: Path, app: Path, command, args):
    reports, jobs = [], []
    for fmt in FORMATS:
        e = Exports(tmp_path / fmt, fmt)
        e.set_command(command, args)
        jobs.append(load_folder(e.folder).job.main)
        report, _ = run(e, app)
        reports.append([(c["id"], c["evidence"], c["fix"]) for c in report["causes"]])
    assert (jobs[0].command, jobs[0].args) == (jobs[1].command, jobs[1].args) == (command, args)
    assert reports[0] == reports[1] and reports[0]


# --- the check is pure -------------------------------------------------------------------


def test_check_works_on_plain_facts_without_any_io():
    job = Workload("job", "j", containers=[Container(command=["sh"], args=["-c", "alembic upgrade head"])])
    facts = Facts(TargetInfo("staging", "p", "r", "s", "j", "alembic.ini"), job=job,
                  repo=RepoFacts("/src", ["alembic.ini", "migrations/env.py"]))
    (finding,) = job_command(facts)
    assert finding.status == "pass" and finding.cause == "job-command-invalid"
    facts.repo = RepoFacts("/src", ["app/alembic.ini"], checkout=True)
    (finding,) = job_command(facts)  # no Dockerfile: where the image holds it is unknown, so not a cause
    assert finding.status == "pass" and any("not verified" in e and "layout is unknown" in e for e in finding.evidence)
    facts.repo.image = ImageFacts("Dockerfile", workdir="/srv", copies=[["/srv", "."]])
    (finding,) = job_command(facts)
    assert finding.status == "fail" and "alembic.ini" in finding.message
    assert finding.fix_vars["args"] == "'-c,alembic -c app/alembic.ini upgrade head'"


TOKENS = ["sh", "bash", "python", "python3", "-c", "-m", "alembic", "upgrade", "head", "current", "cd", "/app",
          "&&", ";", "(", ")", "'", '"', ",", " ", "-c netra_backend/alembic.ini", "alembic.ini", "$X", "exec",
          "import os", "print(1)", "|", "--sql", "stamp"]
text = st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join)


@given(st.lists(text, max_size=2), st.lists(text, max_size=4))
def test_any_command_gets_findings_and_any_fix_is_a_script_that_parses(command: list[str], args: list[str]):
    job = Workload("job", "j", containers=[Container(command=command, args=args)])
    facts = Facts(TargetInfo("staging", "p", "r", "s", "j", "netra_backend/alembic.ini"), job=job,
                  repo=RepoFacts("/src", ["netra_backend/alembic.ini"]))
    findings = job_command(facts)
    assert findings
    for f in findings:
        if f.status != "fail" or not f.fix_vars:
            continue
        program = shlex.split(f.fix_vars["command"])[0]
        (value,) = shlex.split(f.fix_vars["args"])
        items = gcloud_split(value)
        if program in ("sh", "bash"):
            parse_shell(items[-1])  # raises if the printed fix would not even parse
