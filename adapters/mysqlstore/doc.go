// Package mysqlstore is the MySQL implementation of ports.Storage, for
// MySQL 8.0, Aurora MySQL 3 and RDS (and MariaDB 10.11, which runs the
// tests). It uses database/sql with github.com/go-sql-driver/mysql and plain
// SQL that runs on both servers; no ORM. It passes the same contract
// suites as the memory store (porttest.RunStorage, RunRateCounters and
// RunRevocations).
//
// # Schema and migrations
//
// The schema lives in versioned goose migrations (migrations/*.sql)
// embedded in the binary. Migrate runs up, down or status (the app's
// `cloudpost migrate ...`); Config.Migrate = "auto" applies pending ones when
// the app starts. Nothing migrates implicitly: on Lambda run the migration
// once per deployment instead. Concurrent runs are serialised by goose's
// table lock.
//
// # Transactions and errors
//
// Every write is one transaction inside the adapter (the update-function
// pattern: lock the row with SELECT ... FOR UPDATE, call the caller's
// function, save). Transactions run on a second writer pool whose
// connections have autocommit off: the first statement opens the
// transaction, so none costs a BEGIN round trip; COMMIT or ROLLBACK ends
// it, and a connection whose end fails is discarded (the server rolls
// back on close), so none returns to the pool inside a transaction.
// Round trips are what a write costs on RDS (a fraction of a millisecond
// to a millisecond each), so the writes fold statements together: the
// update a write needs anyway (a post's comment count, the media it
// attaches, the post itself) goes into the multi-table UPDATE that
// reserves the feed positions (rowUpdate), and the rows a delete removes
// are read and locked by one UNION ALL. Creating a post costs 4 round
// trips, a comment 5, updating a post 4 or 5, deleting a comment or a
// post 5 (TestStatementsPerStoreCall holds the budgets, checked against
// the server's Questions counter). Rows are locked parent first (profile, post, comment,
// notification, media) so writers queue rather than deadlock; a deadlock
// (1213) or lock wait timeout (1205) that still happens reruns the whole
// transaction up to Config.Retries times with jittered back-off. A
// duplicate key is Conflict, sql.ErrNoRows is NotFound, callback errors
// come back unchanged, and a server that cannot be reached, a dropped
// connection, a timeout or exhausted retries is Unavailable with a
// Retry-After hint (HTTP 503). Every operation runs under the caller's
// context bounded by Config.QueryTimeout, so nothing hangs. Versions
// (profiles, posts) increase by one per update; the core compares them
// with If-Match (optimistic concurrency) inside the update function, which
// sees the locked, latest row. Comment counts change in the transaction
// that adds or removes the comment, under the post's row lock, so they are
// exact under concurrent writers. No foreign keys: their shared locks on
// the parent turn "insert a comment, then bump the post's count" into
// deadlocks; the adapter checks references under its own locks.
//
// Lists use keyset pagination on indexed columns (id < ? ORDER BY id DESC,
// with (author_id, id), (post_id, id) and (user_id, id) indexes); never
// OFFSET. Reads are one statement each: a post row carries its media ids
// in display order (posts.media_ids, written in the transactions that
// attach and detach media, beside the authoritative media.post_id), so
// reading a post is one primary-key lookup; GET /v1/posts/{id} is one
// statement for a post without media and two with (GetPostWithMedia),
// and a page of posts two (the page, then the media of all its posts).
//
// # Media admission: a cap on uploads in flight
//
// CreateMedia with an admit function lets the core cap how many items an
// owner has pending or processing. Counting and inserting must be
// serialised per owner, or two creations both count 19 and both insert
// under a cap of 20. Its transaction:
//
//  1. locks the owner's row in media_admission with INSERT ... ON
//     DUPLICATE KEY UPDATE (one row per owner, made on first use, removed
//     by DeleteUser). The upsert takes an exclusive record lock whether it
//     inserts the row or finds it, and record locks work the same under
//     REPEATABLE READ and READ COMMITTED, so the owner's creations queue
//     here one at a time until each commits or rolls back;
//  2. inserts the item;
//  3. counts the owner's other pending and processing items and their
//     oldest created_at with a locking read (LOCK IN SHARE MODE) covered
//     by the index (owner_id, status, created_at), calls admit, and
//     commits, or rolls back when admit refuses.
//
// Why not lock the owner's profile row: the port does not require a
// profile, and SELECT ... FOR UPDATE of a row that does not exist locks
// nothing under READ COMMITTED and only a gap under REPEATABLE READ; gap
// locks do not exclude each other, so two creations would both pass. An
// upsert always leaves a record to lock. A row of its own also keeps
// uploads from queueing behind profile updates.
//
// Why a locking count: it must include the previous holder's insert, and
// a plain read uses a snapshot, which can miss a transaction that has
// released its locks but is not yet visible to new snapshots (the moment
// the sync feed section below describes). A locking read reads the latest
// committed rows under either isolation level, waiting for a writer still
// in progress.
//
// Why insert before counting: under REPEATABLE READ the count takes
// next-key locks, which also cover the gaps at the ends of the owner's
// range; an insert after it could wait for the count of another owner
// whose range shares that gap while that owner's insert waits for ours
// (two new users uploading at once: both ranges are the end of the
// index). Inserting first, a creation's insert waits only for counts of
// transactions that have already inserted, and a count waits only for
// entries above it in the index, so the waits cannot form a cycle. Under
// READ COMMITTED there are no gap locks at all.
//
// Cost: four statements (upsert, INSERT, count, COMMIT or ROLLBACK);
// without an admit function, one INSERT and no transaction.
//
// # The sync feed: never missing a committed change
//
// Every write appends its changes to feed_changes, in its own transaction,
// with seq taken from an AUTO_INCREMENT column. The trap: sequence numbers
// are handed out when rows are inserted, not when transactions commit. If
// transaction A takes seq 10, B takes seq 11 and commits first, a reader
// can see 11, resume after it, and never see 10 when A commits.
//
// The adapter closes it per feed, in two steps. First, before inserting
// its changes, a write locks the row of every feed it appends to in
// feed_heads (INSERT ... ON DUPLICATE KEY UPDATE, in user-id order so that
// two writers never wait on each other in a cycle), and InnoDB keeps those
// row locks until the transaction commits or rolls back. So two writers of
// the same feed run their "take seq ... commit" sections one after the
// other: the second takes its sequence numbers only after the first
// committed, and the counter only grows, so within a feed commit order is
// sequence order.
//
// That alone is not enough: InnoDB releases a committing transaction's
// locks a moment before new read views see it as committed. When the
// committing thread is descheduled in that moment (a busy server), the
// next writer of the feed can commit and be seen first, and a reader
// passes the earlier change. TestFeedNeverMissesUnderLoad caught this on
// MariaDB 10.11 under CPU load (a comment and its notification missed in
// about one run in a hundred). So, second, every change also carries its
// position in its feed (feed_changes.pos: 1, 2, 3, ... per user, reserved
// on the locked head row in the same transaction), and a reader never
// passes a gap in positions:
//
//   - ChangesSince reads from the cursor's own change (its position is the
//     anchor) and stops before the first change whose position is not the
//     previous one plus one, answering "more": the missing change has
//     committed and shows a moment later. A rolled-back write gives its
//     positions back (the head row update rolls back too), so gaps close;
//     one that lasts longer than hiddenGrace (30 s; it cannot happen) is
//     passed, so a reader can never be held forever.
//   - Snapshot reads the feed's latest changes first and takes as its
//     position the highest seq below which no position is missing, then
//     reads the data in the same transaction: every change up to the
//     position is in the data (read at the same moment under REPEATABLE
//     READ, or later under READ COMMITTED); changes after it that the data
//     already shows are merely sent again.
//
// ChangesSince reads the writer (a replica applies transactions in commit
// order too, but several replicas behind one endpoint may lag differently
// between two calls). Writers of different feeds never wait for each
// other; the cost is that writes to one feed (one user's posts, comments
// and notifications) commit one at a time, which is also what keeps
// comment counts exact. TestFeedNeverMissesUnderLoad runs 8 writers and 3
// readers on one feed with delays injected between taking sequence
// numbers and committing; TestFeedLoadCatchesTheRace shows it fails
// without the feed lock; TestFeedStopsAtAGapInPositions checks the gap
// rule itself. Changes written before migration 00002 have no position
// and are not checked. One case stays outside the rule: a feed whose
// earlier changes were all pruned. A reader whose cursor is then the
// horizon has no anchor and checks positions from its second change on,
// and a snapshot can only check between the changes it sees; a change
// hidden at exactly that moment could be passed. It takes a user inactive
// for longer than the retention, two of their changes committing at once,
// and the server's visibility lag in between.
//
// Pruning deletes changes older than the retention (the core passes
// CLOUDPOST_SYNC_RETENTION) in batches, after raising the horizon (highest
// pruned seq, committed first); a cursor below the horizon gets a full
// snapshot.
//
// # Rate counters and token revocations
//
// Hit counts in fixed windows, one row of rate_counters per key and window
// (identified by its start and end, so a key counted over windows of two
// lengths has two counters), with one autocommit statement:
//
//	INSERT INTO rate_counters (k, window_start, window_end, hits)
//	VALUES (?, ?, ?, LAST_INSERT_ID(?))
//	ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(hits + ?)
//
// A new row starts at n; for an existing one InnoDB takes an exclusive
// lock on the row and increments the latest committed count (the update
// of an upsert is a locking read, never a snapshot), so concurrent hits
// queue on the row for the length of one statement and none is lost.
// LAST_INSERT_ID(expr) makes the server return the count after this
// statement's addition in the statement's own OK packet (the driver's
// LastInsertId, with client-side interpolation and with prepared
// statements alike): no second query, no session state read later, and
// nothing another connection does can change it. Hit with n = 0 only
// reads (one primary-key SELECT on the writer) and creates no row. A
// deadlock or lock wait timeout rolls the statement back whole and runs it
// again. PruneRateCounters deletes ended windows in statements of at most
// 1000 rows along the window_end index.
//
// RevokeTokens is one upsert that keeps the greater instant
// (GREATEST(revoked_before, ?)), so a later revocation always wins, also
// under concurrent calls; DeleteUser leaves token_revocations alone.
// TokensRevokedBefore and Hit read the writer even with a replica: a
// revocation or a hit recorded by another instance must count at once,
// and read-your-writes only covers this process's own writes. Each is
// one primary-key lookup.
//
// # Idempotency keys: the write marks its own record
//
// idempotency_keys has one row per user and Idempotency-Key (keys and
// fingerprints VARBINARY: compared byte for byte, trailing spaces
// included). ClaimIdempotencyKey is one autocommit upsert whose update
// only takes over an expired running claim with the same fingerprint;
// the primary key and the upsert's exclusive row lock make concurrent
// claims of one key race-free (exactly one gets true), and a claim that
// did not insert reads the row back. CreatePost, CreateComment and
// CreateMedia called with a claim in their context mark its row
// committed with the id they create in their own transaction, as one
// more rowUpdate of the feed reservation (claimUpdate): no extra round
// trip, and a claim no longer held (taken over by a retry, released)
// makes the reservation short, so the write rolls back and returns
// Conflict. A claim makes CreateMedia transactional (INSERT, UPDATE,
// COMMIT). CompleteIdempotencyKey and ReleaseIdempotencyKey are one
// statement each, fenced by the claim's token; PruneIdempotencyKeys
// deletes in batches of 1000 along the created_at index; DeleteUser
// deletes the user's rows.
//
// # Push delivery: the notification row is the outbox
//
// CreateComment inserts its notification with push_state 'pending' and
// push_next_at = CreatedAt in the same INSERT, so a notification and its
// push commit together (rows from before migration 00005 are 'skipped').
// ClaimDeliveries is one transaction of four statements:
//
//	SELECT ..., push_attempts FROM notifications
//	WHERE push_state = 'pending' AND push_next_at <= ?
//	ORDER BY push_next_at, id LIMIT ? FOR UPDATE SKIP LOCKED
//	UPDATE notifications SET push_attempts = push_attempts + 1,
//	       push_next_at = <now + lease> WHERE id IN (...)
//
// SKIP LOCKED (MySQL 8, MariaDB 10.6+) passes rows another claim holds
// locked instead of waiting, so relays of every process claim side by
// side and never get the same row: a claim commits only rows it locked
// while they were due, and after it commits they are due only when the
// lease ends. A relay that dies leaves its rows to come back then, with
// the next attempt number. RecordDelivery is one UPDATE fenced by
// "push_attempts = <the claim's number> AND push_state = 'pending'", so
// only the latest claim settles a row; a deferral (quiet hours,
// coalescing) gives the attempt back. TestClaimDeliveriesConcurrentClaimers
// races claimers under both isolation levels.
//
// Devices are keyed by (user, client id) with a unique SHA-256 of the
// push address, so a token or Web Push endpoint belongs to one device:
// PutDevice deletes any other holder in its transaction, which first
// locks the user's notification_settings row (made with the defaults when
// missing; the upsert-lock of media admission) so that the per-user cap
// holds under concurrent registrations, and writes before its one
// locking read so that new users registering at once never deadlock on
// gap locks (see PutDevice). One-time tokens are taken with a
// locking read and a DELETE in one transaction: of concurrent takers,
// the first gets the row and the others find it gone. Claims, outcomes,
// LastPushAt, DeliveryState, NotificationsAfter and NotificationsSince
// (the stream's resume and poll, which every process runs) and tokens
// read the writer; the per-user reads (devices, settings, mutes, unread
// counts) are routed like the user's other reads.
//
// # Read replicas and read-your-writes
//
// With Config.ReaderDSN set, writes, transactions and sync reads
// (ChangesSince, Snapshot, FeedHorizon, and the rate counter and
// revocation reads) use the writer and the other reads
// use the reader, except reads of something this process wrote within the
// last Config.ReadYourWrites (default 5s): each commit pins the users whose
// feeds it touched and the ids of the entities it wrote (and the global
// post list after a post write), and a read that depends on a pinned key
// goes to the writer. Why this rule: it costs no extra round trip and needs
// nothing from the server (no GTID waits, which differ between MySQL,
// MariaDB and Aurora), and it covers the common case of one process (a
// server, or the Lambda instance that handled the write) answering a
// user's next request. Two safety nets cover the rest: a read the reader
// answers with "not found" (one entity, or ids missing from a batch) is
// asked again on the writer, so a replica that lags never makes a new
// entity look missing or deleted; and ChangesSince pins the entities it
// returns, so the sync answer reads them at least as fresh as its changes.
// What remains is an update read back through a different process within
// the replica lag (Aurora: typically tens of milliseconds): it may show the
// previous version, which the version/ETag reveals.
//
// # RDS specifics
//
// Config.TLS = "rds" verifies the server with the Amazon RDS CA bundle
// embedded from certs/rds-ca-bundle.pem (all regions, RDS Proxy included);
// "true" uses the system roots; CLOUDPOST_MYSQL_CA_FILE adds certificates.
// Config.IAMAuth signs an IAM auth token (aws-sdk-go-v2/feature/rds/auth)
// for every new connection in the driver's BeforeConnect hook, so tokens
// (valid 15 minutes, checked only at connect) never go stale. The adapter
// keeps no session state that would pin RDS Proxy connections: the
// character set travels in the handshake (no SET NAMES), parameters are
// interpolated client-side (interpolateParams=true: no server-side
// prepared statements, which would also cost an extra round trip each),
// and there are no user variables, temporary tables or GET_LOCK. The
// transaction pool's connections set autocommit=0 when they open, one of
// the session settings RDS Proxy tracks without pinning. Other DSN
// parameters that set system variables send SET statements: avoid them
// behind RDS Proxy. The pool defaults suit Lambda (10 connections at most,
// closed after 30s idle, recycled after 5 minutes).
package mysqlstore
