-- +goose Up
-- Requests sent with an Idempotency-Key (see idempotency.go): one row per
-- caller and key, pruned after a day. Keys and fingerprints are compared
-- exactly, byte for byte: VARBINARY, because ascii_bin (a PAD SPACE
-- collation on MySQL 8.0 and MariaDB) ignores trailing spaces, and a key
-- may end in one ("key" and "key " are two keys, like "key" and "Key").
--   fingerprint  the request (method, route, body) the key was used with
--   token        the claim of the request now running under the key
--   state        running | committed | done
--   resource_id  what the write created (set with state committed, in the
--                write's own transaction)
--   status, headers (a JSON object), body: the stored response (done)
--   lease_until  when a running claim may be taken over by a retry
-- DeleteUser deletes a user's rows.
CREATE TABLE idempotency_keys (
    user_id     VARCHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idem_key    VARBINARY(255) NOT NULL,
    fingerprint VARBINARY(255) NOT NULL,
    token       VARCHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    state       VARCHAR(16)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    resource_id VARCHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NULL,
    status      SMALLINT       NULL,
    headers     TEXT           NULL,
    body        MEDIUMBLOB     NULL,
    created_at  DATETIME(3)    NOT NULL,
    lease_until DATETIME(3)    NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    -- PruneIdempotencyKeys deletes old rows in batches along this index.
    KEY idempotency_keys_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE idempotency_keys;
