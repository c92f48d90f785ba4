-- the job migrated {db}; the service's own database {other_db} stayed empty
GRANT CREATE ON SCHEMA public TO "{job_role}";
SET ROLE "{job_role}";
CREATE TABLE subscriptions (id SERIAL PRIMARY KEY);
CREATE TABLE credit_transactions (id SERIAL PRIMARY KEY);
