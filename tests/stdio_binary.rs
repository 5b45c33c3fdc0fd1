//! The built binary over stdio, as Claude Code runs it: initialize, list tools, provision. The environment
//! carries a junk AWS_BEARER_TOKEN_BEDROCK, which must not disturb the server's SigV4 calls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use bedrock_provisioner::core::provision::ProvisionReport;
use common::{Account, emulator, text};
use rmcp::{ServiceExt, model::CallToolRequestParams, transport::TokioChildProcess};
use serde_json::json;
use tokio::process::Command;

fn server_command(account: &Account, mode: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command
        .args(["serve", "--mode", mode])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", &account.id)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_BEARER_TOKEN_BEDROCK", "ABSKjunkjunkjunk")
        .env("RUST_LOG", "debug");
    command
}

#[tokio::test]
async fn binary_serves_mcp_over_stdio_and_provisions() {
    let account = Account::new();
    let (transport, _stderr) = TokioChildProcess::builder(server_command(&account, "provision"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn binary");
    let client = ().serve(transport).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("bedrock-provisioner")
    );

    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"provision_user"), "{names:?}");

    let args = json!({"business_unit": "finance", "purpose": "forecast summaries", "owner": "cfo-office@example.com"});
    let result = client
        .call_tool(
            CallToolRequestParams::new("provision_user")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let report: ProvisionReport =
        serde_json::from_value(result.structured_content.unwrap()).unwrap();
    assert!(report.changed);
    let user = account
        .iam()
        .await
        .get_user()
        .user_name("finance-bedrock-user")
        .send()
        .await
        .unwrap();
    assert_eq!(user.user.unwrap().arn(), report.user_arn);
    // Every call the server made was SigV4-signed, despite the bearer token in its environment.
    let requests = account.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r["auth"] == "sigv4"),
        "{requests:?}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn read_only_is_the_default_mode() {
    let account = Account::new();
    let mut default_mode = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    default_mode
        .arg("serve")
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", &account.id)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env_remove("BEDROCK_PROVISIONER_MODE");
    let transport = TokioChildProcess::new(default_mode).expect("spawn binary");
    let client = ().serve(transport).await.expect("initialize");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    let args = json!({"business_unit": "finance", "purpose": "p", "owner": "o"});
    let refused = client
        .call_tool(
            CallToolRequestParams::new("provision_user")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await;
    let message = match refused {
        Err(error) => error.to_string(),
        Ok(result) => text(&result),
    };
    assert!(
        message.contains("tool `provision_user` is not available"),
        "{message}"
    );
    assert!(message.contains("`read-only` mode"), "{message}");
    assert!(message.contains("--mode provision"), "{message}");
    assert!(account.actions().is_empty(), "{:?}", account.actions());
    client.cancel().await.ok();
}
