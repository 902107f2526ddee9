-- +goose Up
-- What the image pipeline verified: the blob ETag of the upload it
-- processed and the hex SHA-256 of its bytes ('' until processed).
ALTER TABLE media
    ADD COLUMN etag     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    ADD COLUMN checksum VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    -- CreateMedia counts an owner's pending and processing items (and the
    -- oldest created_at among them) from this index alone.
    ADD KEY media_owner_status (owner_id, status, created_at),
    -- ListStaleMedia walks the pending and processing items by id.
    ADD KEY media_status (status, id);

-- One row per media owner, locked by CreateMedia (INSERT ... ON DUPLICATE
-- KEY UPDATE) so that creations for one owner count and insert one at a
-- time: see the package documentation (admission).
CREATE TABLE media_admission (
    owner_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (owner_id)
) ENGINE = InnoDB;

-- +goose Down
DROP TABLE media_admission;
ALTER TABLE media
    DROP KEY media_status,
    DROP KEY media_owner_status,
    DROP COLUMN checksum,
    DROP COLUMN etag;
