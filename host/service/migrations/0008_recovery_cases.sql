-- The support desk (R14): recovery cases. A case's state moves only by a
-- compare-and-set on `version`, so a ticket is redeemed at most once even
-- when two redemptions race. Tokens are stored as SHA-256 only.
CREATE TABLE recovery_cases (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES users (id),
    -- The account's organization when the case opened: whose root sees it.
    organization_id TEXT NOT NULL,
    -- The support system's reference, shown to agents; never decides.
    ticket_reference TEXT NOT NULL,
    opened_by TEXT NOT NULL REFERENCES users (id),
    opened_at BIGINT NOT NULL,
    -- The identity checks performed: names of the schema's closed list,
    -- comma-separated.
    checks TEXT NOT NULL,
    approved_by TEXT REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'cancelled', 'ticket_issued', 'redeemed')),
    ticket_issued_at BIGINT,
    ticket_hash TEXT,
    cancel_link_hash TEXT NOT NULL,
    -- Who closed it (cancelled or redeemed), and when.
    closed_by TEXT,
    closed_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX recovery_cases_by_account ON recovery_cases (account_id, state);
CREATE INDEX recovery_cases_by_organization ON recovery_cases (organization_id, state);
CREATE UNIQUE INDEX recovery_cases_by_cancel_link ON recovery_cases (cancel_link_hash);
CREATE UNIQUE INDEX recovery_cases_by_ticket ON recovery_cases (ticket_hash);

-- What an audit row's action was about, beyond actor and target (a case's
-- checks and approvals): JSON written by the service, never typed text.
ALTER TABLE audit_log ADD COLUMN detail TEXT;
