-- One policy set for the fleet (R16): sets published to the database, the
-- activations that make one the fleet's at an agreed time, and what each
-- replica has (seen, ready, active). Written by `mfa-reset policies
-- publish` and by the replicas; read by `mfa-reset policies status`.
CREATE TABLE policy_sets (
    revision TEXT PRIMARY KEY,
    -- The set as JSON: {"policies": [{"name", "text"}], "schema": {"name", "text"}}.
    source TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
-- Each publish is the next epoch; the highest one is the fleet's target.
-- Its `activate_at` is written once: before it every replica decides with
-- the set before, from it on with this one (or refuses).
CREATE TABLE policy_activations (
    epoch BIGINT PRIMARY KEY,
    revision TEXT NOT NULL REFERENCES policy_sets (revision),
    activate_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE TABLE policy_replicas (
    id TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL,
    -- The newest epoch this replica has seen, and the revision it holds
    -- ready for it (NULL: could not load it).
    epoch BIGINT,
    ready_revision TEXT,
    -- The revision that decides on this replica now.
    active_revision TEXT,
    state TEXT NOT NULL
);
