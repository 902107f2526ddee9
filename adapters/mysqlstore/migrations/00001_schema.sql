-- The cloudpost schema. Runs on MySQL 8.0 / Aurora MySQL 3 and MariaDB 10.11.
--
-- Conventions:
-- * ids are ASCII with binary collation: compact keys whose byte order is
--   the string order of Go, so UUIDv7 ids work as keyset cursors;
-- * text is utf8mb4 (emoji and every other 4-byte character round-trip);
-- * times are DATETIME(6) in UTC, NULL for Go's zero time;
-- * no foreign keys on purpose: the adapter checks references under row
--   locks in its transactions, and InnoDB's shared locks on FK parents turn
--   "insert child, then update parent counter" into deadlocks.

-- +goose Up
CREATE TABLE profiles (
    id           VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email        VARCHAR(320) NOT NULL,
    -- lower-cased email (written by the adapter): the case-insensitive
    -- uniqueness key, independent of the server's default collation.
    email_key    VARCHAR(320) NOT NULL,
    display_name VARCHAR(200) NOT NULL,
    bio          TEXT         NOT NULL,
    image_id     VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    created_at   DATETIME(6)  NULL,
    updated_at   DATETIME(6)  NULL,
    version      BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY profiles_email_key (email_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE media (
    id             VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner_id       VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    purpose        VARCHAR(32)  NOT NULL,
    content_type   VARCHAR(255) NOT NULL,
    size           BIGINT       NOT NULL,
    status         VARCHAR(32)  NOT NULL,
    failure_reason TEXT         NOT NULL,
    -- JSON array of variant names.
    variants       TEXT         NOT NULL,
    -- post the item is attached to, and its place in the post's list.
    post_id        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    post_pos       INT          NULL,
    claimed_at     DATETIME(6)  NULL,
    created_at     DATETIME(6)  NULL,
    updated_at     DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY media_owner (owner_id, id),
    KEY media_post (post_id, post_pos)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE posts (
    id            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    body          TEXT        NOT NULL,
    -- attached media ids in display order, comma-separated: a copy of
    -- media.post_id/post_pos kept by the same transactions, so reading a
    -- post is one primary-key lookup.
    media_ids     VARCHAR(700) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    comment_count BIGINT      NOT NULL DEFAULT 0,
    created_at    DATETIME(6) NULL,
    updated_at    DATETIME(6) NULL,
    version       BIGINT      NOT NULL,
    PRIMARY KEY (id),
    KEY posts_author (author_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE comments (
    id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    post_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    body       TEXT        NOT NULL,
    created_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY comments_post (post_id, id),
    KEY comments_author (author_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE notifications (
    id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type       VARCHAR(32) NOT NULL,
    actor_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    post_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    comment_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    created_at DATETIME(6) NULL,
    read_at    DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY notifications_user (user_id, id),
    KEY notifications_actor (actor_id),
    KEY notifications_comment (comment_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per feed (user). Every write locks the rows of the feeds it
-- appends to before it takes sequence numbers and keeps the locks until it
-- commits: see the package documentation (the sync feed).
CREATE TABLE feed_heads (
    user_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    changes BIGINT      NOT NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

CREATE TABLE feed_changes (
    seq       BIGINT      NOT NULL AUTO_INCREMENT,
    user_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    entity    VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    entity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    deleted   BOOLEAN     NOT NULL,
    at        DATETIME(6) NOT NULL,
    PRIMARY KEY (seq),
    KEY feed_changes_user (user_id, seq),
    KEY feed_changes_at (at)
) ENGINE = InnoDB;

-- horizon: the highest pruned sequence number.
CREATE TABLE feed_meta (
    id      TINYINT NOT NULL,
    horizon BIGINT  NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB;

INSERT INTO feed_meta (id, horizon) VALUES (1, 0);

-- +goose Down
DROP TABLE feed_meta;
DROP TABLE feed_changes;
DROP TABLE feed_heads;
DROP TABLE notifications;
DROP TABLE comments;
DROP TABLE posts;
DROP TABLE media;
DROP TABLE profiles;
