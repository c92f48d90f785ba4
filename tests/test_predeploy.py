"""--pre-deploy against a real PostgreSQL, built by a real `alembic upgrade`: the plan is listed, not
blamed; it is replayed over the real catalog; and each drop is weighed by the rows and use it destroys."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time

from netra_doctor.core.facts import Facts, RevisionFacts, TableUsage
from netra_doctor.engine import replay

from tests.helpers import DATA, INSTANCE, diagnose_json, run_cli, run_subprocess, write_db_secrets
from tests.migration_facts import database, facts

LINEAR = DATA / "alembic" / "linear" / "alembic.ini"
RENAME_DROP = DATA / "alembic" / "rename_drop" / "alembic.ini"
CHECKS = ("revision", "tables", "pending-migrations", "pre-deploy-plan")


def alembic(pg, ini, *args: str) -> subprocess.CompletedProcess:
    """The real `alembic` command, as the migration job runs it (the database from DATABASE_URL)."""
    env = {**os.environ, "DATABASE_URL": pg.dsn(), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def gate(pg, seed, ini, *extra: str) -> tuple[dict, int]:
    password = "gate-pw-71a2"
    role = pg.role("app", password)
    schemas = ["public", *(["audit"] if ini == RENAME_DROP else [])]
    for schema in schemas:
        pg.sql(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"; GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO "{role}"')
    write_db_secrets(seed, pg.name, role, password)
    only = [a for c in CHECKS for a in ("--only", c)]
    return diagnose_json(seed, *only, "--proxy", f"{INSTANCE}=127.0.0.1:{pg.server.port}", "--alembic-ini", str(ini),
                         "--fail-on", "warn", "-v", *extra)


def findings(report: dict, check: str) -> list[dict]:
    return next(c["findings"] for c in report["checks"] if c["id"] == check)


def test_a_database_at_the_previous_head_passes_the_gate_with_the_plan_listed(pg, seed, repo):
    assert alembic(pg, LINEAR, "upgrade", "e9da6f30cc4c").returncode == 0
    report, code = gate(pg, seed, LINEAR, "--pre-deploy")
    assert code == 0, report["causes"]
    assert "migration-not-applied" not in [c["id"] for c in report["causes"]]
    plan = findings(report, "pre-deploy-plan")[0]
    assert plan["message"] == ("2 revision(s) pending from e9da6f30cc4c to head dc4fa32fd495: the job runs them "
                               "in this order")
    assert plan["evidence"][0].startswith("1. 68b6b9884261 (")
    assert plan["evidence"][0].endswith("68b6b9884261_create_subscriptions.py): creates table subscriptions")
    assert plan["evidence"][1].startswith("2. dc4fa32fd495 (")
    revision = findings(report, "revision")
    assert any(f["message"].startswith("pre-deploy, the plan: the database is at e9da6f30cc4c, 2 revision(s) behind")
               for f in revision)

    _, code = gate(pg, seed, LINEAR)  # the same database after an incident: behind head is a fault
    assert code == 1


def test_a_pending_create_of_an_existing_table_is_a_conflict_and_upgrade_agrees(pg, seed, repo):
    assert alembic(pg, LINEAR, "upgrade", "e9da6f30cc4c").returncode == 0
    pg.sql("CREATE TABLE subscriptions (id integer PRIMARY KEY)")  # made by hand, or by another service
    report, code = gate(pg, seed, LINEAR, "--pre-deploy")
    assert code == 1
    cause = report["causes"][0]
    assert (cause["id"], cause["severity"]) == ("pending-migration-conflicts", "error")
    # the revision file and the line of its create_table (op_lines), then the table
    assert re.search(r"68b6b9884261_create_subscriptions\.py:24\) creates table subscriptions, which already "
                     r"exists as public\.subscriptions", cause["evidence"][0]), cause["evidence"][0]
    assert cause["fix"][0].startswith("fix ")
    upgrade = alembic(pg, LINEAR, "upgrade", "head")  # what the job would meet
    assert upgrade.returncode != 0 and 'relation "subscriptions" already exists' in upgrade.stderr


def _stats_flushed(pg, table: str) -> None:
    """Statistics reach pg_stat_user_tables when the backend that did the work flushes them."""
    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT seq_scan + n_tup_ins FROM pg_stat_user_tables WHERE relname = %s",
                               (table,)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.1)
    raise AssertionError(f"no statistics for {table}")


def test_a_pending_drop_of_a_table_with_rows_and_scans_is_an_error(pg, seed, repo):
    assert alembic(pg, RENAME_DROP, "upgrade", "7b62c3df8eda").returncode == 0
    pg.sql("INSERT INTO legacy_sessions (token) SELECT 't' || g FROM generate_series(1, 40) g; "
           "ANALYZE legacy_sessions; SELECT count(*) FROM legacy_sessions;")
    _stats_flushed(pg, "legacy_sessions")
    report, code = gate(pg, seed, RENAME_DROP, "--pre-deploy")
    assert code == 1
    drops = [c for c in report["causes"] if c["id"] == "pending-drop-destroys-data"]
    assert drops and drops[0]["severity"] == "error"
    evidence = "\n".join(drops[0]["evidence"])
    assert re.search(r"_drop_legacy_sessions_and_nickname\.py:24\) drops table legacy_sessions, which holds data",
                     evidence), evidence
    assert "public.legacy_sessions: about 40 rows (pg_class.reltuples), 40 live rows (n_live_tup);" in evidence
    assert "40 inserts" in evidence and "sequential" in evidence


def test_a_pending_drop_of_an_empty_unused_table_is_a_warning(pg, seed, repo):
    assert alembic(pg, RENAME_DROP, "upgrade", "7b62c3df8eda").returncode == 0
    report, code = gate(pg, seed, RENAME_DROP, "--pre-deploy")
    drop = next(c for c in report["causes"] if c["id"] == "pending-drop-destroys-data")
    assert drop["severity"] == "warn" and code == 1  # a warn gate still stops for a look
    assert "drops table legacy_sessions, which is empty and unused since statistics were reset" in drop["evidence"][0]
    assert ("1 sequential (1 of them building its 1 index(es)) and 0 index scans, 0 inserts, 0 updates, 0 deletes"
            in drop["evidence"][2])
    report, code = gate(pg, seed, RENAME_DROP, "--pre-deploy", "--fail-on", "error")
    assert code == 0, report["causes"]


def test_conflicts_name_the_line_when_the_reader_records_it():
    """op_lines come from the migration reader: the conflict points at the revision's line."""
    f = facts("linear", database(["users", "subscriptions"], ["e9da6f30cc4c"]))
    f.target = dataclasses.replace(f.target, pre_deploy=True)  # TARGET is shared: never mutate it
    sub = next(r for r in f.migrations.revisions if r.revision == "68b6b9884261")
    sub.op_lines = [23]
    d = replay(f, only=["pre-deploy-plan"])
    assert d.causes[0].id == "pending-migration-conflicts"
    assert "68b6b9884261_create_subscriptions.py:23) creates table subscriptions" in d.causes[0].evidence[0]
    finding = next(x for x in d.checks[0].findings if x.cause == "pending-migration-conflicts" and x.status == "fail")
    assert finding.location.endswith("68b6b9884261_create_subscriptions.py:23")


def test_a_pre_deploy_snapshot_replays_to_the_same_verdict():
    f = facts("rename_drop", database(["users", "legacy_sessions", "audit.events"], ["3708be2128c8"]))
    f.target = dataclasses.replace(f.target, pre_deploy=True)
    f.table_usage = [TableUsage("public", "legacy_sessions", rows=12, seq_scan=3, indexes=1),
                     TableUsage("public", "users", rows=5), TableUsage("audit", "events")]
    again = Facts.from_dict(json.loads(f.to_json()))
    assert again.target.pre_deploy and again.table_usage == f.table_usage
    d = replay(again, only=["pre-deploy-plan"])
    drop = next(c for c in d.causes if c.id == "pending-drop-destroys-data")
    assert drop.severity == "error"
    assert any("about 12 rows (pg_class.reltuples)" in e and "3 sequential (1 of them building" in e
               for e in drop.evidence)
    # users is renamed accounts by the first pending revision: dropping accounts.nickname weighs users' rows
    assert "  users is renamed accounts by an earlier pending revision" in drop.evidence
    assert any(e.startswith("  public.users: about 5 rows") for e in drop.evidence)


def test_a_drop_of_a_missing_table_and_a_rename_onto_an_existing_one_conflict():
    f = facts("rename_drop", database(["users", "accounts", "audit.events"], ["3708be2128c8"]))
    f.target = dataclasses.replace(f.target, pre_deploy=True)  # TARGET is shared: never mutate it
    d = replay(f, only=["pre-deploy-plan"])
    messages = [x.message for x in d.checks[0].findings if x.status == "fail"]
    assert any("renames users to accounts, which already exists" in m for m in messages)
    assert any("drops table legacy_sessions, which does not exist" in m for m in messages)


def test_the_image_about_to_ship_must_be_the_jobs(seed, repo):
    report, code = diagnose_json(seed, "--only", "deploy-image", "--image", "example/app:new")
    assert code == 0  # job-image-differs is a warning: the default error gate passes
    cause = report["causes"][0]
    assert cause["id"] == "job-image-differs" and "not the image about to be deployed (example/app:new)" in \
        cause["evidence"][0]
    assert cause["fix"][0].endswith("--image example/app:new")
    job_image = "us-central1-docker.pkg.dev/netra-staging/netra-containers/netra-backend:8c41d2e"
    report, code = diagnose_json(seed, "--only", "deploy-image", "--fail-on", "warn", "--image", job_image)
    assert code == 0 and report["ruled_out"][0]["id"] == "job-image-differs"
    env = run_subprocess("staging", "--from", str(seed), "--only", "deploy-image", "--fail-on", "warn",
                         env={"NETRA_DOCTOR_IMAGE": "example/app:new"}, cwd=repo)
    assert env.returncode == 1 and "example/app:new" in env.stdout  # what a CI job exports


def test_an_unknown_recorded_revision_leaves_no_plan_to_tell():
    f = facts("linear", database(["users"], ["deadbeef0000"]))
    f.target = dataclasses.replace(f.target, pre_deploy=True)  # TARGET is shared: never mutate it
    d = replay(f, only=["pre-deploy-plan", "revision"])
    assert [c.id for c in d.causes] == ["revision-unknown-to-code"]  # histories diverged: an error


def test_revision_facts_without_ops_still_list_drops():
    r = RevisionFacts("x", drops=["old"])
    from netra_doctor.migrations.plan import actions

    assert actions(r) == ["drops table old"]


def test_pre_deploy_and_the_image_come_from_config_per_environment(tmp_path, monkeypatch):
    from netra_doctor.core.config import load_target

    (tmp_path / "netra-doctor.toml").write_text(
        'image = "example/app:cfg"\n[environments.staging]\npre_deploy = true\n[environments.production]\n')
    monkeypatch.delenv("NETRA_DOCTOR_IMAGE", raising=False)
    staging = load_target("staging", start=tmp_path)
    assert (staging.pre_deploy, staging.image) == (True, "example/app:cfg")
    production = load_target("production", start=tmp_path, overrides={"image": "example/app:cli"})
    assert (production.pre_deploy, production.image) == (False, "example/app:cli")


def test_a_pending_table_present_in_another_database_of_the_server_is_not_the_jobs(pg, seed, repo):
    """Job and service reach the same database; `subscriptions`, which the plan creates, stands in some
    other database of the server: that says nothing about the job's target (no different-database cause)."""
    assert alembic(pg, LINEAR, "upgrade", "e9da6f30cc4c").returncode == 0
    other = pg.database()
    pg.sql("CREATE TABLE subscriptions (id integer PRIMARY KEY)", dbname=other)
    report, code = gate(pg, seed, LINEAR, "--pre-deploy")
    ids = [c["id"] for c in report["causes"]] + [f["cause"] for f in findings(report, "tables") if f.get("cause")]
    assert "job-service-different-database" not in ids, report["causes"]
    assert code == 0, report["causes"]  # the plan creates it: pending, not a fault


MODELS = '''from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Account(Base):
    __tablename__ = "{users}"
    id = Column(Integer, primary_key=True)


class LegacySession(Base):
    __tablename__ = "legacy_sessions"
    id = Column(Integer, primary_key=True)
    token = Column(String(64), nullable=False)
'''


def _with_models(tmp_path, users: str = "accounts"):
    """The rename_drop project (users renamed to accounts, then legacy_sessions dropped), with models."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(RENAME_DROP.parent, root)
    (root / "app").mkdir()
    (root / "app" / "models.py").write_text(MODELS.replace("{users}", users))
    return root / "alembic.ini"


def test_a_model_of_a_renamed_table_is_pointed_at_the_new_name_never_created_again(tmp_path):
    ini = _with_models(tmp_path, users="users")
    (ini.parent / "netra-doctor.toml").write_text('alembic_ini = "alembic.ini"\n')
    result = run_cli("staging", "--repo-only", "--format", "json", cwd=ini.parent)
    report = json.loads(result.stdout)
    [cause] = report["causes"]
    assert cause["id"] == "model-table-dropped-by-migration" and result.exit_code == 1
    fix = "\n".join(cause["fix"])
    assert ("point model Account (app/models.py:7) at the table's new name: __tablename__ = 'accounts'; or, if the "
            "rename was not meant, remove it from revision 7b62c3df8eda (migrations/versions/"
            "7b62c3df8eda_rename_users_to_accounts.py:24)") in fix
    assert ("if legacy_sessions is still meant to exist, remove the drop from revision 7b50319b41a4 (migrations/"
            "versions/7b50319b41a4_drop_legacy_sessions_and_nickname.py:24)") in fix
    assert "--autogenerate" not in fix and "model-without-migration" not in json.dumps(report["causes"])


def test_a_pending_drop_of_a_table_in_use_that_the_models_declare_ranks_first_with_the_model_as_evidence(
        pg, seed, repo, tmp_path):
    ini = _with_models(tmp_path)
    assert alembic(pg, ini, "upgrade", "7b62c3df8eda").returncode == 0
    pg.sql("INSERT INTO legacy_sessions (token) SELECT 't' || g FROM generate_series(1, 40) g; "
           "ANALYZE legacy_sessions; SELECT count(*) FROM legacy_sessions;")
    _stats_flushed(pg, "legacy_sessions")
    report, code = gate(pg, seed, ini, "--pre-deploy", "--only", "models")
    assert code == 1
    first = report["causes"][0]
    assert first["id"] == "pending-drop-destroys-data", [c["id"] for c in report["causes"]]
    evidence = "\n".join(first["evidence"])
    assert re.search(r"the models still declare legacy_sessions \(model LegacySession, \S*app/models\.py:12\): the "
                     r"drop looks unintended", evidence), evidence
    assert re.search(r"model LegacySession \(\S*app/models\.py:12\) declares table legacy_sessions; revision "
                     r"7b50319b41a4 \(\S*_drop_legacy_sessions_and_nickname\.py:24\) drops", evidence), evidence
    ids = [c["id"] for c in report["causes"]]
    assert "model-without-migration" not in ids and "model-table-dropped-by-migration" not in ids  # one cause
    assert not any("--autogenerate" in f for c in report["causes"] for f in c["fix"])
