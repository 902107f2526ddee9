-- +goose Up
-- Push delivery: every notification row is also its push's outbox entry
-- (see outbox.go). Rows that exist before this migration are marked
-- skipped (old notifications are never pushed): the column's default.
-- CreateComment writes its rows pending, due at their created_at.
--   push_state    pending | sent | skipped | failed
--   push_attempts claims counted so far (the fence of RecordDelivery)
--   push_next_at  when a pending row is due (a claim moves it to the end
--                 of its lease); NULL once final
--   push_done_at  when it became final (for sent rows: when it was pushed)
--   push_error    the last failure, truncated (for operators)
-- The columns come first in a statement of their own (an instant change
-- on MySQL 8 and MariaDB), then the indexes (built in place).
ALTER TABLE notifications
    ADD COLUMN push_state    VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'skipped',
    ADD COLUMN push_attempts INT          NOT NULL DEFAULT 0,
    ADD COLUMN push_next_at  DATETIME(6)  NULL,
    ADD COLUMN push_done_at  DATETIME(6)  NULL,
    ADD COLUMN push_error    VARCHAR(255) NOT NULL DEFAULT '';

ALTER TABLE notifications
    -- ClaimDeliveries: the due pending rows, earliest first.
    ADD KEY notifications_push_due (push_state, push_next_at),
    -- NotificationsSince: a user's rows from a time on.
    ADD KEY notifications_user_created (user_id, created_at),
    -- CountUnread: a user's unread rows (read_at IS NULL).
    ADD KEY notifications_user_unread (user_id, read_at),
    -- LastPushAt: the latest sent row of a user on a post.
    ADD KEY notifications_user_post_push (user_id, post_id, push_state, push_done_at);

-- The devices users receive pushes on. The id is the client's, unique per
-- user. address_hash is SHA-256 of domain.Device.Address() (platform and
-- token, or platform and Web Push endpoint): unique, so an address belongs
-- to one device of one user at a time (PutDevice moves it).
CREATE TABLE devices (
    user_id      VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id           VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    platform     VARCHAR(16)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    address_hash BINARY(32)    NOT NULL,
    -- FCM registration token or APNs device token; '' for Web Push.
    token        TEXT          NOT NULL,
    -- Web Push subscription (NULL endpoint: none).
    endpoint     TEXT          NULL,
    p256dh       VARCHAR(255)  NOT NULL DEFAULT '',
    auth         VARCHAR(255)  NOT NULL DEFAULT '',
    locale       VARCHAR(64)   NOT NULL DEFAULT '',
    channel_ref  VARCHAR(1024) NOT NULL DEFAULT '',
    created_at   DATETIME(6)   NULL,
    seen_at      DATETIME(6)   NULL,
    PRIMARY KEY (user_id, id),
    UNIQUE KEY devices_address (address_hash),
    -- PruneDevices walks the devices not seen for long.
    KEY devices_seen (seen_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per user with push preferences; no row means the defaults.
-- PutDevice and UpdateNotificationSettings make the row (with the
-- defaults) when missing and lock it: it is what serialises one user's
-- device registrations and settings updates.
CREATE TABLE notification_settings (
    user_id     VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    -- notification types not pushed, comma-separated.
    push_off    VARCHAR(1024) NOT NULL DEFAULT '',
    -- quiet hours: minutes after local midnight and the IANA zone; all
    -- NULL when none are set.
    quiet_start SMALLINT      NULL,
    quiet_end   SMALLINT      NULL,
    quiet_zone  VARCHAR(64)   NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Posts a user wants no pushes about. DeletePost removes a post's mutes,
-- DeleteUser the user's and those of the user's posts.
CREATE TABLE post_mutes (
    user_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    post_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    muted_at DATETIME(6) NULL,
    PRIMARY KEY (user_id, post_id),
    KEY post_mutes_post (post_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Single-use tokens (stream tickets), by the hash of their secret.
CREATE TABLE one_time_tokens (
    hash       VARBINARY(191) NOT NULL,
    purpose    VARCHAR(64)    NOT NULL,
    user_id    VARCHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    auth_time  DATETIME(6)    NULL,
    expires_at DATETIME(6)    NOT NULL,
    PRIMARY KEY (hash),
    -- PruneOneTimeTokens deletes expired tokens along this index.
    KEY one_time_tokens_expires (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE one_time_tokens;
DROP TABLE post_mutes;
DROP TABLE notification_settings;
DROP TABLE devices;
ALTER TABLE notifications
    DROP KEY notifications_user_post_push,
    DROP KEY notifications_user_unread,
    DROP KEY notifications_user_created,
    DROP KEY notifications_push_due;
ALTER TABLE notifications
    DROP COLUMN push_error,
    DROP COLUMN push_done_at,
    DROP COLUMN push_next_at,
    DROP COLUMN push_attempts,
    DROP COLUMN push_state;
