-- the migration role made the schema and everything in it; the service role was granted what it needs
CREATE SCHEMA app AUTHORIZATION "{job_role}";
SET ROLE "{job_role}";
CREATE TABLE app.users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE app.subscriptions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES app.users (id));
CREATE TABLE app.credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES app.users (id));
CREATE TABLE app.alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO app.alembic_version VALUES ('dc4fa32fd495');
GRANT USAGE ON SCHEMA app TO "{app_role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO "{app_role}";
RESET ROLE;
ALTER ROLE "{app_role}" IN DATABASE "{db}" SET search_path = app, public;
