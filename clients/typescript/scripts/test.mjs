// `npm test` after the build: builds the server from this checkout once
// (test/support/servers.mjs; CLOUDPOST_SERVER_BIN skips it), then runs the
// test files in parallel with node --test, each against its own server.
// Arguments replace the default file list (test/*.test.mjs).
import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serverBinary } from "../test/support/servers.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = process.argv.slice(2);
if (!files.length) {
  for (const f of (await readdir(join(root, "test"))).sort()) if (f.endsWith(".test.mjs")) files.push(join("test", f));
}
let builtHere = null;
if (!process.env.CLOUDPOST_SERVER_BIN) {
  const started = Date.now();
  builtHere = await serverBinary();
  process.env.CLOUDPOST_SERVER_BIN = builtHere;
  console.log(`built the server in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
const child = spawn(process.execPath, ["--test", "--test-reporter=spec", `--test-concurrency=${files.length}`, ...files], { cwd: root, stdio: "inherit" });
const code = await new Promise((resolve) => child.once("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (builtHere) await rm(dirname(builtHere), { recursive: true, force: true });
process.exit(code);
