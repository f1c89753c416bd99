-- Events are numbered after their transaction commits, in batches, instead
-- of inside it.
--
-- Before, every write transaction took the `events` counter row as its
-- last statement and held it through its COMMIT's flush to disk, so all
-- writers committed one after another however little else they shared.
-- Now a write transaction appends its events to `event_inbox` (no shared
-- row: `id` comes from a sequence), commits, and then calls
-- `number_events`, which moves every committed event of the inbox into
-- `events` with the next `seq` numbers, under one advisory lock. A call
-- numbers whatever has committed by then, its own events and those of
-- every writer that committed meanwhile: one flush numbers a batch, and
-- the writers' own commits flush side by side.
--
-- `seq` stays gapless and in order: only `number_events` assigns it, one
-- call at a time, and a call's numbers are visible together, at its
-- commit, after every smaller number. An inbox row is committed, so the
-- change it records has taken effect, before it is numbered; a change
-- that waited for another's locks appends its events after that one
-- committed, so a later change never takes a smaller number than the one
-- it waited for. A writer answers only once its events are numbered. One
-- that dies between its commit and the numbering leaves its events in the
-- inbox for the next call (the next write, or any server's follower).
CREATE TABLE event_inbox (
    id          BIGSERIAL PRIMARY KEY,
    -- The transaction that appended it: its events stay together.
    xact        XID8 NOT NULL DEFAULT pg_current_xact_id(),
    at          BIGINT NOT NULL,
    actor       UUID,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);

-- Numbers the committed events of the inbox and returns the log's head: at
-- least the `seq` of every event whose inbox `id` is at most `upto` (every
-- event, when `upto` is NULL). Run it outside a transaction block: each of
-- its statements takes a fresh snapshot (READ COMMITTED), the one after the
-- lock sees every earlier call's commit, and the lock goes at its end.
CREATE FUNCTION number_events(upto BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    head BIGINT;
    n    BIGINT;
BEGIN
    -- Already numbered (by a call that committed), or nothing to number:
    -- no lock, no write.
    IF NOT EXISTS (SELECT 1 FROM event_inbox WHERE upto IS NULL OR id <= upto) THEN
        RETURN (SELECT value FROM counters WHERE name = 'events');
    END IF;
    PERFORM pg_advisory_xact_lock(7310520302);
    SELECT value INTO head FROM counters WHERE name = 'events';
    -- One transaction's events together, in the order it appended them;
    -- transactions in the order they began appending. (Ids of transactions
    -- appending at the same moment interleave; neither waited for the
    -- other, so either order is true.)
    WITH moved AS (DELETE FROM event_inbox RETURNING *)
    INSERT INTO events (seq, at, actor, action, target_type, target_id, before, after)
    SELECT head + row_number() OVER (ORDER BY first_id, id), at, actor, action, target_type, target_id, before, after
    FROM (SELECT moved.*, min(id) OVER (PARTITION BY xact) AS first_id FROM moved) m;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE counters SET value = head + n WHERE name = 'events';
        -- Followers on other servers wake at this commit.
        PERFORM pg_notify('roster_events', '');
    END IF;
    RETURN head + n;
END $$;
