-- Times in milliseconds, as the engine keeps them (they were seconds).
UPDATE sessions SET login_at = login_at * 1000, last_activity_at = last_activity_at * 1000;
UPDATE audit_log SET at = at * 1000;
UPDATE users SET locked_until = locked_until * 1000 WHERE locked_until IS NOT NULL;

-- 1 when the session's login verified a code (or confirmed an enrolment);
-- when an organization starts enforcing MFA, sessions without it must
-- finish MFA before anything else.
ALTER TABLE sessions ADD COLUMN mfa_verified BIGINT NOT NULL DEFAULT 0;

-- Password guessing throttle (NIST SP 800-63B 5.2.2). `subject` is
-- `account:<id as typed>` (existing or not) or `address:<client ip>`.
CREATE TABLE login_throttle (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    last_failure_at BIGINT NOT NULL
);
