// The client against a real `cloudpost serve` (memory adapters, local
// identity provider): no mocks of the API.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startServer } from "./support/servers.mjs";
import { countingFetch, newEmail, newUserClient, PASSWORD, signUpAndIn } from "./support/helpers.mjs";
import { createCloudpost, CloudpostProblem, memoryTokens, createSync } from "../dist/index.js";

let server;
before(async () => {
  // Comments unlimited: the hasMore test writes more changes than one sync page holds.
  server = await startServer({ env: { CLOUDPOST_LIMIT_COMMENT_USER: "off", CLOUDPOST_LIMIT_COMMENT_ADDR: "off" } });
});
after(async () => {
  await server?.stop();
});

/** An access token the server refuses (its signature is broken) but a client sends as usual. */
function broken(token) {
  const [h, p, s] = token.split(".");
  return `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
}

describe("auth", () => {
  it("signs up, confirms with the dev mail code and signs in", async () => {
    const cp = createCloudpost({ baseUrl: server.url });
    const changes = [];
    cp.auth.onChange((s) => changes.push(s));
    const email = newEmail("signup");
    const res = await cp.auth.signUp({ email, password: PASSWORD, displayName: "Ana" });
    assert.equal(res.confirmationRequired, true);
    assert.ok(res.userId);

    // Unconfirmed: 403 UserNotConfirmed.
    await assert.rejects(cp.auth.signIn(email, PASSWORD), (e) => CloudpostProblem.is(e, "UserNotConfirmed") && e.status === 403);

    const mail = await cp.auth.devMail(email);
    assert.equal(mail.length, 1);
    assert.match(mail[0].code, /^\w+$/);
    await cp.auth.confirm({ email, code: mail[0].code });
    const session = await cp.auth.signIn(email, PASSWORD);
    assert.equal(session.userId, res.userId);
    assert.ok(session.expiresAt > Date.now());
    assert.deepEqual(cp.auth.session(), session);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].userId, res.userId);

    const me = await cp.call(cp.api.GET("/v1/me"));
    assert.equal(me.email, email);
    assert.equal(me.displayName, "Ana");

    // Wrong password: 401 with a problem.
    const other = createCloudpost({ baseUrl: server.url });
    await assert.rejects(other.auth.signIn(email, "wrong-password1"), (e) => CloudpostProblem.is(e, "Unauthenticated") && e.status === 401);
    assert.equal(other.auth.session(), null);
  });

  it("refreshes once for many concurrent 401s and retries them", async () => {
    const { cp, net, tokens } = await newUserClient(server, "refresh");
    const before = tokens.get();
    tokens.set({ ...before, accessToken: broken(before.accessToken) });
    const changes = [];
    cp.auth.onChange((s) => changes.push(s));

    const results = await Promise.all([
      cp.call(cp.api.GET("/v1/me")),
      cp.call(cp.api.GET("/v1/posts")),
      cp.call(cp.api.GET("/v1/notifications")),
      cp.call(cp.api.GET("/v1/me/notification-settings")),
      cp.call(cp.api.GET("/v1/devices")),
      cp.call(cp.api.GET("/v1/me")),
    ]);
    assert.equal(results.length, 6);
    assert.equal(net.count("POST", "/v1/auth/refresh"), 1, "exactly one refresh");
    assert.ok(net.calls.filter((c) => c.status === 401).length >= 2, "several requests got 401 first");
    const after = tokens.get();
    assert.notEqual(after.accessToken, before.accessToken);
    assert.equal(after.refreshToken, before.refreshToken);
    assert.equal(changes.length, 1, "listeners told once about the new tokens");

    // Later requests use the new token: no more refreshes.
    await cp.call(cp.api.GET("/v1/me"));
    assert.equal(net.count("POST", "/v1/auth/refresh"), 1);
  });

  it("refreshes before sending when the stored access token has expired", async () => {
    const { cp, net, tokens } = await newUserClient(server, "expired");
    tokens.set({ ...tokens.get(), expiresAt: Date.now() - 1000 });
    await cp.call(cp.api.GET("/v1/me"));
    assert.equal(net.count("POST", "/v1/auth/refresh"), 1);
    assert.equal(net.calls.filter((c) => c.status === 401).length, 0);
  });

  it("signs out when the refresh is refused, and tells the listeners", async () => {
    const { cp, net, tokens } = await newUserClient(server, "refused");
    const t = tokens.get();
    tokens.set({ ...t, accessToken: broken(t.accessToken), refreshToken: "not-a-refresh-token" });
    const changes = [];
    cp.auth.onChange((s) => changes.push(s));
    await assert.rejects(
      Promise.all([cp.call(cp.api.GET("/v1/me")), cp.call(cp.api.GET("/v1/posts"))]),
      (e) => CloudpostProblem.is(e, "Unauthenticated") && e.status === 401 && !!e.requestId,
    );
    assert.equal(net.count("POST", "/v1/auth/refresh"), 1);
    assert.equal(cp.auth.session(), null);
    assert.deepEqual(changes, [null]);
  });

  it("signs out: the session is gone locally and revoked on the server", async () => {
    const { cp, tokens } = await newUserClient(server, "signout");
    const old = tokens.get();
    const changes = [];
    cp.auth.onChange((s) => changes.push(s));
    await cp.auth.signOut();
    assert.equal(cp.auth.session(), null);
    assert.deepEqual(changes, [null]);
    await assert.rejects(cp.call(cp.api.GET("/v1/me")), (e) => CloudpostProblem.is(e, "Unauthenticated") && e.status === 401);

    // The old tokens are refused too (revoked): a client holding them ends signed out.
    const stale = createCloudpost({ baseUrl: server.url, tokens: memoryTokens({ ...old, accessToken: broken(old.accessToken) }) });
    await assert.rejects(stale.call(stale.api.GET("/v1/me")), (e) => CloudpostProblem.is(e, "Unauthenticated"));
    assert.equal(stale.auth.session(), null);
  });
});

describe("problems", () => {
  it("carry code, status, title, detail and requestId", async () => {
    const { cp } = await newUserClient(server, "problems");
    let res;
    const err404 = await cp.call(cp.api.GET("/v1/posts/{id}", { params: { path: { id: "01a00000-0000-7000-8000-000000000000" } } })).catch((e) => e);
    assert.ok(err404 instanceof CloudpostProblem);
    assert.ok(err404 instanceof Error);
    assert.equal(err404.code, "NotFound");
    assert.equal(err404.status, 404);
    assert.ok(err404.title);
    assert.ok(err404.detail);
    assert.match(err404.requestId, /^[A-Za-z0-9._:-]+$/);

    // The requestId is the response's X-Request-Id.
    res = await cp.api.GET("/v1/posts/{id}", { params: { path: { id: "missing" } } });
    const p = CloudpostProblem.fromBody(res.response, res.error);
    assert.equal(p.requestId, res.response.headers.get("X-Request-Id"));

    const err400 = await cp.call(cp.api.POST("/v1/posts", { body: { body: "" } })).catch((e) => e);
    assert.ok(CloudpostProblem.is(err400, "Invalid"), String(err400));
    assert.equal(err400.status, 400);
    assert.ok(err400.requestId);
  });

  it("a server that cannot be reached is a NetworkError with status 0", async () => {
    const cp = createCloudpost({ baseUrl: "http://127.0.0.1:9" });
    const err = await cp.call(cp.api.GET("/v1/push/config")).catch((e) => e);
    assert.ok(CloudpostProblem.is(err, "NetworkError"), String(err));
    assert.equal(err.status, 0);
    const err2 = await cp.auth.signIn("a@example.com", "x").catch((e) => e);
    assert.ok(CloudpostProblem.is(err2, "NetworkError"));
  });
});

describe("idempotency", () => {
  it("adds a quoted Idempotency-Key to creates and reuses it when retrying a lost response", async () => {
    const { cp, net } = await newUserClient(server, "idem");
    net.loseNextResponse("POST", "/v1/posts");
    const { data: post, response } = await cp.api.POST("/v1/posts", { body: { body: "only once" } });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("Idempotent-Replayed"), "true");
    const sent = net.calls.filter((c) => c.method === "POST" && c.path === "/v1/posts");
    assert.equal(sent.length, 2);
    const key = sent[0].headers.get("Idempotency-Key");
    assert.match(key, /^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$/);
    assert.equal(sent[1].headers.get("Idempotency-Key"), key);

    const me = cp.auth.session().userId;
    const page = await cp.call(cp.api.GET("/v1/posts", { params: { query: { author: me } } }));
    assert.deepEqual(page.items.map((p) => p.id), [post.id], "one post, the same");

    // Comments too.
    net.loseNextResponse("POST", `/v1/posts/${post.id}/comments`);
    const c = await cp.call(cp.api.POST("/v1/posts/{id}/comments", { params: { path: { id: post.id } }, body: { body: "hi" } }));
    const comments = await cp.call(cp.api.GET("/v1/posts/{id}/comments", { params: { path: { id: post.id } } }));
    assert.deepEqual(comments.items.map((x) => x.id), [c.id]);

    // A key the caller passes is kept, and a second request with it is a replay.
    const own = `"my-key-${Date.now()}"`;
    const a = await cp.api.POST("/v1/posts", { params: { header: { "Idempotency-Key": own } }, body: { body: "mine" } });
    const b = await cp.api.POST("/v1/posts", { params: { header: { "Idempotency-Key": own } }, body: { body: "mine" } });
    assert.equal(a.data.id, b.data.id);
    assert.equal(b.response.headers.get("Idempotent-Replayed"), "true");
    assert.equal(net.calls.at(-1).headers.get("Idempotency-Key"), own);

    // Requests without an Idempotency-Key parameter get none.
    await cp.call(cp.api.POST("/v1/notifications/read", { body: { all: true } }));
    assert.equal(net.calls.at(-1).headers.get("Idempotency-Key"), null);
  });
});

describe("uploads", () => {
  it("uploads a JPEG, completes it and waits until it is ready with variants", async () => {
    const { cp, net } = await newUserClient(server, "upload");
    const bytes = await readFile(new URL("./fixtures/small.jpg", import.meta.url));
    const progress = [];
    const media = await cp.upload(new Blob([bytes], { type: "image/jpeg" }), "post", { onProgress: (p) => progress.push(p) });
    assert.equal(media.status, "ready");
    assert.equal(media.purpose, "post");
    assert.equal(media.contentType, "image/jpeg");
    assert.equal(media.size, bytes.length);
    for (const v of ["thumb", "small", "medium", "large", "original"]) assert.ok(media.urls[v], `urls.${v}`);
    assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
    assert.match(net.calls.find((c) => c.path === "/v1/uploads").headers.get("Idempotency-Key"), /^".+"$/);
    assert.equal(net.count("POST", `/v1/media/${media.id}/complete`), 1);

    // The variants can be downloaded.
    const thumb = await fetch(media.urls.thumb);
    assert.equal(thumb.status, 200);
    assert.match(thumb.headers.get("content-type"), /^image\//);

    const post = await cp.call(cp.api.POST("/v1/posts", { body: { body: "with image", mediaIds: [media.id] } }));
    assert.equal(post.media[0].id, media.id);

    const avatar = await cp.upload(new Blob([bytes], { type: "image/jpeg" }), "avatar");
    const me = await cp.call(cp.api.PATCH("/v1/me", { body: { imageId: avatar.id } }));
    assert.equal(me.image.id, avatar.id);
  });

  it("throws MediaFailed with the reason when the bytes are not an image", async () => {
    const { cp } = await newUserClient(server, "badimage");
    const err = await cp.upload(new Blob([new Uint8Array(64).fill(7)], { type: "image/jpeg" }), "post").catch((e) => e);
    assert.ok(CloudpostProblem.is(err, "MediaFailed"), String(err));
    assert.ok(err.detail.length > 0);
  });

  it("refuses a type the server does not take, and aborts with the signal", async () => {
    const { cp } = await newUserClient(server, "badtype");
    const err = await cp.upload(new Blob(["hello"], { type: "text/plain" }), "post").catch((e) => e);
    assert.ok(CloudpostProblem.is(err), String(err));
    assert.equal(err.status, 415);

    const bytes = await readFile(new URL("./fixtures/small.jpg", import.meta.url));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(cp.upload(new Blob([bytes], { type: "image/jpeg" }), "post", { signal: ac.signal }), (e) => e.name === "AbortError");
  });
});

describe("sync", () => {
  it("keeps the cursor and applies created then deleted posts", async () => {
    const { cp } = await newUserClient(server, "sync");
    const seen = [];
    const sync = cp.sync({ onChange: (changes) => seen.push(changes) });
    const first = await sync.pull();
    assert.equal(first.full, true);
    assert.ok(sync.cursor);
    assert.equal(sync.store.profile?.id, cp.auth.session().userId);

    const post = await cp.call(cp.api.POST("/v1/posts", { body: { body: "to be deleted" } }));
    const created = await sync.pull();
    assert.equal(created.full, false);
    assert.deepEqual(created.posts.map((p) => p.id), [post.id]);
    assert.ok(sync.store.posts.has(post.id));

    await cp.call(cp.api.DELETE("/v1/posts/{id}", { params: { path: { id: post.id } } }));
    const deleted = await sync.pull();
    assert.ok(deleted.deleted.some((d) => d.type === "post" && d.id === post.id), JSON.stringify(deleted));
    assert.equal(sync.store.posts.has(post.id), false);
    assert.equal(seen.length, 3);

    // A second helper resuming from the saved cursor sees nothing new.
    const resumed = createSync(cp, { cursor: sync.cursor });
    const none = await resumed.pull();
    assert.equal(none.full, false);
    assert.equal(none.posts.length + none.deleted.length, 0);
  });

  it("loops while hasMore (more changes than one page of 500)", async () => {
    const { cp, net } = await newUserClient(server, "syncmore");
    const sync = cp.sync();
    await sync.pull();
    const post = await cp.call(cp.api.POST("/v1/posts", { body: { body: "many comments" } }));
    const n = 520;
    for (let i = 0; i < n; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, n - i) }, (_, j) =>
          cp.call(cp.api.POST("/v1/posts/{id}/comments", { params: { path: { id: post.id } }, body: { body: `c${i + j}` } })),
        ),
      );
    }
    const before = net.count("GET", "/v1/sync");
    const changes = await sync.pull();
    assert.ok(net.count("GET", "/v1/sync") - before >= 2, "several pages, fetched in one pull");
    assert.equal(changes.full, false);
    assert.equal(changes.comments.length, n);
    assert.equal(sync.store.comments.size, n);
    assert.ok(sync.store.posts.has(post.id));
  });
});

describe("account", () => {
  it("deletes the account and signs out", async () => {
    const { cp, email } = await newUserClient(server, "delete");
    await cp.call(cp.api.POST("/v1/posts", { body: { body: "bye" } }));
    await cp.auth.deleteAccount();
    assert.equal(cp.auth.session(), null);
    await assert.rejects(cp.auth.signIn(email, PASSWORD), (e) => CloudpostProblem.is(e, "Unauthenticated"));
  });
});

describe("signed out", () => {
  it("calls to secured routes fail as Unauthenticated without a session", async () => {
    const net = countingFetch();
    const cp = createCloudpost({ baseUrl: server.url, fetch: net.fetch });
    await assert.rejects(cp.call(cp.api.GET("/v1/me")), (e) => CloudpostProblem.is(e, "Unauthenticated") && e.status === 401);
    assert.equal(net.count("POST", "/v1/auth/refresh"), 0);
    assert.equal(net.calls[0].headers.get("Authorization"), null);
    // Public routes work.
    const cfg = await cp.call(cp.api.GET("/v1/push/config"));
    assert.ok(Array.isArray(cfg.platforms));
    await signUpAndIn(cp);
  });
});
