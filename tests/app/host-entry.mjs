// The host side of MCP Apps from the SDK itself (@modelcontextprotocol/ext-apps/app-bridge), bundled for the
// browser by esbuild (tests/integration/mcp_app.rs): the test host page drives a view with it.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

window.McpAppsHost = { AppBridge, PostMessageTransport };
