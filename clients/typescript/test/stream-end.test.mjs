// The stream's `end` event: the server checks each open stream's session
// every 10 s and ends it (event `end`) once the session is over; the client
// then stops for good.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./support/servers.mjs";
import { eventually, newUserClient } from "./support/helpers.mjs";
import { createCloudpost, memoryTokens } from "../dist/index.js";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

it("stops on `end` when the session ends elsewhere, without reconnecting", async () => {
  const carol = await newUserClient(server, "carol");
  let ended = null;
  let opens = 0;
  const errors = [];
  const stream = carol.cp.notifications.stream({
    onOpen: () => opens++,
    onEnd: (reason) => {
      ended = reason;
    },
    onError: (e) => errors.push(e),
  });
  await eventually(() => opens === 1, 5000, "the stream to open");
  // Sign out everywhere from another client of the same account.
  const elsewhere = createCloudpost({ baseUrl: server.url, tokens: memoryTokens(carol.tokens.get()) });
  await elsewhere.auth.signOut();
  await eventually(() => stream.closed, 15_000, "the end event");
  assert.equal(typeof ended, "string");
  assert.deepEqual(errors, []);
  await new Promise((r) => setTimeout(r, 2300)); // longer than the server's retry: 2000
  assert.equal(opens, 1, "no reconnection after the end");
});
