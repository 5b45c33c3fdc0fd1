//! The built binary over stdio, as Claude Code runs it: initialize, list tools, provision. The environment
//! carries a junk AWS_BEARER_TOKEN_BEDROCK, which must not disturb the server's SigV4 calls.

use crate::common;

use bedrock_provisioner::core::units::provision::ProvisionReport;
use common::{Account, emulator, text};
use rmcp::{ServiceExt, model::CallToolRequestParams, transport::TokioChildProcess};
use serde_json::json;
use tokio::process::Command;

fn server_command(account: &Account, mode: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command
        .args(["serve", "--mode", mode])
        .env_clear()
        .envs(account.binary_env())
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
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    assert!(
        prompts
            .iter()
            .any(|p| p.name == "why_unit_cannot_call_claude"),
        "{prompts:?}"
    );
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

/// `--toolsets` (and `BEDROCK_PROVISIONER_TOOLSETS`) narrow the list within the mode; a tool of another toolset
/// is refused naming the toolset to add; an unknown toolset stops the server before it serves, naming it.
#[tokio::test]
async fn toolsets_narrow_the_tool_list_within_the_mode() {
    let account = Account::new();
    let names = |tools: Vec<rmcp::model::Tool>| {
        let mut names: Vec<String> = tools.into_iter().map(|t| t.name.to_string()).collect();
        names.sort();
        names
    };
    let mut flag = server_command(&account, "provision");
    flag.args(["--toolsets", "keys,diagnose"]);
    let client = ().serve(TokioChildProcess::new(flag).unwrap()).await.unwrap();
    let listed = names(client.list_all_tools().await.unwrap());
    assert_eq!(
        listed,
        [
            "create_api_key",
            "diagnose",
            "list_api_keys",
            "rotate_key",
            "verify_access",
            "whoami"
        ]
    );
    let refused = client
        .call_tool(CallToolRequestParams::new("list_business_units"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("only the toolsets keys, diagnose"),
        "{refused}"
    );
    assert!(refused.contains("including `units`"), "{refused}");
    client.cancel().await.ok();

    let mut env = server_command(&account, "read-only");
    env.env("BEDROCK_PROVISIONER_TOOLSETS", "costs");
    let client = ().serve(TokioChildProcess::new(env).unwrap()).await.unwrap();
    assert_eq!(
        names(client.list_all_tools().await.unwrap()),
        ["query_costs", "query_usage"]
    );
    client.cancel().await.ok();

    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args(["serve", "--toolsets", "units,spend"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown toolset `spend`"), "{stderr}");
    assert!(account.actions().is_empty(), "{:?}", account.actions());
}

#[tokio::test]
async fn no_key_value_reaches_stderr_audit_log_or_errors_even_at_trace_level() {
    // LOG_SENSITIVE_BODIES=true makes the AWS SDK print response bodies (a new key's secret) at trace:
    // the environment must not be able to switch redaction off.
    let account = Account::new();
    let scratch = std::env::temp_dir().join(format!("bp-trace-{}", account.id));
    let key_dir = scratch.join("keys");
    std::fs::create_dir_all(&key_dir).unwrap();
    let log_path = scratch.join("stderr.log");
    let audit_path = scratch.join("audit.jsonl");
    let mut command = server_command(&account, "admin");
    command
        .env("RUST_LOG", "trace")
        .env("LOG_SENSITIVE_BODIES", "true")
        .arg("--audit-log")
        .arg(&audit_path)
        .arg("--key-dir")
        .arg(&key_dir);
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::fs::File::create(&log_path).unwrap())
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
    let data = |result: rmcp::model::CallToolResult| {
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
        result.structured_content.unwrap()
    };
    data(
        call(
            "provision_user",
            json!({"business_unit": "audit", "purpose": "p", "owner": "o"}),
        )
        .await,
    );
    let mut secrets = Vec::new();
    let created = data(call("create_api_key", json!({"business_unit": "audit"})).await);
    secrets.push(created["delivery"]["api_key"].as_str().unwrap().to_owned());
    let short = data(
        call(
            "create_api_key",
            json!({"business_unit": "audit", "kind": "short_term"}),
        )
        .await,
    );
    secrets.push(short["delivery"]["api_key"].as_str().unwrap().to_owned());
    let rotated = data(
        call(
            "rotate_key",
            json!({"business_unit": "audit", "deliver": "secrets_manager"}),
        )
        .await,
    );
    let stored = account
        .secrets_manager()
        .await
        .get_secret_value()
        .secret_id(
            rotated["new_key"]["delivery"]["secret_arn"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    secrets.push(
        stored["AWS_BEARER_TOKEN_BEDROCK"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    data(call("revoke_key", json!({"business_unit": "audit", "credential_id": created["credential_id"], "action": "delete", "confirm": true})).await);
    let filed = data(
        call(
            "rotate_key",
            json!({"business_unit": "audit", "mode": "replace", "deliver": "file"}),
        )
        .await,
    );
    let contents =
        std::fs::read_to_string(filed["new_key"]["delivery"]["path"].as_str().unwrap()).unwrap();
    secrets.push(
        contents
            .lines()
            .find_map(|line| line.strip_prefix("AWS_BEARER_TOKEN_BEDROCK="))
            .unwrap()
            .to_owned(),
    );
    let second = data(call("create_api_key", json!({"business_unit": "audit"})).await);
    secrets.push(second["delivery"]["api_key"].as_str().unwrap().to_owned());
    // A key sent as a bearer token (Authorization header) by verify_access's CountTokens call.
    let verified = data(
        call(
            "verify_access",
            json!({"business_unit": "audit", "api_key": secrets[4]}),
        )
        .await,
    );
    assert_eq!(verified["key_test"]["outcome"], "works", "{verified:#}");
    let mut errors = Vec::new();
    for args in [
        json!({"business_unit": "audit", "credential_age_days": 0}),
        json!({"business_unit": "audit"}),
        json!({"business_unit": "audit", "deliver": "file", "file_name": "../x"}),
    ] {
        let refused = call("create_api_key", args).await;
        assert_eq!(refused.is_error, Some(true));
        errors.push(text(&refused));
    }
    client.cancel().await.ok();
    // The whole of stderr, up to the server's last line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stderr = loop {
        let stderr = std::fs::read_to_string(&log_path).unwrap();
        if stderr.contains("the server stops") || std::time::Instant::now() > deadline {
            break stderr;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(stderr.contains("the server stops"), "the server stopped");
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(stderr.contains("TRACE"), "trace logging was on");
    assert!(
        stderr.contains("created Bedrock API key"),
        "the run was logged"
    );
    assert_eq!(secrets.len(), 5);
    for secret in &secrets {
        assert!(secret.len() > 40, "{}", secret.len());
        // The key, and a fragment of its body (which carries the secret part), must appear nowhere.
        let fragment = &secret[secret.len() - 24..];
        for (name, haystack) in [("stderr", &stderr), ("audit log", &audit)] {
            if let Some(line) = haystack.lines().find(|l| l.contains(fragment)) {
                let at = line.find(fragment).unwrap();
                panic!("API key found in {name}: {}[KEY]", &line[..at.min(300)]);
            }
        }
        assert!(
            errors.iter().all(|e| !e.contains(fragment)),
            "API key in an error message"
        );
    }

    // One audit line per mutating call, read-only calls not recorded, each naming caller and client.
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tools: Vec<&str> = records
        .iter()
        .map(|r| r["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "provision_user",
            "create_api_key",
            "create_api_key",
            "rotate_key",
            "revoke_key",
            "rotate_key",
            "create_api_key",
            "create_api_key",
            "create_api_key",
            "create_api_key"
        ]
    );
    let first = &records[0];
    assert_eq!(first["outcome"], "ok");
    assert!(
        first["caller_arn"]
            .as_str()
            .unwrap()
            .contains(&format!("::{}:user/", account.id)),
        "{first}"
    );
    assert!(
        first["client"].as_str().unwrap().starts_with("rmcp"),
        "{first}"
    );
    assert!(
        first["resources"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .ends_with("user/bedrock-provisioner/audit-bedrock-user")),
        "{first}"
    );
    assert_eq!(records[4]["resources"], json!([created["credential_id"]]));
    assert_eq!(records[7]["outcome"], "error:invalid_input");
    assert_eq!(records[8]["outcome"], "error:key_limit");
    std::fs::remove_dir_all(&scratch).ok();
}

#[tokio::test]
async fn a_cancelled_diagnose_stops_in_the_server() {
    let account = Account::new();
    account
        .fault(json!({"action": "ListCostAllocationTags", "kind": "latency", "latency_ms": 5000}));
    let log_path = std::env::temp_dir().join(format!("bp-cancel-{}.log", account.id));
    let (transport, _) = TokioChildProcess::builder(server_command(&account, "read-only"))
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("spawn binary");
    let client = ().serve(transport).await.expect("initialize");
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(
        CallToolRequestParams::new("diagnose").with_arguments(serde_json::Map::new()),
    ));
    let started = std::time::Instant::now();
    let handle = client
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
        .await
        .unwrap();
    // Cancel once the slow call is in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !account
        .actions()
        .iter()
        .any(|a| a == "ListCostAllocationTags")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stderr = loop {
        let stderr = std::fs::read_to_string(&log_path).unwrap();
        if stderr.contains("diagnose cancelled by the client")
            || std::time::Instant::now() > deadline
        {
            break stderr;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(
        stderr.contains("diagnose cancelled by the client"),
        "the server stopped the work: {stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "diagnose"), "still serving");
    client.cancel().await.ok();
    std::fs::remove_file(&log_path).ok();
}

/// A line that is not JSON-RPC gets JSON-RPC's answer (not silence), and the server reads on.
#[test]
fn malformed_lines_get_json_rpc_errors_and_the_server_reads_on() {
    use std::io::{BufRead, Write};
    let account = Account::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .arg("serve")
        .env_clear()
        .envs(account.binary_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut answer = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    writeln!(stdin, "{{not json").unwrap();
    let parse_error = answer();
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    assert_eq!(parse_error["id"], serde_json::Value::Null);
    writeln!(stdin, r#"{{"id": 7, "hello": 1}}"#).unwrap();
    let invalid = answer();
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    assert_eq!(invalid["id"], 7);
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    writeln!(stdin, "{initialize}").unwrap();
    let initialized = answer();
    assert_eq!(initialized["id"], 1, "{initialized}");
    assert!(initialized["result"]["serverInfo"].is_object());
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "exits cleanly when stdin closes"
    );
}

/// Validating a large manifest does not hold up other requests: four `plan_fleet` calls of 40,000 units
/// each (0.8 MB, refused at their last unit, so no AWS call) and then a `ping`, over stdio on the server's
/// one runtime thread; the ping is answered before any of them (it waited for them all when manifests
/// were validated on the runtime thread).
#[test]
fn a_ping_is_answered_while_large_manifests_are_validated() {
    use std::io::{BufRead, Write};
    let account = Account::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .arg("serve")
        .env_clear()
        .envs(account.binary_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut answer = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    writeln!(stdin, "{initialize}").unwrap();
    assert_eq!(answer()["id"], 1);
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    let mut manifest = String::from("unit = [\n");
    for i in 0..40_000 {
        manifest.push_str(&format!("{{name=\"u{i}\"}},\n"));
    }
    manifest.push_str(
        "{name=\"last\", account=\"12\"},\n]\n[defaults]\nowner = \"o\"\npurpose = \"p\"\n",
    );
    for id in 10..14 {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "plan_fleet", "arguments": {"manifest": manifest}}});
        let line = call.to_string();
        assert!(line.len() < 1 << 20, "{}", line.len());
        writeln!(stdin, "{line}").unwrap();
    }
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":99,"method":"ping"}}"#).unwrap();
    let order: Vec<serde_json::Value> = (0..5).map(|_| answer()).collect();
    let ids: Vec<&serde_json::Value> = order.iter().map(|a| &a["id"]).collect();
    assert_eq!(ids[0], 99, "the ping waited for the manifests: {ids:?}");
    for refused in &order[1..] {
        assert_eq!(refused["result"]["isError"], true, "{refused:.300}");
        assert!(
            refused
                .to_string()
                .contains("manifest:40002: unit `last` account"),
            "{refused:.300}"
        );
    }
    assert!(account.actions().is_empty(), "{:?}", account.actions());
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The peak resident memory of process `pid`, in KiB (Linux).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A line of invalid UTF-8 gets `-32700` (it ended the server, exit 0 without a word), and a line over the
/// limit gets `-32600` and is dropped as it is read, not held (a 200 MB line made the server 218 MB
/// resident); the server reads on after both.
#[test]
fn a_non_utf8_or_over_long_line_is_answered_and_not_held() {
    use std::io::{BufRead, Write};
    let account = Account::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .arg("serve")
        .env_clear()
        .envs(account.binary_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut answer = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\"}\n")
        .unwrap();
    stdin.flush().unwrap();
    let not_utf8 = answer();
    assert_eq!(not_utf8["error"]["code"], -32700, "{not_utf8}");
    assert_eq!(not_utf8["id"], serde_json::Value::Null);

    let megabyte = vec![b'x'; 1 << 20];
    for _ in 0..96 {
        stdin.write_all(&megabyte).unwrap();
    }
    stdin.write_all(b"\n").unwrap();
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    writeln!(stdin, "{initialize}").unwrap();
    let too_long = answer();
    assert_eq!(too_long["error"]["code"], -32600, "{too_long}");
    assert!(
        too_long["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1048576 bytes"),
        "{too_long}"
    );
    let initialized = answer();
    assert_eq!(initialized["id"], 1, "{initialized}");
    let peak = peak_rss_kib(child.id());
    assert!(
        peak < 64 << 10,
        "a 96 MiB line was held: peak {} MiB resident",
        peak >> 10
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
