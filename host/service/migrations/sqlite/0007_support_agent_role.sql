-- no-transaction
-- Support agents (R14) are accounts of their own role. SQLite cannot
-- change a CHECK constraint in place: the table is rebuilt (SQLite's
-- documented procedure, https://sqlite.org/lang_altertable.html#otheralter),
-- with foreign keys off so that sessions and invitations keep pointing at it.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_rebuilt (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    role TEXT NOT NULL CHECK (role IN ('root', 'sub_user', 'support_agent')),
    password_hash TEXT NOT NULL,
    mfa_status TEXT NOT NULL DEFAULT 'off' CHECK (mfa_status IN ('off', 'enrolment_due', 'active')),
    totp_pending TEXT,
    totp_active TEXT,
    last_accepted_step BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1,
    external_id TEXT,
    profile TEXT,
    deprovisioned BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT,
    updated_at BIGINT
);
INSERT INTO users_rebuilt (id, organization_id, role, password_hash, mfa_status, totp_pending,
    totp_active, last_accepted_step, failures, locked_until, version, active, external_id,
    profile, deprovisioned, created_at, updated_at)
SELECT id, organization_id, role, password_hash, mfa_status, totp_pending,
    totp_active, last_accepted_step, failures, locked_until, version, active, external_id,
    profile, deprovisioned, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_by_organization ON users (organization_id);
CREATE UNIQUE INDEX users_id_any_case ON users (LOWER(id));
COMMIT;
PRAGMA foreign_keys = ON;
