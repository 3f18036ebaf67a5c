-- The notification outbox: one row per MFA change, written in the change's
-- own transaction, delivered (signed) to the configured webhook by a
-- background worker. `id` is the event id the receiver deduplicates on
-- (`webhook-id`); `body` is the JSON sent, fixed when the change commits.
-- A claimed row's `next_attempt_at` is pushed past its delivery's timeout
-- (a lease), so replicas and restarts never lose a row, at worst repeat one.
CREATE TABLE notification_outbox (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT
);
CREATE INDEX notification_outbox_due ON notification_outbox (delivered_at, next_attempt_at);
