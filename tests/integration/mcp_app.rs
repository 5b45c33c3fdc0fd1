//! The spend chart as an MCP App (`io.modelcontextprotocol/ui`): a client that declares the extension sees
//! `query_costs` linked to `ui://bedrock-provisioner/spend` and the resource listed; a client that does not
//! sees today's listing; both get the same `query_costs` result. In headless Chromium (`make browser`), the
//! page runs under a host made of the SDK's own host side (AppBridge from @modelcontextprotocol/ext-apps,
//! bundled by esbuild) and draws the result it is sent: one bar segment per unit and month, heights
//! proportional to the amounts.

use crate::{common, report_html};

use std::{collections::BTreeMap, path::PathBuf, process::Command, sync::OnceLock};

use bedrock_provisioner::{
    mcp::app::{EXTENSION_ID, MIME_TYPE, SPEND_URI},
    mode::AccessMode,
};
use common::{Account, serve_in_process};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ClientConfig, ReadResourceRequestParams},
    service::RunningService,
};
use serde_json::{Value, json};

/// The first day of the month these tests run in, on the server's clock and the emulator's.
const THIS_MONTH: chrono::NaiveDate = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();

/// A client that declares MCP Apps (`with_app`) or not, connected in-process to a read-only server.
async fn client(account: &Account, with_app: bool) -> RunningService<RoleClient, ClientConfig> {
    let mut info = serde_json::to_value(ClientConfig::default()).unwrap();
    info["clientInfo"] = json!({"name": "mcp-app-test", "version": "1.0.0"});
    if with_app {
        info["capabilities"]["extensions"] = json!({EXTENSION_ID: {"mimeTypes": [MIME_TYPE]}});
    }
    let info: ClientConfig = serde_json::from_value(info).unwrap();
    let settings = account.settings_at(THIS_MONTH.and_hms_opt(12, 0, 0).unwrap().and_utc());
    info.serve(serve_in_process(AccessMode::ReadOnly, settings))
        .await
        .expect("MCP client connects")
}

/// `query_costs` over the seeded months (this one and the three before), as the tool returns it.
async fn query(client: &RunningService<RoleClient, ClientConfig>) -> (Value, Value) {
    let first = THIS_MONTH;
    let start = first - chrono::Months::new(3);
    let end = first + chrono::Months::new(1);
    let arguments = json!({"start": start.to_string(), "end": end.to_string()});
    let params = CallToolRequestParams::new("query_costs")
        .with_arguments(arguments.as_object().cloned().unwrap());
    let result = client.call_tool(params).await.unwrap();
    (arguments, serde_json::to_value(result).unwrap())
}

fn seed(account: &Account) -> BTreeMap<(String, String), f64> {
    let units = ["marketing", "sales", "research"].map(|u| Some(u.to_owned()));
    report_html::seed(
        account,
        &[units.as_slice(), &[None]].concat(),
        4,
        THIS_MONTH,
    )
}

#[tokio::test]
async fn only_clients_with_the_extension_see_the_link_and_everyone_gets_todays_result() {
    let account = Account::new();
    seed(&account);
    let plain = client(&account, false).await;
    let apps = client(&account, true).await;

    let tools = plain.list_all_tools().await.unwrap();
    let costs = tools.iter().find(|t| t.name == "query_costs").unwrap();
    assert!(
        tools.iter().all(|t| t.meta.is_none()),
        "no _meta without the extension"
    );
    let resources = plain.list_all_resources().await.unwrap();
    assert!(resources.iter().all(|r| r.uri != SPEND_URI));

    let linked = apps.list_all_tools().await.unwrap();
    let linked_costs = linked.iter().find(|t| t.name == "query_costs").unwrap();
    let meta = serde_json::to_value(&linked_costs.meta).unwrap();
    assert_eq!(meta["ui"]["resourceUri"], SPEND_URI);
    assert_eq!(meta["ui/resourceUri"], SPEND_URI);
    let mut unlinked = linked_costs.clone();
    unlinked.meta = None;
    assert_eq!(&unlinked, costs, "the link is the only difference");
    assert!(linked.iter().filter(|t| t.meta.is_some()).count() == 1);
    let listed = apps.list_all_resources().await.unwrap();
    let app = listed
        .iter()
        .find(|r| r.uri == SPEND_URI)
        .expect("the app is listed");
    assert_eq!(app.mime_type.as_deref(), Some(MIME_TYPE));

    for client in [&plain, &apps] {
        let read = client
            .read_resource(ReadResourceRequestParams::new(SPEND_URI))
            .await
            .unwrap();
        let contents = serde_json::to_value(&read.contents[0]).unwrap();
        assert_eq!(contents["mimeType"], MIME_TYPE);
        assert_eq!(contents["_meta"]["ui"]["csp"]["connectDomains"], json!([]));
        assert!(
            contents["text"]
                .as_str()
                .unwrap()
                .contains("default-src 'none'")
        );
    }
    let (_, without) = query(&plain).await;
    let (_, with) = query(&apps).await;
    assert_eq!(
        without, with,
        "query_costs answers alike with and without the extension"
    );
    assert!(without.get("_meta").is_none());
    assert!(
        without["structuredContent"]["rows"]
            .as_array()
            .unwrap()
            .len()
            >= 16
    );
}

/// The SDK's host side, bundled for the browser once: target/mcp-app/host.js.
fn host_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let dir = root.join("target/mcp-app");
            std::fs::create_dir_all(&dir).unwrap();
            let tools = Command::new(root.join("scripts/node-tools"))
                .status()
                .unwrap();
            assert!(tools.success(), "scripts/node-tools");
            let modules = root.join(".node-tools/node_modules");
            let built = Command::new(modules.join(".bin/esbuild"))
                .arg(root.join("tests/app/host-entry.mjs"))
                .args([
                    "--bundle",
                    "--format=iife",
                    "--platform=browser",
                    "--log-level=warning",
                ])
                .arg(format!("--outfile={}", dir.join("host.js").display()))
                .env("NODE_PATH", &modules)
                .status()
                .unwrap();
            assert!(built.success(), "esbuild of the AppBridge host");
            std::fs::copy(root.join("tests/app/host.html"), dir.join("host.html")).unwrap();
            dir
        })
        .clone()
}

#[tokio::test]
#[ignore = "needs Chromium (scripts/chromium installs it) and .node-tools: make browser"]
async fn the_app_draws_the_result_a_host_sends_it_through_the_sdks_app_bridge() {
    let account = Account::new();
    seed(&account);
    let apps = client(&account, true).await;
    let tools = apps.list_all_tools().await.unwrap();
    let uri = tools
        .iter()
        .find(|t| t.name == "query_costs")
        .unwrap()
        .meta
        .as_ref()
        .unwrap()["ui"]["resourceUri"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = apps
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let html = serde_json::to_value(&read.contents[0]).unwrap()["text"].clone();
    let (arguments, result) = query(&apps).await;

    let dir = host_dir();
    let data = format!(
        "window.APP_HTML = {html};\nwindow.TOOL_ARGS = {arguments};\nwindow.TOOL_RESULT = {result};\n"
    );
    std::fs::write(dir.join("data.js"), data).unwrap();
    let page = dir.join("host.html");
    let shot = dir.join("spend-app.png");
    report_html::headless(
        &page,
        &[
            "--virtual-time-budget=10000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let (dom, _) = report_html::headless(&page, &["--virtual-time-budget=10000", "--dump-dom"]);
    let figures = report_html::measured(&dom);
    assert_drawn(&figures, &result["structuredContent"]);
    println!("screenshot: {}", shot.display());
}

/// The view initialized with the SDK's host, drew one segment per unit and month holding the result's
/// amount with a height proportional to it, and named every unit in its legend.
fn assert_drawn(figures: &Value, report: &Value) {
    let log = figures["log"].to_string();
    assert!(
        log.contains("initialized bedrock-provisioner-spend"),
        "{log}"
    );
    assert!(
        log.contains("tool-result sent") && log.contains("size-changed"),
        "{log}"
    );
    assert_eq!(figures["rendered"], true, "{figures}");
    assert!(
        figures["csp"]
            .as_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let mut want: BTreeMap<(String, String), f64> = BTreeMap::new();
    for row in report["rows"].as_array().unwrap() {
        let key = (
            row["business_unit"].as_str().unwrap().to_owned(),
            row["start"].as_str().unwrap().to_owned(),
        );
        *want.entry(key).or_default() += row["amount"].as_f64().unwrap();
    }
    let segments = figures["segments"].as_array().unwrap();
    assert_eq!(segments.len(), want.len(), "{figures}");
    let px = segments
        .iter()
        .map(|s| s["height"].as_f64().unwrap())
        .sum::<f64>()
        / want.values().sum::<f64>();
    for ((unit, period), amount) in &want {
        let s = segments
            .iter()
            .find(|s| s["unit"] == unit.as_str() && s["period"] == period.as_str())
            .unwrap_or_else(|| panic!("no segment for {unit} {period}"));
        assert!((s["amount"].as_f64().unwrap() - amount).abs() < 1e-6, "{s}");
        assert!(
            (s["height"].as_f64().unwrap() - amount * px).abs() <= 1.0,
            "{s}"
        );
        assert!(
            s["title"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{unit}, "))
        );
    }
    let mut legend: Vec<&str> = figures["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    legend.sort_unstable();
    let mut units: Vec<&str> = want.keys().map(|(u, _)| u.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    assert_eq!(legend, units);
    let total: f64 = figures["total"].as_str().unwrap().parse().unwrap();
    assert!((total - report["total"].as_f64().unwrap()).abs() < 1e-6);
}
