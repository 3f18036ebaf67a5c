-- Real organizations (R13): users provisioned by operators (CLI) and by
-- identity providers (SCIM 2.0), invited instead of given a password, and
-- deactivated when they leave.

-- 0 once the user is deactivated: every request of theirs is denied and
-- their sessions end. An invited user has password_hash '' until the
-- invitation is used ('' never verifies).
ALTER TABLE users ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
-- What the organization's identity provider knows of the user (SCIM):
-- its id there, and `name`, `displayName` and `emails` as sent (a JSON
-- object). 1 once the identity provider deleted the user: deactivated,
-- and gone for SCIM (the account and its audit trail stay).
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN profile TEXT;
ALTER TABLE users ADD COLUMN deprovisioned BIGINT NOT NULL DEFAULT 0;
-- Milliseconds; NULL for users created before this migration.
ALTER TABLE users ADD COLUMN created_at BIGINT;
ALTER TABLE users ADD COLUMN updated_at BIGINT;

-- Ids are unique whatever their letter case (`Bob` cannot join `bob`),
-- also when two creations race.
CREATE UNIQUE INDEX users_id_any_case ON users (LOWER(id));
CREATE UNIQUE INDEX organizations_id_any_case ON organizations (LOWER(id));

-- Single-use invitations: SHA-256 of a 256-bit token, never the token.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX invitations_by_user ON invitations (user_id);

-- An organization's bearer tokens for SCIM provisioning: SHA-256 only.
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_by_organization ON scim_tokens (organization_id);
