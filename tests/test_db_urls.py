"""Several database variables: per-workload URL names, a job's direct URL beside a service's pooled one,
and every URL spelling Python and Elixir apps use. Fixtures are minimal edits of the seed's exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netra_doctor.cloudrun.poolers import endpoint, place
from netra_doctor.cloudrun.targets import DsnError, parse_dsn
from netra_doctor.core.config import ConfigError, load_target
from netra_doctor.core.facts import DbTarget

from tests.exports import FORMATS, Exports
from tests.helpers import cause_ids, run_cli

DB_ENV = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD")
PW = "Ur7-pooled-PW-0b3c"
POOLED = f"postgresql://app.qwertyuiopasdfgh:{PW}@aws-0-eu-west-2.pooler.supabase.com:6543/postgres"
DIRECT = f"postgresql+psycopg://app:{PW}@db.qwertyuiopasdfgh.supabase.co:5432/postgres"
OTHER_PROJECT = f"postgresql://app:{PW}@db.zzzzzzzzzzzzzzzz.supabase.co:5432/postgres"


@pytest.fixture(params=FORMATS)
def exports(request, tmp_path: Path) -> Exports:
    ex = Exports(tmp_path / "exports", request.param)
    for kind in ("service", "job"):
        for name in DB_ENV:
            ex.drop_env(kind, name)
    return ex


def run(exports: Exports, cwd: Path, config: str = "") -> tuple[dict, int]:
    (cwd / "netra-doctor.toml").write_text(config)
    result = run_cli("staging", "--from", str(exports.folder), "--format", "json", "--only", "secret-parity",
                     "--only", "cloudsql-connector", cwd=cwd)
    assert PW not in result.output
    return json.loads(result.stdout), result.exit_code


def ruled(report: dict, cause: str) -> list[str]:
    return next(r["evidence"] for r in report["ruled_out"] if r["id"] == cause)


def pooled_pair(exports: Exports, service_name: str, job_name: str, job_url: str = DIRECT) -> None:
    exports.set_secret("service", service_name, "app-pooled-url")
    exports.set_secret("job", job_name, "app-direct-url")
    exports.add_secret_value("app-pooled-url", "1", POOLED)
    exports.add_secret_value("app-direct-url", "1", job_url)


# --- per-workload variables and poolers ------------------------------------------------------


def test_per_workload_url_variables_through_a_pooler_are_one_database(exports: Exports, repo: Path):
    pooled_pair(exports, "APP_DATABASE_URL", "APP_DIRECT_DATABASE_URL")
    report, code = run(exports, repo, '[db_env.service]\nurl = "APP_DATABASE_URL"\n'
                                      '[db_env.job]\nurl = "APP_DIRECT_DATABASE_URL"\n')
    assert code == 0 and not cause_ids(report), report["causes"]
    lines = ruled(report, "job-service-different-database")
    assert lines[0].startswith("the job and the service reach the same database "
                               "db.qwertyuiopasdfgh.supabase.co:5432/postgres as app, the service through")
    assert any("Supabase pooler aws-0-eu-west-2.pooler.supabase.com:6543 (transaction mode)" in e for e in lines)


def test_a_list_of_url_variables_is_tried_in_order(exports: Exports, repo: Path):
    pooled_pair(exports, "POOLED_URL", "DIRECT_URL")
    report, code = run(exports, repo, 'db_env.url = ["POOLED_URL", "DIRECT_URL"]\n')
    assert code == 0 and not cause_ids(report), report["causes"]


def test_the_one_url_variable_a_job_sets_is_found_without_config(exports: Exports, repo: Path):
    """The service reads the configured DATABASE_URL; the job only Prisma's DIRECT_URL."""
    pooled_pair(exports, "DATABASE_URL", "DIRECT_URL")
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report), report["causes"]
    assert any("DIRECT_URL: service not set | job secret app-direct-url@latest" in e
               for e in ruled(report, "job-service-different-database"))


def test_a_pooler_of_another_project_is_another_database(exports: Exports, repo: Path):
    pooled_pair(exports, "DATABASE_URL", "DIRECT_URL", OTHER_PROJECT)
    report, code = run(exports, repo)
    assert code == 1 and cause_ids(report) == ["job-service-different-database"]


def test_a_job_that_sets_no_database_variable_is_unknown_not_different(exports: Exports, repo: Path):
    exports.set_secret("service", "DATABASE_URL", "app-pooled-url")
    exports.add_secret_value("app-pooled-url", "1", POOLED)
    report, code = run(exports, repo)
    assert code == 3  # incomplete: which database the job reaches is unknown
    assert "job-service-different-database" not in cause_ids(report)
    check = next(c for c in report["checks"] if c["id"] == "secret-parity")
    assert check["status"] == "skip" and "[db_env.job]" in check["message"]


def test_poolers_map_to_their_direct_endpoint():
    neon = DbTarget("service", host="ep-cool-fog-123456-pooler.us-east-2.aws.neon.tech", database="app", user="u")
    direct = DbTarget("job", host="ep-cool-fog-123456.us-east-2.aws.neon.tech", port=5432, database="app", user="u")
    assert place(neon) == place(direct) and endpoint(neon).pooler.startswith("Neon pooled endpoint")
    dedicated = DbTarget("service", host="db.abcd.supabase.co", port=6543, database="postgres", user="postgres")
    assert endpoint(dedicated).port == 5432 and "dedicated pooler" in endpoint(dedicated).pooler
    plain = DbTarget("job", host="10.0.0.5", database="app", user="u")
    assert endpoint(plain).pooler == "" and place(plain) == ("10.0.0.5", 5432, "app")


# --- URL spellings ----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "host", "port", "database", "user"), [
    ("postgres://u:p@db.internal:5433/app", "db.internal", 5433, "app", "u"),
    ("postgresql+asyncpg://u:p@10.1.2.3/app", "10.1.2.3", None, "app", "u"),
    ("postgresql+psycopg2://u:p@/app?host=/cloudsql/p:r:i", "/cloudsql/p:r:i", None, "app", "u"),
    ("ecto://u:p@db.internal/app_prod", "db.internal", None, "app_prod", "u"),
    ("ecto://u:p@localhost/app?socket_dir=/cloudsql/p:r:i", "/cloudsql/p:r:i", None, "app", "u"),
    ("ecto://u:p@localhost/app?socket=/cloudsql/p:r:i/.s.PGSQL.5432", "/cloudsql/p:r:i", 5432, "app", "u"),
    ("POSTGRES://u:p@h/app", "h", None, "app", "u"),
])
def test_url_forms_python_and_elixir_apps_use(url: str, host: str, port, database: str, user: str):
    fields = parse_dsn(url)
    assert (fields["host"], fields["port"], fields["database"], fields["user"]) == (host, port, database, user)


def test_other_schemes_are_not_database_urls():
    with pytest.raises(DsnError, match="not a PostgreSQL URL"):
        parse_dsn("mysql://u:p@h/app")


def test_an_elixir_apps_cloudsql_socket_url_is_its_instance(exports: Exports, repo: Path):
    for kind in ("service", "job"):
        exports.set_secret(kind, "DATABASE_URL", "ecto-url")
    exports.add_secret_value("ecto-url", "1", f"ecto://app:{PW}@localhost/app?socket_dir=/cloudsql/"
                                              "netra-staging:us-central1:staging-shared-postgres")
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report), report["causes"]
    assert "cloudsql-connector-missing" in [r["id"] for r in report["ruled_out"]]


# --- config ----------------------------------------------------------------------------


def test_db_env_takes_lists_and_per_workload_tables(tmp_path: Path):
    (tmp_path / "netra-doctor.toml").write_text(
        'db_env.url = ["DATABASE_URL", "DB_URL"]\n[db_env.job]\nurl = "DIRECT_URL"\nuser = "MIGRATOR_USER"\n')
    target = load_target("staging", start=tmp_path)
    assert target.db_env["url"] == "DATABASE_URL"
    assert target.db_envs["service"]["url"] == ["DATABASE_URL", "DB_URL"]
    assert target.db_envs["job"]["url"] == ["DIRECT_URL"] and target.db_envs["job"]["user"] == ["MIGRATOR_USER"]
    assert target.db_envs["job"]["host"] == ["POSTGRES_HOST"]


@pytest.mark.parametrize("text", ['db_env.url = []\n', 'db_env.url = [1]\n', '[db_env.job]\nhost_name = "X"\n',
                                  'db_env.job = "X"\n'])
def test_bad_db_env_is_one_clear_error(tmp_path: Path, text: str):
    (tmp_path / "netra-doctor.toml").write_text(text)
    with pytest.raises(ConfigError, match="db_env"):
        load_target("staging", start=tmp_path)
