// Validate server.json documents against the MCP Registry's server.json schema (draft-07) with Ajv and its
// formats (uri, ...), both pinned in scripts/node-tools.
//
// Usage: node validate-server-json.mjs ROOT SCHEMA FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [root, schemaFile, ...files] = process.argv.slice(2);
const require = createRequire(path.join(root, ".node-tools/package.json"));
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));
let failed = false;
for (const file of files) {
  if (validate(JSON.parse(readFileSync(file, "utf8")))) {
    const shown = file.startsWith(root) ? path.relative(root, file) : file;
    console.log(`${shown}: valid against ${path.relative(root, schemaFile)}`);
  } else {
    failed = true;
    console.error(`${file} is not valid:`);
    for (const error of validate.errors) console.error(`  ${error.instancePath || "/"} ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
