-- migrated by newer code: a revision this checkout does not have, and the table it made
CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE subscriptions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), plan VARCHAR(50) NOT NULL);
CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), amount NUMERIC(12, 2) NOT NULL);
CREATE TABLE referrals (id SERIAL PRIMARY KEY, user_id INTEGER REFERENCES users (id));
-- as `alembic upgrade` creates it
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version VALUES ('5f1e2d3c4b5a');
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app_role}";
