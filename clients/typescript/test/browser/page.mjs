// Runs in Chromium (bundled by test/browser.test.mjs): the client's browser
// paths — XMLHttpRequest uploads with progress and abort, CORS — against
// the real server. Reports { results } to POST /report on the page's server.
import { createCloudpost, localStorageTokens } from "../../dist/index.js";

const params = new URLSearchParams(location.search);
const results = {};

async function step(name, fn) {
  try {
    results[name] = { ok: true, value: await fn() };
  } catch (e) {
    results[name] = { ok: false, error: String(e), code: e?.code, name: e?.name };
  }
}

async function main() {
  const cp = createCloudpost({ baseUrl: params.get("api"), tokens: localStorageTokens(`cp-${params.get("mode")}`) });
  const email = `browser-${params.get("mode")}-${Date.now()}@example.com`;
  await step("signIn", async () => {
    await cp.auth.signUp({ email, password: "secret123", displayName: "Browser" });
    const [mail] = await cp.auth.devMail(email);
    await cp.auth.confirm({ email, code: mail.code });
    const s = await cp.auth.signIn(email, "secret123");
    return { userId: s.userId, stored: JSON.parse(localStorage.getItem(`cp-${params.get("mode")}`)).refreshToken === s.refreshToken };
  });
  await step("createPost", async () => (await cp.call(cp.api.POST("/v1/posts", { body: { body: "from a browser" } }))).id);
  const jpeg = await (await fetch("/small.jpg")).blob();
  await step("upload", async () => {
    const progress = [];
    const media = await cp.upload(new File([jpeg], "small.jpg", { type: "image/jpeg" }), "post", {
      onProgress: (p) => progress.push(p),
    });
    return { status: media.status, variants: Object.keys(media.urls).sort(), progress };
  });
  await step("abort", async () => {
    const ac = new AbortController();
    const p = cp.upload(new File([jpeg], "small.jpg", { type: "image/jpeg" }), "post", { signal: ac.signal });
    ac.abort();
    await p;
    return "not aborted";
  });
  await step("stream", async () => {
    const got = [];
    await new Promise((resolve, reject) => {
      const s = cp.notifications.stream({
        lastEventId: "01a00000-0000-7000-8000-000000000000",
        onUnread: (n) => {
          got.push(n);
          s.close();
          resolve();
        },
        onError: (e) => {
          s.close();
          reject(e);
        },
      });
    });
    return got;
  });
}

main()
  .catch((e) => {
    results.fatal = { ok: false, error: String(e) };
  })
  .finally(() => fetch("/report", { method: "POST", body: JSON.stringify(results) }));
