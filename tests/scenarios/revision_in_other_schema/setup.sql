-- the job's role migrated its own schema (version_table_schema / search_path "$user"):
-- everything is at head, in schema migrator, which the service's search_path does not include
CREATE SCHEMA migrator;
SET search_path = migrator;
CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE subscriptions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), plan VARCHAR(50) NOT NULL);
CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), amount NUMERIC(12, 2) NOT NULL);
-- as `alembic upgrade` creates it
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('dc4fa32fd495');
GRANT USAGE ON SCHEMA migrator TO "{app_role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA migrator TO "{app_role}";
