// Makes sure the client package (@cloudpost/client, linked from
// ../../clients/typescript) is installed and built before the app is served,
// built or tested: `npm ci` there when it has no node_modules, `npm run build`
// there when dist/ is missing or older than src/ or package.json. Quick when
// nothing changed. CLOUDPOST_SKIP_CLIENT_BUILD=1 skips it (CI that built it).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const client = resolve(dirname(fileURLToPath(import.meta.url)), "../../../clients/typescript");

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function npm(...args) {
  console.error(`[ensure-client] npm ${args.join(" ")} (in clients/typescript)`);
  execFileSync("npm", args, { cwd: client, stdio: ["ignore", "inherit", "inherit"] });
}

if (process.env.CLOUDPOST_SKIP_CLIENT_BUILD === "1") process.exit(0);
if (!existsSync(join(client, "package.json"))) {
  console.error(`[ensure-client] ${client} has no package.json: the client package is missing`);
  process.exit(1);
}
if (!existsSync(join(client, "node_modules", "openapi-fetch"))) npm("ci", "--no-audit", "--no-fund");
const dist = join(client, "dist", "index.js");
const sources = Math.max(newest(join(client, "src")), statSync(join(client, "package.json")).mtimeMs);
if (!existsSync(dist) || statSync(dist).mtimeMs < sources) npm("run", "build");
