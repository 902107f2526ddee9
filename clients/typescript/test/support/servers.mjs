// Real servers for the TypeScript client's tests and the web app's browser
// tests: the cloudpost server (built once from this checkout with `go
// build`) and, for S3 mode, versitygw (installed by scripts/ci/versitygw.sh)
// with a bucket prepared by the project's own `cloudpost s3 setup`.
//
// Nothing here mocks the API: every test talks to `cloudpost serve`.
import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm, stat, mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";

const run = promisify(execFile);

/** The repository root (this file is clients/typescript/test/support/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

const inCI = process.env.CI === "true";

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

let built;

/**
 * Builds the server from this checkout once per process (go build uses
 * its cache, so a warm build takes a second or two) and returns the
 * binary's path. CLOUDPOST_SERVER_BIN skips the build.
 */
export function serverBinary() {
  if (process.env.CLOUDPOST_SERVER_BIN) return Promise.resolve(process.env.CLOUDPOST_SERVER_BIN);
  built ??= (async () => {
    const dir = join(tmpdir(), `cloudpost-js-tests-${process.pid}`);
    await mkdir(dir, { recursive: true });
    const bin = join(dir, "cloudpost");
    await run("go", ["build", "-o", bin, "./apps/server"], { cwd: repoRoot, maxBuffer: 16 << 20 });
    return bin;
  })();
  return built;
}

async function waitFor(url, proc, logs, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${logs.join("")}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${logs.join("")}`);
}

/**
 * Spawns bin with args (and env, else this process's environment), keeping
 * its output in logs; stop kills it and waits for its exit.
 */
function startProcess(bin, args, env) {
  const logs = [];
  const proc = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout.on("data", (d) => logs.push(String(d)));
  proc.stderr.on("data", (d) => logs.push(String(d)));
  const exited = new Promise((r) => proc.once("exit", r));
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGKILL");
      await exited;
    }
  };
  return { proc, logs, stop };
}

/**
 * Starts `cloudpost serve` on a free port with `make run`'s defaults
 * (memory storage, memory blobs, the local identity provider and its dev
 * mailbox) overridden by env, and waits for /readyz.
 *
 * @param {{env?: Record<string,string>}} [options]
 * @returns {Promise<{url: string, logs: string[], stop: () => Promise<void>}>}
 */
export async function startServer({ env = {} } = {}) {
  const bin = await serverBinary();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { proc, logs, stop } = startProcess(bin, ["serve"], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CLOUDPOST_HTTP_ADDR: `127.0.0.1:${port}`,
    CLOUDPOST_LOG_LEVEL: "warn",
    CLOUDPOST_LOCAL_BCRYPT_COST: "4",
    ...env,
  });
  try {
    await waitFor(`${url}/readyz`, proc, logs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, logs, stop };
}

async function exists(p) {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Where scripts/ci/versitygw.sh put versitygw (or CLOUDPOST_VERSITYGW, or PATH). */
export async function findVersitygw() {
  if (process.env.CLOUDPOST_VERSITYGW) return process.env.CLOUDPOST_VERSITYGW;
  const cache = process.env.CLOUDPOST_CACHE || join(homedir(), ".cache", "cloudpost");
  const p = join(cache, "bin", "versitygw");
  if (await exists(p)) return p;
  for (const dir of (process.env.PATH || "").split(":")) {
    if (dir && (await exists(join(dir, "versitygw")))) return join(dir, "versitygw");
  }
  return null;
}

/** Credentials and region of the versitygw server startS3 runs. */
export const s3 = { access: "cloudpostAK", secret: "cloudpostSecretKey0123456789", region: "us-east-1" };

/**
 * Starts versitygw on a free port (posix backend in a temp dir) and
 * prepares a new bucket with `cloudpost s3 setup`, whose CORS rules allow
 * corsOrigins. Returns the environment that points the server at it.
 * Without versitygw it throws in CI and returns null elsewhere (the caller
 * skips, naming scripts/ci/versitygw.sh).
 *
 * @param {{corsOrigins: string[]}} options
 */
export async function startS3({ corsOrigins }) {
  const gw = await findVersitygw();
  if (!gw) {
    if (inCI) throw new Error("versitygw not found: run scripts/ci/versitygw.sh (make services)");
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), "cloudpost-js-s3-"));
  const data = join(dir, "data");
  await mkdir(data);
  const port = await freePort();
  const { proc, logs, stop: stopProcess } = startProcess(
    gw,
    ["--access", s3.access, "--secret", s3.secret, "--region", s3.region,
      "--port", `127.0.0.1:${port}`, "--health", "/health", "--keep-alive", "--quiet", "posix", data],
  );
  const stop = async () => {
    await stopProcess();
    await rm(dir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    CLOUDPOST_BLOB: "s3",
    CLOUDPOST_S3_BUCKET: `cloudpost-web-${randomBytes(4).toString("hex")}`,
    CLOUDPOST_S3_REGION: s3.region,
    CLOUDPOST_S3_ENDPOINT: endpoint,
    CLOUDPOST_S3_PATH_STYLE: "true",
    CLOUDPOST_CORS_ORIGINS: corsOrigins.join(","),
    AWS_ACCESS_KEY_ID: s3.access,
    AWS_SECRET_ACCESS_KEY: s3.secret,
  };
  try {
    await waitFor(`${endpoint}/health`, proc, logs);
    const bin = await serverBinary();
    await run(bin, ["s3", "setup"], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, env, stop };
}
