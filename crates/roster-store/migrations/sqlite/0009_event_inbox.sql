-- PostgreSQL numbers events after their transaction commits, in batches
-- (its 0009), so that its writers do not commit one after another on the
-- `events` counter row. SQLite has one writer at a time: its events keep
-- taking their `seq` in the transaction that appends them. Nothing to
-- change here; the file keeps the two lists of migrations numbered alike.
SELECT 1;
