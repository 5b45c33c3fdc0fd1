//! The fault matrix: for every AWS call each mutating workflow makes (recorded from a clean run, not written
//! by hand), inject throttling and a 5xx on that call until the SDK's retries give up, then check what must
//! hold whatever failed: the answer is honest ("Nothing was sent to AWS" only when nothing was), no key is
//! orphaned or duplicated, a unit never ends with zero working keys, and a re-run converges.

use crate::common;

use common::{Account, call, text};
use rmcp::{RoleClient, model::CallToolResult, service::RunningService};
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ()>;

/// One workflow: how to set up its account, and the call under test.
struct Workflow {
    name: &'static str,
    /// Keys the unit has before the call.
    keys_before: usize,
    tool: &'static str,
    arguments: Value,
}

fn workflows() -> Vec<Workflow> {
    vec![
        Workflow {
            name: "provision",
            keys_before: 0,
            tool: "provision_user",
            arguments: json!({"business_unit": "other", "purpose": "p", "owner": "o"}),
        },
        Workflow {
            name: "create key into Secrets Manager",
            keys_before: 0,
            tool: "create_api_key",
            arguments: json!({"business_unit": "unit", "deliver": "secrets_manager"}),
        },
        Workflow {
            name: "rotate, replacing the old key",
            keys_before: 1,
            tool: "rotate_key",
            arguments: json!({"business_unit": "unit", "mode": "replace", "deliver": "secrets_manager"}),
        },
    ]
}

/// A fresh account with `unit` provisioned and `keys` keys; the client and where the call's requests start.
async fn prepared(keys: usize) -> (Account, Client, usize) {
    let account = Account::new();
    let client = account.unit_with_keys("unit", keys, json!({})).await;
    let start = account.actions().len();
    (account, client, start)
}

/// The distinct AWS actions `workflow` makes when nothing fails.
async fn actions_of(workflow: &Workflow) -> Vec<String> {
    let (account, client, start) = prepared(workflow.keys_before).await;
    let result = call(&client, workflow.tool, workflow.arguments.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{}: {}",
        workflow.name,
        text(&result)
    );
    account.distinct_actions_since(start)
}

/// The keys of the unit's user in AWS, read independently: (id, status).
async fn keys(account: &Account) -> Vec<(String, String)> {
    account.keys_in_aws("unit-bedrock-user").await
}

async fn check_invariants(
    workflow: &Workflow,
    account: &Account,
    start: usize,
    result: &CallToolResult,
    case: &str,
) {
    let message = text(result);
    if message.contains("Nothing was sent to AWS") {
        assert_eq!(
            account.actions().len(),
            start,
            "{case}: claimed nothing was sent: {message}"
        );
    }
    if workflow.tool == "provision_user" {
        return;
    }
    let keys = keys(account).await;
    assert!(keys.len() <= 2, "{case}: {keys:?}");
    let active = keys.iter().filter(|(_, status)| status == "Active").count();
    assert!(
        active >= 1 || workflow.keys_before == 0,
        "{case}: no working key left: {keys:?}"
    );
    if let Some(held) = account.secret_key_id("unit").await {
        assert!(
            keys.iter()
                .any(|(id, status)| *id == held && status == "Active"),
            "{case}: the secret holds {held}, which is not a working key: {keys:?}\n{message}"
        );
    }
    if result.is_error == Some(true) && !message.contains("orphaned_key") {
        assert!(
            keys.len() <= workflow.keys_before,
            "{case}: a failed call left a key behind (orphan): {keys:?}\n{message}"
        );
    }
}

/// After a successful re-run of a key workflow: `expected` keys, all active (no orphan, no duplicate), and
/// the newest is the one the unit's secret holds.
async fn converged(account: &Account, expected: usize, case: &str) {
    let keys = keys(account).await;
    assert_eq!(
        keys.len(),
        expected,
        "{case}: keys after the re-run: {keys:?}"
    );
    assert!(
        keys.iter().all(|(_, status)| status == "Active"),
        "{case}: {keys:?}"
    );
    assert_eq!(
        account.secret_key_id("unit").await.as_deref(),
        Some(keys.last().unwrap().0.as_str()),
        "{case}: the secret holds the newest key"
    );
}

#[tokio::test]
async fn every_call_of_every_mutating_workflow_fails_safely() {
    let (mut cases, mut failed) = (0, 0);
    for workflow in workflows() {
        for action in actions_of(&workflow).await {
            for (fault, rule) in [
                ("throttled", json!({"kind": "throttle"})),
                (
                    "5xx",
                    json!({"kind": "error", "status": 503, "code": "ServiceUnavailable"}),
                ),
                // The call is carried out, and its answer is lost (a timeout after it reached AWS).
                (
                    "reached, answer lost",
                    json!({"kind": "reached", "status": 503, "code": "ServiceUnavailable"}),
                ),
            ] {
                let case = format!("{} / {action} / {fault}", workflow.name);
                let (account, client, start) = prepared(workflow.keys_before).await;
                let mut rule = rule;
                rule["action"] = json!(action);
                // Enough to outlast the SDK's five attempts of one call (the default).
                rule["count"] = json!(5);
                account.fault(rule);
                let result = call(&client, workflow.tool, workflow.arguments.clone()).await;
                failed += usize::from(result.is_error == Some(true));
                check_invariants(&workflow, &account, start, &result, &case).await;
                // With the fault gone, a re-run converges. A create whose key reached the secret is not
                // repeated into it (it would leave the first key working with no stored copy): refused,
                // naming rotate_key, with nothing changed.
                let again = call(&client, workflow.tool, workflow.arguments.clone()).await;
                let delivered = workflow.tool == "create_api_key" && result.is_error != Some(true);
                if delivered {
                    assert!(
                        text(&again).contains("rotate_key"),
                        "{case}: re-run: {}",
                        text(&again)
                    );
                } else {
                    assert_ne!(
                        again.is_error,
                        Some(true),
                        "{case}: re-run: {}",
                        text(&again)
                    );
                }
                if workflow.tool == "provision_user" {
                    assert_eq!(account.local_policy_count().await, 1, "{case}: one policy");
                } else {
                    // One key, the one the secret holds, however often a create or a replace runs.
                    converged(&account, 1, &case).await;
                }
                cases += 1;
            }
        }
    }
    eprintln!("fault matrix: {cases} cases, {failed} of them failed as injected, all safely");
    assert!(
        cases > 20,
        "the matrix is generated from the recorded calls: {cases}"
    );
}
