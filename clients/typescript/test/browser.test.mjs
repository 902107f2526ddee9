// The client in a real browser (Debian's Chromium, as scripts/ci/chromium.sh
// installs it; skipped without it): XMLHttpRequest uploads with progress
// and abort, localStorage tokens, the stream, and CORS.
//
// "same origin": the page's server proxies /v1 to the API (as a dev proxy
// does); the presigned blob upload still goes cross-origin to the API.
// "cross origin": the page calls the API on its own origin, allowed by
// CLOUDPOST_CORS_ORIGINS.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { freePort, startServer } from "./support/servers.mjs";

const chromium = process.env.CLOUDPOST_CHROMIUM || "/usr/bin/chromium";
const haveChromium = spawnSync(chromium, ["--version"], { stdio: "ignore" }).status === 0;
const skip = haveChromium ? false : `no Chromium at ${chromium} (scripts/ci/chromium.sh installs it)`;

let api, page, pageUrl, bundle, jpeg, profile;
const reports = new Map();

before(async () => {
  if (skip) return;
  const port = await freePort();
  pageUrl = `http://127.0.0.1:${port}`;
  api = await startServer({ env: { CLOUDPOST_CORS_ORIGINS: pageUrl } });
  const out = await build({
    entryPoints: [new URL("./browser/page.mjs", import.meta.url).pathname],
    bundle: true,
    format: "esm",
    write: false,
    logLevel: "warning",
  });
  bundle = out.outputFiles[0].contents;
  jpeg = await readFile(new URL("./fixtures/small.jpg", import.meta.url));
  profile = await mkdtemp(join(tmpdir(), "cloudpost-chromium-"));
  page = createServer(async (req, res) => {
    const u = new URL(req.url, pageUrl);
    if (u.pathname.startsWith("/v1/")) {
      // The dev proxy of the same-origin mode.
      const target = new URL(req.url, api.url);
      const up = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
      return;
    }
    if (u.pathname === "/report") {
      let body = "";
      for await (const c of req) body += c;
      res.end();
      reports.get(u.searchParams.get("mode"))?.(JSON.parse(body));
      return;
    }
    if (u.pathname === "/bundle.js") {
      res.setHeader("content-type", "text/javascript");
      return res.end(bundle);
    }
    if (u.pathname === "/small.jpg") {
      res.setHeader("content-type", "image/jpeg");
      return res.end(jpeg);
    }
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><script>
      const f = window.fetch;
      window.fetch = (u, i) => f(u === "/report" ? "/report?mode=" + new URLSearchParams(location.search).get("mode") : u, i);
    </script><script type="module" src="/bundle.js"></script>`);
  });
  await new Promise((r) => page.listen(port, "127.0.0.1", r));
});

after(async () => {
  page?.close();
  await api?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Opens the page in headless Chromium and resolves with its report. */
async function runPage(mode, apiBase) {
  const report = new Promise((resolve) => reports.set(mode, resolve));
  const url = `${pageUrl}/?mode=${mode}&api=${encodeURIComponent(apiBase)}`;
  const proc = spawn(chromium, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${join(profile, mode)}`, url], { stdio: "ignore" });
  const exited = new Promise((r) => proc.once("exit", r));
  let timer;
  try {
    return await Promise.race([
      report,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no report from the ${mode} page in 30 s`)), 30_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    proc.kill("SIGKILL");
    await exited;
  }
}

function check(r) {
  assert.equal(r.fatal, undefined, JSON.stringify(r.fatal));
  for (const step of ["signIn", "createPost", "upload", "stream"]) assert.ok(r[step]?.ok, `${step}: ${JSON.stringify(r[step])}`);
  assert.equal(r.signIn.value.stored, true, "tokens in localStorage");
  assert.equal(r.upload.value.status, "ready");
  assert.deepEqual(r.upload.value.variants, ["large", "medium", "original", "small", "thumb"]);
  const last = r.upload.value.progress.at(-1);
  assert.ok(last && last.loaded === last.total && last.total >= 898, JSON.stringify(r.upload.value.progress));
  assert.equal(r.abort.ok, false);
  assert.equal(r.abort.name, "AbortError");
  assert.deepEqual(r.stream.value, [0]);
}

describe("in a browser", { skip }, () => {
  it("same origin (dev proxy): XHR upload with progress, abort, stream", async () => {
    check(await runPage("same", pageUrl));
  });

  it("cross origin (CORS)", async () => {
    check(await runPage("cross", api.url));
  });
});
