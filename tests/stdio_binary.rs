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

#[tokio::test]
async fn no_key_value_reaches_stderr_even_at_trace_level() {
    let account = Account::new();
    let log_path = std::env::temp_dir().join(format!("bp-trace-{}.log", account.id));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = server_command(&account, "admin");
    command.env("RUST_LOG", "trace");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(log)
        .spawn()
        .expect("spawn binary");
    let client = ().serve(transport).await.expect("initialize");
    let call = |name: &'static str, args: serde_json::Value| {
        let client = &client;
        async move {
            let params =
                CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone());
            client.call_tool(params).await.expect("tools/call")
        }
    };
    call(
        "provision_user",
        json!({"business_unit": "audit", "purpose": "p", "owner": "o"}),
    )
    .await;
    let mut secrets = Vec::new();
    let created = call("create_api_key", json!({"business_unit": "audit"})).await;
    let created = created.structured_content.unwrap();
    secrets.push(created["api_key"].as_str().unwrap().to_owned());
    let rotated = call("rotate_key", json!({"business_unit": "audit"}))
        .await
        .structured_content
        .unwrap();
    secrets.push(rotated["new_key"]["api_key"].as_str().unwrap().to_owned());
    call("revoke_key", json!({"business_unit": "audit", "credential_id": created["credential_id"], "action": "delete"})).await;
    let refused = call(
        "create_api_key",
        json!({"business_unit": "audit", "credential_age_days": 0}),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.ok();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let stderr = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(
        stderr.contains("created Bedrock API key"),
        "the run was logged"
    );
    for secret in &secrets {
        assert!(secret.starts_with("ABSK") && secret.len() > 20);
        // The key, and its base64 body (which carries the secret part), must not appear.
        if let Some(line) = stderr.lines().find(|l| l.contains(secret.as_str())) {
            let at = line.find(secret.as_str()).unwrap();
            panic!("API key found in stderr: {}[KEY]", &line[..at.min(300)]);
        }
        assert!(
            !stderr.contains(&secret[4..24]),
            "API key fragment found in stderr"
        );
    }
    assert!(!text(&refused).contains("ABSK"));
    std::fs::remove_file(&log_path).ok();
}
