// The notification stream against a real server whose streams last 3 s
// (CLOUDPOST_STREAM_MAX_AGE), so the client's reconnection with
// Last-Event-ID is exercised too.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./support/servers.mjs";
import { eventually, newUserClient } from "./support/helpers.mjs";

let server;
before(async () => {
  server = await startServer({ env: { CLOUDPOST_STREAM_MAX_AGE: "3s" } });
});
after(async () => {
  await server?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

it("streams notifications, reconnects and resumes with Last-Event-ID without loss", async () => {
  const alice = await newUserClient(server, "alice");
  const bob = await newUserClient(server, "bob");
  const post = await alice.cp.call(alice.cp.api.POST("/v1/posts", { body: { body: "comment here" } }));
  const comment = (body) =>
    bob.cp.call(bob.cp.api.POST("/v1/posts/{id}/comments", { params: { path: { id: post.id } }, body: { body } }));

  const got = [];
  const unread = [];
  const errors = [];
  let opens = 0;
  let openedAt = 0;
  const stream = alice.cp.notifications.stream({
    onOpen: () => {
      opens++;
      openedAt = Date.now();
    },
    onNotification: (n) => got.push(n),
    onUnread: (n) => unread.push(n),
    onError: (e) => errors.push(e),
  });
  try {
    await eventually(() => opens === 1 && unread.length === 1, 5000, "the stream to open");
    assert.equal(unread[0], 0);

    const c1 = await comment("first");
    await eventually(() => got.length === 1, 5000, "the first notification");
    assert.equal(got[0].type, "comment");
    assert.equal(got[0].postId, post.id);
    assert.equal(got[0].commentId, c1.id);
    assert.equal(got[0].actorId, bob.session.userId);
    assert.equal(stream.lastEventId, got[0].id);
    await eventually(() => unread.at(-1) === 1, 5000, "unread 1");

    // The server ends the stream 3 s after it opened; the client waits the
    // server's retry (2 s) and reconnects with Last-Event-ID. A comment made
    // in between is replayed after the reconnection.
    await sleep(Math.max(0, openedAt + 3300 - Date.now()));
    const c2 = await comment("while away");
    await eventually(() => got.length === 2, 8000, "the replayed notification");
    assert.ok(opens >= 2, `reconnected (opens ${opens})`);
    assert.equal(got[1].commentId, c2.id);
  } finally {
    stream.close();
  }
  assert.equal(stream.closed, true);

  // Closed: two comments arrive meanwhile; a new stream from the last id gets
  // both, oldest first, and nothing twice.
  const c3 = await comment("third");
  const c4 = await comment("fourth");
  const resumed = [];
  const again = alice.cp.notifications.stream({ lastEventId: stream.lastEventId, onNotification: (n) => resumed.push(n) });
  try {
    await eventually(() => resumed.length >= 2, 5000, "the replay");
    await sleep(200);
    assert.deepEqual(resumed.map((n) => n.commentId), [c3.id, c4.id]);
  } finally {
    again.close();
  }
  assert.deepEqual(errors, []);
});

it("closes when the client signs out", async () => {
  const dave = await newUserClient(server, "dave");
  let opens = 0;
  const stream = dave.cp.notifications.stream({ onOpen: () => opens++ });
  await eventually(() => opens === 1, 5000, "the stream to open");
  await dave.cp.auth.signOut();
  await eventually(() => stream.closed, 2000, "the stream to close");
});
