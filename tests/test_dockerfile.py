"""The job's command judged against the image the Dockerfile builds, not against the checkout's layout.

Each checkout here is a minimal one written for the construct it tests: where the Alembic project
sits in the repository, and how the Dockerfile's WORKDIR and COPY/ADD lines put it in the image.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from netra_doctor.cloudrun import dockerfile
from netra_doctor.core.facts import ImageFacts

from tests.exports import FORMATS, Exports, checkout
from tests.helpers import DATA, cause_ids, check_status, diagnose_json, limited_cli, ruled_out_ids
from tests.test_command import fix_argv


@pytest.fixture(params=FORMATS)
def exports(request, tmp_path: Path) -> Exports:
    return Exports(tmp_path / "exports", request.param)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def evidence(report: dict, cause: str) -> list[str]:
    found = [c for c in report["causes"] if c["id"] == cause] or [r for r in report["ruled_out"] if r["id"] == cause]
    return found[0]["evidence"] if found else []


def run(exports: Exports, cwd: Path) -> tuple[dict, int]:
    return diagnose_json(exports.folder, "--only", "job-command", cwd=cwd)


# --- reading the Dockerfile --------------------------------------------------------------


def test_workdir_and_copy_into_it_from_the_dockerfiles_own_folder(tmp_path: Path):
    """`COPY alembic.ini .` from backend/ (the build context is the folder that holds the sources)."""
    write(tmp_path, {"backend/alembic.ini": "", "backend/app/main.py": "",
                     "backend/Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY alembic.ini .\nCOPY app ./app\n"})
    image = dockerfile.read(tmp_path, "backend/Dockerfile")
    assert image.context == "backend" and image.workdir == "/app"
    assert dockerfile.to_repo(image, "/app/alembic.ini", ["backend/alembic.ini"]) == ("backend/alembic.ini", "found")
    assert dockerfile.to_image(image, "backend/alembic.ini") == "/app/alembic.ini"
    assert dockerfile.to_repo(image, "/alembic.ini", ["backend/alembic.ini"]) == (None, "not-copied")


def test_multi_stage_copy_from_a_stage_follows_it_back_to_the_checkout(tmp_path: Path):
    write(tmp_path, {"svc/api/alembic.ini": "", "svc/Dockerfile": (
        "ARG PY=3.12\nFROM python:${PY} AS build\nWORKDIR /src\nCOPY svc/api/ ./api/\n"
        "FROM python:${PY}-slim\nENV HOME_DIR=/opt/app\nWORKDIR $HOME_DIR\n"
        "COPY --from=build /src/api ./api\nCMD [\"python\", \"-m\", \"api\"]\n")})
    image = dockerfile.read(tmp_path, "svc/Dockerfile")
    assert image.context == "." and image.workdir == "/opt/app"
    assert dockerfile.to_repo(image, "/opt/app/api/alembic.ini", ["svc/api/alembic.ini"])[1] == "found"
    assert image.cmd == ["python", "-m", "api"]


def test_a_final_stage_built_on_an_earlier_one_inherits_its_files(tmp_path: Path):
    write(tmp_path, {"alembic.ini": "", "Dockerfile": (
        "FROM python:3.12 AS base\nWORKDIR /srv\nCOPY . .\nFROM base AS prod\nRUN pip install -e .\n")})
    image = dockerfile.read(tmp_path, "Dockerfile")
    assert image.workdir == "/srv"
    assert dockerfile.to_repo(image, "/srv/alembic.ini", ["alembic.ini"]) == ("alembic.ini", "found")


def test_files_from_another_image_or_a_url_are_unknown_not_missing(tmp_path: Path):
    write(tmp_path, {"Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY --from=ghcr.io/acme/schema:1 /schema /app/db\n"
                                   "ADD https://example.invalid/x.tar.gz /opt/\n"})
    image = dockerfile.read(tmp_path, "Dockerfile")
    assert dockerfile.to_repo(image, "/app/db/alembic.ini", []) == (None, "other-image")
    assert dockerfile.to_repo(image, "/app/alembic.ini", []) == (None, "not-copied")


def test_globs_and_a_later_copy_that_lacks_the_file_keep_the_earlier_one(tmp_path: Path):
    write(tmp_path, {"alembic.ini": "", "logging.ini": "", "src/app.py": "",
                     "Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY *.ini ./\nCOPY src/ /app/\n"})
    image = dockerfile.read(tmp_path, "Dockerfile")
    files = ["alembic.ini", "logging.ini"]
    assert dockerfile.to_repo(image, "/app/alembic.ini", files) == ("alembic.ini", "found")
    assert dockerfile.to_repo(image, "/app/other.ini", files) == ("src/other.ini", "absent")


def test_a_build_arg_without_default_leaves_the_workdir_unknown(tmp_path: Path):
    write(tmp_path, {"Dockerfile": "FROM python:3.12\nARG APP_DIR\nWORKDIR $APP_DIR\nCOPY . .\n"})
    image = dockerfile.read(tmp_path, "Dockerfile")
    assert image.error and "computed at build time" in image.error


@pytest.mark.parametrize(("text", "why"), [
    ("FROM python:3.12\nCOPY <<EOF\n", "unterminated heredoc"),
    ("", "no instructions"),
])
def test_a_dockerfile_that_does_not_parse_is_said_to(tmp_path: Path, text: str, why: str):
    write(tmp_path, {"Dockerfile": text})
    image = dockerfile.read(tmp_path, "Dockerfile")
    assert image.error and "could not be parsed" in image.error and why in image.error


def test_an_instruction_without_arguments_is_passed_over(tmp_path: Path):
    write(tmp_path, {"Dockerfile": "FROM python:3.12\nWORKDIR\nCOPY\nWORKDIR /app\n"})
    assert dockerfile.read(tmp_path, "Dockerfile").workdir == "/app"


def test_the_dockerfile_is_found_beside_the_alembic_project_or_above_it(tmp_path: Path):
    write(tmp_path, {"Dockerfile": "FROM x\n", "apps/api/alembic.ini": ""})
    assert dockerfile.find(tmp_path, "apps/api/alembic.ini", None) == ("Dockerfile", None)
    write(tmp_path, {"apps/api/Dockerfile": "FROM x\n"})
    assert dockerfile.find(tmp_path, "apps/api/alembic.ini", None) == ("apps/api/Dockerfile", None)
    assert dockerfile.find(tmp_path, "apps/api/alembic.ini", "deploy/Dockerfile.migrate")[0] is None


def test_to_repo_is_pure_over_plain_facts():
    image = ImageFacts("Dockerfile", workdir="/app", copies=[["/app", "."], ["/app/cfg/alembic.ini", "conf/a.ini"]])
    assert dockerfile.to_repo(image, "/app/cfg/alembic.ini", ["conf/a.ini"]) == ("conf/a.ini", "found")
    assert dockerfile.to_repo(image, "/app/x/alembic.ini", ["x/alembic.ini"]) == ("x/alembic.ini", "found")


# --- the job's command against the image ------------------------------------------------


def test_bare_alembic_runs_in_the_workdir_the_dockerfile_copies_the_ini_to(exports: Exports, tmp_path: Path):
    """The checkout keeps backend/alembic.ini; the image has it at WORKDIR /app: valid."""
    app = write(tmp_path / "app", {
        "netra-doctor.toml": 'alembic_ini = "backend/alembic.ini"\n',
        "backend/alembic.ini": "[alembic]\n", "backend/alembic/env.py": "",
        "backend/Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY alembic.ini .\nCOPY alembic ./alembic\n"})
    exports.set_command(["alembic"], ["upgrade", "head"])
    report, code = run(exports, app)
    assert code == 0 and "job-command-invalid" in ruled_out_ids(report)
    assert check_status(report, "job-command") == "pass"
    assert any("alembic reads /app/alembic.ini in the image: the checkout's backend/alembic.ini, copied by "
               "backend/Dockerfile (context backend)" in e for e in evidence(report, "job-command-invalid"))


@pytest.mark.parametrize("shell", [["/bin/sh", "-lc"], ["bash", "-ec"]])
def test_cd_into_a_folder_the_dockerfile_copies_a_sub_folder_to(exports: Exports, tmp_path: Path, shell):
    app = write(tmp_path / "app", {
        "apps/api/alembic.ini": "[alembic]\n", "apps/api/alembic/env.py": "", "portal/alembic.ini": "[alembic]\n",
        "apps/api/Dockerfile": "FROM python:3.12\nCOPY apps/api/ /app/api/\nWORKDIR /app\n"})
    (app / "netra-doctor.toml").write_text('alembic_ini = "apps/api/alembic.ini"\n')
    exports.set_command(shell[:1], [shell[1], "cd /app/api && alembic -c alembic.ini upgrade head"])
    report, code = run(exports, app)
    assert code == 0 and not cause_ids(report), report["causes"]


def test_a_path_the_image_does_not_hold_is_a_cause_with_the_images_path_as_fix(exports: Exports, tmp_path: Path):
    app = write(tmp_path / "app", {
        "apps/api/alembic.ini": "[alembic]\n", "apps/api/alembic/env.py": "",
        "apps/api/Dockerfile": "FROM python:3.12\nCOPY apps/api/ /srv/api/\nWORKDIR /srv\n"})
    (app / "netra-doctor.toml").write_text('alembic_ini = "apps/api/alembic.ini"\n')
    exports.set_command(["sh"], ["-c", "cd /app/api && alembic -c alembic.ini upgrade head"])
    report, code = run(exports, app)
    assert code == 1 and cause_ids(report) == ["job-command-invalid"]
    lines = evidence(report, "job-command-invalid")
    assert any("so it reads /app/api/alembic.ini: no COPY or ADD of apps/api/Dockerfile puts a file there" in e
               for e in lines), lines
    assert any("apps/api/alembic.ini (image: /srv/api/alembic.ini)" in e for e in lines)
    cause = report["causes"][0]
    assert fix_argv(cause["fix"][0]) == ("sh", ["-c", "cd /app/api && alembic -c /srv/api/alembic.ini upgrade head"])


def test_without_a_dockerfile_an_unverifiable_path_is_a_note_not_a_cause(exports: Exports, tmp_path: Path):
    app = checkout(tmp_path / "app", "svc/alembic.ini", "svc/migrations/env.py")
    exports.set_command(["alembic"], ["upgrade", "head"])
    report, code = run(exports, app)
    assert code == 0 and not cause_ids(report)
    assert any("not verified" in e and "no Dockerfile" in e for e in evidence(report, "job-command-invalid"))


def test_a_repository_with_no_alembic_project_whose_job_runs_alembic_is_a_cause(exports: Exports, tmp_path: Path):
    app = checkout(tmp_path / "app", "backend/pytest.ini", "backend/mypy.ini")
    exports.set_command(["alembic"], ["upgrade", "head"])
    report, code = run(exports, app)
    assert code == 1 and cause_ids(report) == ["job-command-invalid"]
    cause = report["causes"][0]
    assert cause["severity"] == "error"
    assert any("holds no Alembic project" in e for e in cause["evidence"])
    assert not any("alembic.ini" in line for line in cause["fix"])  # no fix points at an ini that does not exist


def test_a_folder_with_only_the_config_and_no_alembic_project_is_a_warning(exports: Exports, tmp_path: Path):
    app = write(tmp_path / "app", {"netra-doctor.toml": "timeout = 5\n"})
    exports.set_command(["alembic"], ["upgrade", "head"])
    report, code = run(exports, app)
    assert code == 0 and cause_ids(report) == ["job-command-invalid"]
    assert report["causes"][0]["severity"] == "warn"


def test_the_result_does_not_depend_on_the_sub_folder_it_is_run_from(exports: Exports, tmp_path: Path):
    """Without a config, the repository root is the git work tree's, wherever in it the doctor runs."""
    app = write(tmp_path / "app", {"netra_backend/alembic.ini": "[alembic]\n", "netra_backend/migrations/env.py": "",
                                   "Dockerfile": "FROM python:3.12\nWORKDIR /srv\nCOPY . .\n"})
    (app / ".git").mkdir()
    exports.set_command(["sh"], ["-c", "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"])
    top, _ = run(exports, app)
    inner, _ = run(exports, app / "netra_backend" / "migrations")
    assert cause_ids(top) == cause_ids(inner) == ["job-command-invalid"]
    assert [c["fix"] for c in top["causes"]] == [c["fix"] for c in inner["causes"]]


def test_the_seed_exports_from_this_projects_own_checkout_rank_no_command_cause():
    """Run from netra-doctor's own checkout (which holds alembic projects as test data and no Dockerfile):
    the seed job's `-c netra_backend/alembic.ini` cannot be checked against an image, so it is no cause."""
    report, _ = diagnose_json(DATA / "seed", "--only", "job-command", cwd=DATA.parents[1])
    assert "job-command-invalid" not in cause_ids(report)
    assert not any("demo_data" in " ".join(c["fix"]) for c in report["causes"])


def test_the_fix_quotes_the_images_path(tmp_path: Path):
    """A fix naming an image path with a space is still one shell word."""
    image = ImageFacts("Dockerfile", workdir="/app", copies=[["/my app", "."]])
    assert shlex.split(shlex.quote(dockerfile.to_image(image, "alembic.ini"))) == ["/my app/alembic.ini"]


@pytest.mark.parametrize(("patterns", "kept"), [
    ("*.ini\n", False),  # the context's root level
    ("**/*.ini\n!alembic.ini\n", True),  # the last matching pattern wins
    ("# comment\nalembic\n", True),  # another folder
    ("docs/*.ini\n", True),
])
def test_dockerignore_keeps_files_out_of_the_image(tmp_path: Path, patterns: str, kept: bool):
    write(tmp_path, {"alembic.ini": "", "alembic/env.py": "", ".dockerignore": patterns,
                     "Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY . .\n"})
    image = dockerfile.read(tmp_path, "Dockerfile")
    state = dockerfile.to_repo(image, "/app/alembic.ini", ["alembic.ini"])[1]
    assert state == ("found" if kept else "dockerignored")
    assert (dockerfile.to_image(image, "alembic.ini") is not None) == kept


def test_a_dockerignored_ini_is_a_cause_that_says_so(exports: Exports, tmp_path: Path):
    app = write(tmp_path / "app", {"alembic.ini": "[alembic]\n", "migrations/env.py": "", ".dockerignore": "*.ini\n",
                                   "Dockerfile": "FROM python:3.12\nWORKDIR /app\nCOPY . .\n",
                                   "netra-doctor.toml": 'alembic_ini = "alembic.ini"\n'})
    exports.set_command(["alembic"], ["upgrade", "head"])
    report, code = run(exports, app)
    assert code == 1 and cause_ids(report) == ["job-command-invalid"]
    assert any(".dockerignore keeps it out of the build context" in e for e in evidence(report, "job-command-invalid"))


def test_scripts_outside_the_repository_never_lead_to_a_dockerfile_outside_it(tmp_path: Path):
    write(tmp_path, {"outside/Dockerfile": "FROM x\n", "outside/scripts/alembic.ini": "", "repo/app.py": ""})
    root = tmp_path / "repo"
    assert dockerfile.find(root, str(tmp_path / "outside" / "scripts" / "alembic.ini"), None)[0] is None
    assert dockerfile.find(root, "../outside/scripts/alembic.ini", None)[0] is None


# --- in a small address space (`ulimit -v 1G`, common on shared CI runners) ---------------


def test_a_dockerfile_is_read_within_a_one_gib_address_space(tmp_path: Path):
    """The Go-based parser this replaced aborted the whole process under `ulimit -v 1G` (a Go stack
    trace, exit 2); the doctor reads the Dockerfile and judges the command as usual."""
    app = write(tmp_path / "app", {
        "netra-doctor.toml": 'alembic_ini = "backend/alembic.ini"\n',
        "backend/alembic.ini": "[alembic]\n", "backend/alembic/env.py": "",
        "backend/Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY alembic.ini .\nCOPY alembic ./alembic\n"})
    exports = Exports(tmp_path / "exports")
    exports.set_command(["alembic"], ["upgrade", "head"])
    done = limited_cli("staging", "--from", str(exports.folder), "--only", "job-command", "--format", "json",
                       cwd=app, memory_mb=1024)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert check_status(report, "job-command") == "pass"
    assert any("copied by backend/Dockerfile" in e for e in evidence(report, "job-command-invalid"))


def test_a_huge_dockerfile_is_refused_by_its_size_before_a_byte_is_read(tmp_path: Path):
    """A 1 GiB (sparse) Dockerfile under a 1 GiB address space: said to be too large, never read whole."""
    app = write(tmp_path / "app", {"netra-doctor.toml": 'alembic_ini = "backend/alembic.ini"\n',
                                   "backend/alembic.ini": "[alembic]\n", "backend/alembic/env.py": ""})
    with open(app / "backend" / "Dockerfile", "wb") as f:
        f.write(b"FROM python:3.12\nWORKDIR /app\n")
        f.truncate(2**30)
    exports = Exports(tmp_path / "exports")
    exports.set_command(["alembic"], ["upgrade", "head"])
    done = limited_cli("staging", "--from", str(exports.folder), "--only", "job-command", "--format", "json",
                       cwd=app, memory_mb=1024, timeout=60)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "backend/Dockerfile could not be read" in done.stdout and "larger than" in done.stdout
