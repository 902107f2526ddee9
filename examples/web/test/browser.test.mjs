// Browser tests of the web app: the BUILT app (vite build → dist/), served by
// a small static server, in Debian's chromium driven by playwright-core,
// against the real Go server (clients/typescript/test/support/servers.mjs).
//
//   memory mode  the whole flow with `make run`'s adapters (uploads go to the
//                server's own /v1/blobs/ presigned URLs)
//   s3 mode      the same flow with blobs in versitygw: the browser uploads
//                straight to the S3 endpoint (CORS preflight included)
//   cors         the app served from an origin that CLOUDPOST_CORS_ORIGINS
//                does not list cannot call the API and says so (role=alert)
//
// Screenshots: <repo>/dist/browser-screenshots/<mode>/NN-name.png.
// Environment: CLOUDPOST_CHROMIUM (default /usr/bin/chromium),
// CLOUDPOST_WEB_REUSE_DIST=1 (use examples/web/dist as it is, no build),
// CLOUDPOST_SERVER_BIN (a prebuilt server), CI=true (a missing chromium or
// versitygw fails instead of skipping).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtemp, mkdir, readFile, rm, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname, extname, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer, startS3, serverBinary, repoRoot } from "../../../clients/typescript/test/support/servers.mjs";

const started = Date.now();
const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = join(webDir, "dist");
const shotsRoot = join(repoRoot, "dist", "browser-screenshots");
const inCI = process.env.CI === "true";
const executablePath = process.env.CLOUDPOST_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const PASSWORD = "correct horse 42";
// The widths the API document gives each rendition (Media.urls).
const WIDTH = { thumb: 128, small: 320, medium: 1080, large: 2048 };

const log = (...a) => console.log("[browser]", ...a);

// ---------------------------------------------------------------- setup

let haveChromium = true;
let allowed; // the static server whose origin the API allows
let refused; // another one, at an origin the API does not allow
const cleanups = [];

before(async () => {
  if (!existsSync(executablePath)) {
    if (inCI) throw new Error(`${executablePath} not found: run scripts/ci/chromium.sh`);
    haveChromium = false;
    return;
  }
  // Build the app and the server at the same time.
  const t0 = Date.now();
  await Promise.all([buildApp(), serverBinary()]);
  log(`app and server built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  allowed = await serveStatic(distDir);
  refused = await serveStatic(distDir);
  cleanups.push(allowed.close, refused.close);
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  log(`browser tests took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

async function buildApp() {
  if (process.env.CLOUDPOST_WEB_REUSE_DIST === "1" && existsSync(join(distDir, "index.html"))) {
    log("reusing", distDir);
    return;
  }
  const { build } = await import("vite");
  // The tests point the app at their server with ?api=, which only such a build honours.
  process.env.VITE_CLOUDPOST_API_PARAM = "1";
  try {
    await build({ root: webDir, logLevel: "warn", configFile: join(webDir, "vite.config.ts") });
  } finally {
    delete process.env.VITE_CLOUDPOST_API_PARAM;
  }
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** A static file server for the built app on a free port of 127.0.0.1. */
async function serveStatic(root) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      let file = normalize(join(root, path));
      if (!file.startsWith(root + sep) && file !== root) throw new Error("outside");
      if (!(await stat(file).catch(() => null))?.isFile()) file = join(root, "index.html");
      const body = await readFile(file);
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((ok) => server.close(ok)) };
}

// ---------------------------------------------------------------- browser helpers

/** A chromium of its own (fresh --user-data-dir) for one user. */
async function openBrowser(label) {
  const dir = await mkdtemp(join(tmpdir(), "cloudpost-web-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  // Record every value the upload progress bars take.
  await context.addInitScript(() => {
    const w = window;
    w.__progress = [];
    const record = (el) => w.__progress.push({ id: el.id, value: el.value, max: el.max, percent: el.dataset.percent });
    new MutationObserver((muts) => {
      for (const m of muts) {
        if (m.type === "attributes" && m.target instanceof HTMLProgressElement) record(m.target);
        for (const n of m.addedNodes ?? []) {
          if (n instanceof HTMLProgressElement) record(n);
          else if (n instanceof Element) n.querySelectorAll("progress").forEach(record);
        }
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["value", "max", "data-percent"] });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`${label} console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`${label} page error: ${e.message}`));
  const close = async () => {
    await context.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  return { page, context, problems, close };
}

function shooter(mode) {
  const dir = join(shotsRoot, mode);
  let n = 0;
  const made = [];
  let cleared = false;
  return {
    dir,
    made,
    async shot(page, name) {
      if (!cleared) await rm(dir, { recursive: true, force: true }); // this run's screenshots only
      cleared = true;
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${String(++n).padStart(2, "0")}-${name}.png`);
      await page.screenshot({ path, fullPage: true });
      made.push(path);
    },
  };
}

/** A 3:2 (or any) JPEG drawn on an OffscreenCanvas in the page. */
async function makeJpeg(page, width, height, seed) {
  const b64 = await page.evaluate(
    async ({ width, height, seed }) => {
      const c = new OffscreenCanvas(width, height);
      const g = c.getContext("2d");
      const grad = g.createLinearGradient(0, 0, width, height);
      grad.addColorStop(0, `hsl(${seed * 47} 70% 55%)`);
      grad.addColorStop(1, `hsl(${seed * 47 + 180} 70% 30%)`);
      g.fillStyle = grad;
      g.fillRect(0, 0, width, height);
      for (let i = 0; i < 80; i++) {
        g.fillStyle = `hsl(${(i * 37 + seed * 50) % 360} 80% 60% / 0.5)`;
        g.beginPath();
        g.arc((i * 971) % width, (i * 613) % height, (width / 60) * (1 + (i % 7)), 0, Math.PI * 2);
        g.fill();
      }
      g.fillStyle = "#fff";
      g.font = `bold ${Math.round(height / 7)}px sans-serif`;
      g.fillText(`${width}×${height}`, width * 0.08, height * 0.58);
      const blob = await c.convertToBlob({ type: "image/jpeg", quality: 0.92 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = "";
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { width, height, seed },
  );
  const buf = Buffer.from(b64, "base64");
  assert.deepEqual(jpegSize(buf), { width, height }, "the generated JPEG has the asked size");
  return buf;
}

/** Width and height from a JPEG's SOF marker. */
function jpegSize(buf) {
  assert.equal(buf.readUInt16BE(0), 0xffd8, "JPEG magic");
  let i = 2;
  while (i < buf.length) {
    const marker = buf.readUInt16BE(i);
    const len = buf.readUInt16BE(i + 2);
    if (marker >= 0xffc0 && marker <= 0xffcf && ![0xffc4, 0xffc8, 0xffcc].includes(marker)) {
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  throw new Error("no SOF marker");
}

/** Waits for an <img> to load, then returns what the browser chose. */
async function loadedImage(locator) {
  await locator.scrollIntoViewIfNeeded();
  await locator.evaluate(
    (img) =>
      img.complete && img.naturalWidth > 0
        ? null
        : new Promise((ok, fail) => {
            img.addEventListener("load", ok, { once: true });
            img.addEventListener("error", () => fail(new Error(`image failed to load: ${img.currentSrc}`)), { once: true });
          }),
  );
  // With srcset w descriptors, img.naturalWidth is density-corrected (the
  // file's width × sizes / w); the file's own pixels come from a plain Image
  // of currentSrc (from the cache).
  return locator.evaluate(async (img) => {
    const plain = new Image();
    plain.src = img.currentSrc;
    await plain.decode();
    return {
      currentSrc: img.currentSrc,
      naturalWidth: plain.naturalWidth,
      naturalHeight: plain.naturalHeight,
      clientWidth: img.clientWidth,
      alt: img.alt,
    };
  });
}

const samePath = (a, b, base) => new URL(a, base).pathname === new URL(b, base).pathname;

/** A link of the signed-in navigation. */
const nav = (page, name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });

async function waitForData(page, selector, attr, value) {
  await page.waitForFunction(
    ({ selector, attr, value }) => document.querySelector(selector)?.getAttribute(attr) === value,
    { selector, attr, value },
    { timeout: 20_000 },
  );
}

/** The API's answers to method + path (a RegExp): `await rec.all()` gives [{url, status, body}]. */
function recordApi(page, apiUrl, method, pathRe) {
  const seen = [];
  page.on("response", (res) => {
    if (res.request().method() !== method || !res.url().startsWith(apiUrl)) return;
    if (!pathRe.test(new URL(res.url()).pathname)) return;
    seen.push(
      res.json().then(
        (body) => ({ url: res.url(), status: res.status(), body }),
        () => ({ url: res.url(), status: res.status(), body: null }),
      ),
    );
  });
  return { all: () => Promise.all(seen) };
}

// ---------------------------------------------------------------- the flow

async function signUp(page, appUrl, { name, email }, shot) {
  await page.goto(`${appUrl}#/signup`);
  await page.getByRole("heading", { name: "Sign up" }).waitFor();
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  if (shot) await shot(page, "sign-up");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Confirm your email" }).waitFor();
  const note = page.getByTestId("local-mode");
  await note.waitFor();
  assert.match(await note.innerText(), /Local mode: code read from the dev mailbox/);
  assert.match(await page.getByLabel("Confirmation code").inputValue(), /^\S+$/, "the code is filled in from the dev mailbox");
  if (shot) await shot(page, "confirm-dev-mailbox");
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByRole("heading", { name: "Feed" }).waitFor();
}

/**
 * The client sends Idempotency-Key on POST /v1/uploads, /v1/posts and
 * /v1/posts/{id}/comments, so a page of another origin can make them only if
 * the server's CORS preflight allows that header. Checked first so that a
 * server without it fails here with the reason, not with a timeout.
 */
async function assertPreflightAllowsIdempotencyKey(apiUrl, origin) {
  const res = await fetch(`${apiUrl}/v1/uploads`, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
    },
  });
  const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
  assert.ok(
    allowed.includes("idempotency-key"),
    `the API's CORS preflight does not allow the Idempotency-Key header (Access-Control-Allow-Headers: ${res.headers.get("access-control-allow-headers")}); ` +
      "browsers then refuse every upload, post and comment from the app: add it to AllowHeaders in apps/httpapi/middleware.go (corsMiddleware)",
  );
}

async function fullFlow(t, { mode, server, s3Endpoint }) {
  await assertPreflightAllowsIdempotencyKey(server.url, allowed.origin);
  const { shot, made } = shooter(mode);
  const api = server.url;
  const appUrl = `${allowed.origin}/?api=${encodeURIComponent(api)}&limit=2`;
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const ana = { name: "Ana Lima", email: `ana-${stamp}@example.test` };
  const bo = { name: "Bo Berg", email: `bo-${stamp}@example.test` };

  const A = await openBrowser(`${mode}/ana`);
  const B = await openBrowser(`${mode}/bo`);
  const a = A.page;
  const b = B.page;
  // On a failure: a screenshot of each page, what they said, and the server's log.
  t.after(async () => {
    if (!failed) return;
    for (const [who, X] of [["ana", A], ["bo", B]]) {
      await shot(X.page, `FAILED-${who}`).catch(() => {});
      const said = await X.page.locator("[role=alert], [role=status]").allInnerTexts().catch(() => []);
      log(`${mode}/${who} at ${X.page.url()} says: ${JSON.stringify(said.filter(Boolean))}`);
      for (const p of X.problems) log(p);
    }
    log(`${mode} server log:\n${server.logs.join("").slice(-4000)}`);
  });
  let failed = true;
  t.after(() => Promise.all([A.close(), B.close()]));

  // Uploads: where the bytes went, and what answered.
  const blobPuts = [];
  for (const p of [a, b]) {
    p.on("response", (res) => {
      const m = res.request().method();
      if ((m === "PUT" || m === "POST") && (s3Endpoint ? res.url().startsWith(s3Endpoint) : /\/v1\/blobs\//.test(res.url()))) {
        blobPuts.push({ url: res.url(), status: res.status() });
      }
    });
  }
  const patches = recordApi(a, api, "PATCH", /^\/v1\/me$/);
  const postLists = recordApi(a, api, "GET", /^\/v1\/posts$/);
  const created = recordApi(a, api, "POST", /^\/v1\/posts$/);

  // 1. Ana signs up, confirms with the code from the dev mailbox (signed in).
  await signUp(a, appUrl, ana, shot);
  await shot(a, "feed-empty");

  // 2. Avatar with a progress bar; the 40/96 px avatar uses the 128 px thumb.
  await nav(a, "Profile").click();
  await a.getByRole("heading", { name: "Profile" }).waitFor();
  const avatarJpeg = await makeJpeg(a, 800, 800, 1);
  await a.getByLabel(/Choose a new avatar/).setInputFiles({ name: "avatar.jpg", mimeType: "image/jpeg", buffer: avatarJpeg });
  await a.getByText("Avatar updated.").waitFor({ timeout: 60_000 });
  const avatarMedia = (await patches.all()).at(-1)?.body?.image;
  assert.equal(avatarMedia?.status, "ready", "PATCH /v1/me answered the ready avatar");
  const avatarImg = await loadedImage(a.locator(`img.avatar[data-media-id="${avatarMedia.id}"]`));
  assert.ok(samePath(avatarImg.currentSrc, avatarMedia.urls.thumb, api), `avatar shows the thumb: ${avatarImg.currentSrc}`);
  assert.equal(avatarImg.naturalWidth, WIDTH.thumb);
  assert.equal(avatarImg.alt, `Avatar of ${ana.name}`);
  let progress = await a.evaluate(() => window.__progress);
  assert.ok(
    progress.some((p) => p.id === "pf-progress" && p.max > 1 && p.value === p.max && p.percent === "100"),
    `the avatar progress bar reached its max: ${JSON.stringify(progress.slice(-3))}`,
  );
  await shot(a, "profile-avatar");

  // 3. A post with a 3000×2000 JPEG: upload progress to 100 %, then the feed.
  await nav(a, "New post").click();
  await a.getByRole("heading", { name: "New post" }).waitFor();
  const photo = await makeJpeg(a, 3000, 2000, 2);
  const body = `Sunset over the harbour ${stamp}`;
  await a.getByLabel("What's new?").fill(body);
  await a.getByLabel(/^Images/).setInputFiles({ name: "harbour.jpg", mimeType: "image/jpeg", buffer: photo });
  await a.getByRole("img", { name: "Chosen image harbour.jpg" }).waitFor();
  await shot(a, "new-post");
  await a.getByRole("button", { name: "Publish" }).click();
  await a.getByRole("heading", { name: "Feed" }).waitFor({ timeout: 90_000 });
  progress = await a.evaluate(() => window.__progress);
  assert.ok(
    progress.some((p) => p.id === "np-progress" && p.max === photo.length && p.value === p.max && p.percent === "100"),
    `the post's progress bar reached ${photo.length}/${photo.length}: ${JSON.stringify(progress.filter((p) => p.id === "np-progress"))}`,
  );
  const post = (await created.all()).at(-1)?.body;
  assert.equal(post?.body, body);
  assert.equal(post.media.length, 1);
  const postCard = a.locator(`article[data-post-id="${post.id}"]`);
  await postCard.waitFor();
  // The single image is shown 606 CSS px wide at DPR 1: medium (1080 w) is the
  // smallest rendition that covers it; small (320) would be blurry, large wasteful.
  const listed = (await postLists.all()).flatMap((r) => r.body?.items ?? []).find((p) => p.id === post.id);
  assert.ok(listed, "GET /v1/posts listed the new post");
  const photoImg = await loadedImage(postCard.locator(`.images img`).first());
  assert.ok(photoImg.clientWidth > WIDTH.small && photoImg.clientWidth <= WIDTH.medium, `displayed width ${photoImg.clientWidth}`);
  assert.ok(samePath(photoImg.currentSrc, listed.media[0].urls.medium, api), `feed image is the medium rendition: ${photoImg.currentSrc}`);
  assert.equal(photoImg.naturalWidth, WIDTH.medium, "medium is 1080 wide");
  assert.equal(photoImg.naturalHeight, 720, "3:2 kept");
  assert.equal(photoImg.alt, `Image of the post: ${body}`);
  const authorImg = await loadedImage(postCard.locator("img.avatar"));
  assert.ok(samePath(authorImg.currentSrc, avatarMedia.urls.thumb, api), `author avatar is the thumb: ${authorImg.currentSrc}`);
  assert.equal(authorImg.naturalWidth, WIDTH.thumb);
  await shot(a, "feed-with-photo");

  // The uploads went where they should (S3 mode: straight to the S3 endpoint,
  // which means the CORS preflight passed; memory mode: the server's blobs).
  assert.ok(blobPuts.length >= 2 && blobPuts.every((r) => r.status >= 200 && r.status < 300), `uploads: ${JSON.stringify(blobPuts)}`);
  if (s3Endpoint) assert.ok(photoImg.currentSrc.startsWith(s3Endpoint), `images come from S3: ${photoImg.currentSrc}`);

  // Ana's stream is open and her badge says 0.
  await waitForData(a, "[data-testid=unread-badge]", "data-live", "live");
  await waitForData(a, "[data-testid=unread-badge]", "data-unread", "0");

  // 4. Bo signs up, writes two text posts (so the feed has three: two pages
  // of two), scrolls to Ana's post (infinite scroll) and comments on it.
  await signUp(b, appUrl, bo);
  for (const text of [`Bo's first post ${stamp}`, `Bo's second post ${stamp}`]) {
    await nav(b, "New post").click();
    await b.getByLabel("What's new?").fill(text);
    await b.getByRole("button", { name: "Publish" }).click();
    await b.getByRole("heading", { name: "Feed" }).waitFor();
    await b.getByText(text).waitFor();
  }
  const anaPostForBo = b.locator(`article[data-post-id="${post.id}"]`);
  await b.locator(".sentinel").scrollIntoViewIfNeeded();
  await anaPostForBo.waitFor(); // on the second page
  assert.equal(await b.locator("ol.posts > li").count(), 3);
  await shot(b, "feed-infinite-scroll");
  await anaPostForBo.getByRole("link", { name: /0 comments/ }).click();
  await b.getByRole("heading", { name: "Comments (0)" }).waitFor();
  const comment = `What a view! ${stamp}`;
  await b.getByLabel("Add a comment").fill(comment);
  await b.getByRole("button", { name: "Comment", exact: true }).click();
  await b.getByText("Comment added.").waitFor();
  await shot(b, "comment-written");

  // 5. Ana's badge goes up live (no reload), and the comment shows.
  await waitForData(a, "[data-testid=unread-badge]", "data-unread", "1");
  await a.getByText("New notification: someone commented on your post.").waitFor();
  await shot(a, "badge-live");
  await nav(a, /Notifications/).click();
  const item = a.getByRole("link", { name: `${bo.name} commented on your post` });
  await item.waitFor();
  await shot(a, "notifications");
  await item.click();
  await a.getByRole("heading", { name: "Comments (1)" }).waitFor();
  await a.locator(".comment").getByText(comment).waitFor();
  await waitForData(a, "[data-testid=unread-badge]", "data-unread", "0"); // read, live
  await shot(a, "post-comments");

  // Ana's feed is paged too (limit=2: the second page came by the cursor).
  await nav(a, "Feed").click();
  await a.getByRole("heading", { name: "Feed" }).waitFor();
  await a.locator(`article[data-post-id="${post.id}"]`).waitFor();
  assert.equal(await a.locator("ol.posts > li").count(), 3);
  assert.ok((await postLists.all()).some((r) => new URL(r.url).searchParams.get("cursor")), "the feed was paged with a cursor");

  // 6. Sign out, sign in again with the keyboard only.
  await a.getByRole("button", { name: "Sign out" }).click();
  await a.getByRole("heading", { name: "Sign in" }).waitFor();
  await a.getByLabel("Email").focus();
  await a.keyboard.type(ana.email);
  await a.keyboard.press("Tab");
  await a.keyboard.type(PASSWORD);
  await shot(a, "sign-in");
  await a.keyboard.press("Enter");
  await a.getByRole("heading", { name: "Feed" }).waitFor();

  // 7. Delete the account, with its confirm step; the account is gone.
  await nav(a, "Profile").click();
  await a.getByRole("button", { name: "Delete my account…" }).click();
  const yes = a.getByRole("button", { name: "Yes, delete my account" });
  await yes.waitFor();
  assert.equal(await yes.evaluate((el) => el === document.activeElement), true, "the confirm button takes the focus");
  await shot(a, "delete-confirm");
  await yes.click();
  await a.getByRole("heading", { name: "Sign up" }).waitFor();
  await a.getByText(`The account ${ana.email} was deleted.`).waitFor();
  await a.getByRole("link", { name: "Sign in" }).first().click();
  await a.getByLabel("Email").fill(ana.email);
  await a.getByLabel("Password").fill(PASSWORD);
  await a.getByRole("button", { name: "Sign in" }).click();
  await a.getByRole("alert").filter({ hasText: /\S/ }).first().waitFor();
  await shot(a, "deleted-cannot-sign-in");

  const problems = [...A.problems, ...B.problems].filter((p) => !/Failed to load resource: the server responded with a status of 401/.test(p));
  assert.deepEqual(problems, [], "no page errors");
  failed = false;
  log(`${mode}: ${made.length} screenshots in ${join(shotsRoot, mode)}`);
}

// ---------------------------------------------------------------- the tests

test("memory mode: sign-up to account deletion in chromium", { timeout: 240_000 }, async (t) => {
  if (!haveChromium) return t.skip(`${executablePath} not found: run scripts/ci/chromium.sh`);
  const t0 = Date.now();
  const server = await startServer({ env: { CLOUDPOST_CORS_ORIGINS: allowed.origin } });
  t.after(server.stop);
  await fullFlow(t, { mode: "memory", server });
  log(`memory mode took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test("cors: an origin not in CLOUDPOST_CORS_ORIGINS cannot call the API and says so", { timeout: 120_000 }, async (t) => {
  if (!haveChromium) return t.skip(`${executablePath} not found: run scripts/ci/chromium.sh`);
  const server = await startServer({ env: { CLOUDPOST_CORS_ORIGINS: allowed.origin } });
  t.after(server.stop);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, "the API itself is up");
  const { shot } = shooter("cors");
  const X = await openBrowser("cors");
  t.after(X.close);
  const page = X.page;
  await page.goto(`${refused.origin}/?api=${encodeURIComponent(server.url)}#/signin`);
  const alert = page.locator("#api-unreachable");
  await alert.waitFor();
  assert.equal(await alert.getAttribute("role"), "alert");
  const text = (await alert.innerText()).replace(/\s+/g, " ");
  assert.equal(
    text,
    `Cannot reach the API at ${server.url}. Is make run running, and is this page's origin (${refused.origin}) in CLOUDPOST_CORS_ORIGINS?`,
  );
  // The browser blocked it (CORS), not the network: the same page from the allowed origin works.
  assert.ok(X.problems.some((p) => /CORS|Access-Control-Allow-Origin/i.test(p)), `chromium reported a CORS refusal: ${X.problems.join("\n")}`);
  await page.getByLabel("Email").fill("nobody@example.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("form [role=alert]").filter({ hasText: `Cannot reach the API at ${server.url}.` }).waitFor();
  await shot(page, "cors-refused");
  await page.goto(`${allowed.origin}/?api=${encodeURIComponent(server.url)}#/signin`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.locator("#api-unreachable").count(), 0, "no alert from the allowed origin");
});

test("a deployed build ignores ?api= (a crafted link cannot send credentials elsewhere)", { timeout: 120_000 }, async (t) => {
  if (!haveChromium) return t.skip(`${executablePath} not found: run scripts/ci/chromium.sh`);
  const outDir = await mkdtemp(join(tmpdir(), "cloudpost-web-deployed-"));
  t.after(() => rm(outDir, { recursive: true, force: true }));
  const { build } = await import("vite");
  await build({ root: webDir, logLevel: "warn", configFile: join(webDir, "vite.config.ts"), build: { outDir, emptyOutDir: true } });
  const site = await serveStatic(outDir);
  t.after(site.close);
  const X = await openBrowser("deployed");
  t.after(X.close);
  await X.page.goto(`${site.origin}/?api=${encodeURIComponent("http://127.0.0.1:9")}#/signin`);
  await X.page.getByRole("heading", { name: "Sign in" }).waitFor();
  const footer = (await X.page.locator("footer").innerText()).replace(/\s+/g, " ");
  assert.match(footer, /http:\/\/127\.0\.0\.1:8000/, "the built-in API URL");
  assert.doesNotMatch(footer, /127\.0\.0\.1:9\b/, "not the one from the link");
});

test("s3 mode: the same flow with direct browser uploads to versitygw", { timeout: 240_000 }, async (t) => {
  if (!haveChromium) return t.skip(`${executablePath} not found: run scripts/ci/chromium.sh`);
  const t0 = Date.now();
  const s3 = await startS3({ corsOrigins: [allowed.origin] });
  if (!s3) return t.skip("versitygw not found: run scripts/ci/versitygw.sh (S3 mode skipped)");
  t.after(s3.stop);
  const server = await startServer({ env: s3.env });
  t.after(server.stop);
  await fullFlow(t, { mode: "s3", server, s3Endpoint: s3.endpoint });
  log(`s3 mode took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
