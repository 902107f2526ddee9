-- +goose Up
-- Per-feed positions: every change gets the next number of its feed
-- (1, 2, 3, ... per user, taken under the feed's head-row lock), so a reader
-- can tell a change it cannot see yet from one that does not exist: see the
-- package documentation (the sync feed). Changes written before this
-- migration have no position.
ALTER TABLE feed_heads ADD COLUMN pos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE feed_changes ADD COLUMN pos BIGINT NULL;

-- +goose Down
ALTER TABLE feed_changes DROP COLUMN pos;
ALTER TABLE feed_heads DROP COLUMN pos;
