"""The catalog query judges privileges as PostgreSQL does.

TABLES_SQL answers "can this role SELECT it" without has_table_privilege for a table with no ACL,
and "does information_schema.tables show it" without the view (both cost a fresh connection
tens of ms per 10,000 tables). Here every role shape a real project has meets every ACL shape, and
each answer is compared with has_table_privilege, has_schema_privilege and the view themselves.
"""

from __future__ import annotations

import psycopg
from netra_doctor.sources.database import TABLES_SQL


def _setup(pg) -> tuple[list[str], str]:
    owner = pg.role("owner", "pw")
    member = pg.role("member", "pw")  # inherits the owner's privileges
    noinherit = pg.role("noinherit", "pw")  # a member that does not inherit them
    grantee = pg.role("grantee", "pw")
    stranger = pg.role("stranger", "pw")
    column = pg.role("column", "pw")  # SELECT on one column only
    inserter = pg.role("inserter", "pw")  # INSERT, no SELECT
    superuser = pg.role("super", "pw")
    group = pg.role("group", "pw")  # a group the grantee belongs to
    pg.sql(f'''
        ALTER ROLE "{superuser}" SUPERUSER;
        ALTER ROLE "{noinherit}" NOINHERIT;
        GRANT "{owner}" TO "{member}";
        GRANT "{owner}" TO "{noinherit}";
        GRANT "{group}" TO "{stranger}";
        CREATE SCHEMA app AUTHORIZATION "{owner}";
        CREATE SCHEMA closed AUTHORIZATION "{owner}";
        GRANT USAGE ON SCHEMA app TO "{grantee}", "{column}", "{inserter}", "{stranger}";
        SET ROLE "{owner}";
        CREATE TABLE app.plain (id int, secret text);
        CREATE TABLE app.granted (id int);
        GRANT SELECT ON app.granted TO "{grantee}";
        CREATE TABLE app.to_public (id int);
        GRANT SELECT ON app.to_public TO PUBLIC;
        CREATE TABLE app.to_group (id int);
        GRANT SELECT ON app.to_group TO "{group}";
        CREATE TABLE app.insert_only (id int);
        GRANT INSERT ON app.insert_only TO "{inserter}";
        CREATE TABLE app.one_column (id int, secret text);
        GRANT SELECT (id) ON app.one_column TO "{column}";
        CREATE TABLE app.owner_revoked (id int);
        REVOKE ALL ON app.owner_revoked FROM "{owner}";
        CREATE VIEW app.a_view AS SELECT 1 AS one;
        CREATE MATERIALIZED VIEW app.a_matview AS SELECT 1 AS one;
        GRANT SELECT ON app.a_matview TO "{grantee}";
        CREATE TABLE app.parted (id int) PARTITION BY RANGE (id);
        CREATE TABLE closed.hidden (id int);
        GRANT SELECT ON closed.hidden TO "{grantee}";
        RESET ROLE;
    ''')
    roles = [owner, member, noinherit, grantee, stranger, column, inserter, superuser]
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        if int(version) >= 140000:  # pg_read_all_data / pg_write_all_data exist from PostgreSQL 14
            reader, writer = pg.role("reader", "pw"), pg.role("writer", "pw")
            conn.execute(f'GRANT pg_read_all_data TO "{reader}"; GRANT pg_write_all_data TO "{writer}"')
            roles += [reader, writer]
    return roles, owner


PG_SAYS = """
SELECT n.nspname, c.relname,
       has_schema_privilege(n.oid, 'USAGE'), has_table_privilege(c.oid, 'SELECT'),
       EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = n.nspname
                                                           AND t.table_name = c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('app', 'closed') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY 1, 2
"""


def test_select_and_shown_agree_with_postgresql_for_every_role_and_acl(pg):
    roles, _ = _setup(pg)
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        for role in roles:
            conn.execute(f'SET ROLE "{role}"')
            ours = {(s, n): (usage, select, shown) for s, n, who, shown, select, usage in conn.execute(TABLES_SQL)
                    if s in ("app", "closed")}
            theirs = {(s, n): (usage, select, shown) for s, n, usage, select, shown in conn.execute(PG_SAYS)}
            conn.execute("RESET ROLE")
            assert ours == theirs, role
    # the shapes above do reach every answer: not a comparison of constants
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        answers = set()
        for role in roles:
            conn.execute(f'SET ROLE "{role}"')
            answers |= {row[2:] for row in conn.execute(PG_SAYS)}
            conn.execute("RESET ROLE")
    assert {(True, True, True), (True, False, False), (True, False, True), (False, False, False),
            (False, True, True)} <= answers


def test_owner_is_named_and_matview_is_never_shown(pg):
    _, owner = _setup(pg)
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        rows = {(s, n): (who, shown) for s, n, who, shown, select, usage in conn.execute(TABLES_SQL)}
    assert rows[("app", "plain")] == (owner, True)
    assert rows[("app", "a_matview")] == (owner, False)  # information_schema.tables lists no matview
