-- the staging database as the migration job left it: the seed project's three revisions applied by the
-- app's own role (job and service share the five secrets), alembic_version at add_deleted_at_001, and no
-- subscriptions, credit_transactions or agent_executions, which no revision creates
GRANT CREATE ON SCHEMA public TO "{app_role}";
SET ROLE "{app_role}";
-- bb39e1c49e2d initial schema
CREATE TABLE userbase (id VARCHAR NOT NULL PRIMARY KEY, email VARCHAR NOT NULL, full_name VARCHAR, created_at TIMESTAMPTZ DEFAULT now());
CREATE UNIQUE INDEX ix_userbase_email ON userbase (email);
CREATE TABLE assistants (id VARCHAR NOT NULL PRIMARY KEY, name VARCHAR, model VARCHAR NOT NULL);
CREATE TABLE threads (id VARCHAR NOT NULL PRIMARY KEY, user_id VARCHAR REFERENCES userbase (id), created_at TIMESTAMPTZ DEFAULT now());
CREATE TABLE messages (id VARCHAR NOT NULL PRIMARY KEY, thread_id VARCHAR NOT NULL REFERENCES threads (id), role VARCHAR NOT NULL, content JSON NOT NULL);
CREATE TABLE runs (id VARCHAR NOT NULL PRIMARY KEY, thread_id VARCHAR NOT NULL REFERENCES threads (id), assistant_id VARCHAR NOT NULL REFERENCES assistants (id), status VARCHAR NOT NULL);
-- 66e0e5d9662d add_missing_tables_and_columns_complete
CREATE TABLE mcp_external_servers (id VARCHAR NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE, url TEXT NOT NULL, transport VARCHAR(20) NOT NULL);
CREATE TABLE agent_state_snapshots (id VARCHAR NOT NULL PRIMARY KEY, run_id VARCHAR NOT NULL, thread_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL REFERENCES userbase (id), state_data JSON NOT NULL);
CREATE INDEX ix_agent_state_snapshots_run_id ON agent_state_snapshots (run_id);
CREATE TABLE corpus_audit_logs (id VARCHAR NOT NULL PRIMARY KEY, "timestamp" TIMESTAMPTZ, user_id VARCHAR, action VARCHAR NOT NULL);
ALTER TABLE userbase ADD COLUMN plan_tier VARCHAR;
ALTER TABLE runs ADD COLUMN completed_at TIMESTAMPTZ;
-- add_deleted_at_001
ALTER TABLE threads ADD COLUMN deleted_at TIMESTAMPTZ;
CREATE INDEX ix_threads_deleted_at ON threads (deleted_at);
-- as `alembic upgrade` creates it
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('add_deleted_at_001');
RESET ROLE;
