"""Reports: table, JSON and Markdown each show the causes ranked, with their evidence and fix.

The folder is the seed with two faults a user could meet together: the job's
`--command python --args "-c,cd /app && ..."` (an error) and its password pinned to an
old version (a warning). The error must rank first in every format.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.exports import Exports, checkout
from tests.helpers import PLANTED_PASSWORDS, run_cli

SEED_SCRIPT = "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"
FIX = ("gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
       f"--command=sh --args='-c,{SEED_SCRIPT}'")
DRIFT_FIX = ("gcloud run jobs update netra-migrations-staging --region us-central1 --project netra-staging "
             "--update-secrets=POSTGRES_PASSWORD=postgres-password-staging:latest")
ONLY = ("--only", "job-command", "--only", "secret-parity", "--only", "cloudsql-connector")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    e = Exports(tmp_path / "exports")
    e.set_command(["python"], ["-c", SEED_SCRIPT])
    e.set_secret("job", "POSTGRES_PASSWORD", "postgres-password-staging", "1")
    return e.folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return checkout(tmp_path / "app", "netra_backend/alembic.ini")


def render(folder: Path, cwd: Path, fmt: str, *extra: str) -> tuple[str, int]:
    result = run_cli("staging", "--from", str(folder), "--format", fmt, *ONLY, *extra, cwd=cwd)
    for secret in PLANTED_PASSWORDS:
        assert secret not in result.output
    return result.stdout, result.exit_code


def test_json_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "json")
    report = json.loads(text)
    assert code == 1 and report["status"] == "unhealthy"
    assert [(c["rank"], c["id"], c["severity"]) for c in report["causes"]] == [
        (1, "job-command-invalid", "error"), (2, "secret-version-drift", "warn")]
    first, second = report["causes"]
    assert first["confidence"] > 0 and first["title"] == "The migration job's command cannot run as written"
    assert any("SyntaxError: invalid syntax" in e for e in first["evidence"])
    assert first["fix"] == [FIX]
    assert any("postgres-password-staging@latest, the job @1" in e for e in second["evidence"])
    assert second["fix"] == [DRIFT_FIX]
    assert {"job-service-different-database", "secret-unresolvable"} <= {r["id"] for r in report["ruled_out"]}
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "job-command": "fail", "secret-parity": "warn", "cloudsql-connector": "pass"}
    assert [s["name"] for s in report["sources"]] == ["cloudrun", "secrets", "repo"]


def test_table_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "table")
    assert code == 1
    lines = text.splitlines()
    assert lines[0] == "netra-doctor: staging: UNHEALTHY (2 causes)"
    ranking = [line.split()[:2] for line in lines if line.startswith("#")]
    assert ranking == [["#1", "job-command-invalid:"], ["#2", "secret-version-drift:"]]
    assert "(error, confidence" in lines[lines.index(next(x for x in lines if x.startswith("#1")))]
    first = text.index("#1 job-command-invalid: The migration job's command cannot run as written")
    second = text.index("#2 secret-version-drift:")
    block = text[first:second]
    assert "  evidence:" in block and "SyntaxError: invalid syntax" in block
    assert f"  fix:\n    $ {FIX}" in block
    assert f"$ {DRIFT_FIX}" in text[second:]
    assert "job-service-different-database" in next(x for x in lines if x.startswith("ruled out "))
    assert lines[-1].startswith("netra-doctor: staging: UNHEALTHY: 2 causes, ")


def test_markdown_ranks_causes_with_evidence_and_fix(broken: Path, app: Path):
    text, code = render(broken, app, "markdown")
    assert code == 1
    assert text.startswith("## netra-doctor: `staging` is unhealthy")
    assert "| 1 | `job-command-invalid` | error |" in text
    assert "| 2 | `secret-version-drift` | warn |" in text
    assert text.index("### 1. `job-command-invalid`") < text.index("### 2. `secret-version-drift`")
    block = text[text.index("### 1. `job-command-invalid`"):text.index("### 2. `secret-version-drift`")]
    assert "**Evidence**" in block and "- `python -c` is given shell text" in block
    assert f"**Fix**\n\n```sh\n{FIX}\n```" in block
    assert "### Ruled out" in text and "- `job-service-different-database`" in text


def test_healthy_reports_say_so_in_every_format(app: Path, tmp_path: Path):
    healthy = Exports(tmp_path / "healthy").folder
    table, code = render(healthy, app, "table")
    assert code == 0 and "netra-doctor: staging: HEALTHY" in table and "No cause found." in table
    assert "No cause found." in render(healthy, app, "markdown")[0]
    report = json.loads(render(healthy, app, "json")[0])
    assert report["status"] == "healthy" and report["causes"] == []


def test_long_evidence_is_cut_without_v_and_whole_with_it(broken: Path, app: Path, tmp_path: Path):
    other = Exports(tmp_path / "other-db")
    other.add_secret_value("postgres-db-other", "1", "netra_other")
    other.set_secret("job", "POSTGRES_DB", "postgres-db-other")
    short, _ = render(other.folder, app, "table")
    assert "more line(s) (-v shows all)" in short
    full, _ = render(other.folder, app, "table", "-v")
    assert "(-v shows all)" not in full and "POSTGRES_PASSWORD: service secret" in full


# --- fix items typed: steps are prose ---------------------------------------------------------------


def _with_step():
    """A diagnosis whose first cause's fix mixes commands, a step and SQL, rendered directly."""
    from netra_doctor.core.causes import Sql, Step
    from netra_doctor.core.checking import CheckResult, Finding
    from netra_doctor.core.diagnosis import Cause, Diagnosis

    finding = Finding("fail", "no revision creates subscriptions", "migration-missing-for-tables",
                      ["alembic heads: add_deleted_at_001"], check="tables")
    cause = Cause("migration-missing-for-tables", 1, "error", 0.9, "Tables are created by no revision",
                  ["no revision creates subscriptions [tables]"], [],
                  ["alembic -c netra_backend/alembic.ini revision --autogenerate -m 'create subscriptions'",
                   Step("review the new revision file, commit it, rebuild and push the image"),
                   Sql("GRANT SELECT ON subscriptions TO netra_app;")], [finding])
    check = CheckResult("tables", "Tables", "fail", finding.message, [finding], 1.5)
    return Diagnosis("staging", "unhealthy", [cause], [], [check], [])


def test_steps_are_prose_and_typed_in_every_format():
    from netra_doctor.output.report import render

    d = _with_step()
    table = render([d], "table")
    assert "    $ alembic -c netra_backend/alembic.ini revision" in table
    assert "    - review the new revision file" in table and "$ review" not in table
    assert "    psql> GRANT SELECT ON subscriptions TO netra_app;" in table
    markdown = render([d], "markdown")
    fix = markdown[markdown.index("**Fix**"):]
    assert fix.split("\n\n")[1].startswith("```sh\nalembic -c") and "review" not in fix.split("\n\n")[1]
    assert "\n- review the new revision file, commit it, rebuild and push the image\n" in fix
    assert "```sql\nGRANT SELECT ON subscriptions TO netra_app;\n```" in fix
    report = json.loads(render([d], "json"))
    cause = report["causes"][0]
    assert [i["type"] for i in cause["fix_items"]] == ["command", "step", "sql"]
    assert cause["fix"] == [i["text"] for i in cause["fix_items"]]  # `fix` stays a list of strings
    assert cause["findings"][0]["check"] == "tables"


def test_json_names_its_schema_and_tool_versions(broken: Path, app: Path):
    from netra_doctor import __version__

    report = json.loads(render(broken, app, "json")[0])
    assert report["schema_version"] == "1.1" and report["tool_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated_at"])


# --- JUnit ------------------------------------------------------------------------------------------

JUNIT_XSD = Path(__file__).parent / "data" / "schemas" / "JUnit.xsd"  # source noted in tests/data/schemas/README


def junit_valid(text: str) -> None:
    """Valid Ant JUnit, with one addition that schema predates: a test case's own ``<system-out>`` (a
    warning that passes the gate), Surefire's and JUnit 5's form, read by junitparser (checked too)."""
    import xml.etree.ElementTree as ET

    import xmlschema

    assert text.lstrip().startswith("<"), text  # xmlschema would read anything else as a path
    root = ET.fromstring(text.split("?>", 1)[1] if text.startswith("<?xml") else text)
    for case in root.iter("testcase"):
        for out in case.findall("system-out"):
            assert not list(case.findall("failure")) and out.text, "system-out only on a passing case, with text"
            case.remove(out)
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(ET.tostring(root, encoding="unicode"))


@pytest.mark.parametrize("fail_on", ["error", "warn"])
def test_junit_has_a_case_per_check_and_a_failure_carries_the_cause_and_fix(broken: Path, app: Path, fail_on: str):
    import xml.etree.ElementTree as ET

    text, code = render(broken, app, "junit", "--fail-on", fail_on)
    assert code == 1
    junit_valid(text)
    [suite] = ET.fromstring(text)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"job-command", "secret-parity", "cloudsql-connector"}
    failure = cases["job-command"].find("failure")
    assert failure is not None and "SyntaxError" in failure.text
    assert "cause #1 job-command-invalid" in failure.text and f"$ {FIX}" in failure.text
    drift = cases["secret-parity"].find("failure")
    assert (drift is not None) == (fail_on == "warn")  # a warning fails the case only when it fails the run
    assert suite.get("failures") == ("2" if fail_on == "warn" else "1")
    assert list(cases["cloudsql-connector"]) == []


def test_junit_for_several_environments_and_skips_is_valid(app: Path, tmp_path: Path):
    import xml.etree.ElementTree as ET

    (app / "netra-doctor.toml").write_text(  # prod's folder holds a copy of the seed's exports: name them
        '[environments.staging]\n[environments.prod]\nproject = "p"\n'
        'service = "netra-backend-staging"\njob = "netra-migrations-staging"\n')
    both = tmp_path / "both"
    Exports(both / "prod")
    Exports(both / "staging")
    result = run_cli("staging", "prod", "--from", str(both), "--format", "junit", cwd=app)
    junit_valid(result.stdout)
    suites = ET.fromstring(result.stdout)
    assert [s.get("name") for s in suites] == ["netra-doctor.staging", "netra-doctor.prod"]
    assert any(c.find("skipped") is not None for c in suites.iter("testcase"))


# --- golden outputs of the demo ----------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"
VARIABLE = [  # what differs between runs: ports, temporary folders, times, the host (timings are zeroed)
    (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
    (r"/tmp/netra-doctor-demo-[\w-]+", "/TMP/DEMO"),
    (r'"generated_at": "[^"]+"', '"generated_at": "T"'),
    (r'timestamp="[^"]+"', 'timestamp="T"'),
    (r'hostname="[^"]+"', 'hostname="HOST"'),
    (r"fp:[0-9a-f]{12}", "fp:FINGERPRINT"),  # salted per run, by design
]


@pytest.fixture(scope="module")
def demo_diagnosis():
    """The demo's diagnosis, once per module, with every timing zeroed (they differ per run)."""
    from netra_doctor.demo.run import run_demo

    d = run_demo()
    for r in d.checks:
        r.duration_ms = 0.0
    for s in d.sources:
        s.duration_ms = 0
    return d


def _normal(text: str) -> list[str]:
    for pattern, repl in VARIABLE:
        text = re.sub(pattern, repl, text)
    return [line.rstrip() for line in text.splitlines()]


@pytest.mark.parametrize(("name", "fmt", "look"), [
    ("table", "table", {}), ("table-verbose", "table", {"verbose": True}), ("table-quiet", "table", {"quiet": True}),
    ("table-80", "table", {"width": 80}), ("table-color", "table", {"color": True, "width": 200}),
    ("json", "json", {}), ("markdown", "markdown", {}), ("junit", "junit", {}),
])
def test_the_demo_renders_as_its_golden_output(demo_diagnosis, name: str, fmt: str, look: dict):
    """Compared line by line; `UPDATE_GOLDEN=1 pytest tests/test_report.py` rewrites them (review the diff)."""
    from netra_doctor.output.report import Look, render

    text = render([demo_diagnosis], fmt, look.get("verbose", False), Look(**look))
    if fmt == "junit":
        junit_valid(text)
    path = GOLDEN / f"demo.{name}.txt"
    got = _normal(text)
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(got) + "\n", encoding="utf-8")
    want = path.read_text(encoding="utf-8").splitlines()
    for i, (g, w) in enumerate(zip(got, want, strict=False), 1):
        assert g == w, f"{path.name} line {i}"
    assert len(got) == len(want), path.name


def test_the_json_schema_ships_in_the_package_and_is_a_valid_schema():
    import importlib.resources

    import jsonschema

    schema_file = importlib.resources.files("netra_doctor.output").joinpath("report.schema.json")
    schema = json.loads(schema_file.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    old = {"environment": "staging", "status": "healthy", "causes": [], "ruled_out": [], "checks": [], "sources": []}
    jsonschema.validate(old, schema)  # a report from before schema_version still matches: additive only
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**old, "status": "fine"}, schema)
