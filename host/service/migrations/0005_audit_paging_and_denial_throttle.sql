-- Audit paging: newest first by (at, id) within an organization, and the
-- retention purge by time alone.
CREATE INDEX audit_by_organization_at_id ON audit_log (organization_id, at, id);
-- The index above serves every query the older one served.
DROP INDEX audit_by_organization;
CREATE INDEX audit_by_at ON audit_log (at);

-- Refused state changes and login steps per session and per user, in
-- fixed windows: from the limit on, further ones are refused (429) until
-- the window ends, so that nobody can flood an audit trail. `subject` is
-- `session:<token hash>`, `actor:<user id>` (sessions that finished MFA) or
-- `pending:<user id>` (sessions that did not). `denials` counts refusals
-- decided in the window, `in_flight` requests being decided (each takes a
-- slot first, so a burst cannot pass a check made before any was counted);
-- `audited_window` is the window whose refusal was audited already.
CREATE TABLE denial_throttle (
    subject TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    denials BIGINT NOT NULL,
    in_flight BIGINT NOT NULL,
    audited_window BIGINT
);
