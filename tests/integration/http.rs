//! Streamable HTTP: bearer-token auth, Host/Origin checks, body limit, refusal to expose an unprotected
//! server, graceful shutdown, and a full provisioning over HTTP through rmcp's HTTP client.

use crate::common;

use std::sync::Arc;

use bedrock_provisioner::{
    core::{Provisioner, domain::secret::Secret},
    mcp::{
        ProvisionerServer,
        http::{HttpOptions, Limits, MCP_PATH, serve_http},
    },
    mode::AccessMode,
};
use common::{Account, emulator};
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789abcdef0123456789";
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

struct Server {
    url: String,
    /// The audit log of its mutating calls.
    audit: std::path::PathBuf,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(account: &Account, token: Option<&str>) -> Server {
    let options = HttpOptions {
        token: token.map(Secret::new),
        ..HttpOptions::default()
    };
    start_with(account, options).await
}

async fn start_with(account: &Account, options: HttpOptions) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{MCP_PATH}", listener.local_addr().unwrap());
    let core = Arc::new(Provisioner::new(account.settings()));
    let audit = std::env::temp_dir().join(format!("bp-http-audit-{}.log", account.id));
    let log = Arc::new(bedrock_provisioner::audit::AuditLog::open(&audit).unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            serve_http(
                listener,
                move || {
                    ProvisionerServer::new(core.clone(), AccessMode::Provision)
                        .with_shared_audit_log(log.clone())
                },
                options,
                shutdown,
            )
            .await
            .unwrap();
        }
    });
    Server {
        url,
        audit,
        shutdown,
        task,
    }
}

async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn token_host_origin_and_body_size_are_enforced() {
    let account = Account::new();
    let server = start(&account, Some(TOKEN)).await;
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(post(&server.url, &[], INITIALIZE).await, 401, "no token");
    assert_eq!(
        post(
            &server.url,
            &[("authorization", "Bearer wrong-token-wrong-token-wrong-tok")],
            INITIALIZE
        )
        .await,
        401,
        "wrong token"
    );
    assert_eq!(
        post(&server.url, &[("authorization", &bearer)], INITIALIZE).await,
        200
    );
    assert_eq!(
        post(
            &server.url,
            &[("authorization", &bearer), ("host", "evil.example.com")],
            INITIALIZE
        )
        .await,
        403,
        "DNS rebinding: foreign Host"
    );
    assert_eq!(
        post(
            &server.url,
            &[
                ("authorization", &bearer),
                ("origin", "https://evil.example.com")
            ],
            INITIALIZE
        )
        .await,
        403,
        "foreign Origin"
    );
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20));
    assert_eq!(
        post(&server.url, &[("authorization", &bearer)], &huge).await,
        413
    );
    assert_eq!(
        post(&server.url, &[("authorization", "Bearer wrong")], &huge).await,
        401,
        "the token is checked before the body is read"
    );
    // Chunked (no Content-Length): the limit applies while reading, and the answer is 413, not 500.
    let chunks = futures::stream::iter(
        (0..40).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 64 << 10]))),
    );
    let chunked = reqwest::Client::new()
        .post(&server.url)
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 413);
    let malformed = reqwest::Client::new()
        .post(&server.url)
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400, "a JSON-RPC parse error, not 415");
    let answer: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    assert!(
        account.actions().is_empty(),
        "refused requests never reach AWS"
    );
    server.shutdown.cancel();
    server.task.await.unwrap();
}

#[tokio::test]
async fn a_full_provisioning_over_http() {
    let account = Account::new();
    let server = start(&account, Some(TOKEN)).await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
    );
    let client = ().serve(transport).await.expect("initialize over HTTP");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "provision_user"));
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(
        prompts.iter().any(|p| p.name == "give_unit_access"),
        "{prompts:?}"
    );
    let args = json!({"business_unit": "web", "purpose": "p", "owner": "o@example.com"});
    let result = client
        .call_tool(
            CallToolRequestParams::new("provision_user")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", common::text(&result));
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&server.audit)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert!(
        record["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "the record names the HTTP client's address: {record}"
    );
    assert!(
        record["created"]
            .as_array()
            .unwrap()
            .contains(&json!("web-bedrock-user")),
        "{record}"
    );
    let user = account
        .iam()
        .await
        .get_user()
        .user_name("web-bedrock-user")
        .send()
        .await
        .unwrap();
    assert!(
        user.user()
            .unwrap()
            .tags()
            .iter()
            .any(|t| t.key() == "business-unit" && t.value() == "web")
    );
    client.cancel().await.ok();
    server.shutdown.cancel();
    server.task.await.unwrap();
}

#[test]
fn binary_refuses_a_public_address_without_a_token_and_stops_on_sigterm() {
    let binary = env!("CARGO_BIN_EXE_bedrock-provisioner");
    let refused = std::process::Command::new(binary)
        .args(["serve", "--mode", "admin", "--http", "0.0.0.0:0"])
        .env_remove("BEDROCK_PROVISIONER_HTTP_TOKEN")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refusing to serve MCP on non-loopback address"),
        "{stderr}"
    );
    let admin = std::process::Command::new(binary)
        .args(["serve", "--mode", "admin", "--http", "127.0.0.1:0"])
        .env_remove("BEDROCK_PROVISIONER_HTTP_TOKEN")
        .output()
        .unwrap();
    assert!(
        !admin.status.success(),
        "admin tools over HTTP need a token"
    );
    let stderr = String::from_utf8_lossy(&admin.stderr);
    assert!(stderr.contains("--allow-unauthenticated-admin"), "{stderr}");
    let mut accepted = std::process::Command::new(binary)
        .args(["serve", "--mode", "admin", "--http", "127.0.0.1:0"])
        .arg("--allow-unauthenticated-admin")
        .env_remove("BEDROCK_PROVISIONER_HTTP_TOKEN")
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut lines = std::io::BufReader::new(accepted.stderr.take().unwrap());
    while !said.contains("listening on") {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut lines, &mut line).unwrap() > 0,
            "{said}"
        );
        said.push_str(&line);
    }
    assert!(
        said.contains("warning: serving admin-mode tools over HTTP without a bearer token"),
        "{said}"
    );
    accepted.kill().unwrap();
    accepted.wait().unwrap();

    let mut child = std::process::Command::new(binary)
        .args(["serve", "--http", "127.0.0.1:0"])
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
}

/// Counts progress notifications.
#[derive(Clone, Default)]
struct Progress(Arc<std::sync::atomic::AtomicUsize>);

impl rmcp::ClientHandler for Progress {
    async fn on_progress(
        &self,
        _params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn progress_notifications_arrive_over_http() {
    let account = Account::new();
    let server = start(&account, Some(TOKEN)).await;
    let progress = Progress::default();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
    );
    let client = progress.clone().serve(transport).await.unwrap();
    let mut params = CallToolRequestParams::new("diagnose").with_arguments(
        json!({"checks": ["credentials", "user", "cost_tags"]})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7)),
    ));
    let request =
        rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    client.send_request(request).await.unwrap();
    // The notifications are all sent before the answer, and handled on their own task: wait for them.
    let seen = || progress.0.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(seen(), 3, "one per check");
    client.cancel().await.ok();
    server.shutdown.cancel();
    server.task.await.unwrap();
}

/// Read the SSE stream until an event of `kind` whose data contains `needle`; its data.
async fn next_event(
    stream: &mut reqwest::Response,
    buffer: &mut String,
    kind: &str,
    needle: &str,
) -> String {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("message");
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if name == kind && data.contains(needle) {
                return data;
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("an SSE event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn legacy_sse_transport_serves_the_same_server_behind_the_same_checks() {
    let account = Account::new();
    let server = start(&account, Some(TOKEN)).await;
    let base = server.url.trim_end_matches(MCP_PATH).to_owned();
    let http = reqwest::Client::new();
    let sse = format!("{base}/sse");
    let unauthenticated = http.get(&sse).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let auth = format!("Bearer {TOKEN}");
    let rebinding = http
        .get(&sse)
        .header("authorization", &auth)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);

    let mut stream = http
        .get(&sse)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer, "endpoint", "/messages?sessionId=").await;
    let messages = format!("{base}{endpoint}");
    let send = |body: &str| {
        http.post(&messages)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    assert_eq!(send(INITIALIZE).await.unwrap().status(), 202);
    let initialized = next_event(&mut stream, &mut buffer, "message", "\"id\":1").await;
    assert!(initialized.contains("bedrock-provisioner"), "{initialized}");
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(send(notification).await.unwrap().status(), 202);
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    assert_eq!(send(list).await.unwrap().status(), 202);
    let tools = next_event(&mut stream, &mut buffer, "message", "\"id\":2").await;
    assert!(
        tools.contains("verify_access") && tools.contains("provision_user"),
        "{tools}"
    );

    let malformed = send("{not json").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed.text().await.unwrap().contains("-32700"));
    let unknown = http
        .post(format!("{base}/messages?sessionId=nope"))
        .header("authorization", &auth)
        .body(list)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    server.shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), server.task)
        .await
        .expect("an open SSE stream does not hold up shutdown")
        .unwrap();
}

/// A raw TCP connection to the server of `url`.
async fn raw(url: &str) -> tokio::net::TcpStream {
    let addr = url.trim_start_matches("http://").trim_end_matches(MCP_PATH);
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// What the server answers on `stream` within `within` (empty: it closed without an answer).
async fn answer(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0; 4096];
    match tokio::time::timeout(within, stream.read(&mut buffer)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buffer[..n]).into_owned(),
        Ok(Err(_)) => String::new(),
        Err(_) => panic!("no answer and no close within {within:?}"),
    }
}

/// A client that trickles its headers or body is cut off, and live sessions are capped (HTTP limits of
/// issue 12: slowloris, slow bodies, session exhaustion).
#[tokio::test]
async fn slow_clients_are_cut_off_and_sessions_are_capped() {
    use tokio::io::AsyncWriteExt;
    let account = Account::new();
    let limits = Limits {
        max_sessions: 1,
        header_timeout: std::time::Duration::from_millis(300),
        body_timeout: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start_with(
        &account,
        HttpOptions {
            limits,
            ..HttpOptions::default()
        },
    )
    .await;
    let second = std::time::Duration::from_secs(3);

    let mut slow_headers = raw(&server.url).await;
    slow_headers
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answered = answer(&mut slow_headers, second).await;
    assert!(
        answered.is_empty() || answered.starts_with("HTTP/1.1 408"),
        "{answered}"
    );
    assert!(started.elapsed() < second);

    let mut slow_body = raw(&server.url).await;
    slow_body
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"",
        )
        .await
        .unwrap();
    let answered = answer(&mut slow_body, second).await;
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone()),
    );
    let client = ().serve(transport).await.expect("the first session");
    assert_eq!(
        post(&server.url, &[], INITIALIZE).await,
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "a second session while the cap is reached"
    );
    client.cancel().await.ok();
    server.shutdown.cancel();
    server.task.await.unwrap();
}

/// At most `max_connections` are served at once (the others wait), and a shutdown does not wait for a
/// half-open request longer than the grace.
#[tokio::test]
async fn connections_are_capped_and_shutdown_is_bounded() {
    use tokio::io::AsyncWriteExt;
    let account = Account::new();
    let limits = Limits {
        max_connections: 1,
        shutdown_grace: std::time::Duration::from_millis(500),
        ..Limits::default()
    };
    let server = start_with(
        &account,
        HttpOptions {
            limits,
            ..HttpOptions::default()
        },
    )
    .await;
    let mut held = raw(&server.url).await;
    held.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let waiting = tokio::time::timeout(
        std::time::Duration::from_millis(700),
        post(&server.url, &[], INITIALIZE),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a second connection waits while the first is served"
    );
    drop(held);
    let served = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        post(&server.url, &[], INITIALIZE),
    )
    .await
    .expect("served once the first connection closed");
    assert_eq!(served, reqwest::StatusCode::OK);

    let mut half_open = raw(&server.url).await;
    half_open
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Once the server holds the half-open request, another connection waits (one at a time).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::time::timeout(
        std::time::Duration::from_millis(100),
        post(&server.url, &[], INITIALIZE),
    )
    .await
    .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the half-open request was never accepted"
        );
    }
    let stopping = std::time::Instant::now();
    server.shutdown.cancel();
    server.task.await.unwrap();
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(3),
        "shutdown waited {:?} for a half-open request",
        stopping.elapsed()
    );
}

/// The built binary serving MCP over HTTP (streamable at `/mcp`, HTTP+SSE at `/sse`) in provision mode
/// for an account, with an audit log; its stderr is collected as it comes.
struct Binary {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    audit: std::path::PathBuf,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Binary {
    fn start(account: &Account) -> Self {
        use std::io::BufRead;
        let audit = std::env::temp_dir().join(format!("bp-shutdown-audit-{}.log", account.id));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
            .args([
                "serve",
                "--mode",
                "provision",
                "--http",
                "127.0.0.1:0",
                "--audit-log",
            ])
            .arg(&audit)
            .env_clear()
            .envs(account.binary_env())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server says where it listens")
                .unwrap();
            if let Some(rest) = line.strip_prefix("listening on ") {
                break rest.trim_end_matches(MCP_PATH).to_owned();
            }
        };
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Self {
            child,
            base,
            audit,
            stderr,
        }
    }

    fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait until the server no longer accepts connections.
    async fn stopped_accepting(&self) {
        let addr = self.base.trim_start_matches("http://").to_owned();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "still accepting");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The exit status, waited for at most `within`.
    async fn exit(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running after {within:?}: {}",
                self.stderr.lock().unwrap()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The audit records written.
    fn audit_records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Wait until the account's `CreateUser` call reached the emulator (where a latency fault holds it).
async fn held_at_create_user(account: &Account) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !account.actions().iter().any(|a| a == "CreateUser") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            account.actions()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// After SIGTERM, the call in flight was finished and answered, its audit record written, the unit
/// complete in AWS (its user has the policy), and the server exited 0.
async fn check_finished_after_sigterm(account: &Account, server: &mut Binary) {
    assert_eq!(
        account.attached_policy_count("web-bedrock-user").await,
        1,
        "the unit is complete"
    );
    let status = server.exit(std::time::Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    let records = server.audit_records();
    assert!(
        records
            .iter()
            .any(|r| r["tool"] == "provision_user" && r["outcome"] == "ok"),
        "{records:?}\n{}",
        server.stderr.lock().unwrap()
    );
}

/// SIGTERM while a streamable-HTTP client's `provision_user` waits on a slow `CreateUser`: the server stops
/// accepting connections at once, but finishes the call and answers it before it exits (it exited at once,
/// the client got no answer, and `CreateUser` landed afterwards, a user without its policy).
#[tokio::test]
async fn sigterm_lets_a_streamable_http_call_in_flight_finish_and_answers_it() {
    let account = Account::new();
    let mut server = Binary::start(&account);
    account.fault(json!({"action": "CreateUser", "kind": "latency", "latency_ms": 3000}));
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}{MCP_PATH}", server.base)),
    );
    let client = ().serve(transport).await.expect("initialize over HTTP");
    let args = json!({"business_unit": "web", "purpose": "p", "owner": "o@example.com"});
    let call = tokio::spawn(async move {
        let params = CallToolRequestParams::new("provision_user")
            .with_arguments(args.as_object().unwrap().clone());
        let result = client.call_tool(params).await;
        client.cancel().await.ok();
        result
    });
    held_at_create_user(&account).await;
    server.terminate();
    server.stopped_accepting().await;
    assert!(!call.is_finished(), "CreateUser is still held");
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .expect("answered within the grace")
        .unwrap()
        .expect("the call is answered, not dropped");
    assert_ne!(result.is_error, Some(true), "{}", common::text(&result));
    check_finished_after_sigterm(&account, &mut server).await;
}

/// The same over the HTTP+SSE transport: the answer arrives on the event stream after SIGTERM.
#[tokio::test]
async fn sigterm_lets_an_sse_call_in_flight_finish_and_answers_it() {
    let account = Account::new();
    let mut server = Binary::start(&account);
    account.fault(json!({"action": "CreateUser", "kind": "latency", "latency_ms": 3000}));
    let http = reqwest::Client::new();
    let mut stream = http
        .get(format!("{}/sse", server.base))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer, "endpoint", "/messages?sessionId=").await;
    let messages = format!("{}{endpoint}", server.base);
    let send = |body: String| {
        http.post(&messages)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(send(INITIALIZE.to_owned()).await.unwrap().status(), 202);
    next_event(&mut stream, &mut buffer, "message", "\"id\":1").await;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(send(initialized.to_owned()).await.unwrap().status(), 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "provision_user",
        "arguments": {"business_unit": "web", "purpose": "p", "owner": "o@example.com"}}});
    assert_eq!(send(call.to_string()).await.unwrap().status(), 202);
    held_at_create_user(&account).await;
    server.terminate();
    server.stopped_accepting().await;
    let answer = next_event(&mut stream, &mut buffer, "message", "\"id\":2").await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    check_finished_after_sigterm(&account, &mut server).await;
}

/// A call in flight longer than the grace does not hold the shutdown: the server stops after the grace
/// (and the moment its event streams get to close), not when the call ends.
#[tokio::test]
async fn a_call_longer_than_the_grace_does_not_hold_the_shutdown() {
    let account = Account::new();
    let limits = Limits {
        shutdown_grace: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start_with(
        &account,
        HttpOptions {
            limits,
            ..HttpOptions::default()
        },
    )
    .await;
    account.fault(json!({"action": "CreateUser", "kind": "latency", "latency_ms": 5000}));
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(server.url.clone()))
            .await
            .unwrap();
    let args = json!({"business_unit": "slow", "purpose": "p", "owner": "o@example.com"});
    let _call = tokio::spawn(async move {
        let params = CallToolRequestParams::new("provision_user")
            .with_arguments(args.as_object().unwrap().clone());
        client.call_tool(params).await
    });
    held_at_create_user(&account).await;
    let stopping = std::time::Instant::now();
    server.shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(4), server.task)
        .await
        .expect("stopped within the grace and the time streams get to close")
        .unwrap();
    assert!(
        stopping.elapsed() >= std::time::Duration::from_millis(300),
        "the call in flight got its grace: {:?}",
        stopping.elapsed()
    );
}

/// The id of a JSON-RPC message as the server writes it (`"id"` comes before `result` and `error`).
fn message_id(data: &str) -> Option<u64> {
    let rest = &data[data.find("\"id\":")? + 5..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

/// An SSE client that never reads its stream cannot make its session queue without bound (30,000
/// `tools/list` to an unread stream took the server from 31 to 168 MB): beyond what the connection's
/// buffers hold, once 32 of its requests wait for the stream, further requests get 429 with a JSON-RPC
/// error naming their id. Once the client reads, every accepted request is answered and the session
/// takes requests again.
#[tokio::test]
async fn an_unread_sse_stream_bounds_its_session_s_queue() {
    let account = Account::new();
    let server = start(&account, None).await;
    let base = server.url.trim_end_matches(MCP_PATH).to_owned();
    let http = reqwest::Client::new();
    let mut stream = http.get(format!("{base}/sse")).send().await.unwrap();
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer, "endpoint", "/messages?sessionId=").await;
    let messages = format!("{base}{endpoint}");
    let send = |body: String| {
        http.post(&messages)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(send(INITIALIZE.to_owned()).await.unwrap().status(), 202);
    next_event(&mut stream, &mut buffer, "message", "\"id\":1").await;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(send(initialized.to_owned()).await.unwrap().status(), 202);

    let list = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}).to_string();
    let mut accepted = std::collections::HashSet::new();
    let (refused, id) = loop {
        let id = 100 + accepted.len() as u64;
        assert!(
            accepted.len() < 5_000,
            "5,000 requests queued for a stream nobody reads"
        );
        let response = send(list(id)).await.unwrap();
        match response.status().as_u16() {
            202 => assert!(accepted.insert(id)),
            429 => break (response, id),
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    };
    eprintln!("{} requests accepted before 429", accepted.len());
    assert!(refused.headers().contains_key("retry-after"));
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["id"], id, "{error}");
    assert_eq!(error["error"]["code"], -32000, "{error}");

    while !accepted.is_empty() {
        let data = next_event(&mut stream, &mut buffer, "message", "").await;
        if let Some(id) = message_id(&data) {
            accepted.remove(&id);
        }
    }
    assert_eq!(
        send(list(99_999)).await.unwrap().status(),
        202,
        "the session takes requests again"
    );
    next_event(&mut stream, &mut buffer, "message", "\"id\":99999").await;
    server.shutdown.cancel();
    server.task.await.unwrap();
}

/// Open an SSE stream at `base`; the stream, its buffer and its messages URL. Panics unless it opens.
async fn open_sse(http: &reqwest::Client, base: &str) -> (reqwest::Response, String, String) {
    let mut stream = http.get(format!("{base}/sse")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer, "endpoint", "/messages?sessionId=").await;
    (stream, buffer, format!("{base}{endpoint}"))
}

/// Read `stream` until the server ends it; panics if it does not within `within`.
async fn ended(stream: &mut reqwest::Response, within: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while let Some(_chunk) = tokio::time::timeout_at(deadline, stream.chunk())
        .await
        .expect("the server ends the stream")
        .unwrap_or(None)
    {}
}

/// SSE sessions that never initialize, or then fall idle, are closed (64 streams that never initialized
/// shut every SSE client out for good): with the timeouts shortened to 300 ms and 600 ms (the defaults
/// are 30 s and 5 minutes), a full house of uninitialized streams is closed and new clients get in, and
/// an initialized session lives while its client talks or a call of it runs, and is closed once it has
/// been quiet.
#[tokio::test]
async fn sse_sessions_that_never_initialize_or_fall_idle_are_closed() {
    assert_eq!(
        Limits::default().sse_init_timeout,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        Limits::default().sse_idle_timeout,
        std::time::Duration::from_secs(300)
    );
    let account = Account::new();
    let limits = Limits {
        sse_init_timeout: std::time::Duration::from_millis(300),
        sse_idle_timeout: std::time::Duration::from_millis(600),
        ..Limits::default()
    };
    let options = HttpOptions {
        limits,
        ..HttpOptions::default()
    };
    let server = start_with(&account, options).await;
    let base = server.url.trim_end_matches(MCP_PATH).to_owned();
    let http = reqwest::Client::new();
    let mut silent = Vec::new();
    for _ in 0..bedrock_provisioner::mcp::sse::MAX_SESSIONS {
        silent.push(open_sse(&http, &base).await);
    }
    let full = http.get(format!("{base}/sse")).send().await.unwrap();
    assert_eq!(full.status(), 503, "the cap is reached");
    for (stream, _, _) in &mut silent {
        ended(stream, std::time::Duration::from_secs(5)).await;
    }
    let (mut talking, mut buffer, messages) = open_sse(&http, &base).await;
    let send = |body: &str| {
        http.post(&messages)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    assert_eq!(send(INITIALIZE).await.unwrap().status(), 202);
    next_event(&mut talking, &mut buffer, "message", "\"id\":1").await;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(send(initialized).await.unwrap().status(), 202);
    // Twice the idle timeout, talking every 150 ms: the session stays.
    for id in 2..10 {
        let ping = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        assert_eq!(send(&ping).await.unwrap().status(), 202);
        next_event(
            &mut talking,
            &mut buffer,
            "message",
            &format!("\"id\":{id}"),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    // A call longer than the idle timeout, the client silent meanwhile: answered, not cut off.
    account.fault(json!({"action": "CreateUser", "kind": "latency", "latency_ms": 1500}));
    let call = json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": "provision_user",
        "arguments": {"business_unit": "quiet", "purpose": "p", "owner": "o@example.com"}}});
    assert_eq!(send(&call.to_string()).await.unwrap().status(), 202);
    let answer = next_event(&mut talking, &mut buffer, "message", "\"id\":20").await;
    assert!(answer.contains("\"isError\":false"), "{answer}");
    ended(&mut talking, std::time::Duration::from_secs(5)).await;
    assert_eq!(send(initialized).await.unwrap().status(), 404);
    server.shutdown.cancel();
    server.task.await.unwrap();
}

/// POST `body` to `path` of the server at `base` on a connection of its own: (its local address, the
/// answer's status line).
async fn post_from_own_connection(base: &str, path: &str, body: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap().to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    (local, answer.lines().next().unwrap_or_default().to_owned())
}

/// Issue 21 (10): SSE audit records carry `peer` like streamable HTTP ones: the address of the connection
/// that POSTed the call, and `stream_peer`, the one that opened the session's event stream. A POST into the
/// session from another connection is recorded with its own address (before: no peer at all, so it read
/// as the session's client).
#[tokio::test]
async fn sse_records_name_the_posting_connection() {
    let account = Account::new();
    let server = start(&account, Some(TOKEN)).await;
    let base = server.url.trim_end_matches(MCP_PATH).to_owned();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {TOKEN}");
    let mut stream = http
        .get(format!("{base}/sse"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer, "endpoint", "/messages?sessionId=").await;
    let (_, status) = post_from_own_connection(&base, &endpoint, INITIALIZE).await;
    assert!(status.contains("202"), "{status}");
    next_event(&mut stream, &mut buffer, "message", "\"id\":1").await;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    post_from_own_connection(&base, &endpoint, initialized).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "provision_user",
        "arguments": {"business_unit": "sse", "purpose": "p", "owner": "o@example.com"}}});
    let (poster, status) = post_from_own_connection(&base, &endpoint, &call.to_string()).await;
    assert!(status.contains("202"), "{status}");
    let answered = next_event(&mut stream, &mut buffer, "message", "\"id\":2").await;
    assert!(!answered.contains("\"isError\":true"), "{answered}");
    let log = std::fs::read_to_string(&server.audit).unwrap();
    let record: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(record["tool"], "provision_user", "{record}");
    assert_eq!(record["peer"], poster, "the POSTing connection: {record}");
    let stream_peer = record["stream_peer"].as_str().unwrap_or_default();
    assert!(stream_peer.starts_with("127.0.0.1:"), "{record}");
    assert_ne!(stream_peer, poster, "{record}");
    server.shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
}
