-- The decision log: every decision the service made (console actions,
-- reads, forward-auth, login steps), sampled as configured, kept for the
-- configured retention, so that a candidate policy set can be replayed
-- against real traffic (`mfa-reset policies replay`). `request` is the
-- engine request as JSON — users, the session's times, the action; never a
-- secret. Login steps (which carry codes and keys) keep no request and
-- cannot be replayed. Written in batches off the decision path; a full
-- queue drops entries (counted), it never slows or fails a decision.
CREATE TABLE decision_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    organization TEXT NOT NULL,
    allowed BIGINT NOT NULL,
    denial_code TEXT,
    policy_revision TEXT NOT NULL,
    request TEXT
);
CREATE INDEX decision_log_at ON decision_log (at);
