// Shared by the tests: a client on a real server, a counting fetch, new users.
import { randomBytes } from "node:crypto";
import { createCloudpost, memoryTokens } from "../../dist/index.js";

export const PASSWORD = "secret123";

/** A fetch that counts requests by "METHOD /path" and can inject faults. */
export function countingFetch() {
  const calls = [];
  const faults = [];
  const f = async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const call = { method: req.method, path: url.pathname, headers: req.headers, status: undefined };
    calls.push(call);
    const fault = faults.findIndex((x) => x.method === req.method && x.path === url.pathname);
    const res = await fetch(req);
    call.status = res.status;
    if (fault >= 0) {
      const [x] = faults.splice(fault, 1);
      if (x.kind === "lose-response") {
        // The server did the work; the answer is lost on the way back.
        await res.arrayBuffer();
        throw new TypeError("fetch failed (injected: response lost)");
      }
    }
    return res;
  };
  return {
    fetch: f,
    calls,
    count: (method, path) => calls.filter((c) => c.method === method && c.path === path).length,
    /** The next request of method+path reaches the server, but its response is lost. */
    loseNextResponse: (method, path) => faults.push({ method, path, kind: "lose-response" }),
  };
}

export function newEmail(tag = "u") {
  return `${tag}-${randomBytes(5).toString("hex")}@example.com`;
}

/** Signs up, confirms with the dev mail code and signs in; returns the session. */
export async function signUpAndIn(cp, { email = newEmail(), displayName = "Test" } = {}) {
  const res = await cp.auth.signUp({ email, password: PASSWORD, displayName });
  const [mail] = await cp.auth.devMail(email);
  await cp.auth.confirm({ email, code: mail.code });
  const session = await cp.auth.signIn(email, PASSWORD);
  return { email, session, signUp: res };
}

/** A signed-in client of a new user on server (with a counting fetch). */
export async function newUserClient(server, tag) {
  const net = countingFetch();
  const tokens = memoryTokens();
  const cp = createCloudpost({ baseUrl: server.url, fetch: net.fetch, tokens });
  const user = await signUpAndIn(cp, { email: newEmail(tag), displayName: tag });
  return { cp, net, tokens, ...user };
}

/** Resolves when check() is true (polled), rejects after ms. */
export async function eventually(check, ms = 10_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
