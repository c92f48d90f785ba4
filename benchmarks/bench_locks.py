"""Pre-deploy lock verdicts: the doctor against squawk, on one corpus of risky and safe Alembic revisions.

Builds a throwaway PostgreSQL with ``events`` (ROWS rows, written to: the running service's table),
``notes`` (20 rows) and ``orgs`` (10 rows), all ANALYZEd, then for each case of the corpus writes a small
Alembic project (``base0`` recorded in the database, the case's revisions pending) and asks:

- the doctor: ``netra-doctor staging --pre-deploy --only pre-deploy-plan --dsn ...`` (the lock causes it
  names: ``pending-lock-risk``, ``pending-lock-no-timeout``, ``pending-rename-breaks-service``);
- squawk (``squawk-cli`` from PyPI, installed into a temporary venv here, never a dependency): the SQL
  ``alembic upgrade base0:head --sql`` prints for the same revisions (the rules it reports).

Each case carries what the issue measured on PostgreSQL 15 (is the running service blocked or broken?)
and the reason the two tools differ where they do. Prints the table and the agreement counts; exits 0.

    python benchmarks/bench_locks.py [ROWS] [SQUAWK]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROWS = 200_000
LOCK_CAUSES = ("pending-lock-risk", "pending-lock-no-timeout", "pending-rename-breaks-service")
T = "op.execute(\"SET LOCAL lock_timeout = '2s'\")\n"  # the revision's own timeout
INI = "[alembic]\nscript_location = %(here)s/migrations\n"
ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config

if context.is_offline_mode():
    context.configure(url="postgresql://offline/db", literal_binds=True{configure})
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = engine_from_config(config.get_section(config.config_ini_section), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        {extra}
        context.configure(connection=connection, target_metadata=None{configure})
        with context.begin_transaction():
            context.run_migrations()
'''
BASE = 'revision = "base0"\ndown_revision = None\n\n\ndef upgrade():\n    pass\n'
PER_MIGRATION = ", transaction_per_migration=True"
# squawk rules about style or statement_timeout, not about a lock the service waits on: shown, not counted
NOT_LOCK_RULES = frozenset({"require-statement-timeout", "prefer-robust-stmts", "prefer-bigint-over-int",
                            "prefer-bigint-over-smallint", "prefer-text-field", "prefer-timestamptz",
                            "prefer-identity"})


@dataclass
class Case:
    name: str
    revisions: tuple[str, ...]
    risky: bool  # the truth: the measurement where it has the row, else PostgreSQL's documented lock
    why: str  # why the doctor and squawk differ here (when they do)
    configure: str = ""
    env_extra: str = "pass"
    role_timeout: bool = False


CORPUS = [
    Case("add NOT NULL column, volatile default (big)", (T + "op.add_column('events', sa.Column('token', sa.UUID(), "
         "nullable=False, server_default=sa.text('gen_random_uuid()')))",), True, ""),
    Case("alter integer -> BigInteger (big)", (T + "op.alter_column('events', 'n', type_=sa.BigInteger())",), True, ""),
    Case("alter varchar(20) -> Text (big)", (T + "op.alter_column('events', 'name', type_=sa.Text())",), False,
         "binary-coercible: no rewrite (the doctor reads the column's type from the catalog)"),
    Case("create_index, not concurrent (big)", (T + "op.create_index('ix', 'events', ['n'])",), True, ""),
    Case("index concurrently in autocommit_block (big)", ("with op.get_context().autocommit_block():\n"
         "    op.create_index('ix', 'events', ['n'], postgresql_concurrently=True)",), False,
         "squawk asks a lock_timeout even for a lock that blocks nothing"),
    Case("alter nullable=False (big)", (T + "op.alter_column('events', 'n', nullable=False)",), True, ""),
    Case("create_foreign_key, validated (big)", (T + "op.create_foreign_key('fk', 'events', 'orgs', ['org_id'], "
         "['id'])",), True, ""),
    Case("check constraint, validated (big)", (T + "op.create_check_constraint('ck', 'events', 'n >= 0')",), True, ""),
    Case("NOT VALID then VALIDATE, one transaction (big)", (T + "op.create_check_constraint('ck', 'events', 'n >= 0', "
         "postgresql_not_valid=True)\nop.execute('ALTER TABLE events VALIDATE CONSTRAINT ck')",), True, ""),
    Case("create_unique_constraint (big)", (T + "op.create_unique_constraint('uq', 'events', ['name'])",), True, ""),
    Case("rename a column the service reads", (T + "op.alter_column('events', 'name', new_column_name='title')",),
         True, ""),
    Case("rename a table the service reads", (T + "op.rename_table('events', 'happenings')",), True, ""),
    Case("instant add_column, no lock_timeout (big, in use)", ("op.add_column('events', sa.Column('seen', "
         "sa.Boolean()))",), True, ""),
    Case("instant add_column, SET LOCAL lock_timeout", (T + "op.add_column('events', sa.Column('seen', "
         "sa.Boolean()))",), False, ""),
    Case("instant ALTER rev 1, long VALIDATE rev 2, one transaction", (
        T + "op.add_column('orgs', sa.Column('seen', sa.Boolean()))",
        "op.execute('ALTER TABLE events VALIDATE CONSTRAINT ck_made_earlier')"), True,
        "squawk sees each statement alone: orgs stays locked through the VALIDATE (one Alembic transaction)"),
    Case("the same with transaction_per_migration=True", (
        T + "op.add_column('orgs', sa.Column('seen', sa.Boolean()))",
        T + "op.execute('ALTER TABLE events VALIDATE CONSTRAINT ck_made_earlier')"), False,
        "", configure=PER_MIGRATION),
    Case("plain index on a 20-row table", ("op.create_index('ix', 'notes', ['n'])",), False,
         "squawk knows no sizes: it fires the same on 20 rows"),
    Case("SET NOT NULL on a 20-row table", ("op.alter_column('notes', 'n', nullable=False)",), False,
         "squawk knows no sizes: it fires the same on 20 rows"),
    Case("instant add_column, lock_timeout on the job's role", ("op.add_column('events', sa.Column('seen', "
         "sa.Boolean()))",), False, "the role's setting (pg_db_role_setting) is not in the SQL file",
         role_timeout=True),
    Case("instant add_column, lock_timeout in env.py", ("op.add_column('events', sa.Column('seen', sa.Boolean()))",),
         False, "env.py's SET lock_timeout runs on the connection, outside `upgrade --sql`'s output",
         env_extra='connection.execute(text("SET lock_timeout = \'3s\'"))'),
    Case("index on a table the plan creates", ("op.create_table('fresh', sa.Column('id', sa.Integer()))\n"
         "op.create_index('ix_fresh', 'fresh', ['id'])",), False,
         "a new table holds no rows and no reader waits on it"),
    Case("FK NOT VALID, VALIDATE in its own transaction", (
        T + "op.create_foreign_key('fk', 'events', 'orgs', ['org_id'], ['id'], postgresql_not_valid=True)",
        T + "op.execute('ALTER TABLE events VALIDATE CONSTRAINT fk')"), False, "", configure=PER_MIGRATION),
]


def checkout(root: Path, case: Case) -> Path:
    files = {"alembic.ini": INI, "migrations/versions/base0.py": BASE,
             "migrations/env.py": ENV.replace("{extra}", case.env_extra).replace("{configure}", case.configure),
             "migrations/script.py.mako": ""}
    down = "base0"
    for i, body in enumerate(case.revisions, 1):
        files[f"migrations/versions/rev{i}.py"] = (
            f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = 'rev{i}'\ndown_revision = '{down}'\n\n\n"
            "def upgrade():\n" + textwrap.indent(body, "    ") + "\n")
        down = f"rev{i}"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "alembic.ini"


def build(server, rows: int) -> str:
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
        conn.execute("CREATE ROLE app LOGIN PASSWORD 'bench-pw'")
    with psycopg.connect(server.dsn("bench"), autocommit=True) as conn:
        conn.execute(f"""
            CREATE TABLE orgs (id integer PRIMARY KEY);
            INSERT INTO orgs SELECT g FROM generate_series(1, 10) g;
            CREATE TABLE events (id integer PRIMARY KEY, n integer, name varchar(20), org_id integer);
            INSERT INTO events SELECT g, g % 97, 'e' || g, 1 + g % 10 FROM generate_series(1, {int(rows)}) g;
            CREATE TABLE notes (id integer, n integer);
            INSERT INTO notes SELECT g, g FROM generate_series(1, 20) g;
            CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
            INSERT INTO alembic_version VALUES ('base0');
            ANALYZE;
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO app;
        """)
    return server.dsn("bench", "app", "bench-pw")


def doctor(exports: Path, dsn: str, alembic_ini: Path) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(exports), "--dsn", dsn,
                           "--alembic-ini", str(alembic_ini), "--pre-deploy", "--only", "pre-deploy-plan",
                           "--format", "json"], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    return sorted({f"{c['id']} ({c['severity']})" for c in report["causes"] if c["id"] in LOCK_CAUSES})


def squawk(binary: str, alembic_ini: Path) -> list[str]:
    sql = subprocess.run([sys.executable, "-m", "alembic", "-c", str(alembic_ini), "upgrade", "base0:head", "--sql"],
                         capture_output=True, text=True, timeout=120, cwd=alembic_ini.parent)
    path = alembic_ini.parent / "upgrade.sql"
    path.write_text(sql.stdout)
    out = subprocess.run([binary, "--reporter", "json", "--pg-version", "15", str(path)], capture_output=True,
                         text=True, timeout=60)
    return sorted({v["rule_name"] for v in json.loads(out.stdout or "[]")})


def find_squawk(given: str | None, scratch: Path) -> str | None:
    if given:
        return given
    if shutil.which("squawk"):
        return shutil.which("squawk")
    venv = scratch / "squawk-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "squawk-cli"], capture_output=True, text=True)
    found = venv / "bin" / "squawk"
    return str(found) if pip.returncode == 0 and found.exists() else None


def main() -> None:
    from netra_doctor.demo.pgserver import start
    from netra_doctor.demo.run import write_exports

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    scratch = Path(tempfile.mkdtemp(prefix="bench-locks-"))
    binary = find_squawk(sys.argv[2] if len(sys.argv) > 2 else None, scratch)
    if binary is None:
        print("squawk-cli could not be installed here: only the doctor's verdicts are shown")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip() if binary else "-"
    server = start(prefix="bench-locks-pg-")
    try:
        dsn = build(server, rows)
        exports = write_exports(scratch, "bench-pw", pre_deploy=True)
        table = []
        doctor_right = squawk_right = 0
        for i, case in enumerate(CORPUS):
            ini = checkout(scratch / f"case{i}", case)
            if case.role_timeout:
                server_sql(server, "ALTER ROLE app IN DATABASE bench SET lock_timeout = '4s'")
            try:
                ours = doctor(exports, dsn, ini)
            finally:
                if case.role_timeout:
                    server_sql(server, "ALTER ROLE app IN DATABASE bench RESET lock_timeout")
            theirs = squawk(binary, ini) if binary else []
            counted = [r for r in theirs if r not in NOT_LOCK_RULES]
            d_risky, s_risky = bool(ours), bool(counted)
            doctor_right += d_risky == case.risky
            squawk_right += s_risky == case.risky
            agree = "agree" if d_risky == s_risky else "differ"
            table.append((case.name, "risky" if case.risky else "safe", ", ".join(ours) or "healthy",
                          ", ".join(counted) or "clean", agree, case.why if agree == "differ" else ""))
        print(f"events: {rows:,} rows; squawk: {version}; {len(CORPUS)} cases; squawk rules not counted (style or "
              f"statement_timeout, not a lock): {', '.join(sorted(NOT_LOCK_RULES))}\n")
        print("| case | truth | doctor | squawk | | why they differ |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in table:
            print("| " + " | ".join(row) + " |")
        print(f"\nright against what was measured: doctor {doctor_right}/{len(CORPUS)}, squawk {squawk_right}/"
              f"{len(CORPUS)}; they agree on {sum(r[4] == 'agree' for r in table)}")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def server_sql(server, statement: str) -> None:
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(statement)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
