//! Destructive tools ask the user through MCP elicitation when the client supports it: a yes runs the
//! change, a no or no answer changes nothing. Clients without elicitation need `confirm: true`.

use crate::common;

use std::sync::{Arc, Mutex};

use bedrock_provisioner::mode::AccessMode;
use common::{Account, call, ok, serve_in_process, text};
use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
        Implementation,
    },
    service::{RequestContext, RunningService},
};
use serde_json::json;

/// A client whose user answers every confirmation with `answer`, recording the questions.
#[derive(Clone)]
struct User {
    answer: ElicitationAction,
    questions: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for User {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.questions.lock().unwrap().push(message);
        }
        let result = ElicitResult::new(self.answer.clone());
        Ok(if self.answer == ElicitationAction::Accept {
            result.with_content(json!({"confirm": true}))
        } else {
            result
        })
    }

    fn get_info(&self) -> ClientConfig {
        confirming_client()
    }
}

/// A client that can ask its user (elicitation).
fn confirming_client() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::builder().enable_elicitation().build(),
        Implementation::new("confirming-client", "1.0"),
    )
}

/// A client whose user says yes, but whose colleague adds an access key to the unit's user while the first
/// question is on screen: AWS changed after the user saw the plan.
#[derive(Clone)]
struct Interrupted {
    iam: aws_sdk_iam::Client,
    questions: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Interrupted {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.questions.lock().unwrap().push(message);
        }
        if self.questions.lock().unwrap().len() == 1 {
            self.iam
                .create_access_key()
                .user_name("ops-bedrock-user")
                .send()
                .await
                .unwrap();
        }
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true})))
    }

    fn get_info(&self) -> ClientConfig {
        confirming_client()
    }
}

/// What is applied is the plan the user agreed to: an access key added while the question was on screen
/// makes a new plan, which the user is asked about again (it names the key) instead of its being deleted
/// unseen; their second yes applies it.
#[tokio::test]
async fn a_plan_that_changed_after_the_yes_is_asked_about_again() {
    let account = Account::new();
    let _admin = account.provisioned(&["ops"]).await;
    let questions = Arc::new(Mutex::new(Vec::new()));
    let client = connect(
        &account,
        AccessMode::Admin,
        Interrupted {
            iam: account.iam().await,
            questions: questions.clone(),
        },
    )
    .await;
    let done = call_user(&client, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));
    let asked = questions.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(!asked[0].contains("access key"), "{asked:?}");
    assert!(
        asked[1].contains("plan changed") && asked[1].contains("access key AKIA"),
        "{asked:?}"
    );
    assert!(!account.user_exists("ops-bedrock-user").await);

    // An agent that confirms a digest of an older plan gets the new plan back, and nothing is deleted.
    client.cancel().await.ok();
    let _again = account.provisioned(&["ops"]).await;
    let agent = account.mcp(AccessMode::Admin).await;
    let first = call(&agent, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert!(text(&first).contains("plan_digest: \""), "{}", text(&first));
    let stale = "0123456789abcdef";
    let refused = call(
        &agent,
        "deprovision_user",
        json!({"business_unit": "ops", "confirm": true, "plan_digest": stale}),
    )
    .await;
    assert!(
        text(&refused).contains("plan changed"),
        "{}",
        text(&refused)
    );
    assert!(account.user_exists("ops-bedrock-user").await);
    agent.cancel().await.ok();
}

/// An in-process server in `mode` for `account`, and a client with `handler`.
async fn connect<H: ClientHandler>(
    account: &Account,
    mode: AccessMode,
    handler: H,
) -> RunningService<RoleClient, H> {
    handler
        .serve(serve_in_process(mode, account.settings()))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_user_is_asked_and_only_a_yes_deletes() {
    let account = Account::new();
    let _admin = account.provisioned(&["ops"]).await;
    let questions = Arc::new(Mutex::new(Vec::new()));
    let no = connect(
        &account,
        AccessMode::Admin,
        User {
            answer: ElicitationAction::Decline,
            questions: questions.clone(),
        },
    )
    .await;
    let refused = call_user(&no, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("confirm: true"));
    assert!(
        account.user_exists("ops-bedrock-user").await,
        "a no changes nothing"
    );
    let asked = questions.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains("would delete IAM user `ops-bedrock-user`"),
        "{asked:?}"
    );

    let audit_path = std::env::temp_dir().join(format!("bp-elicit-{}.log", account.id));
    let audit = bedrock_provisioner::audit::AuditLog::open(&audit_path).unwrap();
    let yes = User {
        answer: ElicitationAction::Accept,
        questions: questions.clone(),
    }
    .serve(common::serve_in_process_audited(
        AccessMode::Admin,
        account.settings(),
        audit,
    ))
    .await
    .unwrap();
    let done = call_user(&yes, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));
    assert!(!account.user_exists("ops-bedrock-user").await);
    assert_eq!(questions.lock().unwrap().len(), 2);
    // The record says the user confirmed through the client, and what was deleted.
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&audit_path)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["confirmed_by"], "elicitation", "{record}");
    assert!(
        record["arguments"].get("confirm").is_none(),
        "not an argument: {record}"
    );
    assert!(
        record["deleted"]
            .as_array()
            .unwrap()
            .contains(&json!("ops-bedrock-user")),
        "{record}"
    );
    assert_eq!(record["created"], json!([]), "{record}");
}

#[tokio::test]
async fn clients_without_elicitation_must_pass_confirm() {
    let account = Account::new();
    let client = account.provisioned(&["ops"]).await;
    let refused = call(&client, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert!(
        text(&refused).contains("confirmation required"),
        "{}",
        text(&refused)
    );
    assert!(account.user_exists("ops-bedrock-user").await);
    ok(&call(
        &client,
        "deprovision_user",
        json!({"business_unit": "ops", "confirm": true}),
    )
    .await);
}

async fn call_user<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: serde_json::Value,
) -> rmcp::model::CallToolResult {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    client.call_tool(params).await.unwrap()
}

/// One progress notification: progress, total, message.
type Step = (f64, Option<f64>, String);

/// A client that records progress notifications.
#[derive(Clone, Default)]
struct Watcher {
    progress: Arc<Mutex<Vec<Step>>>,
}

impl Watcher {
    /// The notifications seen, once there are at least `count` (they are all sent before the call's
    /// answer, but handled on their own task) or after 10 s.
    async fn progress_once(&self, count: usize) -> Vec<Step> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let seen = self.progress.lock().unwrap().clone();
            if seen.len() >= count || std::time::Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl ClientHandler for Watcher {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push((
            params.progress,
            params.total,
            params.message.unwrap_or_default(),
        ));
    }
}

fn diagnose_request(token: &str) -> rmcp::model::ClientRequest {
    let mut params = rmcp::model::CallToolRequestParams::new("diagnose");
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::String(token.into())),
    ));
    params = params.with_arguments(serde_json::Map::new());
    rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params))
}

#[tokio::test]
async fn diagnose_reports_progress_per_check() {
    let account = Account::new();
    let watcher = Watcher::default();
    let client = connect(&account, AccessMode::ReadOnly, watcher.clone()).await;
    client.send_request(diagnose_request("p1")).await.unwrap();
    let seen = watcher.progress_once(13).await;
    assert_eq!(seen.len(), 13, "one notification per check: {seen:?}");
    assert!(seen.iter().all(|(_, total, _)| *total == Some(13.0)));
    let mut steps: Vec<f64> = seen.iter().map(|s| s.0).collect();
    steps.sort_by(f64::total_cmp);
    assert_eq!(steps, (1..=13).map(f64::from).collect::<Vec<_>>());
    assert!(
        seen.iter().any(|s| s.2.starts_with("credentials: pass")),
        "{seen:?}"
    );

    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "diagnose"));
}

#[tokio::test]
async fn on_protocol_2026_the_question_is_an_input_required_result() {
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};

    let account = Account::new();
    let _admin = account.provisioned(&["ops", "hr"]).await;
    let client_io = serve_in_process(AccessMode::Admin, account.settings());
    let questions = Arc::new(Mutex::new(Vec::new()));
    let user = User {
        answer: ElicitationAction::Accept,
        questions: questions.clone(),
    };
    let client = user
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    // Without answering: the raw result asks for input and nothing changes.
    let once = client
        .call_tool_once(
            rmcp::model::CallToolRequestParams::new("deprovision_user")
                .with_arguments(json!({"business_unit": "hr"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert!(
        matches!(once, rmcp::model::CallToolResponse::InputRequired(_)),
        "{once:?}"
    );
    assert!(account.user_exists("hr-bedrock-user").await);
    // The high-level call answers through the handler and retries: the user said yes.
    let done = call_user(&client, "deprovision_user", json!({"business_unit": "ops"})).await;
    assert_ne!(done.is_error, Some(true), "{}", text(&done));
    assert!(!account.user_exists("ops-bedrock-user").await);
    assert!(questions.lock().unwrap()[0].contains("ops-bedrock-user"));
}

/// A tool the mode does not offer is refused, and the refusal is on the audit trail.
#[tokio::test]
async fn a_tool_outside_the_mode_is_refused_and_audited() {
    use bedrock_provisioner::{audit::AuditLog, core::Provisioner, mcp::ProvisionerServer};

    let account = Account::new();
    let dir = std::env::temp_dir().join(format!("bp-mode-audit-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let core = std::sync::Arc::new(Provisioner::new(account.settings()));
    let server = ProvisionerServer::new(core, AccessMode::ReadOnly)
        .with_audit_log(AuditLog::open(&path).unwrap());
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.unwrap();
    let args = serde_json::json!({"business_unit": "x", "purpose": "p", "owner": "o"});
    let refused = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("provision_user")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await;
    assert!(refused.is_err(), "not offered in read-only mode");
    let records = std::fs::read_to_string(&path).unwrap();
    let record: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
    assert_eq!(record["tool"], "provision_user");
    assert_eq!(record["outcome"], "refused:mode read-only", "{record}");
    assert!(
        account.actions().iter().all(|a| a == "GetCallerIdentity"),
        "{:?}",
        account.actions()
    );
}

#[tokio::test]
async fn fleet_tools_report_progress_per_unit() {
    let account = Account::new();
    let watcher = Watcher::default();
    let client = connect(&account, AccessMode::Provision, watcher.clone()).await;
    let manifest = "[defaults]\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"f1\"\n\n[[unit]]\nname = \"f2\"\n\n[[unit]]\nname = \"f3\"\n";
    let mut params = rmcp::model::CallToolRequestParams::new("apply_fleet");
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::String("fleet".into())),
    ));
    params = params.with_arguments(json!({"manifest": manifest}).as_object().unwrap().clone());
    let request =
        rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    client.send_request(request).await.unwrap();
    let seen = watcher.progress_once(3).await;
    assert_eq!(seen.len(), 3, "one notification per unit: {seen:?}");
    assert!(seen.iter().all(|(_, total, _)| *total == Some(3.0)));
    let mut units: Vec<&str> = seen.iter().map(|s| s.2.as_str()).collect();
    units.sort_unstable();
    assert_eq!(
        units,
        ["f1: 4 change(s)", "f2: 3 change(s)", "f3: 3 change(s)"],
        "the first unit also creates the shared policy"
    );
    let mut steps: Vec<f64> = seen.iter().map(|s| s.0).collect();
    steps.sort_by(f64::total_cmp);
    assert_eq!(steps, [1.0, 2.0, 3.0]);
    assert!(account.user_exists("f3-bedrock-user").await);
}

/// A client that cancels `apply_fleet` (MCP `notifications/cancelled`) after the first unit: the units in
/// flight finish, no further unit starts, and every user that exists is complete.
#[tokio::test]
async fn a_cancelled_fleet_apply_starts_no_more_units() {
    let account = Account::new();
    account.fault(
        json!({"action": "*", "service": "iam", "kind": "latency", "latency_ms": 100,
        "access_key": account.id}),
    );
    let watcher = Watcher::default();
    let audit_path = std::env::temp_dir().join(format!("bp-cancel-{}.jsonl", account.id));
    let server = common::serve_in_process_audited(
        AccessMode::Provision,
        account.settings(),
        bedrock_provisioner::audit::AuditLog::open(&audit_path).unwrap(),
    );
    let client = watcher.clone().serve(server).await.unwrap();
    let mut manifest = String::from("[defaults]\nowner = \"o\"\npurpose = \"p\"\n");
    for i in 0..10 {
        manifest.push_str(&format!("\n[[unit]]\nname = \"c{i}\"\n"));
    }
    let mut params = rmcp::model::CallToolRequestParams::new("apply_fleet");
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::String("cancel".into())),
    ));
    params = params.with_arguments(
        json!({"manifest": manifest, "concurrency": 2})
            .as_object()
            .unwrap()
            .clone(),
    );
    let request =
        rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
    let handle = client
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while watcher.progress.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    handle
        .cancel(Some("the user stopped it".into()))
        .await
        .unwrap();
    // The units in flight finish; then the count stays where it is.
    let users = || async {
        let listed = account.iam().await.list_users().send().await.unwrap();
        listed
            .users()
            .iter()
            .map(|u| u.user_name().to_owned())
            .collect::<Vec<_>>()
    };
    // The call ends (and is audited) once the units in flight are done: wait for its record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&audit_path)
        .unwrap_or_default()
        .contains("\"apply_fleet\"")
    {
        assert!(std::time::Instant::now() < deadline, "the call never ended");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let seen = users().await;
    assert!(
        (2..=4).contains(&seen.len()),
        "the first unit and the two in flight, no more: {seen:?}"
    );
    account.clear_faults();
    for user in &seen {
        assert_eq!(
            account.attached_policy_count(user).await,
            1,
            "{user} is complete"
        );
    }
}
