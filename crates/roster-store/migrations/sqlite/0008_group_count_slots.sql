-- PostgreSQL moves a group's counts into slots summed on read (its 0008),
-- so that concurrent membership changes to one group do not queue on each
-- other for them. SQLite has one writer at a time: its counts stay on the
-- group's row, kept as before. Nothing to change here; the file keeps the
-- two lists of migrations numbered alike.
SELECT 1;
