-- `alembic upgrade head` run by the migration role: it owns every table, and granted nothing
GRANT CREATE ON SCHEMA public TO "{job_role}";
SET ROLE "{job_role}";
CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE subscriptions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id));
CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id));
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('dc4fa32fd495');
