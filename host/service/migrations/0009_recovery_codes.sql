-- Recovery codes (R15): a session whose login used a recovery code instead
-- of the authenticator's code is marked, so the policies can hold it to
-- recovering (reset, enrol again). The codes themselves live hashed in the
-- encrypted authenticator.
ALTER TABLE sessions ADD COLUMN recovery_code_login BIGINT NOT NULL DEFAULT 0;
-- The unused codes' keyed hashes, sealed like the TOTP keys; NULL: none.
ALTER TABLE users ADD COLUMN recovery_codes TEXT;
