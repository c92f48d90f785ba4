-- the linear project applied to head: three tables and alembic_version at dc4fa32fd495
CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE subscriptions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), plan VARCHAR(50) NOT NULL);
CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), amount NUMERIC(12, 2) NOT NULL);
-- as `alembic upgrade` creates it
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('dc4fa32fd495');
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_role}";
