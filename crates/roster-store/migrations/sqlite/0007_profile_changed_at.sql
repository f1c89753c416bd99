-- When anything but the account's status last changed (Posit's
-- updated_time stays put when an account is locked or unlocked). Existing
-- users take their last change as their last profile change.
ALTER TABLE users ADD COLUMN profile_changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET profile_changed_at = updated_at;
