"""End-to-end scenarios: one incident per folder, run through the CLI against a real PostgreSQL.

Each `tests/scenarios/NAME/scenario.toml` names the cause that must rank first, the causes
that must not appear and those that must be ruled out. Files in the folder may use the
placeholders below; the runner fills them with this test's fresh database and roles.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import DATA, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCENARIOS = Path(__file__).parent / "scenarios"
INSTANCE = "netra-staging:us-central1:staging-shared-postgres"


def _names() -> list[str]:
    if not SCENARIOS.is_dir():
        return []
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "scenario.toml").is_file())


def _render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _prepare(name: str, pg, tmp_path: Path) -> tuple[dict, list[str], dict[str, str]]:
    folder = SCENARIOS / name
    spec = tomllib.loads((folder / "scenario.toml").read_text())
    app_password, job_password = secrets.token_hex(10), secrets.token_hex(10)
    values = {
        "db": pg.name, "other_db": pg.database(),
        "app_role": pg.role("app", app_password), "app_password": app_password,
        "job_role": pg.role("job", job_password), "job_password": job_password,
        "port": str(pg.server.port),
    }
    exports = tmp_path / "exports"
    shutil.copytree(DATA / spec.get("exports", "seed"), exports)
    for f in folder.iterdir():
        if f.name not in ("scenario.toml", "setup.sql") and f.is_file():
            shutil.copy(f, exports / f.name)
    for f in exports.iterdir():
        f.write_text(_render(f.read_text(), values))
    if (folder / "setup.sql").is_file():
        pg.sql(_render((folder / "setup.sql").read_text(), values))
    repo = tmp_path / "repo"
    repo.mkdir()
    if spec.get("expected_tables"):
        tables = ", ".join(json.dumps(t) for t in spec["expected_tables"])
        (repo / "netra-doctor.toml").write_text(f"expected_tables = [{tables}]\n")
    args = ["staging", "--from", str(exports), "--format", "json",
            "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}"]
    if spec.get("alembic"):
        args += ["--alembic-ini", str(DATA / "alembic" / spec["alembic"] / "alembic.ini")]
    return spec, args, values | {"repo": str(repo)}


@pytest.mark.parametrize("name", _names())
def test_scenario(name: str, pg, tmp_path: Path) -> None:
    spec, args, values = _prepare(name, pg, tmp_path)
    result = run_cli(*args, *spec.get("args", []), cwd=Path(values["repo"]))
    report = json.loads(result.stdout)
    causes = [c["id"] for c in report["causes"]]
    ruled_out = [r["id"] for r in report["ruled_out"]]
    context = f"{name}: causes={causes} ruled_out={ruled_out} checks={report['checks']}"
    if spec.get("first"):
        assert causes and causes[0] == spec["first"], context
    else:
        assert causes == [], context
    for absent in spec.get("absent", []):
        assert absent not in causes, context
    for gone in spec.get("ruled_out", []):
        assert gone in ruled_out, context
    if "exit" in spec:
        assert result.exit_code == spec["exit"], context
    for secret in (values["app_password"], values["job_password"]):
        assert secret not in result.output

