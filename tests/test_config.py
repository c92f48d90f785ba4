"""Config: zero-config defaults, netra-doctor.toml / [tool.netra-doctor] overrides, silences,
and every bad value as one clear ConfigError (the CLI turns it into one line and exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from netra_doctor.core.config import DEFAULT_DB_ENV, ConfigError, load_target, parse_proxy
from netra_doctor.core.diagnosis import Silence

INSTANCE = "netra-staging:us-central1:staging-shared-postgres"


def write(folder: Path, text: str, name: str = "netra-doctor.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_zero_config_follows_the_seeds_names(repo: Path):
    t = load_target("staging", start=repo)
    assert (t.project, t.region, t.service, t.job, t.alembic_ini) == (
        "netra-staging", "us-central1", "netra-backend-staging", "netra-migrations-staging",
        "netra_backend/alembic.ini")
    assert t.db_env == DEFAULT_DB_ENV and t.silence == [] and t.config_file is None
    assert t.root == repo.resolve()


def test_global_then_environment_then_command_line(repo: Path):
    write(repo, """
project = "acme-{env}"
region = "europe-west1"
expected_tables = ["users"]
[environments.staging]
service = "api-{env}"
proxies = { "acme-staging:europe-west1:pg" = "127.0.0.1:6543" }
[environments.prod]
project = "acme-production"
""")
    t = load_target("staging", start=repo, overrides={"project": "override", "region": None})
    assert (t.project, t.region, t.service, t.job) == ("override", "europe-west1", "api-staging",
                                                       "netra-migrations-staging")
    assert t.expected_tables == ["users"]
    assert t.proxies == {"acme-staging:europe-west1:pg": "127.0.0.1:6543"}
    assert load_target("prod", start=repo).project == "acme-production"


def test_pyproject_table_found_from_a_subfolder(repo: Path):
    write(repo, '[project]\nname = "app"\n[tool.netra-doctor]\nregion = "asia-east1"\n', "pyproject.toml")
    sub = repo / "netra_backend" / "app"
    sub.mkdir(parents=True)
    t = load_target("staging", start=sub)
    assert t.region == "asia-east1" and t.root == repo.resolve()


def test_pyproject_without_the_table_is_passed_over(tmp_path: Path):
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    write(outer, 'region = "southamerica-east1"\n')
    write(inner, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_target("staging", start=inner).region == "southamerica-east1"


def test_db_env_overrides_single_roles(repo: Path):
    write(repo, '[db_env]\npassword = "DB_PASS"\n[environments.staging.db_env]\nurl = "PG_URL"\n')
    t = load_target("staging", start=repo)
    assert t.db_env == {**DEFAULT_DB_ENV, "password": "DB_PASS", "url": "PG_URL"}


def test_silence_entries(repo: Path):
    write(repo, """
[[silence]]
id = "job-image-differs"
reason = "the job pins a digest on purpose"
[[silence]]
id = "secret-version-drift"
object = "JWT_SECRET"
reason = "rotated separately"
[environments.staging]
[[environments.staging.silence]]
id = "service-revision"
reason = "staging redeploys nightly"
""")
    t = load_target("staging", start=repo)
    assert t.silence == [
        Silence("job-image-differs", "the job pins a digest on purpose"),
        Silence("secret-version-drift", "rotated separately", "JWT_SECRET"),
        Silence("service-revision", "staging redeploys nightly"),
    ]


@pytest.mark.parametrize(("text", "needle"), [
    ('[environments.prod]\nproject = "p"\n', "unknown environment 'staging'"),
    ("project = \n", "not valid TOML"),
    ('projekt = "x"\n', "unknown setting 'projekt'"),
    ('project = ""\n', "project must be a non-empty string"),
    ("project = 7\n", "project must be a non-empty string"),
    ('project = "acme-{region}"\n', "only {env} may be substituted"),
    ('project = "acme-{"\n', "only {env} may be substituted"),
    ('expected_tables = "users"\n', "expected_tables must be a list"),
    ("timeout = 0\n", "timeout must be a number"),
    ('timeout = "10"\n', "timeout must be a number"),
    ("timeout = true\n", "timeout must be a number"),
    ('proxies = { "not-an-instance" = "127.0.0.1:5432" }\n', "is not a Cloud SQL instance name"),
    (f'proxies = {{ "{INSTANCE}" = "localhost" }}\n', "is not HOST:PORT"),
    (f'proxies = {{ "{INSTANCE}" = "localhost:99999" }}\n', "is not HOST:PORT"),
    ('[db_env]\npasword = "X"\n', "unknown setting 'pasword'"),
    ("[db_env]\npassword = 5\n", "db_env must map roles to env var names"),
    ('[[silence]]\nid = "tables"\n', "silence 'tables' needs a reason"),
    ('[[silence]]\nid = "tables"\nreason = "  "\n', "silence 'tables' needs a reason"),
    ('[[silence]]\nreason = "r"\n', "each [[silence]] needs an id"),
    ('[[silence]]\nid = "tables"\nreason = "r"\nobject = 3\n', "object must be a string"),
    ('[[silence]]\nid = "tables"\nreason = "r"\nuntil = "never"\n', "unknown setting 'until'"),
    ('silence = "all"\n', "silence must be a list"),
    ("environments = 3\n", "'environments' must be a table"),
    ("dsn = 5\n", "dsn must be a string"),
])
def test_bad_config_is_one_clear_error(repo: Path, text: str, needle: str):
    path = write(repo, text)
    with pytest.raises(ConfigError) as info:
        load_target("staging", start=repo)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message and str(path) in message  # one line, naming the file


def test_bad_environment_name(repo: Path):
    with pytest.raises(ConfigError, match="environment name 'Stag ing' is not valid"):
        load_target("Stag ing", start=repo)


@pytest.mark.parametrize(("spec", "needle"), [
    ("no-equals", "expected INSTANCE=HOST:PORT"),
    ("p:r:i=nohost", "is not HOST:PORT"),
    ("bad=127.0.0.1:5432", "not a Cloud SQL instance name"),
])
def test_bad_proxy_flag(spec: str, needle: str):
    with pytest.raises(ConfigError, match=needle):
        parse_proxy(spec)


def test_good_proxy_flag():
    assert parse_proxy(f"{INSTANCE}=127.0.0.1:5432") == (INSTANCE, "127.0.0.1:5432")
