//! The crash matrix: for every AWS call of provisioning, of a `replace` rotation and of a fleet apply
//! (recorded from a clean run of the CLI, not written by hand), hold that call in the emulator (before AWS
//! carries it out, and after), kill -9 the process while it waits, and run the same command again. It must
//! converge: the user, its tags and one policy for provisioning; for the rotation exactly one key, active,
//! the one the unit's secret holds, and never a moment with no working key; for the fleet exactly the
//! manifest's users, one policy with one version, one budget and one delivered key per unit, and a plan
//! with nothing left to do.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common;

use common::Account;
use futures::{StreamExt, stream};
use serde_json::json;

/// What a workflow does, and so what it must leave behind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Provision,
    Rotate,
    Fleet,
}

/// A workflow: its command line (`MANIFEST` stands for the fleet manifest's path) and what it does.
#[derive(Clone, Copy)]
struct Workflow {
    name: &'static str,
    args: &'static [&'static str],
    kind: Kind,
}

/// The fleet workflow's manifest: two units, each with a budget and a key in Secrets Manager.
const MANIFEST: &str = r#"
[defaults]
owner = "o@example.com"
purpose = "p"
budget = { monthly_usd = 50, emails = ["finops@example.com"] }
key = { deliver = "secrets_manager" }

[[unit]]
name = "f1"

[[unit]]
name = "f2"
"#;

const WORKFLOWS: [Workflow; 3] = [
    Workflow {
        name: "provision-user",
        args: &[
            "provision-user",
            "--business-unit",
            "fresh",
            "--purpose",
            "p",
            "--owner",
            "o",
        ],
        kind: Kind::Provision,
    },
    Workflow {
        name: "rotate-key --replace",
        args: &[
            "rotate-key",
            "--business-unit",
            "unit",
            "--replace",
            "--deliver",
            "secrets-manager",
        ],
        kind: Kind::Rotate,
    },
    Workflow {
        name: "fleet apply",
        args: &["fleet", "apply", "MANIFEST", "--concurrency", "1"],
        kind: Kind::Fleet,
    },
];

/// A fresh account: `unit` provisioned with one key in its secret.
async fn prepared() -> Account {
    let account = Account::new();
    let deliver = json!({"deliver": "secrets_manager"});
    let client = account.unit_with_keys("unit", 1, deliver).await;
    client.cancel().await.ok();
    account
}

/// The binary running `args` for `account`, with a one-second key lease (so a re-run finishes an
/// interrupted operation at once instead of after two minutes).
fn command(account: &Account, args: &[&str]) -> Command {
    let dir = std::env::temp_dir().join(format!("bp-crash-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "key_lease_seconds = 1\n").unwrap();
    let manifest = dir.join("fleet.toml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let args = args.iter().map(|a| match *a {
        "MANIFEST" => manifest.as_os_str(),
        other => std::ffi::OsStr::new(other),
    });
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_clear()
        .envs(account.binary_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The distinct actions of a clean run, in order.
async fn actions_of(workflow: Workflow) -> Vec<String> {
    let account = prepared().await;
    let start = account.actions().len();
    let output = command(&account, workflow.args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    account.distinct_actions_since(start)
}

/// Kill the child once the emulator has received `action` (held there by the fault), or when it exits.
async fn kill_when_held(account: &Account, start: usize, action: &str, mut child: Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if account.actions()[start..].iter().any(|a| a == action) {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{action} was never called");
}

/// Wait until the emulator has answered the held call (carried it out, or not, and logged a status).
async fn settled(account: &Account, start: usize, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let requests = account.requests();
        let held = requests[start..]
            .iter()
            .rev()
            .find(|r| r["action"] == action);
        if held.is_some_and(|r| r.get("status").is_some()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{action} was never answered");
}

/// Keys of the unit in AWS (independent read) and the id its secret holds.
async fn keys_and_secret(account: &Account) -> (Vec<(String, String)>, Option<String>) {
    let keys = account.keys_in_aws("unit-bedrock-user").await;
    (keys, account.secret_key_id("unit").await)
}

/// One case: hold `action` (`after`: once AWS carried it out), kill the process, re-run, check.
async fn case(workflow: Workflow, action: String, after: bool) -> String {
    let name = format!(
        "{} / {action} / killed {}",
        workflow.name,
        if after { "after" } else { "before" }
    );
    let account = prepared().await;
    let start = account.actions().len();
    let kind = if after { "reached" } else { "latency" };
    account.fault(json!({"action": action, "kind": kind, "latency_ms": 4000, "count": 1}));
    let child = command(&account, workflow.args).spawn().unwrap();
    kill_when_held(&account, start, &action, child).await;
    // AWS finishes a request it received even when the client died; the re-run comes after that.
    settled(&account, start, &action).await;
    if workflow.kind == Kind::Rotate {
        let (keys, secret) = keys_and_secret(&account).await;
        let working = keys.iter().filter(|(_, s)| s == "Active").count();
        assert!(
            working >= 1,
            "{name}: no working key after the kill: {keys:?}"
        );
        if let Some(held) = &secret {
            assert!(
                keys.iter().any(|(id, s)| id == held && s == "Active"),
                "{name}: the secret holds {held}, which does not work: {keys:?}"
            );
        }
    }
    let again = command(&account, workflow.args).output().unwrap();
    assert!(
        again.status.success(),
        "{name}: re-run: {}",
        String::from_utf8_lossy(&again.stderr)
    );
    match workflow.kind {
        Kind::Rotate => {
            let (keys, secret) = keys_and_secret(&account).await;
            assert_eq!(keys.len(), 1, "{name}: one key after the re-run: {keys:?}");
            assert_eq!(keys[0].1, "Active", "{name}");
            assert_eq!(secret.as_deref(), Some(keys[0].0.as_str()), "{name}");
        }
        Kind::Provision => provisioned(&account, "fresh", &name).await,
        Kind::Fleet => fleet_converged(&account, &name).await,
    }
    name
}

/// The unit's user carries its tags and has the one policy attached.
async fn provisioned(account: &Account, unit: &str, name: &str) {
    assert_eq!(account.local_policy_count().await, 1, "{name}: one policy");
    let iam = account.iam().await;
    let user = format!("{unit}-bedrock-user");
    assert_eq!(
        account.attached_policy_count(&user).await,
        1,
        "{name}: {user}"
    );
    let tags = iam.list_user_tags().user_name(&user).send().await.unwrap();
    assert!(
        tags.tags().iter().any(|t| t.key() == "managed-by"),
        "{name}: {user}"
    );
}

/// The fleet's units exist once each, with one policy version, one budget and one key each, the one
/// their secret holds; and a plan finds nothing left to do.
async fn fleet_converged(account: &Account, name: &str) {
    let iam = account.iam().await;
    let mut users: Vec<String> = iam
        .list_users()
        .send()
        .await
        .unwrap()
        .users()
        .iter()
        .map(|u| u.user_name().to_owned())
        .collect();
    users.sort();
    assert_eq!(
        users,
        ["f1-bedrock-user", "f2-bedrock-user", "unit-bedrock-user"],
        "{name}"
    );
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    let [policy] = policies.policies() else {
        panic!("{name}: one policy: {policies:?}")
    };
    let versions = iam
        .list_policy_versions()
        .policy_arn(policy.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1, "{name}: no orphan version");
    let budgets = aws_sdk_budgets::Client::new(&account.sdk_config().await)
        .describe_budgets()
        .account_id(&account.id)
        .send()
        .await
        .unwrap();
    let mut budget_names: Vec<&str> = budgets.budgets().iter().map(|b| b.budget_name()).collect();
    budget_names.sort_unstable();
    assert_eq!(
        budget_names.len(),
        2,
        "{name}: one budget per unit: {budget_names:?}"
    );
    for unit in ["f1", "f2"] {
        provisioned(account, unit, name).await;
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1, "{name}: {unit}: one key: {keys:?}");
        assert_eq!(
            account.secret_key_id(unit).await.as_deref(),
            Some(keys[0].0.as_str()),
            "{name}: {unit}: the secret holds the key"
        );
    }
    let plan = command(account, &["fleet", "plan", "MANIFEST"])
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{name}: nothing left to do: {}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[tokio::test]
async fn a_process_killed_at_any_call_is_finished_by_the_next_run() {
    let mut cases = Vec::new();
    for workflow in WORKFLOWS {
        for action in actions_of(workflow).await {
            for after in [false, true] {
                cases.push((workflow, action.clone(), after));
            }
        }
    }
    let count = cases.len();
    let done: Vec<String> = stream::iter(cases)
        .map(|(workflow, action, after)| case(workflow, action, after))
        .buffer_unordered(12)
        .collect()
        .await;
    eprintln!("crash matrix: {count} cases (kill -9 before and after each call), all converged");
    assert_eq!(done.len(), count);
    assert!(count >= 40, "generated from the recorded calls: {count}");
}

/// The MCP server (the built binary over stdio) killed with -9 while `apply_fleet` waits on a held call;
/// the next apply, from the CLI, converges as after a killed CLI.
#[tokio::test]
async fn a_server_killed_during_apply_fleet_is_finished_by_the_next_apply() {
    use rmcp::{ServiceExt, model::CallToolRequestParams, transport::TokioChildProcess};
    let cases = [
        ("CreateServiceSpecificCredential", true),
        ("CreateSecret", true),
        ("CreateBudget", false),
    ];
    for (action, after) in cases {
        let name = format!(
            "server / {action} / killed {}",
            if after { "after" } else { "before" }
        );
        let account = prepared().await;
        let start = account.actions().len();
        let kind = if after { "reached" } else { "latency" };
        account.fault(json!({"action": action, "kind": kind, "latency_ms": 4000, "count": 1}));
        let server =
            tokio::process::Command::from(command(&account, &["serve", "--mode", "provision"]));
        let (transport, _) = TokioChildProcess::builder(server)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = transport.id().unwrap();
        let client = ().serve(transport).await.unwrap();
        let arguments = json!({"manifest": MANIFEST, "concurrency": 1});
        let call = CallToolRequestParams::new("apply_fleet")
            .with_arguments(arguments.as_object().unwrap().clone());
        let pending = tokio::spawn(async move { client.call_tool(call).await });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !account.actions()[start..].iter().any(|a| a == action) {
            assert!(Instant::now() < deadline, "{name}: never called");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "{name}");
        assert!(
            pending.await.unwrap().is_err(),
            "{name}: the server died mid-call"
        );
        settled(&account, start, action).await;
        let again = command(&account, &["fleet", "apply", "MANIFEST"])
            .output()
            .unwrap();
        assert!(
            again.status.success(),
            "{name}: re-run: {}",
            String::from_utf8_lossy(&again.stdout)
        );
        fleet_converged(&account, &name).await;
    }
}
