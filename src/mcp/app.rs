//! The spend chart as an MCP App (the `io.modelcontextprotocol/ui` extension, SEP-1865): a `ui://` resource
//! holding one HTML page that draws the structured result of `query_costs` it receives from the host, linked
//! from the tool through `_meta.ui.resourceUri`. Only clients that declare the extension (with the
//! `text/html;profile=mcp-app` MIME type) see the link and the resource in their listings; every client gets
//! the same `query_costs` result, and any client may read the resource.

use rmcp::model::{ClientCapabilities, MetaObject, Resource, ResourceContents, Tool};
use serde_json::json;

/// The extension's identifier in the `extensions` capability map.
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/ui";
/// The MIME type of an MCP App's HTML.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";
/// URI of the spend chart.
pub const SPEND_URI: &str = "ui://bedrock-provisioner/spend";
/// The tool the chart shows the result of.
pub const SPEND_TOOL: &str = "query_costs";
/// The page: its own script and style only, no network.
const SPEND_HTML: &str = include_str!("app/spend.html");

/// Whether the client declared the extension with the MCP App MIME type.
pub fn supported(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities
        .and_then(|c| c.extensions.as_ref())
        .and_then(|extensions| extensions.get(EXTENSION_ID))
        .and_then(|settings| settings.get("mimeTypes"))
        .and_then(|types| types.as_array())
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(MIME_TYPE)))
}

/// `_meta` of the resource and its contents: no origin to connect to, load from or frame (the host's
/// default, most restrictive CSP), and a visible border.
fn resource_meta() -> MetaObject {
    let meta = json!({"ui": {
        "csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": []},
        "prefersBorder": true
    }});
    MetaObject(meta.as_object().cloned().unwrap_or_default())
}

/// The chart as `resources/list` shows it.
pub fn resource() -> Resource {
    Resource::new(SPEND_URI, "spend-chart")
        .with_title("Bedrock spend chart")
        .with_description(
            "An MCP App: a stacked bar chart of the query_costs result, spend per business unit and \
             day or month, with the totals and notes. Rendered by the host from the tool's structured \
             result; no network access.",
        )
        .with_mime_type(MIME_TYPE)
        .with_meta(resource_meta())
}

/// The chart's contents, for `resources/read`.
pub fn contents() -> ResourceContents {
    ResourceContents::text(SPEND_HTML, SPEND_URI)
        .with_mime_type(MIME_TYPE)
        .with_meta(resource_meta())
}

/// `tool` linked to the chart when it is `query_costs` (both the current `ui.resourceUri` and the older
/// flat `ui/resourceUri` key, which hosts still read).
pub fn link(mut tool: Tool) -> Tool {
    if tool.name == SPEND_TOOL {
        let meta = tool.meta.get_or_insert_with(MetaObject::new);
        meta.insert("ui".to_owned(), json!({"resourceUri": SPEND_URI}));
        meta.insert("ui/resourceUri".to_owned(), json!(SPEND_URI));
    }
    tool
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capabilities(value: serde_json::Value) -> ClientCapabilities {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_clients_declaring_the_mcp_app_mime_type_are_served_the_app() {
        let declared = json!({"extensions": {EXTENSION_ID: {"mimeTypes": [MIME_TYPE]}}});
        assert!(supported(Some(&capabilities(declared))));
        for other in [
            json!({}),
            json!({"extensions": {}}),
            json!({"extensions": {EXTENSION_ID: {}}}),
            json!({"extensions": {EXTENSION_ID: {"mimeTypes": ["text/html"]}}}),
            json!({"extensions": {"io.example/other": {"mimeTypes": [MIME_TYPE]}}}),
        ] {
            assert!(!supported(Some(&capabilities(other.clone()))), "{other}");
        }
        assert!(!supported(None));
    }

    #[test]
    fn the_page_fetches_nothing_and_parses_no_markup() {
        let page = SPEND_HTML.to_lowercase();
        for network in [
            "https:",
            "http:",
            "//cdn",
            "<link",
            "<img",
            "@import",
            "url(",
            "fetch(",
            "xmlhttprequest",
            "websocket",
            "eventsource",
            "innerhtml",
            "outerhtml",
            "insertadjacenthtml",
            "document.write",
            "eval(",
            "new function",
        ] {
            assert!(!page.contains(network), "{network}");
        }
        assert!(page.contains("default-src 'none'"));
        let meta = serde_json::to_value(contents()).unwrap();
        assert_eq!(meta["mimeType"], MIME_TYPE);
        assert_eq!(meta["_meta"]["ui"]["csp"]["connectDomains"], json!([]));
    }
}
