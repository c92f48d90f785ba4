"""The doctor as gcloud users, CI pipelines and first-time users expect it (issue 24).

The command line (help, usage lines as typed, typos of options and environments), gcloud's own
project/region resolution (flags, CLOUDSDK_* env, the active configuration read as files), and a
first live run without credentials or permissions: one headline with the command to run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netra_doctor.core.config import load_target
from netra_doctor.sources.live_api import ENDPOINT_ENV

from tests.fakegcp import _PERMISSION, FakeGCP
from tests.helpers import SEED, run_cli, run_subprocess

DEMO = Path(__file__).parent.parent / "doctor" / "demo" / "data"
GCLOUD_ENV = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_RUN_REGION", "CLOUDSDK_CONFIG",
              "CLOUDSDK_ACTIVE_CONFIG_NAME")


@pytest.fixture
def no_gcloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No gcloud settings from this machine: an empty gcloud folder, no CLOUDSDK_* variables."""
    for name in GCLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "gcloud"
    folder.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(folder))
    return folder


@pytest.fixture(scope="module")
def demo_run():
    from netra_doctor.demo.run import run_demo

    return run_demo()


def gcloud_configuration(folder: Path, name: str, text: str, active: bool = True) -> None:
    """What `gcloud config configurations create NAME` and `gcloud config set` leave on disk."""
    (folder / "configurations").mkdir(exist_ok=True)
    (folder / "configurations" / f"config_{name}").write_text(text)
    if active:
        (folder / "active_config").write_text(name)


# --- the command line ---------------------------------------------------------------------------


def test_help_is_a_command_and_the_top_level_help_shows_the_diagnosis_options(repo: Path):
    said = run_cli("help")
    assert said.exit_code == 0 and "ENV [ENV...] [OPTIONS]  |  COMMAND" in said.output
    assert "staging: " not in said.output  # not a diagnosis of an environment called "help"
    top = run_cli("--help").output
    assert said.output.strip() == top.strip()
    for option in ("--from", "--proxy", "--dsn", "--region", "--project", "--repo-only", "--fail-on"):
        assert option in top, option
    assert "checks [OPTIONS]" in run_cli("help", "checks").output


def test_a_usage_error_names_the_command_as_it_was_typed(repo: Path):
    typed = run_subprocess("staging", "--bogus", cwd=repo)
    assert typed.returncode == 2
    assert typed.stderr.strip().endswith("(see `netra-doctor --help`)") and "diagnose" not in typed.stderr
    explicit = run_subprocess("diagnose", "staging", "--bogus", cwd=repo)
    assert explicit.stderr.strip().endswith("(see `netra-doctor diagnose --help`)")
    usage = run_cli("staging", "--help").output.splitlines()[0]  # the diagnosis' help, typed as `ENV --help`
    assert usage.endswith(" ENV [ENV...] [OPTIONS]") and "diagnose" not in usage, usage


def test_a_typo_of_version_suggests_version_not_verbose(repo: Path):
    said = run_subprocess("--verison", cwd=repo)
    assert said.returncode == 2
    assert said.stderr.strip() == "netra-doctor: no such option '--verison': did you mean `netra-doctor --version`?"


def test_quiet_and_verbose_together_are_a_usage_error(repo: Path):
    for args in (["staging", "-q", "-v"], ["replay", "x.json", "-qv"], ["demo", "-q", "-v"]):
        said = run_subprocess(*args, cwd=repo)
        assert said.returncode == 2, args
        assert "-q/--quiet and -v/--verbose ask for opposite reports" in said.stderr
        assert "Traceback" not in said.stderr


def test_checks_and_causes_list_as_json(repo: Path):
    checks = json.loads(run_cli("checks", "--format", "json").output)
    assert {"models", "tables", "job-command"} <= {c["id"] for c in checks}
    assert next(c for c in checks if c["id"] == "tables")["needs"] == ["databases"]
    causes = json.loads(run_cli("causes", "--format", "json").output)
    seed = next(c for c in causes if c["id"] == "migration-missing-for-tables")
    assert seed["severity"] == "error" and seed["title"]


@pytest.mark.parametrize("typed, folders, said", [
    ("Staging", (), "environment name 'Staging' is not valid (lowercase letters, digits, dashes): did you mean "
                    "`staging`?"),
    ("stagign", (), "the exports in --from are environment staging's (netra-backend-staging), not stagign's: "
                    "did you mean `staging`?"),
    ("stagign", ("staging", "prod"), "no environment 'stagign' in --from {dir} (its environments' folders: prod, "
                                     "staging): did you mean `staging`?"),
])
def test_a_typo_of_an_environment_suggests_the_known_ones(typed: str, folders: tuple, said: str, repo: Path,
                                                          tmp_path: Path):
    from tests.helpers import copy_seed

    exports = tmp_path / "exports"
    for name in folders:
        copy_seed(exports / name)
    if not folders:
        copy_seed(exports)
    result = run_subprocess(typed, "--from", str(exports), cwd=repo)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == "netra-doctor: " + said.format(dir=exports)
    (repo / "netra-doctor.toml").write_text("[environments.staging]\n[environments.prod]\n")
    listed = run_subprocess("stagign", "--from", str(exports), cwd=repo)
    assert listed.stderr.strip().endswith("defines: prod, staging): did you mean `staging`?")


# --- alembic.ini as Alembic finds it -------------------------------------------------------------


def test_without_flag_or_config_alembic_ini_is_found_as_alembic_finds_it(tmp_path: Path, monkeypatch):
    from tests.test_models import SEED_CHECKOUT, checkout

    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    (root / ".git").mkdir()
    (root / "netra_backend").rename(root / "api")  # not the seed's layout: the checkout's one alembic.ini
    t = load_target("staging", start=root)
    assert (t.alembic_ini, t.origins["alembic_ini"]) == ("api/alembic.ini", "the checkout's only alembic.ini")
    here = root / "api"
    t = load_target("staging", start=here)
    assert (t.alembic_ini, t.origins["alembic_ini"]) == ("api/alembic.ini", "./alembic.ini, Alembic's default")
    monkeypatch.chdir(here)
    said = run_subprocess("staging", "--repo-only", "-v", cwd=here)
    assert said.returncode == 1, said.stderr
    assert "alembic.ini api/alembic.ini (from ./alembic.ini, Alembic's default)" in said.stderr
    assert "$ alembic -c alembic.ini revision --autogenerate" in said.stdout  # as typed from here
    from_root = run_cli("staging", "--repo-only", "--format", "json", cwd=root)
    assert json.loads(from_root.stdout)["causes"][0]["fix"][0].startswith("alembic -c api/alembic.ini revision")
    flagged = run_cli("staging", "--repo-only", "--format", "json", "--alembic-ini", str(here / "alembic.ini"),
                      cwd=root)  # an absolute path typed: the command names it as the repository does
    assert json.loads(flagged.stdout)["causes"][0]["fix"][0].startswith("alembic -c api/alembic.ini revision")
    (root / "other").mkdir()
    (root / "other" / "alembic.ini").write_text("[alembic]\nscript_location = m\n")
    t = load_target("staging", start=root)  # two: none is guessed, the source says what is missing
    assert (t.alembic_ini, t.origins["alembic_ini"]) == ("netra_backend/alembic.ini", "default")


# --- gcloud's project and region ---------------------------------------------------------------


def test_region_and_project_come_from_gcloud_as_gcloud_resolves_them(no_gcloud: Path, repo: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    assert (load_target("staging").project, load_target("staging").region) == ("netra-staging", "us-central1")
    assert load_target("staging").origins == {"project": "default", "region": "default", "alembic_ini": "default"}
    gcloud_configuration(no_gcloud, "work", "[core]\naccount = me@example.com\nproject = acme-work\n"
                                            "[run]\nregion = europe-west1\n")
    gcloud_configuration(no_gcloud, "other", "[core]\nproject = acme-other\n", active=False)
    t = load_target("staging")
    assert (t.project, t.region) == ("acme-work", "europe-west1")
    assert t.origins["region"] == "gcloud configuration 'work': run/region"
    monkeypatch.setenv("CLOUDSDK_ACTIVE_CONFIG_NAME", "other")  # gcloud's own override of active_config
    assert (load_target("staging").project, load_target("staging").region) == ("acme-other", "us-central1")
    monkeypatch.setenv("CLOUDSDK_RUN_REGION", "asia-east1")
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "acme-env")
    t = load_target("staging")
    assert (t.project, t.region, t.origins["region"]) == ("acme-env", "asia-east1", "$CLOUDSDK_RUN_REGION")
    (repo / "netra-doctor.toml").write_text('region = "us-east4"\n[environments.staging]\nproject = "acme-{env}"\n')
    t = load_target("staging")  # the config's explicit settings are per environment: they stay in force
    assert (t.project, t.region) == ("acme-staging", "us-east4")
    t = load_target("staging", overrides={"project": "flagged", "region": "me-west1"})
    assert (t.project, t.region, t.origins["project"], t.origins["region"]) == ("flagged", "me-west1", "--project",
                                                                                "--region")


def test_a_broken_gcloud_configuration_is_none_as_for_gcloud(no_gcloud: Path, repo: Path):
    gcloud_configuration(no_gcloud, "work", "this is [not ini\n")
    assert load_target("staging").region == "us-central1"


def test_region_flag_and_verbose_origins_reach_the_calls_and_the_fixes(no_gcloud: Path, repo: Path,
                                                                       tmp_path: Path, monkeypatch):
    exports = tmp_path / "exports"
    shutil.copytree(DEMO, exports, ignore=shutil.ignore_patterns("netra_backend"))
    gcloud_configuration(no_gcloud, "default", "[core]\nproject = acme-prod\n")
    with FakeGCP().add_environment(exports, project="acme-prod", region="europe-west1") as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        said = run_subprocess("staging", "--region", "europe-west1", "-v", "--only", "job-command",
                              "--only", "job-execution", cwd=repo)
    assert fake.called("GetJob")[0].request["name"] == (
        "projects/acme-prod/locations/europe-west1/jobs/netra-migrations-staging")
    assert ("netra-doctor: staging: project acme-prod (from gcloud configuration 'default': core/project), "
            "region europe-west1 (from --region)") in said.stderr


# --- a first live run without credentials or permissions ------------------------------------------


def _first_run(repo: Path, env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in (*GCLOUD_ENV, ENDPOINT_ENV)
             and not k.startswith("GOOGLE_")}
    return subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging"], capture_output=True, text=True,
                          cwd=repo, env={**clean, "COLUMNS": "80", **env}, timeout=60)


def test_no_credentials_is_one_headline_with_the_command_to_run(repo: Path, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    said = _first_run(repo, {"HOME": str(home), "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "True"})
    assert said.returncode == 3
    lines = said.stdout.splitlines()
    assert lines[2].startswith("no usable Google credentials")
    assert "  $ gcloud auth application-default login" in lines[3:8]
    assert said.stdout.count("application-default login") <= 2  # the headline, and the sources table once
    # one row per check (the other-workloads checks added four) and the sources once: was 115 lines
    assert len(lines) < 80, said.stdout


@pytest.mark.parametrize("fault", ["deny", "refuse"])
def test_no_permission_or_refused_credentials_on_every_call_is_one_headline(fault: str, repo: Path, tmp_path: Path,
                                                                            no_gcloud: Path):
    exports = tmp_path / "exports"
    shutil.copytree(DEMO, exports, ignore=shutil.ignore_patterns("netra_backend"))
    with FakeGCP(**{fault: set(_PERMISSION)}).add_environment(exports) as fake:
        said = _first_run(repo, {ENDPOINT_ENV: fake.endpoint, "CLOUDSDK_CONFIG": str(no_gcloud)})
        quiet = subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "-q"], capture_output=True,
                               text=True, cwd=repo, env={**os.environ, ENDPOINT_ENV: fake.endpoint}, timeout=60)
    assert said.returncode == 3
    head = said.stdout.split("\n\nNo cause found")[0]
    if fault == "deny":
        assert head.splitlines()[2].startswith("permission denied on the Google API calls")
        assert "$ gcloud projects add-iam-policy-binding netra-staging --member=MEMBER \\" in head
        assert "--role=roles/run.viewer" in head and "--role=roles/logging.viewer" in head
        assert quiet.stdout.splitlines()[1].startswith("  why: permission denied on the Google API calls")
    else:
        assert "$ gcloud auth application-default login" in head
        assert quiet.stdout.splitlines()[1:] == ["  why: no usable Google credentials (Application Default "
                                                 "Credentials): run `gcloud auth application-default login`"]
    table = " ".join(said.stdout.split("\n\ncheck ")[1].split())  # as read, whatever the wrapping
    assert "(cloudrun source " in table and "see below" in table
    assert table.count("roles/run.viewer") + table.count("application-default login") <= 2  # once, in sources


def test_quiet_incomplete_run_gives_its_reason_in_one_line(repo: Path):
    said = run_cli("staging", "--from", str(SEED), "-q")  # no alembic.ini in this checkout
    assert said.exit_code == 3
    lines = said.stdout.splitlines()
    assert lines[0] == "netra-doctor: staging: INCOMPLETE"
    assert lines[1].startswith("  why: source migrations: no alembic.ini")


# --- SARIF: a physical location on every result; an incomplete run is marked ------------------------


def _sarif(*args: str, cwd: Path) -> tuple[dict, int]:
    from tests.test_sarif import validate

    said = run_cli(*args, "--format", "sarif", cwd=cwd)
    return validate(said.stdout), said.exit_code


def _places(doc: dict) -> list[tuple[str, int | None]]:
    found = [r["locations"][0]["physicalLocation"] for r in doc["runs"][0]["results"]]
    return [(p["artifactLocation"]["uri"], p.get("region", {}).get("startLine")) for p in found]


def test_sarif_results_of_cloud_facts_point_at_the_export_inside_the_repository_or_the_config(tmp_path: Path,
                                                                                               monkeypatch):
    from tests.helpers import copy_seed, edit_yaml, job_container

    root = tmp_path / "repo"
    exports = copy_seed(root / "exports")
    edit_yaml(exports / "job.yaml", lambda doc: job_container(doc).update(command=["python"]))
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    doc, code = _sarif("staging", "--from", "exports", "--only", "job-command", cwd=root)
    assert code == 1 and doc["runs"][0]["results"]
    name_line = next(i for i, row in enumerate((exports / "job.yaml").read_text().splitlines(), 1)
                     if row.strip().startswith("name:"))
    assert set(_places(doc)) == {("exports/job.yaml", name_line)}
    assert doc["runs"][0]["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "staging/job"
    # exports kept outside the repository: the config file of the repository carries the result
    outside = copy_seed(tmp_path / "elsewhere")
    edit_yaml(outside / "job.yaml", lambda doc: job_container(doc).update(command=["python"]))
    (root / "netra-doctor.toml").write_text('timeout = 10\n')
    doc, _ = _sarif("staging", "--from", str(outside), "--only", "job-command", cwd=root)
    assert set(_places(doc)) == {("netra-doctor.toml", None)}


def test_sarif_demo_results_all_have_a_file_and_rules_have_help_without_placeholders(demo_run):
    import re

    from netra_doctor.core.causes import CAUSES
    from netra_doctor.output.sarif import _rule, render_sarif

    from tests.test_sarif import validate

    doc = validate(render_sarif([demo_run]))
    results = doc["runs"][0]["results"]
    assert results and all("physicalLocation" in r["locations"][0] for r in results)
    assert {uri for uri, _ in _places(doc)} == {"netra_backend/app/db/models_postgres.py"}  # the model's line
    for cause_id in CAUSES:
        rule = _rule(cause_id)
        assert not re.search(r"\{[a-z_]+\}", rule["help"]["text"] + rule["fullDescription"]["text"]), cause_id
        assert rule["helpUri"].startswith("https://")
    (rule,) = doc["runs"][0]["tool"]["driver"]["rules"]
    assert "gcloud run jobs execute netra-migrations-staging --region us-central1" in rule["help"]["text"]


def test_an_incomplete_sarif_run_is_marked_so_it_is_not_uploaded(repo: Path):
    doc, code = _sarif("staging", "--from", str(SEED), cwd=repo)  # no alembic.ini: incomplete
    assert code == 3
    (run,) = doc["runs"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["properties"] == {"status": "incomplete", "complete": False}
    assert any("do not upload" in n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"])


# --- JUnit: warnings visible, checks with nothing to examine on one line -----------------------------


def test_junit_warning_is_in_its_test_case_and_repo_only_idle_checks_are_one_case(tmp_path: Path, demo_run):
    from junitparser import JUnitXml, Skipped
    from netra_doctor.output.junit import render_junit

    from tests.test_models import SEED_CHECKOUT, checkout
    from tests.test_report import junit_valid

    text = render_junit([demo_run])
    junit_valid(text)
    path = tmp_path / "demo.xml"
    path.write_text(text)
    (suite,) = JUnitXml.fromfile(str(path))
    cases = {c.name: c for c in suite}
    assert cases["startup-errors"].is_passed
    assert cases["startup-errors"].system_out.startswith("warning (passes under --fail-on error): the service's "
                                                         "start-up says tables are missing")
    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    said = run_cli("staging", "--repo-only", "--format", "junit", cwd=root)
    junit_valid(said.stdout)
    (tmp_path / "gate.xml").write_text(said.stdout)
    (suite,) = JUnitXml.fromfile(str(tmp_path / "gate.xml"))
    skipped = [c for c in suite if c.result and isinstance(c.result[0], Skipped)]
    assert [c.name for c in skipped] == ["not-examined"]
    assert skipped[0].result[0].message.startswith("17 checks had nothing to examine in this run: cloudsql-connector")
    assert (suite.tests, suite.skipped) == (3, 1)


def test_repo_only_fixes_say_their_cloud_command_comes_after_the_deploy(tmp_path: Path):
    from tests.test_models import SEED_CHECKOUT, checkout

    root = checkout(tmp_path / "repo", SEED_CHECKOUT)
    (root / ".git").mkdir()  # a checkout: no config above it is its config
    report = json.loads(run_cli("staging", "--repo-only", "--format", "json", cwd=root).stdout)
    assert report["causes"], (report["status"], report["checks"], report["sources"])
    items = report["causes"][0]["fix_items"]
    kinds = [(i["type"], i["text"].split()[0]) for i in items]
    cloud = next(n for n, (kind, word) in enumerate(kinds) if word == "gcloud")
    assert items[cloud - 1] == {"type": "step", "text": "then, outside this no-cloud gate, once the new image "
                                                        "is deployed:"}
    assert kinds[0] == ("command", "alembic")


# --- messages ---------------------------------------------------------------------------------------


def test_replay_of_a_json_report_says_what_it_is_once(repo: Path):
    report = run_cli("staging", "--from", str(SEED), "--only", "job-command", "--format", "json")
    (repo / "report.json").write_text(report.stdout)
    said = run_subprocess("replay", "report.json", cwd=repo)
    assert said.returncode == 2
    assert said.stderr.strip() == ("netra-doctor: report.json: a JSON report (--format json), not a snapshot: "
                                   "replay reads what --save FILE writes")
    (repo / "other.json").write_text('{"format": 7}')
    said = run_subprocess("replay", "other.json", cwd=repo)
    assert said.stderr.count("not a netra-doctor snapshot") == 1


def test_a_source_not_asked_after_a_timeout_does_not_claim_it_waited():
    from netra_doctor.sources.live_api import EndpointDown, failure

    said = str(failure(EndpointDown("run.googleapis.com:443 did not answer within 10s"), "run", "read logs",
                       "p", 10.0))
    assert said == "could not read logs: not asked, as run.googleapis.com:443 did not answer within 10s earlier in " \
                   "this run"


def test_at_60_columns_the_check_table_fits(demo_run):
    from netra_doctor.output.report import Look, render_table

    text = render_table(demo_run, look=Look(width=60))
    table = text.split("(-v says why)")[1]
    assert "models  fail" in table and "(netra_backend/app/db/models_postgres.py:89)" in table
    assert max(len(line) for line in table.splitlines()) <= 60, table
    wide = render_table(demo_run, look=Look(width=120))
    assert "--------------  --------" in wide  # a table still, where it fits


def test_the_pre_deploy_demo_does_not_speak_of_a_from_folder():
    from netra_doctor.demo.run import run_demo

    d = run_demo(pre_deploy=True)
    logs = next(s for s in d.sources if s.name == "logs")
    assert logs.error.startswith("no logs.json in the demo's exports (before the deploy")
    assert not any("--from" in (s.error or "") for s in d.sources)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_save_confirms_on_a_terminal_and_stays_quiet_in_a_pipeline(repo: Path):
    from tests.test_cli import _run_on_terminals

    code, _out, err = _run_on_terminals(["staging", "--from", str(SEED), "--only", "job-command", "--save", "s.json"],
                                       repo)
    assert code == 0 and (repo / "s.json").is_file()
    assert "netra-doctor: saved the snapshot to s.json (secrets as fingerprints only; `netra-doctor replay " \
           "s.json` diagnoses it again)" in err.replace("\r\n", "\n")
    piped = run_subprocess("staging", "--from", str(SEED), "--only", "job-command", "--save", "t.json", cwd=repo)
    assert piped.returncode == 0 and "saved" not in piped.stderr


# --- the database route: a cloud-sql-proxy the doctor starts ------------------------------------------

STAND_IN = '''#!{python}
"""Stands in for cloud-sql-proxy: takes its arguments, records them, forwards TCP to the test PostgreSQL."""
import json, os, socket, sys, threading
args = sys.argv[1:]
with open(os.environ["STANDIN_RECORD"], "a") as f:
    f.write(json.dumps({{"argv": args, "pid": os.getpid()}}) + "\\n")
host, port = os.environ["STANDIN_UPSTREAM"].rsplit(":", 1)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((args[args.index("--address") + 1], int(args[args.index("--port") + 1])))
server.listen()

def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

while True:
    client, _ = server.accept()
    upstream = socket.create_connection((host, int(port)))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
'''


def test_without_proxy_or_dsn_the_doctor_starts_cloud_sql_proxy_and_stops_it(pg, seed: Path, repo: Path,
                                                                             tmp_path: Path):
    from tests.helpers import INSTANCE, write_db_secrets

    app = pg.role("app", "Zq8-proxy-planted-PW-31cd")
    write_db_secrets(seed, pg.name, app, "Zq8-proxy-planted-PW-31cd")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "cloud-sql-proxy"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    record = tmp_path / "record.jsonl"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_RECORD": str(record),
           "STANDIN_UPSTREAM": f"127.0.0.1:{pg.server.port}"}
    said = run_subprocess("staging", "--from", str(seed), "--only", "database-connect", "--format", "json", "-v",
                          "--private-ip", "--iam-authn", cwd=repo, env=env)
    report = json.loads(said.stdout)
    assert next(s for s in report["sources"] if s["name"] == "database")["status"] == "ok", report["sources"]
    assert next(c for c in report["checks"] if c["id"] == "database-connect")["status"] == "pass"
    assert "cloud-sql-proxy started by the doctor on 127.0.0.1:" in said.stdout  # the report says how it got there
    (started,) = [json.loads(line) for line in record.read_text().splitlines()]  # one per instance, job and service
    argv = started["argv"]
    assert argv[-1] == INSTANCE and argv[:2] == ["--address", "127.0.0.1"]
    assert "--private-ip" in argv and "--auto-iam-authn" in argv
    with pytest.raises(ProcessLookupError):
        os.kill(started["pid"], 0)  # stopped when the run ended
    assert "Zq8-proxy-planted-PW-31cd" not in said.stdout + said.stderr


def test_without_the_binary_the_skip_says_how_to_install_it(seed: Path, repo: Path, tmp_path: Path):
    from tests.helpers import write_db_secrets

    write_db_secrets(seed, "db", "app", "pw-not-used")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    said = run_subprocess("staging", "--from", str(seed), "--only", "database-connect", "--format", "json",
                          cwd=repo, env={"PATH": str(empty)})
    source = next(s for s in json.loads(said.stdout)["sources"] if s["name"] == "database")
    assert source["status"] == "skipped"
    assert "install the Cloud SQL Auth Proxy (`gcloud components install cloud-sql-proxy`" in source["error"]


def test_ctrl_c_stops_the_proxy_the_doctor_started(seed: Path, repo: Path, tmp_path: Path):
    import signal
    import socket
    import time

    from tests.helpers import write_db_secrets

    write_db_secrets(seed, "db", "app", "pw-not-used")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cloud-sql-proxy").write_text(STAND_IN.format(python=sys.executable))
    (bin_dir / "cloud-sql-proxy").chmod(0o755)
    record = tmp_path / "record.jsonl"
    with socket.socket() as silent:  # a database that takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_RECORD": str(record),
               "STANDIN_UPSTREAM": f"127.0.0.1:{silent.getsockname()[1]}"}
        proc = subprocess.Popen([sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(seed), "--only",
                                 "database-connect"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        until = time.monotonic() + 30
        while not (record.exists() and record.read_text()) and time.monotonic() < until:
            time.sleep(0.05)
        pid = json.loads(record.read_text().splitlines()[0])["pid"]
        time.sleep(0.3)  # the doctor is now waiting on the database through the proxy
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    for _ in range(40):  # killed by the interruption's clean-up (a moment for the kernel to reap it)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the proxy outlived the interrupted run")
