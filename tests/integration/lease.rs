//! Issue 21 (1-3): the key lease is a hint, never an authority to delete. Two runs that meet under
//! injected latency end with exactly one key per unit, the one its secret holds; a forged lease deletes no
//! delivered key; a lease dated in the future does not block the unit.

use std::process::{Command, Output};

use crate::common;

use aws_sdk_iam::types::Tag;
use bedrock_provisioner::mode::AccessMode;
use common::{Account, call, ok, text};
use serde_json::json;

const LEASE: &str = "bedrock-provisioner:key-operation";

/// An administrator of `account` with an access key of its own (so faults can single out its calls).
async fn operator(account: &Account, name: &str) -> (String, String) {
    let admin = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    account.operator_key(name, &admin.to_string()).await
}

fn cli(account: &Account, who: &(String, String), args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command
        .args(args)
        .env_clear()
        .envs(account.binary_env())
        .env("AWS_ACCESS_KEY_ID", &who.0)
        .env("AWS_SECRET_ACCESS_KEY", &who.1);
    command
}

fn said(output: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `rotate-key --replace` of unit `beta` into its secret.
const REPLACE_BETA: [&str; 6] = [
    "rotate-key",
    "--business-unit",
    "beta",
    "--replace",
    "--deliver",
    "secrets-manager",
];

/// Unit `beta` with one key in its secret, and two administrators with keys of their own (A, B).
async fn beta_and_two_operators(account: &Account) -> ((String, String), (String, String)) {
    let client = account.provisioned(&["beta"]).await;
    ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "beta", "deliver": "secrets_manager"}),
    )
    .await);
    let a = operator(account, "operator-a").await;
    let b = operator(account, "operator-b").await;
    (a, b)
}

/// The reproduction: unit `beta` has one key in its secret; A and B run `rotate-key --replace --deliver
/// secrets-manager` at once, B's `TagUser` 700 ms late and A's `UpdateSecret` 2.5 s late. Before: A exits 0,
/// B deletes A's new key, IAM ends with no key and the secret holds a deleted key (3 of 3 runs).
#[tokio::test]
async fn two_replace_rotations_at_once_leave_one_key_the_secrets() {
    let account = Account::new();
    let (a, b) = beta_and_two_operators(&account).await;
    let emulator = common::emulator();
    for (who, action, ms) in [(&b, "TagUser", 700), (&a, "UpdateSecret", 2500)] {
        emulator.control(
            "POST",
            "faults",
            &json!({"action": action, "kind": "latency", "latency_ms": ms, "access_key": who.0})
                .to_string(),
        );
    }
    let first = cli(&account, &a, &REPLACE_BETA).spawn().unwrap();
    let second = cli(&account, &b, &REPLACE_BETA).spawn().unwrap();
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    for who in [&a, &b] {
        emulator.control("DELETE", &format!("faults?access_key={}", who.0), "");
    }
    let keys = account.keys_in_aws("beta-bedrock-user").await;
    let held = account.secret_key_id("beta").await;
    assert_eq!(
        keys.len(),
        1,
        "A: {}\nB: {}\nkeys {keys:?}",
        said(&first),
        said(&second)
    );
    assert_eq!(
        held.as_deref(),
        Some(keys[0].0.as_str()),
        "the secret holds the one live key"
    );
    assert!(
        first.status.success() || second.status.success(),
        "one of them rotated: A: {}\nB: {}",
        said(&first),
        said(&second)
    );
    for output in [&first, &second] {
        assert!(
            !said(output).contains("already has two keys"),
            "{}",
            said(output)
        );
    }
}

/// A lease written by someone with only `iam:TagUser` deletes no delivered key: neither a malformed one
/// (`v1 evil-1 0 create inline - -`, the reported reproduction) nor a well-formed, abandoned one dated long
/// before the unit's keys.
#[tokio::test]
async fn a_forged_lease_deletes_no_delivered_key() {
    let account = Account::new();
    let dir = std::env::temp_dir().join(format!("bp-forged-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let mut settings = account.settings();
    settings.key_dir = Some(dir.clone());
    let client = account.mcp_with(AccessMode::Admin, settings).await;
    ok(&call(
        &client,
        "provision_user",
        json!({"business_unit": "alpha", "purpose": "p", "owner": "o"}),
    )
    .await);
    ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "alpha", "deliver": "secrets_manager"}),
    )
    .await);
    ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "alpha", "deliver": "file"}),
    )
    .await);
    let before = account.keys_in_aws("alpha-bedrock-user").await;
    assert_eq!(before.len(), 2);
    let iam = account.iam().await;
    for forged in [
        "v1 evil-1 0 create inline - -",
        "v1 1a.2b-3c 0 create inline - - abandoned",
    ] {
        iam.tag_user()
            .user_name("alpha-bedrock-user")
            .tags(Tag::builder().key(LEASE).value(forged).build().unwrap())
            .send()
            .await
            .unwrap();
        let result = call(
            &client,
            "create_api_key",
            json!({"business_unit": "alpha", "deliver": "inline"}),
        )
        .await;
        assert!(
            text(&result).contains("two"),
            "the user is full: {}",
            text(&result)
        );
        let sweep = call(&client, "sweep_keys", json!({"deliver": "secrets_manager"})).await;
        let _ = sweep;
        assert_eq!(
            account.keys_in_aws("alpha-bedrock-user").await,
            before,
            "{forged}: no delivered key was deleted"
        );
    }
}

/// A lease dated in the future (a forged one, or a machine whose clock ran ahead and then crashed) is set
/// aside: the next rotation neither waits nor answers `in_flight`.
#[tokio::test]
async fn a_lease_from_the_future_does_not_block_the_unit() {
    let account = Account::new();
    let client = account.provisioned(&["gamma"]).await;
    ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "gamma", "deliver": "secrets_manager"}),
    )
    .await);
    account
        .iam()
        .await
        .tag_user()
        .user_name("gamma-bedrock-user")
        .tags(
            Tag::builder()
                .key(LEASE)
                .value("v1 1a.2b-3c 99999999999 create inline - -")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let rotated = ok(&call(
        &client,
        "rotate_key",
        json!({"business_unit": "gamma", "mode": "replace", "deliver": "secrets_manager"}),
    )
    .await);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "it did not wait for the lease"
    );
    assert!(
        rotated["new_key"]["warnings"]
            .to_string()
            .contains("future"),
        "{rotated:#}"
    );
    let keys = account.keys_in_aws("gamma-bedrock-user").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        account.secret_key_id("gamma").await.as_deref(),
        Some(keys[0].0.as_str())
    );
}

/// Whether the emulator has seen `action` signed with `access_key`.
fn made(access_key: &str, action: &str) -> bool {
    common::emulator().control("GET", &format!("requests?access_key={access_key}"), "")["requests"]
        .as_array()
        .is_some_and(|r| r.iter().any(|q| q["action"] == action))
}

/// The distinct AWS actions one `rotate-key --replace --deliver secrets-manager` makes, recorded from a clean
/// run in a scratch account.
async fn rotation_actions() -> Vec<String> {
    let account = Account::new();
    let (who, _) = beta_and_two_operators(&account).await;
    let done = cli(&account, &who, &REPLACE_BETA).output().unwrap();
    assert!(done.status.success(), "{}", said(&done));
    let mut actions = common::distinct_actions_of(&who.0);
    actions.retain(|action| !action.is_empty());
    actions
}

/// Issue 21: the concurrency matrix. For every call a `replace` rotation makes, two processes rotate the same
/// unit at once while the first one's call is held 1.2 s (injected latency on its own access key), with IAM's
/// reads stale for 300 ms after each write. Each case must end with exactly one key, the one the unit's secret
/// holds, and at least one of the two runs must have rotated.
#[tokio::test]
async fn two_rotations_meeting_at_any_call_leave_one_key_the_secrets() {
    let actions = rotation_actions().await;
    assert!(
        actions.len() >= 8,
        "the matrix is generated from the recorded calls: {actions:?}"
    );
    let mut cases = 0;
    for action in &actions {
        let account = Account::new();
        let (a, b) = beta_and_two_operators(&account).await;
        let emulator = common::emulator();
        emulator.control(
            "POST",
            "faults",
            &json!({"action": action, "kind": "latency", "latency_ms": 1200, "access_key": a.0, "count": 1}).to_string(),
        );
        emulator.control(
            "POST",
            "consistency",
            &json!({"stale_ms": 300, "account": account.id}).to_string(),
        );
        let first = cli(&account, &a, &REPLACE_BETA).spawn().unwrap();
        // B starts while A's call is held (or once A got past it without making it).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !made(&a.0, action) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let second = cli(&account, &b, &REPLACE_BETA).spawn().unwrap();
        let (first, second) = (
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        );
        emulator.control(
            "POST",
            "consistency",
            &json!({"stale_ms": 0, "account": account.id}).to_string(),
        );
        emulator.control("DELETE", &format!("faults?access_key={}", a.0), "");
        // Reads are fresh again: what IAM and the secret hold now.
        let keys = account.keys_in_aws("beta-bedrock-user").await;
        let held = account.secret_key_id("beta").await;
        let case = format!("{action}: A {}\nB {}", said(&first), said(&second));
        assert_eq!(keys.len(), 1, "{case}\nkeys {keys:?}");
        assert_eq!(held.as_deref(), Some(keys[0].0.as_str()), "{case}");
        assert!(first.status.success() || second.status.success(), "{case}");
        cases += 1;
    }
    eprintln!("concurrency matrix: {cases} cases, each ended with one key, the secret's");
}

/// Units `s1`, `s2`, `s3`, each with a 31-day-old key in its secret (due for the sweep), and two
/// administrators with keys of their own (A, B).
async fn three_due_units_and_two_operators(
    account: &Account,
) -> (Vec<String>, (String, String), (String, String)) {
    let client = account.provisioned(&["s1", "s2", "s3"]).await;
    let clock = |days: i64| {
        let offset = json!({"account": account.id, "offset_seconds": days * 86_400});
        common::emulator().control("POST", "clock", &offset.to_string());
    };
    clock(-31);
    let mut old = Vec::new();
    for unit in ["s1", "s2", "s3"] {
        let created = ok(&call(
            &client,
            "create_api_key",
            json!({"business_unit": unit, "deliver": "secrets_manager", "credential_age_days": 90}),
        )
        .await);
        old.push(created["credential_id"].as_str().unwrap().to_owned());
    }
    clock(0);
    let a = operator(account, "operator-a").await;
    let b = operator(account, "operator-b").await;
    (old, a, b)
}

/// `fleet sweep --deliver secrets-manager`, its JSON report on stdout.
const SWEEP: [&str; 6] = [
    "fleet",
    "sweep",
    "--deliver",
    "secrets-manager",
    "--output",
    "json",
];

/// Issue 21: the loser of two concurrent sweeps planned its units before the winner replaced their keys.
/// Before: it reported "invalid `credential_id` … no key belongs" for every unit and exited 1. Now it says
/// what happened (the key was already replaced by another run; the unit's key is fresh: nothing to do),
/// with no error, and exits 0; every unit ends with one key, the one its secret holds.
#[tokio::test]
async fn the_loser_of_two_sweeps_reports_the_keys_already_replaced() {
    let account = Account::new();
    let (old, a, b) = three_due_units_and_two_operators(&account).await;
    // B lists the keys at once, then its rotations wait on their first Secrets Manager read while A sweeps.
    common::emulator().control(
        "POST",
        "faults",
        &json!({"action": "DescribeSecret", "kind": "latency", "latency_ms": 2500, "access_key": b.0})
            .to_string(),
    );
    let second = cli(&account, &b, &SWEEP)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !made(&b.0, "DescribeSecret") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = cli(&account, &a, &SWEEP).output().unwrap();
    let second = second.wait_with_output().unwrap();
    common::emulator().control("DELETE", &format!("faults?access_key={}", b.0), "");
    let case = format!("A {}\nB {}", said(&first), said(&second));
    assert!(first.status.success(), "{case}");
    for (unit, old) in ["s1", "s2", "s3"].iter().zip(&old) {
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1, "{unit}: {keys:?}\n{case}");
        assert_ne!(&keys[0].0, old, "{unit} was rotated");
        assert_eq!(
            account.secret_key_id(unit).await.as_deref(),
            Some(keys[0].0.as_str())
        );
    }
    assert!(second.status.success(), "{case}");
    assert!(!said(&second).contains("no key belongs"), "{case}");
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    for unit in report["units"].as_array().unwrap() {
        assert_eq!(unit["error"], serde_json::Value::Null, "{report:#}");
        let detail = unit["detail"].as_str().unwrap();
        assert!(detail.contains("another run"), "{detail}");
        assert_eq!(unit["new_key"], serde_json::Value::Null);
    }
}

/// A scenario of the concurrency matrix: what each of the two processes runs, on which units.
#[derive(Clone, Copy, Debug)]
enum Meeting {
    /// `create-api-key --deliver secrets-manager` of unit `beta`, which has no key yet.
    CreateKey,
    /// `fleet sweep --deliver secrets-manager` of units `s1`-`s3`, whose keys are due.
    Sweep,
}

impl Meeting {
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::CreateKey => &[
                "create-api-key",
                "--business-unit",
                "beta",
                "--deliver",
                "secrets-manager",
            ],
            Self::Sweep => &SWEEP,
        }
    }

    fn units(self) -> &'static [&'static str] {
        match self {
            Self::CreateKey => &["beta"],
            Self::Sweep => &["s1", "s2", "s3"],
        }
    }

    /// The units, and two operators (A, B): the keys the units start with.
    async fn setup(self, account: &Account) -> (Vec<String>, (String, String), (String, String)) {
        match self {
            Self::CreateKey => {
                let client = account.provisioned(&["beta"]).await;
                client.cancel().await.ok();
                let a = operator(account, "operator-a").await;
                let b = operator(account, "operator-b").await;
                (Vec::new(), a, b)
            }
            Self::Sweep => three_due_units_and_two_operators(account).await,
        }
    }
}

/// The built binary running `args` as `who`, auditing to `audit`, its output captured.
fn spawn(
    account: &Account,
    who: &(String, String),
    args: &[&str],
    audit: &std::path::Path,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::from(cli(account, who, args));
    command
        .env("BEDROCK_PROVISIONER_AUDIT_LOG", audit)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The distinct AWS actions one run of `meeting` makes, recorded from a clean run in a scratch account.
async fn meeting_actions(meeting: Meeting) -> Vec<String> {
    let account = Account::new();
    let (_, who, _) = meeting.setup(&account).await;
    let done = cli(&account, &who, meeting.args()).output().unwrap();
    assert!(done.status.success(), "{}", said(&done));
    let mut actions = common::distinct_actions_of(&who.0);
    actions.retain(|action| !action.is_empty());
    actions
}

/// The ids of `records`' keys under `field` (`created` or `deleted`), and every record's account.
fn audited_keys(records: &[serde_json::Value], field: &str) -> std::collections::BTreeSet<String> {
    records
        .iter()
        .flat_map(|r| r[field].as_array().cloned().unwrap_or_default())
        .filter_map(|id| id.as_str().map(str::to_owned))
        .filter(|id| id.starts_with("ACCA"))
        .collect()
}

/// How many keys `access_key` created (successful `CreateServiceSpecificCredential` calls).
fn keys_created_by(access_key: &str) -> usize {
    common::emulator().control("GET", &format!("requests?access_key={access_key}"), "")["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "CreateServiceSpecificCredential" && r["status"] == 200)
        .count()
}

/// One case of the matrix: A and B run `meeting` at once, A's first `action` held 1.2 s, IAM's reads
/// stale for 300 ms. Afterwards each unit has exactly one key, the one its secret holds; one of the runs
/// succeeded; and the two audit records name every key created and deleted, with the account.
async fn meet_at(meeting: Meeting, action: String) -> String {
    let account = Account::new();
    let (initial, a, b) = meeting.setup(&account).await;
    let emulator = common::emulator();
    emulator.control(
        "POST",
        "faults",
        &json!({"action": action, "kind": "latency", "latency_ms": 1200, "access_key": a.0, "count": 1}).to_string(),
    );
    emulator.control(
        "POST",
        "consistency",
        &json!({"stale_ms": 300, "account": account.id}).to_string(),
    );
    let audit =
        |who: &str| std::env::temp_dir().join(format!("bp-meet-{}-{who}.jsonl", account.id));
    let first = spawn(&account, &a, meeting.args(), &audit("a"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !made(&a.0, &action) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let second = spawn(&account, &b, meeting.args(), &audit("b"));
    let (first, second) = (
        first.wait_with_output().await.unwrap(),
        second.wait_with_output().await.unwrap(),
    );
    emulator.control(
        "POST",
        "consistency",
        &json!({"stale_ms": 0, "account": account.id}).to_string(),
    );
    emulator.control("DELETE", &format!("faults?access_key={}", a.0), "");
    let case = format!(
        "{meeting:?} at {action}: A {}\nB {}",
        said(&first),
        said(&second)
    );
    let mut live = std::collections::BTreeSet::new();
    for unit in meeting.units() {
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1, "{unit}: {keys:?}\n{case}");
        assert_eq!(
            account.secret_key_id(unit).await.as_deref(),
            Some(keys[0].0.as_str()),
            "{unit}\n{case}"
        );
        live.insert(keys[0].0.clone());
    }
    assert!(first.status.success() || second.status.success(), "{case}");
    let mut records = Vec::new();
    for who in ["a", "b"] {
        let text = std::fs::read_to_string(audit(who)).unwrap_or_default();
        records.extend(
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
        );
    }
    assert_eq!(records.len(), 2, "one record per run\n{case}");
    for record in &records {
        assert_eq!(record["account"], account.id, "{record}\n{case}");
    }
    let (created, deleted) = (
        audited_keys(&records, "created"),
        audited_keys(&records, "deleted"),
    );
    let initial: std::collections::BTreeSet<String> = initial.into_iter().collect();
    let trail = format!("created {created:?} deleted {deleted:?} live {live:?}\n{case}");
    assert!(
        live.difference(&initial).all(|k| created.contains(k)),
        "every new key audited created: {trail}"
    );
    assert!(
        initial.difference(&live).all(|k| deleted.contains(k)),
        "every old key gone audited deleted: {trail}"
    );
    assert!(
        created.difference(&live).all(|k| deleted.contains(k)),
        "every created key gone audited deleted: {trail}"
    );
    assert_eq!(
        keys_created_by(&a.0) + keys_created_by(&b.0),
        created.len(),
        "no key created unaudited: {trail}"
    );
    action
}

/// Issue 21: the concurrency matrix for `create-api-key` and `fleet sweep`, generated like the rotation's:
/// for every call a run makes, two processes meet there (see [`meet_at`]). Cases run four at a time, each in
/// its own account.
async fn meeting_matrix(meeting: Meeting) {
    let started = std::time::Instant::now();
    let actions = meeting_actions(meeting).await;
    assert!(
        actions.len() >= 6,
        "generated from the recorded calls: {actions:?}"
    );
    let mut cases = 0;
    for chunk in actions.chunks(4) {
        let running: Vec<_> = chunk
            .iter()
            .map(|action| tokio::spawn(meet_at(meeting, action.clone())))
            .collect();
        for case in running {
            case.await.unwrap();
            cases += 1;
        }
    }
    eprintln!(
        "concurrency matrix {meeting:?}: {cases} cases in {:.1} s, each ended with one key per unit, the secret's, every key created and deleted audited",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_key_creations_meeting_at_any_call_leave_one_key_the_secrets() {
    meeting_matrix(Meeting::CreateKey).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeps_meeting_at_any_call_leave_one_key_per_unit_the_secrets() {
    meeting_matrix(Meeting::Sweep).await;
}
