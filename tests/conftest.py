from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import copy_seed


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory):
    """The doctor's cache (bashlex's parse tables) in the session's temp folder, not the user's ~/.cache."""
    os.environ["NETRA_DOCTOR_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    os.environ.pop("NETRA_DOCTOR_CACHE", None)


@pytest.fixture(autouse=True)
def _json_reports_match_their_schema(monkeypatch: pytest.MonkeyPatch):
    """Every JSON report rendered in-process is validated against doctor/output/report.schema.json (the
    subprocess runs are validated in tests/helpers.run_subprocess); the terminal width is the test's own."""
    from netra_doctor.output import report

    from tests.helpers import check_report_schema

    real = report.render_json

    def validated(*args, **kwargs):
        text = real(*args, **kwargs)
        check_report_schema(text)
        return text

    monkeypatch.setattr(report, "render_json", validated)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A writable copy of the seed incident's gcloud exports."""
    return copy_seed(tmp_path / "exports")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty checkout to run from, so config lookup does not find this project's files."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL per test session (TESTING.md); each test makes its own database."""
    from netra_doctor.demo.pgserver import start

    server = start(prefix="netra-doctor-test-")
    yield server
    server.stop()


@pytest.fixture
def pg(pg_server, request):
    """A fresh database on the session server: ``pg.dsn()``, ``pg.sql(...)`` as superuser."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = PgDatabase(pg_server, name)
    yield db
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        for dbname in (name, *db.databases):
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        for role in db.roles:
            for other in conn.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall():
                try:
                    with psycopg.connect(pg_server.dsn(other[0]), autocommit=True) as c2:
                        c2.execute(f'DROP OWNED BY "{role}" CASCADE')
                except psycopg.Error:
                    pass
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


class PgDatabase:
    """One test's database; roles made through ``role()`` are unique and dropped afterwards."""

    def __init__(self, server, name: str):
        self.server, self.name, self.roles = server, name, []
        self.databases: list[str] = []  # extra databases, dropped with this one

    def database(self) -> str:
        """Another fresh database on the same server (for 'tables in another database')."""
        import uuid

        name = f"{self.name}_{uuid.uuid4().hex[:6]}"
        self.sql(f'CREATE DATABASE "{name}"', dbname="postgres")
        self.databases.append(name)
        return name

    def dsn(self, user: str | None = None, password: str | None = None, dbname: str | None = None) -> str:
        return self.server.dsn(dbname or self.name, user, password)

    def sql(self, statements: str, dbname: str | None = None, user: str | None = None) -> None:
        import psycopg

        with psycopg.connect(self.server.dsn(dbname or self.name, user), autocommit=True) as conn:
            conn.execute(statements)

    def role(self, prefix: str, password: str) -> str:
        import uuid

        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.sql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        self.roles.append(name)
        return name
