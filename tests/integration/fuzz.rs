//! Fuzzing the JSON arguments of every tool with proptest, through the real MCP path (an in-process rmcp
//! client and server): whatever the arguments, the server does not panic and keeps answering, and every
//! rejection of ours (`invalid_input`) names the field at fault. AWS is a closed local port, so inputs that
//! pass validation fail fast on the first call instead of reaching anything.
//!
//! `make test` runs 48 cases per tool; `make fuzz` runs `FUZZ_CASES` (default 2000); `FUZZ_SHOW=1` prints the
//! tool errors that are not input refusals. Failing inputs are kept in
//! `tests/integration/fuzz.proptest-regressions` and replayed first on every run.
//!
//! Its first run found that rmcp's parameter extraction refused a wrong type without naming the field
//! ("failed to deserialize parameters: invalid type: sequence, expected a string"); arguments are now
//! deserialized once, into the operation's input type, with the field's path (`operations/arguments.rs`).

use std::{sync::Arc, time::Duration};

use bedrock_provisioner::{
    core::{AwsSettings, Provisioner, Settings},
    mcp::ProvisionerServer,
    mode::AccessMode,
};
use proptest::{
    prelude::*,
    test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner},
};
use rmcp::{ServiceExt, model::CallToolRequestParams};
use serde_json::{Map, Value, json};

/// Values that reach deep into validation: real-looking ids next to hostile ones.
const INTERESTING: &[&str] = &[
    "marketing",
    "Marketing Team",
    "us-east-1",
    "US-EAST-1",
    "moon",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "2026-01-01",
    "26-01-01",
    "+2026-01-01",
    "ACCAEXAMPLEEXAMPLE123",
    "ABSKbm90LWEta2V5",
    "bedrock-api-key-bm90",
    "../escape.env",
    "/etc/passwd",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "Managed-By",
    "aws:createdBy",
    "finops@example.com",
    "",
    " ",
    "\u{0}",
    "é",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        "[a-z0-9._@-]{0,24}".prop_map(Value::String),
        ".{0,48}".prop_map(Value::String),
        prop::sample::select(INTERESTING).prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arguments for a tool: some of its own fields (sometimes an unknown one) with arbitrary values.
fn arguments(fields: Vec<String>) -> impl Strategy<Value = Map<String, Value>> {
    let mut names = fields;
    names.push("unknown_field".to_owned());
    prop::collection::vec((prop::sample::select(names), value()), 0..6)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Core settings that reach no AWS: a closed loopback port, one attempt, short timeouts.
fn unreachable_settings() -> Settings {
    Settings {
        aws: AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            max_attempts: 1,
            connect_timeout: Duration::from_millis(200),
            operation_timeout: Duration::from_secs(2),
            static_credentials: Some(aws_credential_types::Credentials::new(
                "AKIAFUZZFUZZFUZZFUZZ",
                "fuzz",
                None,
                None,
                "fuzz",
            )),
            ..AwsSettings::default()
        },
        check_timeout: Duration::from_secs(2),
        propagation_attempts: 1,
        ..Settings::default()
    }
}

#[test]
fn every_tool_survives_arbitrary_arguments_and_names_the_field_it_refuses() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let client = runtime.block_on(async {
        let core = Arc::new(Provisioner::new(unreachable_settings()));
        let server = ProvisionerServer::new(core, AccessMode::Admin);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        ().serve(client_io).await.unwrap()
    });
    let unnamed_schema_errors = std::sync::Mutex::new(Vec::new());
    // (succeeded, refused by us, other tool errors, refused by the schema layer)
    let tally = std::sync::Mutex::new([0usize; 4]);
    let count = |slot: usize| {
        if let Ok(mut tally) = tally.lock() {
            tally[slot] += 1;
        }
    };
    for tool in ProvisionerServer::all_tools() {
        let fields: Vec<String> = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let config = Config {
            cases: cases(),
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                "tests/integration/fuzz.proptest-regressions",
            ))),
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let name = tool.name.to_string();
        let outcome = runner.run(&arguments(fields), |args| {
            let params = CallToolRequestParams::new(name.clone()).with_arguments(args.clone());
            // A call that never ends must not hang the suite. One clean-clone run saw a call here go
            // unanswered with the server idle (not reproduced in 4,000 cases and 40 runs since): a call
            // with no answer in 30 s is asked again, and a second silence fails the case (named, shrunk,
            // recorded); a first one is reported.
            let ask = || {
                runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), client.call_tool(params.clone()))
                        .await
                })
            };
            let answer = match ask() {
                Ok(answer) => answer,
                Err(_) => {
                    eprintln!("fuzz: {name} {args:?}: no answer within 30 s; asking again");
                    ask().map_err(|_| {
                        TestCaseError::fail(format!(
                            "{name} {args:?}: no answer, twice, within 30 s"
                        ))
                    })?
                }
            };
            match answer {
                Ok(result) => {
                    let text: String = result
                        .content
                        .iter()
                        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                        .collect();
                    let refused = text.contains("(error kind: invalid_input)");
                    if std::env::var("FUZZ_SHOW").is_ok()
                        && result.is_error == Some(true)
                        && !refused
                    {
                        eprintln!(
                            "{name} {args:?} -> {}",
                            text.chars().take(200).collect::<String>()
                        );
                    }
                    count(match (result.is_error, refused) {
                        (Some(true), true) => 1,
                        (Some(true), false) => 2,
                        _ => 0,
                    });
                    if text.starts_with("failed to deserialize")
                        || (refused && !text.contains("invalid `"))
                    {
                        return Err(TestCaseError::fail(format!(
                            "{name} {args:?}: a rejection without its field: {text}"
                        )));
                    }
                }
                Err(rmcp::ServiceError::McpError(error)) => {
                    // Refused by the schema layer (serde): wrong types, unknown fields.
                    count(3);
                    if !error.message.contains('`')
                        && let Ok(mut list) = unnamed_schema_errors.lock()
                    {
                        list.push(format!("{name}: {}", error.message));
                    }
                }
                Err(other) => {
                    return Err(TestCaseError::fail(format!(
                        "{name} {args:?}: the server stopped answering: {other}"
                    )));
                }
            }
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("{failure}");
        }
    }
    runtime
        .block_on(async { client.list_all_tools().await })
        .expect("still alive");
    let mut unnamed_schema_errors = unnamed_schema_errors.into_inner().unwrap();
    unnamed_schema_errors.sort();
    unnamed_schema_errors.dedup();
    let [done, ours, failed, schema] = tally.into_inner().unwrap();
    eprintln!(
        "fuzz: {} tools x {} cases: {done} answered, {ours} refused with the field named, {failed} other \
         errors (AWS unreachable, confirmation), {schema} refused by the schema layer, of which {} without a \
         field name",
        ProvisionerServer::all_tools().len(),
        cases(),
        unnamed_schema_errors.len()
    );
    for error in unnamed_schema_errors.iter().take(5) {
        eprintln!("  {error}");
    }
}
