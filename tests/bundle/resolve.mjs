// The staged bundle's server as an MCP host starts it: manifest + user configuration -> command, args and
// env, through getMcpConfigForManifest of @anthropic-ai/mcpb (the code Claude for macOS and Windows load
// bundles with). Prints an MCP client configuration ({"mcpServers": {"bundle": ...}}) for the Inspector CLI.
//
// Usage: node resolve.mjs ROOT STAGE USER_CONFIG_JSON
import { readFileSync } from "node:fs";
import path from "node:path";

const [root, stage, userConfig] = process.argv.slice(2);
const config = path.join(root, ".node-tools/node_modules/@anthropic-ai/mcpb/dist/shared/config.js");
const { getMcpConfigForManifest } = await import(config);
const manifest = JSON.parse(readFileSync(path.join(stage, "manifest.json"), "utf8"));
const server = await getMcpConfigForManifest({
  manifest,
  extensionPath: stage,
  systemDirs: {},
  userConfig: JSON.parse(userConfig),
  pathSeparator: path.sep,
});
if (!server) {
  console.error("mcpb resolved no server (required configuration missing?)");
  process.exit(1);
}
console.log(JSON.stringify({ mcpServers: { bundle: server } }, null, 2));
