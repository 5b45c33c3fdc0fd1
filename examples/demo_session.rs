//! "Give marketing access": drives the real `bedrock-provisioner` binary over stdio with rmcp's MCP
//! client, printing each request and result. Run it with `make demo` (which starts the local emulator).
//!
//! Usage: demo_session PATH_TO_BEDROCK_PROVISIONER

use std::process::ExitCode;

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::{Value, json};
use tokio::process::Command;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let binary = std::env::args()
        .nth(1)
        .ok_or("usage: demo_session PATH_TO_BEDROCK_PROVISIONER")?;
    let mut command = Command::new(&binary);
    command.args(["serve", "--mode", "admin"]);
    println!("$ {binary} serve --mode admin   (MCP over stdio)\n");
    let client = ().serve(TokioChildProcess::new(command)?).await?;
    if let Some(info) = client.peer_info() {
        println!("-> initialize");
        println!("<- {}", serde_json::to_string_pretty(&info.server_info)?);
    }
    let tools = client.list_all_tools().await?;
    println!("\n-> tools/list");
    for tool in &tools {
        let title = tool
            .annotations
            .as_ref()
            .and_then(|a| a.title.clone())
            .unwrap_or_default();
        println!("<- {}: {title}", tool.name);
    }

    let marketing = json!({
        "business_unit": "marketing",
        "purpose": "campaign copywriting",
        "owner": "jane.doe@example.com",
        "tags": {"cost-center": "cc-4711"}
    });
    let mut plan = marketing.clone();
    plan["dry_run"] = json!(true);
    call(&client, "First, the plan (dry run)", plan).await?;
    call(&client, "Give marketing access", marketing.clone()).await?;
    call(&client, "Run it again: nothing changes", marketing).await?;
    call_tool(
        &client,
        "Issue marketing's Bedrock API key into Secrets Manager (the key never enters the transcript)",
        "create_api_key",
        json!({"business_unit": "marketing", "deliver": "secrets_manager"}),
    )
    .await?;
    call_tool(
        &client,
        "Key health across all business units (never shows key values)",
        "list_api_keys",
        json!({}),
    )
    .await?;
    call_tool(
        &client,
        "Diagnose marketing's setup (cost tags are not active yet in a fresh account)",
        "diagnose",
        json!({"business_unit": "marketing", "model_id": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
               "checks": ["credentials", "permissions", "model_access", "user", "api_key", "model_in_region", "cost_tags"]}),
    )
    .await?;
    call_tool(
        &client,
        "What removing marketing would do (dry run; the real call needs confirm: true)",
        "deprovision_user",
        json!({"business_unit": "marketing", "dry_run": true}),
    )
    .await?;
    call(
        &client,
        "A bad request is refused before any AWS call",
        json!({"business_unit": "Marketing Team", "purpose": "x", "owner": "jane.doe@example.com"}),
    )
    .await?;
    client.cancel().await?;
    Ok(())
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    heading: &str,
    arguments: Value,
) -> Result<CallToolResult, Box<dyn std::error::Error>> {
    call_tool(client, heading, "provision_user", arguments).await
}

async fn call_tool(
    client: &RunningService<RoleClient, ()>,
    heading: &str,
    tool: &'static str,
    arguments: Value,
) -> Result<CallToolResult, Box<dyn std::error::Error>> {
    println!("\n== {heading}");
    println!("-> tools/call {tool} {arguments}");
    let params = CallToolRequestParams::new(tool)
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    let result = client.call_tool(params).await?;
    match (&result.structured_content, result.is_error) {
        (Some(structured), Some(false) | None) => {
            println!("<- {}", serde_json::to_string_pretty(structured)?);
        }
        _ => {
            for content in &result.content {
                if let Some(text) = content.as_text() {
                    println!("<- error: {}", text.text);
                }
            }
        }
    }
    Ok(result)
}
