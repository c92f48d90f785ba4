"""Shared test helpers: offline folders built from the seed exports, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from netra_doctor.cli import cli

DATA = Path(__file__).parent / "data"
SEED = DATA / "seed"
# planted in tests/data/seed/secrets.yaml: must never appear in any output
PLANTED_PASSWORDS = ("Sx9-planted-PW-4f1c", "Tq7-planted-PW-rotated-88e2")


def copy_seed(dest: Path, *, only: tuple[str, ...] | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in SEED.iterdir():
        if only is None or f.name in only:
            shutil.copy(f, dest / f.name)
    return dest


def edit_yaml(path: Path, change: Callable[[Any], Any]) -> None:
    """Load a YAML export, let ``change`` mutate it in place, write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def job_container(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]


def service_container(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]["containers"][0]


def annotations(doc: dict) -> dict:
    return doc["spec"]["template"]["metadata"]["annotations"]


def run_cli(*args: str, cwd: Path | None = None) -> Any:
    """Invoke the CLI in-process (click's runner); returns the click Result."""
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def diagnose_json(folder: Path, *extra: str, cwd: Path | None = None) -> tuple[dict, int]:
    result = run_cli("staging", "--from", str(folder), "--format", "json", *extra, cwd=cwd)
    return json.loads(result.stdout), result.exit_code


def cause_ids(report: dict) -> list[str]:
    return [c["id"] for c in report["causes"]]


def ruled_out_ids(report: dict) -> list[str]:
    return [r["id"] for r in report["ruled_out"]]


def check_status(report: dict, check_id: str) -> str:
    return next(c["status"] for c in report["checks"] if c["id"] == check_id)


def run_subprocess(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 60):
    proc = subprocess.run(
        [sys.executable, "-m", "netra_doctor.cli", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )
    if "json" in args and proc.returncode in (0, 1, 3) and proc.stdout.strip():
        check_report_schema(proc.stdout)
    return proc


def limited_cli(*args: str, cwd: Path, memory_mb: int, timeout: float = 60,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """`netra-doctor ARGS` in a fresh interpreter limited to ``memory_mb`` of address space (`ulimit -v`)."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} * 2**20, {memory_mb} * 2**20))
        sys.argv = ["netra-doctor", *{list(args)!r}]
        from netra_doctor.cli import main
        main()
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "NETRA_DOCTOR_GCP_ENDPOINT": "127.0.0.1:9", **(env or {})})


REPORT_SCHEMA = Path(__file__).resolve().parent.parent / "doctor" / "output" / "report.schema.json"


def check_report_schema(text: str) -> None:
    """Every JSON report a test sees must match the schema the package ships (doctor/output/report.schema.json)."""
    import jsonschema

    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())


INSTANCE = "netra-staging:us-central1:staging-shared-postgres"  # the seed's Cloud SQL instance


def write_db_secrets(folder: Path, database: str, user: str, password: str, *, host: str | None = None,
                     port: int = 5432, prefix: str = "postgres", suffix: str = "staging") -> None:
    """A secrets.yaml whose POSTGRES_* secrets point at a test database (seed names by default).

    The host defaults to the seed's /cloudsql/INSTANCE, reached with --proxy INSTANCE=127.0.0.1:PORT.
    """
    values = {"host": host or f"/cloudsql/{INSTANCE}", "port": str(port), "db": database, "user": user,
              "password": password}
    path = folder / "secrets.yaml"
    table = yaml.safe_load(path.read_text()) if path.exists() else {}
    table = table or {}
    table.update({f"{prefix}-{k}-{suffix}": {"1": v} for k, v in values.items()})
    path.write_text(yaml.safe_dump(table, sort_keys=False))


def point_job_at(folder: Path, prefix: str) -> None:
    """Bind the job's POSTGRES_* env to `{prefix}-*-staging` secrets instead of the service's."""
    def change(doc: dict) -> None:
        for var in job_container(doc)["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"].startswith("postgres-"):
                ref["name"] = prefix + ref["name"][len("postgres"):]

    edit_yaml(folder / "job.yaml", change)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (repo-relative path -> dedented text) under ``root``: a small checkout."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root
