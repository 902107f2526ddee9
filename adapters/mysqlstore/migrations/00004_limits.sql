-- +goose Up
-- Rate limit counters: one row per key and fixed window, counted by Hit
-- with one upsert (see ratelimit.go). A window is identified by its start
-- and its end, so one key counted over windows of different lengths keeps
-- one counter per length. Keys are bytes (any text the core builds),
-- compared exactly.
CREATE TABLE rate_counters (
    k            VARBINARY(191) NOT NULL,
    window_start DATETIME(6)    NOT NULL,
    window_end   DATETIME(6)    NOT NULL,
    hits         BIGINT         NOT NULL,
    PRIMARY KEY (k, window_start, window_end),
    -- PruneRateCounters deletes ended windows in batches along this index.
    KEY rate_counters_end (window_end)
) ENGINE = InnoDB;

-- Per user, the instant before which the user's tokens are refused. Not
-- removed by DeleteUser: a deleted account's tokens stay refused.
CREATE TABLE token_revocations (
    user_id        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    revoked_before DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

-- +goose Down
DROP TABLE token_revocations;
DROP TABLE rate_counters;
