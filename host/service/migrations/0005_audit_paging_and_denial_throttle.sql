-- Audit paging: newest first by (at, id) within an organization, and the
-- retention purge by time alone.
CREATE INDEX audit_by_organization_at_id ON audit_log (organization_id, at, id);
-- The index above serves every query the older one served.
DROP INDEX audit_by_organization;
CREATE INDEX audit_by_at ON audit_log (at);

-- Denied state-changing requests per session and per actor, in fixed
-- windows: from the limit on, further state changes are refused (429)
-- until the window ends, so that nobody can flood an audit trail. `subject`
-- is `session:<token hash>` or `actor:<user id>`; `audited_window` is the
-- window whose refusal was audited already (once per window).
CREATE TABLE denial_throttle (
    subject TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    denials BIGINT NOT NULL,
    audited_window BIGINT
);
