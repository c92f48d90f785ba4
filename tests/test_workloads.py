"""Several workloads on one database (issue 20): each job is itself, other workloads are found and judged."""

from __future__ import annotations

import copy
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml
from netra_doctor.checks.workloads import other_workloads_plan
from netra_doctor.cloudrun.workloads import job_role
from netra_doctor.core.facts import (
    AlembicVersion,
    Container,
    DatabaseFacts,
    Facts,
    MigrationFacts,
    ModelFacts,
    ModelTable,
    OtherWorkload,
    RevisionFacts,
    TableInfo,
    TargetInfo,
    Workload,
)
from netra_doctor.demo import auth_drop
from netra_doctor.demo.run import _copy_tree, demo_data, migrate
from netra_doctor.sources.live_api import ENDPOINT_ENV

from tests import logs_json as L
from tests.fakegcp import FakeGCP
from tests.helpers import cause_ids, diagnose_json, ruled_out_ids, run_cli

CHECKER = "netra-check-revision-staging"


def _checker_run(doc: dict, name: str = f"{CHECKER}-zz9qq", at: str = "2025-06-14T09:00:00.000Z") -> dict:
    """An execution of the check-revision job, newer than every migration run (an export without --job)."""
    run = copy.deepcopy(doc)
    run["metadata"]["name"] = name
    run["metadata"]["labels"]["run.googleapis.com/job"] = CHECKER
    run["metadata"]["creationTimestamp"] = at
    run["status"]["startTime"] = at
    run["status"]["completionTime"] = at.replace("09:00:00", "09:00:20")
    return run


def test_a_checkers_success_never_stands_in_for_the_migrators_failure(seed, repo):
    def change(docs: list) -> list:
        L.fail_execution(docs[0])
        return [_checker_run(docs[0]), *docs]

    L.edit_executions(seed, change)
    L.write(seed, [L.job("ModuleNotFoundError: No module named 'psycopg2'", "2025-06-14T07:49:30.000000Z"),
                   {**L.job("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
                            "2025-06-14T09:00:05.000000Z", f"{CHECKER}-zz9qq"),
                    "resource": {"type": "cloud_run_job", "labels": {"job_name": CHECKER, "location": "us-central1",
                                                                     "project_id": "netra-staging"}}}])
    report, code = diagnose_json(seed, "--only", "job-execution")
    assert code == 1
    assert "job-never-succeeded" in cause_ids(report)
    assert "job-never-succeeded" not in ruled_out_ids(report)
    evidence = "\n".join(report["causes"][0]["evidence"])
    assert "netra-migrations-staging-k7x2p failed" in evidence
    assert "No module named 'psycopg2'" in evidence
    assert CHECKER not in evidence


# --- [[workloads]] in the config: bad input is one line naming the entry, exit 2 -----------------

AUTH = '[[workloads]]\nname = "netra-auth-service-{env}"\nkind = "service"\n'


@pytest.mark.parametrize("entry, needle", [
    ('[[workloads]]\nname = "x"\nkind = "daemon"\n', "workloads[0] (x): unknown kind 'daemon'"),
    (AUTH + 'role = "writer"\n', "(netra-auth-service-{env}): unknown role 'writer' for a service"),
    ('[[workloads]]\nname = "chk"\nkind = "job"\nrole = "reader"\n', "(chk): unknown role 'reader' for a job"),
    (AUTH + AUTH, "workloads[1] (netra-auth-service-{env}): workload netra-auth-service-staging is named twice"),
    (AUTH + 'tables = ["auth_[users"]\n', "tables pattern 'auth_[users' is not a valid glob"),
    (AUTH + 'models = ["auth_service/models.py"]\n', "models path 'auth_service/models.py' does not exist"),
    (AUTH + 'colour = "blue"\n', "unknown setting 'colour'"),
])
def test_bad_workload_entries_are_one_line_and_exit_2(seed, repo, entry, needle):
    (repo / "netra-doctor.toml").write_text(entry)
    result = run_cli("staging", "--from", str(seed))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.output


# --- the seed's shared database on a real PostgreSQL: the backend, the auth service, a checker -----

DEMO = Path(__file__).parent.parent / "doctor" / "demo" / "data"
INSTANCE = "netra-staging:us-central1:staging-shared-postgres"
AUTH_SERVICE = auth_drop.AUTH


@dataclass
class Shared:
    exports: Path
    repo: Path
    args: list[str]
    app: str
    password: str

    def run(self, *extra: str, live: FakeGCP | None = None) -> tuple[dict, int]:
        args = [a for a in self.args if a not in ("--from", str(self.exports))] if live else self.args
        result = run_cli(*args, *extra, cwd=self.repo)
        return json.loads(result.stdout), result.exit_code

    def both(self, monkeypatch, *extra: str) -> list[tuple[dict, int]]:
        """The same environment offline (the exports) and live (the fake serving them)."""
        out = [self.run(*extra)]
        with FakeGCP().add_environment(self.exports) as fake:
            monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
            out.append(self.run(*extra, live=fake))
            monkeypatch.delenv(ENDPOINT_ENV)
        return out


def shared(pg, tmp_path: Path, *, applied: bool, drops: bool = True) -> Shared:
    """The backend's database as the seed's shared instance holds it: the backend's revisions up to
    add_deleted_at_001, the auth service's auth_* tables with rows; ``applied``: the backend's next
    revision (which drops the auth tables unless ``drops`` is False) has been deployed."""
    password = secrets.token_hex(12)
    app = pg.role("app", password)
    pg.sql(f'ALTER DATABASE "{pg.name}" OWNER TO "{app}"')
    repo, exports = tmp_path / "repo", tmp_path / "exports"
    _copy_tree(demo_data() / "netra_backend", repo / "netra_backend")
    (repo / ".git").mkdir()
    exports.mkdir()
    for name in ("service.yaml", "job.yaml", "executions.yaml"):
        shutil.copy(DEMO / name, exports / name)
    text = (DEMO / "secrets.yaml").read_text().replace("{password}", password)
    (exports / "secrets.yaml").write_text(text.replace("netra_staging", pg.name).replace("netra_app", app))
    _copy_tree(demo_data() / "auth_drop", repo)
    auth_drop.write_exports(exports, pre_deploy=not applied)
    revision = next((repo / "netra_backend" / "migrations" / "versions").glob("auth_drop_002_*.py"))
    if not drops:  # the revision as it should have been: the billing tables only
        lines = revision.read_text().splitlines(keepends=True)
        cut = lines.index("def downgrade() -> None:\n")
        revision.write_text("".join(line for line in lines[:cut] if "drop_table('auth_" not in line) +
                            "".join(lines[cut:]))
    say = lambda line: None  # noqa: E731
    migrate(pg.server, repo, password, say, to=auth_drop.BEFORE, expect=auth_drop.BEFORE, database=pg.name, role=app)
    with psycopg.connect(pg.server.dsn(pg.name, app, password), autocommit=True) as conn:
        conn.execute((repo / "auth_tables.sql").read_text())
    if applied:
        migrate(pg.server, repo, password, say, expect=auth_drop.HEAD, database=pg.name, role=app)
    args = ["staging", "--from", str(exports), "--format", "json", "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}"]
    return Shared(exports, repo, args, app, password)


def cause_named(report: dict, cause_id: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cause_id)


def test_a_pending_drop_of_the_auth_services_tables_is_stopped_before_the_deploy(pg, tmp_path, monkeypatch):
    env = shared(pg, tmp_path, applied=False)
    for report, code in env.both(monkeypatch, "--pre-deploy"):
        assert code == 1
        assert report["causes"][0]["id"] == "pending-drop-breaks-other-workload", cause_ids(report)
        top = report["causes"][0]
        evidence = "\n".join(top["evidence"])
        assert AUTH_SERVICE in evidence
        assert "auth_drop_002_create_billing_tables.py:53: drops table auth_users" in evidence
        assert "model AuthUser (auth_service/auth_core/database/models.py:9) declares auth_users" in evidence
        assert "public.auth_users: about 500 rows" in evidence
        fix = "\n".join(top["fix"])
        assert "def include_object(obj, name, type_, reflected, compare_to): return not (type_ == 'table'" in fix
        assert env.password not in json.dumps(report)


def test_the_deployed_drop_that_broke_the_auth_service_is_named(pg, tmp_path, monkeypatch):
    env = shared(pg, tmp_path, applied=True)
    path = env.exports / "logs.json"  # the auth service echoes its DSN: the password shows nowhere
    echo = auth_drop._entry("service", AUTH_SERVICE, auth_drop.AUTH_REVISION, "connecting to postgresql://"
                            f"{env.app}:{env.password}@127.0.0.1/db", "2025-06-14T08:05:11.000000Z", "INFO")
    path.write_text(json.dumps([*json.loads(path.read_text()), echo]))
    for report, code in env.both(monkeypatch):
        assert env.password not in json.dumps(report)
        assert code == 1
        assert cause_ids(report) == ["workload-lost-tables"], report["causes"]
        top = report["causes"][0]
        evidence = "\n".join(top["evidence"])
        assert f"service {AUTH_SERVICE} lost auth_audit_logs, auth_sessions, auth_tokens, auth_users" in evidence
        assert 'relation "auth_users" does not exist' in evidence
        assert "Running upgrade add_deleted_at_001 -> auth_drop_002" in evidence  # the run that applied it
        assert "alembic -c netra_backend/alembic.ini downgrade auth_drop_002:add_deleted_at_001 --sql" in top["fix"]
        assert top["fix_items"][0]["type"] == "step" and "changes state, guarded" in top["fix"][0]
    snapshot = tmp_path / "facts.json"  # the other workloads replay like the rest of the facts
    run_cli(*env.args, "--save", str(snapshot), cwd=env.repo)
    assert env.password not in snapshot.read_text()
    replayed = json.loads(run_cli("replay", str(snapshot), "--format", "json").stdout)
    assert cause_ids(replayed) == ["workload-lost-tables"]


def _healthy_three_services(pg, tmp_path: Path) -> Shared:
    """Backend, auth service and a frontend on one database, the migration job and a check-revision job:
    the backend's revision as it should have been (no drops), deployed; everyone's logs clean."""
    env = shared(pg, tmp_path, applied=True, drops=False)
    path = env.exports / "logs.json"
    path.write_text(json.dumps([e for e in json.loads(path.read_text()) if "does not exist" not in e["textPayload"]]))
    docs = list(yaml.safe_load_all((env.exports / "services.yaml").read_text()))
    frontend = copy.deepcopy(docs[1])
    frontend["metadata"]["name"] = "netra-frontend-staging"
    elsewhere = copy.deepcopy(docs[1])  # on another database of the instance: not this environment's
    elsewhere["metadata"]["name"] = "netra-analytics-staging"
    for var in elsewhere["spec"]["template"]["spec"]["containers"][0]["env"]:
        if var["name"] == "POSTGRES_DB":
            var.pop("valueFrom")
            var["value"] = "analytics"
    (env.exports / "services.yaml").write_text(yaml.safe_dump_all([*docs, frontend, elsewhere], sort_keys=False))
    with (env.repo / "netra-doctor.toml").open("a") as f:  # its tables not created yet: said, not an error
        f.write('\n[[workloads]]\nname = "netra-frontend-{env}"\nkind = "service"\ntables = ["frontend_*"]\n')
    L.edit_executions(env.exports, lambda runs: [_checker_run(runs[0]), *runs])
    return env


def test_a_healthy_three_service_setup_with_a_checker_beside_the_migrator(pg, tmp_path, monkeypatch):
    env = _healthy_three_services(pg, tmp_path)
    for report, code in env.both(monkeypatch):
        problems = [c for c in report["checks"] if c["status"] != "pass"] + report["sources"]
        assert (code, report["status"], cause_ids(report)) == (0, "healthy", []), problems
        listed = next(r for r in report["ruled_out"] if r["id"] == "workload-not-found")["evidence"]
        text = "\n".join(listed)
        assert f"service {AUTH_SERVICE}, role reader: configured" in text
        assert "service netra-frontend-staging, role reader: configured" in text
        assert "tables 'frontend_*' matches no table in the service's database yet" in text
        assert f"job {CHECKER}, role check: found by" in text
        assert "netra-analytics-staging" not in json.dumps(report)


def test_a_checkers_newer_success_on_a_real_database_leaves_the_migrators_failure_standing(pg, tmp_path, monkeypatch):
    env = _healthy_three_services(pg, tmp_path)
    L.edit_executions(env.exports, lambda runs: L.fail_execution(runs[1]))  # the migrator's own latest run
    for report, code in env.both(monkeypatch):
        assert code == 1
        assert cause_ids(report) == ["job-never-succeeded"], report["causes"]
        evidence = "\n".join(report["causes"][0]["evidence"])
        assert "netra-migrations-staging-k7x2p failed" in evidence and CHECKER not in evidence


def test_a_second_role_without_grants_is_found_for_the_reader_that_runs_as_it(pg, tmp_path, monkeypatch):
    env = _healthy_three_services(pg, tmp_path)
    reader_password = secrets.token_hex(12)
    reader = pg.role("front", reader_password)
    path = env.exports / "services.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    for var in docs[2]["spec"]["template"]["spec"]["containers"][0]["env"]:  # the frontend's own role
        if var["name"] in ("POSTGRES_USER", "POSTGRES_PASSWORD"):
            var["valueFrom"]["secretKeyRef"]["name"] = "front-" + var["valueFrom"]["secretKeyRef"]["name"]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    with (env.exports / "secrets.yaml").open("a") as f:
        f.write(f'front-postgres-user-staging:\n  "1": {reader}\nfront-postgres-password-staging:\n'
                f'  "1": "{reader_password}"\n')
    for report, code in env.both(monkeypatch):
        assert code == 1
        assert report["causes"][0]["id"] == "tables-invisible-to-role", report["causes"]
        evidence = "\n".join(report["causes"][0]["evidence"])
        assert f"service netra-frontend-staging runs as {reader}, which cannot use" in evidence
        assert "subscriptions" in evidence and "auth_users" in evidence
        assert reader in "\n".join(report["causes"][0]["fix"])
        assert "default-privileges-missing" in cause_ids(report)
        assert reader_password not in json.dumps(report)


MIGRATION_IMAGE = "us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-migrations:8c41d2e"
JOB_ENTRY = ('\n[[workloads]]\nname = "netra-migrations-{env}"\nkind = "job"\nrole = "migrate"\n'
             'dockerfile = "docker/migration.alpine.Dockerfile"\n')


@pytest.mark.parametrize("workdir, verdict", [("/app", "right"), ("/srv", "wrong")])
def test_the_job_is_judged_against_its_own_dockerfile(pg, tmp_path, monkeypatch, workdir, verdict):
    env = _healthy_three_services(pg, tmp_path)
    # the service's image puts the checkout in /app; the job's own recipe puts it in WORKDIR
    (env.repo / "Dockerfile").write_text("FROM python:3.12-slim\nWORKDIR /app\nCOPY . /app\n")
    (env.repo / "docker").mkdir()
    (env.repo / "docker" / "migration.alpine.Dockerfile").write_text(
        f"FROM python:3.12-alpine\nWORKDIR {workdir}\nCOPY netra_backend {workdir}/netra_backend\n")
    with (env.repo / "netra-doctor.toml").open("a") as f:  # the check-revision job is built the same way
        f.write(JOB_ENTRY + JOB_ENTRY.replace("netra-migrations-{env}", CHECKER).replace("migrate", "check"))
    for name in ("job.yaml", "executions.yaml"):  # the job runs the image its own recipe builds
        path = env.exports / name
        path.write_text(path.read_text().replace("netra-containers/netra-backend:8c41d2e", MIGRATION_IMAGE.split(
            "/", 3)[3]))
    for report, code in env.both(monkeypatch):
        assert "job-image-differs" not in cause_ids(report)
        if verdict == "right":
            assert (code, cause_ids(report)) == (0, []), report["causes"]
            checks = {c["id"]: c["message"] for c in report["checks"]}
            assert "own recipe, docker/migration.alpine.Dockerfile" in checks["job-image"]
        else:
            assert code == 1 and cause_ids(report)[0] == "job-command-invalid", report["causes"]
            assert "docker/migration.alpine.Dockerfile" in "\n".join(report["causes"][0]["evidence"])
            checker = next(c for c in report["checks"] if c["id"] == "other-workloads")
            assert checker["status"] == "warn" and CHECKER in checker["message"], checker


def test_a_configured_workload_the_project_lacks_is_workload_not_found(seed, repo):
    shutil.copy(seed / "service.yaml", seed / "services.yaml")  # the project lists the backend alone
    (repo / "netra-doctor.toml").write_text(AUTH)
    report, code = diagnose_json(seed, "--only", "other-workloads")
    assert code == 1
    assert cause_ids(report) == ["workload-not-found"]
    assert "netra-auth-service-staging ([[workloads]]) does not exist" in report["causes"][0]["evidence"][0]
    assert "gcloud run services list --project netra-staging --region us-central1" in report["causes"][0]["fix"][0]


def test_discovery_that_cannot_list_the_project_says_so_and_a_zero_config_run_keeps_its_verdict(
        seed, repo, monkeypatch):
    with FakeGCP(deny={"ListServices"}).add_environment(seed) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        result = run_cli("staging", "--format", "json", "--only", "other-workloads", "--only", "job-execution")
    report = json.loads(result.stdout)
    found = next(c for c in report["checks"] if c["id"] == "other-workloads")
    assert found["status"] == "skip" and "could not all be listed" in found["message"]
    assert "run.services.list" in found["message"] or "roles/run.viewer" in found["message"]
    assert result.exit_code == 0 and report["status"] == "healthy"


# --- pure: what a pending revision does to another workload's columns; what a job is -----------

def _plan_facts(rev: RevisionFacts) -> Facts:
    db = DatabaseFacts("service", reached=True, current_database="netra_staging", search_path=["public"],
                       tables=[TableInfo("public", "auth_users")], alembic_versions=[AlembicVersion("public", ["a1"])])
    model = ModelTable("auth_users", "auth/models.py", 9, "AuthUser", columns=["id", "email"], column_lines=[10, 11])
    auth = OtherWorkload(AUTH_SERVICE, "service", "reader", "config", configured=True, exists=True,
                         workload=Workload("service", AUTH_SERVICE), models=ModelFacts(tables=[model]))
    return Facts(TargetInfo("staging", "netra-staging", "us-central1", "s", "j", "alembic.ini", pre_deploy=True),
                 databases={"service": db}, workloads=[auth],
                 migrations=MigrationFacts("alembic.ini", heads=[rev.revision],
                                           revisions=[RevisionFacts("a1"), rev]))


@pytest.mark.parametrize("rev, what", [
    (RevisionFacts("b2", ["a1"], drops_columns=[["auth_users", "email"]]), "drops column auth_users.email"),
    (RevisionFacts("b2", ["a1"], column_ops=[["rename", "auth_users", "email", "mail"]]),
     "renames column auth_users.email to mail"),
    (RevisionFacts("b2", ["a1"], ops=[["rename", "auth_users", "users"]], op_lines=[14]),
     "renames table auth_users to users"),
])
def test_a_pending_column_drop_or_rename_of_another_workloads_model_is_caught(rev, what):
    found = other_workloads_plan(_plan_facts(rev))
    assert [f.cause for f in found] == ["pending-drop-breaks-other-workload"]
    assert what in found[0].message and AUTH_SERVICE in found[0].message
    assert "model AuthUser (auth/models.py:9)" in "\n".join(found[0].evidence)


def test_a_column_of_a_table_the_workload_does_not_declare_is_left_alone():
    rev = RevisionFacts("b2", ["a1"], drops_columns=[["auth_users", "legacy_flag"]])
    assert [f.status for f in other_workloads_plan(_plan_facts(rev))] == ["pass"]


@pytest.mark.parametrize("command, args, role", [
    (["sh"], ["-c", "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"], "migrate"),
    (["alembic"], ["current"], "check"),
    (["sh"], ["-c", "alembic -c a.ini check && alembic heads"], "check"),
    (["python"], ["manage.py", "send_reminders"], "other"),
])
def test_a_job_is_a_migrator_a_checker_or_other_by_its_command(command, args, role):
    assert job_role(Workload("job", "j", containers=[Container(command=command, args=args)])) == role
