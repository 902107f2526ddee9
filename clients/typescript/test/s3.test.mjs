// Uploads in S3 mode: the presigned request goes to versitygw (started by
// test/support/servers.mjs; skipped without it outside CI).
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startS3, startServer } from "./support/servers.mjs";
import { newUserClient } from "./support/helpers.mjs";

let s3, server;
before(async () => {
  s3 = await startS3({ corsOrigins: ["http://localhost:5173"] });
  if (s3) server = await startServer({ env: s3.env });
});
after(async () => {
  await server?.stop();
  await s3?.stop();
});

it("uploads a JPEG to S3 with the presigned request and waits until ready", async (t) => {
  if (!s3) return t.skip("versitygw not found: run scripts/ci/versitygw.sh");
  const { cp, net } = await newUserClient(server, "s3");
  const bytes = await readFile(new URL("./fixtures/small.jpg", import.meta.url));
  const progress = [];
  const media = await cp.upload(new Blob([bytes], { type: "image/jpeg" }), "avatar", { onProgress: (p) => progress.push(p) });
  assert.equal(media.status, "ready");
  assert.ok(media.urls.thumb);
  assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
  const put = net.calls.find((c) => c.path.includes(media.id) && (c.method === "PUT" || c.method === "POST") && !c.path.startsWith("/v1/"));
  assert.ok(put, "the bytes went to blob storage");
  assert.equal(put.headers.get("Authorization"), null, "no bearer token to blob storage");
  const thumb = await fetch(media.urls.thumb);
  assert.equal(thumb.status, 200);
});
