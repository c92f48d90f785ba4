CREATE SCHEMA billing;
CREATE TABLE billing.subscriptions (id SERIAL PRIMARY KEY);
CREATE TABLE billing.credit_transactions (id SERIAL PRIMARY KEY);
GRANT USAGE ON SCHEMA billing TO "{app_role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA billing TO "{app_role}";
