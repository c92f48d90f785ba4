-- what the auth service's create_all made on the shared database, and some of its data
CREATE TABLE auth_users (id varchar PRIMARY KEY, email varchar NOT NULL UNIQUE);
CREATE TABLE auth_tokens (id varchar PRIMARY KEY, user_id varchar NOT NULL REFERENCES auth_users(id));
CREATE TABLE auth_sessions (id varchar PRIMARY KEY, user_id varchar NOT NULL REFERENCES auth_users(id),
                            expires_at timestamptz);
CREATE TABLE auth_audit_logs (id varchar PRIMARY KEY, event varchar NOT NULL);
INSERT INTO auth_users SELECT 'u' || g, 'user' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO auth_sessions SELECT 's' || g, 'u' || (g % 500 + 1), now() FROM generate_series(1, 800) g;
INSERT INTO auth_tokens SELECT 't' || g, 'u' || (g % 500 + 1) FROM generate_series(1, 300) g;
INSERT INTO auth_audit_logs SELECT 'a' || g, 'login' FROM generate_series(1, 1000) g;
ANALYZE;
SELECT count(*) FROM auth_users WHERE email LIKE 'user1%';
