"""Every container of the service and the job: the app is the one serving the port, the others are
sidecars; a Cloud SQL Auth Proxy (sidecar, or started by the job's command) is a connector route.

Each case adds its own minimal sidecar to the seed's exports, in v1 YAML and v2 JSON alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from netra_doctor.cloudrun.containers import command_proxies, proxy_routes
from netra_doctor.core.facts import Container
from netra_doctor.sources.offline import load_folder

from tests.exports import FORMATS, Exports
from tests.helpers import INSTANCE, cause_ids, diagnose_json, ruled_out_ids

APP_IMAGE = "us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-backend:8c41d2e"
PROXY_IMAGE = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1"
CHECKS = ("--only", "secret-parity", "--only", "cloudsql-connector", "--only", "job-image")


@pytest.fixture(params=FORMATS)
def exports(request, tmp_path: Path) -> Exports:
    return Exports(tmp_path / "exports", request.param)


def _pod(exports: Exports, kind: str, doc: dict) -> dict:
    if exports.fmt == "v1":
        spec = doc["spec"]["template"]["spec"]
        return spec["template"]["spec"] if kind == "job" else spec
    return doc["template"]["template"] if kind == "job" else doc["template"]


def add_container(exports: Exports, kind: str, container: dict, first: bool = True) -> None:
    doc = exports._load(kind)
    containers = _pod(exports, kind, doc)["containers"]
    containers.insert(0 if first else len(containers), container)
    exports._save(kind, doc)


def detach_cloudsql(exports: Exports, kind: str) -> None:
    """Take the Cloud SQL connector off (v1 annotation, v2 volume and its mount)."""
    doc = exports._load(kind)
    if exports.fmt == "v1":
        tpl = doc["spec"]["template"]
        for meta in (tpl.get("metadata", {}), doc.get("metadata", {})):
            meta.get("annotations", {}).pop("run.googleapis.com/cloudsql-instances", None)
    else:
        pod = _pod(exports, kind, doc)
        pod.pop("volumes", None)
        for c in pod["containers"]:
            c.pop("volumeMounts", None)
    exports._save(kind, doc)


def env(exports: Exports, name: str, value: str | None = None, secret: str | None = None) -> dict:
    return exports._env_item(name, secret, "latest" if secret else None, value)


def db_sidecar(exports: Exports, secret: str = "sidecar-db-password") -> dict:
    """A database server run beside the app (its own initdb settings, one from a secret)."""
    return {"name": "db", "image": "postgres:16",
            "env": [env(exports, "POSTGRES_USER", "local"), env(exports, "POSTGRES_DB", "scratch"),
                    env(exports, "POSTGRES_HOST", "localhost"), env(exports, "POSTGRES_PASSWORD", secret=secret)]}


def proxy_sidecar(*args: str) -> dict:
    return {"name": "cloud-sql-proxy", "image": PROXY_IMAGE, "args": list(args)}


def run(exports: Exports, repo: Path, *checks: str) -> tuple[dict, int]:
    return diagnose_json(exports.folder, *(checks or CHECKS), cwd=repo)


def evidence(report: dict, cause: str) -> list[str]:
    found = [c for c in report["causes"] if c["id"] == cause] or [r for r in report["ruled_out"] if r["id"] == cause]
    return found[0]["evidence"] if found else []


# --- which container is the app ---------------------------------------------------------


def test_a_database_sidecar_listed_first_does_not_stand_for_the_app(exports: Exports, repo: Path):
    add_container(exports, "service", db_sidecar(exports))
    exports.add_secret_value("sidecar-db-password", "1", "local-only-Pw-1")
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report), report["causes"]
    assert "job-service-different-database" in ruled_out_ids(report)
    assert any("netra_app" in e for e in evidence(report, "job-service-different-database"))
    assert any(e.strip() == f"service netra-backend-staging runs 2 containers: the app is {APP_IMAGE} (serving port "
               "8000); sidecars db" for e in evidence(report, "job-service-different-database"))
    assert any("runs " + APP_IMAGE in e for e in evidence(report, "job-image-differs"))


def test_the_sidecars_secrets_are_compared_too(exports: Exports, repo: Path):
    """A sidecar's secret that does not resolve stops the revision as surely as the app's."""
    add_container(exports, "service", db_sidecar(exports, "sidecar-db-password-gone"))
    report, _ = run(exports, repo)
    assert cause_ids(report) == ["secret-unresolvable"]
    assert any("service POSTGRES_PASSWORD (sidecar db)" in e for e in evidence(report, "secret-unresolvable"))


def test_v1_and_v2_pick_the_same_app_and_sidecars(tmp_path: Path):
    picked = {}
    for fmt in FORMATS:
        ex = Exports(tmp_path / fmt, fmt)
        add_container(ex, "service", db_sidecar(ex))
        add_container(ex, "service", proxy_sidecar(INSTANCE), first=False)
        service = load_folder(ex.folder).service
        picked[fmt] = (service.main.image, [c.name for c in service.sidecars], service.proxies)
    assert picked["v1"] == picked["v2"] == (APP_IMAGE, ["db", "cloud-sql-proxy"], [[INSTANCE, "tcp:5432"]])


# --- Cloud SQL Auth Proxy ------------------------------------------------------------------


def test_a_cloud_sql_proxy_sidecar_is_the_services_connector(exports: Exports, repo: Path):
    """No connector attached; the app dials 127.0.0.1:5432, where a proxy sidecar serves the instance the
    job reaches through /cloudsql: one database, nothing missing."""
    detach_cloudsql(exports, "service")
    exports.set_value("service", "POSTGRES_HOST", "127.0.0.1")
    add_container(exports, "service", proxy_sidecar("--port=5432", "--private-ip", INSTANCE), first=False)
    report, code = run(exports, repo)
    assert code == 0 and not cause_ids(report), report["causes"]
    assert any(f"a Cloud SQL Auth Proxy serves {INSTANCE} at tcp:5432" in e
               for e in evidence(report, "cloudsql-instance-mismatch"))


def test_a_proxy_the_jobs_command_starts_is_its_connector(exports: Exports, repo: Path):
    detach_cloudsql(exports, "job")
    exports.set_command(["sh"], ["-c", f"cloud-sql-proxy --unix-socket /cloudsql {INSTANCE} & sleep 2; "
                                       "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head"])
    report, _ = run(exports, repo, "--only", "cloudsql-connector")
    assert "cloudsql-connector-missing" not in cause_ids(report)
    assert "cloudsql-connector-missing" in ruled_out_ids(report)


def test_without_the_proxy_the_same_job_misses_its_connector(exports: Exports, repo: Path):
    detach_cloudsql(exports, "job")
    report, _ = run(exports, repo, "--only", "cloudsql-connector")
    assert "cloudsql-connector-missing" in cause_ids(report)


def test_a_job_on_the_image_of_a_container_behind_the_ingress_one_runs_the_services_code(
        exports: Exports, repo: Path):
    """The ingress container is a reverse proxy in front; the app's image runs behind it, as the job's."""
    def unport(c: dict) -> None:
        c.pop("ports", None)

    exports.edit("service", unport)
    add_container(exports, "service", {"name": "front", "image": "nginx:1.27",
                                       "ports": [{"containerPort": 8080}]})
    report, _ = run(exports, repo, "--only", "job-image")
    assert "job-image-differs" not in cause_ids(report)
    assert any("sidecar of the ingress container" in e for e in evidence(report, "job-image-differs"))


# --- reading the proxy's arguments ----------------------------------------------------------


@pytest.mark.parametrize(("words", "routes"), [
    ([INSTANCE], [[INSTANCE, "tcp:5432"]]),
    (["--port", "6000", INSTANCE, "p:r:other"], [[INSTANCE, "tcp:6000"], ["p:r:other", "tcp:6001"]]),
    ([f"{INSTANCE}?port=5433", "--auto-iam-authn"], [[INSTANCE, "tcp:5433"]]),
    (["-u", "/cloudsql", INSTANCE], [[INSTANCE, "unix:/cloudsql"]]),
    ([f"-instances={INSTANCE}=tcp:5432"], [[INSTANCE, "tcp:5432"]]),  # v1 cloud_sql_proxy
    (["-dir=/tmp/sql", f"-instances={INSTANCE}"], [[INSTANCE, "unix:/tmp/sql"]]),
    (["--credentials-file", "/secrets/key.json"], []),
])
def test_proxy_arguments(words: list[str], routes: list[list[str]]):
    assert proxy_routes(words) == routes


def test_a_proxy_in_a_script_is_found_and_other_commands_are_not():
    c = Container(command=["/bin/sh"], args=["-c", f"/usr/local/bin/cloud-sql-proxy {INSTANCE} & alembic upgrade head"])
    assert command_proxies(c) == [[INSTANCE, "tcp:5432"]]
    assert command_proxies(Container(command=["alembic"], args=["upgrade", "head"])) == []


# --- live: the API's proto form reads the same containers --------------------------------------


def test_live_reads_every_container_as_the_offline_export_does(tmp_path: Path, repo: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    """A database sidecar first and a Cloud SQL Auth Proxy last, served by the fake Cloud Run API: the
    live facts (proto -> v2 form) pick the same app, sidecars, proxy and images as the v1 export."""
    from netra_doctor import engine
    from netra_doctor.core.config import load_target
    from netra_doctor.sources.live_api import ENDPOINT_ENV

    from tests.fakegcp import FakeGCP

    ex = Exports(tmp_path / "exports", "v1")
    add_container(ex, "service", db_sidecar(ex))
    add_container(ex, "service", proxy_sidecar("--port", "5432", INSTANCE), first=False)
    ex.add_secret_value("sidecar-db-password", "1", "local-only-Pw-2")
    target = load_target("staging", start=repo)
    offline = engine.run(target, ex.folder).facts
    with FakeGCP().add_environment(ex.folder) as fake:
        monkeypatch.setenv(ENDPOINT_ENV, fake.endpoint)
        online = engine.run(load_target("staging", start=repo)).facts
    assert online.mode == "live"
    for facts in (offline, online):
        service = facts.service
        assert (service.main.image, [c.name for c in service.sidecars]) == (APP_IMAGE, ["db", "cloud-sql-proxy"])
        assert service.proxies == [[INSTANCE, "tcp:5432"]]
        assert facts.serving_revision.images == [APP_IMAGE, "postgres:16", PROXY_IMAGE]
        assert facts.targets["service"].user == "netra_app"
    assert online.secrets.keys() == offline.secrets.keys()
