-- mfa-reset state. Portable SQL: the same file runs on SQLite and PostgreSQL
-- (flags are BIGINT 0/1 and times Unix seconds, which both read alike).
-- Never edit an applied migration: add a new numbered file.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    enforce_mfa BIGINT NOT NULL DEFAULT 0,
    -- Optimistic concurrency: every change checks and bumps it.
    version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    role TEXT NOT NULL CHECK (role IN ('root', 'sub_user')),
    password_hash TEXT NOT NULL,
    mfa_status TEXT NOT NULL DEFAULT 'off' CHECK (mfa_status IN ('off', 'enrolment_due', 'active')),
    -- TOTP keys, sealed with the service's AEAD key (never stored in clear).
    totp_pending TEXT,
    totp_active TEXT,
    last_accepted_step BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE sessions (
    -- SHA-256 of the token: a copy of the database does not log anyone in.
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    login_at BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    mfa_satisfied BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- R12: one row per decision about a state change, committed with the change.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    decision_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    allowed BIGINT NOT NULL,
    policy_ids TEXT NOT NULL,
    denial_code TEXT,
    -- The target row's version after the change (NULL when nothing changed).
    target_version BIGINT
);
CREATE INDEX audit_by_organization ON audit_log (organization_id, at);
