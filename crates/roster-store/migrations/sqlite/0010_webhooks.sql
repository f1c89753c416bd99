-- Webhook subscriptions. The signing secret is stored as it is (base64):
-- the server signs with it, so a digest would not do; it is never read
-- back by a listing, only by the delivery worker and a rotation. The
-- delivery state lives on the row (the last seq handled, failed attempts
-- at the next event, when to try again) with the lease a server holds
-- while it delivers (`leased_by`, `leased_until`, taken by a conditional
-- UPDATE). `group_id` is not a foreign key: a subscription outlives the
-- deletion of its group (its deletion event is delivered; later events
-- match nothing).
CREATE TABLE webhooks (
    num                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    BLOB NOT NULL UNIQUE,
    url                   TEXT NOT NULL,
    event_types           TEXT NOT NULL,
    group_id              BLOB,
    description           TEXT,
    enabled               INTEGER NOT NULL,
    disabled_reason       TEXT,
    created_by            BLOB,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    delivered_seq         INTEGER NOT NULL,
    attempts              INTEGER NOT NULL DEFAULT 0,
    next_attempt_at       INTEGER,
    leased_by             TEXT,
    leased_until          INTEGER
);

-- The delivery log: recent attempts per subscription, and every dead letter.
CREATE TABLE webhook_attempts (
    num        INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    status     INTEGER,
    latency_ms INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, num);
CREATE INDEX webhook_attempts_dead ON webhook_attempts (webhook_id, num) WHERE outcome = 'dead';

-- Events asked for again one at a time: each sent once more, out of order.
CREATE TABLE webhook_redeliveries (
    webhook_id BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, seq)
);
