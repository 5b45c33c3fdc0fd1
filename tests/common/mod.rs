//! Test harness: the local AWS emulator (one per test binary: `integration` and `sigv4_pinning`), an
//! isolated emulator account per test, independent SDK clients for checking AWS state, and an in-process MCP
//! client.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aws_credential_types::Credentials;
use bedrock_provisioner::{
    audit::AuditLog,
    core::{AwsSettings, Provisioner, Settings},
    mcp::ProvisionerServer,
    mode::AccessMode,
};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
};
use serde_json::Value;

/// The running emulator of this test binary.
pub struct Emulator {
    pub port: u16,
    // Held so the emulator's stdin stays open; it exits when this process does.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(0);

/// The emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let log = std::fs::File::create(root.join("target/emulator.log")).expect("log file");
        let mut child = Command::new(root.join("tests/emulator/serve"))
            .args(["--port", "0", "--watch-stdin"])
            // One emulator serves the whole suite: its request log must hold every test's requests (the
            // default keeps the first 10,000, which the suite outgrew).
            .env("BPEMU_MAX_RECORDED", "1000000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start tests/emulator/serve (run `make venv` first)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("emulator readiness line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("emulator did not start: {line:?}; see target/emulator.log"));
        let emulator = Emulator {
            port,
            _stdin: Mutex::new(child.stdin.take().expect("stdin")),
            _child: Mutex::new(child),
        };
        assert_eq!(emulator.control("GET", "health", "")["ok"], true);
        emulator
    })
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Call the emulator's control API; returns the JSON answer.
    pub fn control(&self, method: &str, command: &str, body: &str) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            stream,
            "{method} /_emulator/{command} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, payload) = response.split_once("\r\n\r\n").expect("http response");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{head}\n{payload}"
        );
        serde_json::from_str(payload).expect("json")
    }
}

/// A clock for the server: the system's, shifted by an offset the test sets and moves; shared with an
/// account's emulator clock ([`TestClock::share_with`]) so AWS and the server agree on the time.
#[derive(Debug, Clone, Default)]
pub struct TestClock(Arc<std::sync::atomic::AtomicI64>);

impl TestClock {
    /// A clock that reads `at` now, and runs on from there.
    pub fn at(at: chrono::DateTime<chrono::Utc>) -> Self {
        let clock = Self::default();
        let offset = (at - chrono::Utc::now()).num_milliseconds();
        clock.0.store(offset, Ordering::SeqCst);
        clock
    }

    /// Move the clock on by `seconds` (back, when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// Set `account`'s emulator clock to this clock's time.
    pub fn share_with(&self, account: &Account) {
        let seconds = self.0.load(Ordering::SeqCst) as f64 / 1000.0;
        emulator().control(
            "POST",
            "clock",
            &serde_json::json!({"offset_seconds": seconds, "account": account.id}).to_string(),
        );
    }

    /// The clock as the SDK's time source (the server's settings).
    pub fn source(&self) -> aws_smithy_async::time::SharedTimeSource {
        aws_smithy_async::time::SharedTimeSource::new(self.clone())
    }
}

impl aws_smithy_async::time::TimeSource for TestClock {
    fn now(&self) -> std::time::SystemTime {
        let offset = chrono::TimeDelta::milliseconds(self.0.load(Ordering::SeqCst));
        (chrono::Utc::now() + offset).into()
    }
}

/// An isolated emulator account: its own IAM, fault rules and request log.
#[derive(Clone)]
pub struct Account {
    pub id: String,
}

impl Account {
    pub fn new() -> Self {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
        let pid = u64::from(std::process::id()) % 100_000;
        Self {
            id: format!("{:012}", 100_000_000_000 + pid * 10_000 + n),
        }
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.id, "emulator-secret", None, None, "tests")
    }

    /// Core settings pointed at the emulator, with fast retries.
    pub fn settings(&self) -> Settings {
        Settings {
            aws: AwsSettings {
                region: Some("us-east-1".into()),
                endpoint_url: Some(emulator().endpoint()),
                initial_backoff: Duration::from_millis(20),
                static_credentials: Some(self.credentials()),
                ..AwsSettings::default()
            },
            propagation_delay: Duration::from_millis(20),
            lease_settle: Duration::from_millis(20),
            ..Settings::default()
        }
    }

    /// Settings whose clock reads `at` (and runs on from there), with this account's emulator clock
    /// moved to the same instant: a test on them gives the same answer whatever day it runs.
    pub fn settings_at(&self, at: chrono::DateTime<chrono::Utc>) -> Settings {
        self.settings_on(&TestClock::at(at))
    }

    /// Settings whose clock is `clock`, with this account's emulator clock set to it.
    pub fn settings_on(&self, clock: &TestClock) -> Settings {
        clock.share_with(self);
        let mut settings = self.settings();
        settings.aws.time_source = Some(clock.source());
        settings
    }

    /// How many managed policies `user` has attached, read with the SDK.
    pub async fn attached_policy_count(&self, user: &str) -> usize {
        self.iam()
            .await
            .list_attached_user_policies()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .len()
    }

    pub async fn local_policy_count(&self) -> usize {
        self.iam()
            .await
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .unwrap()
            .policies()
            .len()
    }

    /// The account's settings in another region.
    pub fn settings_in(&self, region: &str) -> Settings {
        let base = self.settings();
        Settings {
            aws: AwsSettings {
                region: Some(region.to_owned()),
                ..base.aws
            },
            ..base
        }
    }

    /// The whole environment of the built binary run for this account (start from an empty one):
    /// the emulator's endpoint, this account's key, a scratch HOME.
    pub fn binary_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", std::env::temp_dir().display().to_string()),
            ("AWS_ENDPOINT_URL", emulator().endpoint()),
            ("AWS_ACCESS_KEY_ID", self.id.clone()),
            ("AWS_SECRET_ACCESS_KEY", "emulator-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// SDK configuration built directly, independent of the code under test.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(emulator().endpoint())
            .credentials_provider(self.credentials())
            .load()
            .await
    }

    /// An IAM user `name` of this account with `policy` inline and an access key of its own (so fault
    /// rules and the request log can single out its calls): (access key id, secret).
    pub async fn operator_key(&self, name: &str, policy: &str) -> (String, String) {
        let iam = self.iam().await;
        iam.create_user().user_name(name).send().await.unwrap();
        iam.put_user_policy()
            .user_name(name)
            .policy_name("operator")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        let key = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .unwrap();
        let key = key.access_key().unwrap();
        (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        )
    }

    /// An IAM client built directly from the SDK, independent of the code under test.
    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config().await)
    }

    /// A Secrets Manager client built directly from the SDK.
    pub async fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
    }

    /// Whether IAM has the user `name`, read directly from IAM (any error but NoSuchEntity fails the test).
    pub async fn user_exists(&self, name: &str) -> bool {
        match self.iam().await.get_user().user_name(name).send().await {
            Ok(_) => true,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                false
            }
            Err(error) => panic!("GetUser {name}: {error:?}"),
        }
    }

    /// The (id, status) of the Bedrock API keys of `user`, read directly from IAM.
    pub async fn keys_in_aws(&self, user: &str) -> Vec<(String, String)> {
        let out = self
            .iam()
            .await
            .list_service_specific_credentials()
            .user_name(user)
            .send()
            .await
            .unwrap();
        out.service_specific_credentials()
            .iter()
            .map(|k| {
                (
                    k.service_specific_credential_id().to_owned(),
                    k.status().as_str().to_owned(),
                )
            })
            .collect()
    }

    /// An admin-mode MCP client with `unit` provisioned and `keys` keys, each made by `create_api_key`
    /// with `arguments` besides the unit (the matrices' starting point).
    pub async fn unit_with_keys(
        &self,
        unit: &str,
        keys: usize,
        arguments: Value,
    ) -> RunningService<RoleClient, ()> {
        let client = self.provisioned(&[unit]).await;
        let mut arguments = arguments;
        arguments["business_unit"] = Value::String(unit.to_owned());
        for _ in 0..keys {
            ok(&call(&client, "create_api_key", arguments.clone()).await);
        }
        client
    }

    /// An admin-mode MCP client with `units` provisioned.
    pub async fn provisioned(&self, units: &[&str]) -> RunningService<RoleClient, ()> {
        self.provisioned_with(self.settings(), units).await
    }

    /// An admin-mode MCP client over `settings` with `units` provisioned.
    pub async fn provisioned_with(
        &self,
        settings: Settings,
        units: &[&str],
    ) -> RunningService<RoleClient, ()> {
        let client = self.mcp_with(AccessMode::Admin, settings).await;
        for unit in units {
            ok(&call(
                &client,
                "provision_user",
                serde_json::json!({"business_unit": unit, "purpose": "p", "owner": "o@example.com"}),
            )
            .await);
        }
        client
    }

    /// Add a fault rule for this account only.
    pub fn fault(&self, mut rule: Value) {
        rule["access_key"] = Value::String(self.id.clone());
        emulator().control("POST", "faults", &rule.to_string());
    }

    /// The credential id the secret of `unit` names (`BEDROCK_API_KEY_ID`), read with the SDK; `None`
    /// when there is no such secret.
    pub async fn secret_key_id(&self, unit: &str) -> Option<String> {
        let secret = self
            .secrets_manager()
            .await
            .get_secret_value()
            .secret_id(format!("bedrock-provisioner/{unit}/bedrock-api-key"))
            .send()
            .await
            .ok()?;
        let value: Value = serde_json::from_str(secret.secret_string()?).ok()?;
        value["BEDROCK_API_KEY_ID"].as_str().map(str::to_owned)
    }

    /// Remove this account's fault rules (other accounts' stay).
    pub fn clear_faults(&self) {
        emulator().control("DELETE", &format!("faults?access_key={}", self.id), "");
    }

    /// The AWS actions this account called, in order.
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The distinct AWS actions of this account since the `start`th request, in the order first made: the
    /// call sites a generated fault or crash matrix injects at.
    pub fn distinct_actions_since(&self, start: usize) -> Vec<String> {
        distinct(&self.actions()[start..])
    }

    /// The request log entries of this account.
    pub fn requests(&self) -> Vec<Value> {
        requests_of(&self.id)
    }

    /// An MCP client connected in-process to a server for this account.
    pub async fn mcp(&self, mode: AccessMode) -> RunningService<RoleClient, ()> {
        self.mcp_with(mode, self.settings()).await
    }

    /// An MCP client connected in-process to a server with `settings`.
    pub async fn mcp_with(
        &self,
        mode: AccessMode,
        settings: Settings,
    ) -> RunningService<RoleClient, ()> {
        ().serve(serve_in_process(mode, settings))
            .await
            .expect("MCP client connects")
    }
}

/// Start a server with `settings` in this process; returns the client's end of its transport.
pub fn serve_in_process(mode: AccessMode, settings: Settings) -> tokio::io::DuplexStream {
    serve_in_process_audited(mode, settings, AuditLog::default())
}

/// Like [`serve_in_process`], recording mutating calls in `audit`.
pub fn serve_in_process_audited(
    mode: AccessMode,
    settings: Settings,
    audit: AuditLog,
) -> tokio::io::DuplexStream {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server =
        ProvisionerServer::new(Arc::new(Provisioner::new(settings)), mode).with_audit_log(audit);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    client_io
}

/// Whether an action name changes state in IAM.
pub fn is_mutation(action: &str) -> bool {
    [
        "Create", "Tag", "Untag", "Attach", "Detach", "Put", "Delete", "Update", "Set",
    ]
    .iter()
    .any(|prefix| action.starts_with(prefix))
}

/// Call a tool with JSON arguments.
pub async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().expect("object arguments").clone());
    client.call_tool(params).await.expect("tools/call answered")
}

/// The structured content of a successful tool result.
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool failed: {}", text(result));
    result
        .structured_content
        .clone()
        .expect("structured content")
}

/// The report of a successful tool result as its type in the core (the structured content deserialized),
/// for assertions on its fields rather than on JSON paths.
pub fn report<T: serde::de::DeserializeOwned>(result: &CallToolResult) -> T {
    let content = ok(result);
    serde_json::from_value(content.clone())
        .unwrap_or_else(|e| panic!("the report is not its type: {e}\n{content:#}"))
}

/// The text of a tool result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The distinct AWS actions the emulator recorded for `access_key` (one principal of an account), in the order
/// first made.
pub fn distinct_actions_of(access_key: &str) -> Vec<String> {
    let actions: Vec<String> = requests_of(access_key)
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    distinct(&actions)
}

/// The request log entries of `access_key`.
fn requests_of(access_key: &str) -> Vec<Value> {
    let seen = emulator().control("GET", &format!("requests?access_key={access_key}"), "");
    seen["requests"].as_array().expect("requests").clone()
}

/// `actions` without repeats, in the order first seen.
fn distinct(actions: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    actions
        .iter()
        .filter(|a| seen.insert((*a).clone()))
        .cloned()
        .collect()
}
