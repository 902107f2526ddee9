// The package version follows the OpenAPI document's info.version
// ("1.0" → 1.0.x): bumping one without the other fails here.
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { apiVersion } from "../dist/index.js";

const doc = parse(await readFile(new URL("../../../apps/httpapi/internal/apidoc/openapi.yaml", import.meta.url), "utf8"));
const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));

it("package.json's version starts with the document's info.version", () => {
  const info = String(doc.info.version);
  assert.ok(
    pkg.version === info || pkg.version.startsWith(`${info}.`),
    `package.json version ${pkg.version} does not start with info.version ${info}: bump them together`,
  );
});

it("the generated code is of the same document version", () => {
  assert.equal(apiVersion, String(doc.info.version), "src/generated is stale: run npm run generate");
});
