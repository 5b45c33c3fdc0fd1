//! `diagnose` against the emulator: each of the troubleshooting guide's situations reproduced, and the
//! right check reported with the right fix while the others pass or are skipped.

use crate::common;

use std::{collections::BTreeMap, time::Duration};

use aws_credential_types::Credentials;
use bedrock_provisioner::{
    core::{
        AwsSettings, Settings,
        diagnose::{CheckId, CheckResult, CheckStatus, DiagnoseReport},
    },
    mode::AccessMode,
};
use common::{Account, call, emulator, ok};
use serde_json::{Value, json};

const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const OPUS: &str = "anthropic.claude-opus-4-5-20251101-v1:0";
const HAIKU_3: &str = "anthropic.claude-3-haiku-20240307-v1:0";

pub(crate) async fn diagnose(account: &Account, settings: Settings, args: Value) -> DiagnoseReport {
    let client = account.mcp_with(AccessMode::ReadOnly, settings).await;
    common::report(&call(&client, "diagnose", args).await)
}

/// A principal that may read IAM and use Bedrock and Cost Explorer, but not change IAM.
const READS_ONLY: &[&str] = &[
    "iam:Get*",
    "iam:List*",
    "iam:SimulatePrincipalPolicy",
    "bedrock:*",
    "ce:*",
];

/// An identity policy allowing `actions` on everything.
fn allow(actions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
        .to_string()
}

/// The account's settings, signed with other credentials.
fn signed_by(account: &Account, credentials: Credentials) -> Settings {
    let base = account.settings();
    Settings {
        aws: AwsSettings {
            static_credentials: Some(credentials),
            ..base.aws
        },
        ..base
    }
}

/// Status of every check, by id.
fn statuses(report: &DiagnoseReport) -> BTreeMap<CheckId, CheckStatus> {
    report.checks.iter().map(|c| (c.id, c.status)).collect()
}

pub(crate) fn check(report: &DiagnoseReport, id: CheckId) -> &CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id:?} in {report:#?}"))
}

fn fixes(check: &CheckResult) -> String {
    check.remediation.join("\n")
}

/// Every check has its `expected` status, the others pass or are skipped.
fn only(statuses: &BTreeMap<CheckId, CheckStatus>, expected: &[(CheckId, CheckStatus)]) {
    for (id, status) in statuses {
        let fine = match expected.iter().find(|(e, _)| e == id) {
            Some((_, want)) => status == want,
            None => matches!(status, CheckStatus::Pass | CheckStatus::Skipped),
        };
        assert!(
            fine,
            "{id:?}: {status:?}, expected {expected:?}; all: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn healthy_setup_passes_every_check() {
    let account = Account::new();
    let admin = account.provisioned(&["marketing"]).await;
    let key = ok(&call(
        &admin,
        "create_api_key",
        json!({"business_unit": "marketing"}),
    )
    .await);
    let api_key = key["delivery"]["api_key"].as_str().unwrap();
    emulator().control(
        "POST",
        "ce/tags",
        &json!({"account": account.id, "tags": [
            {"key": "business-unit", "status": "Active"},
            {"key": "purpose", "status": "Active"},
            {"key": "owner", "status": "Active"}]})
        .to_string(),
    );
    let project = tempdir(&account, "healthy");
    let binary = env!("CARGO_BIN_EXE_bedrock-provisioner");
    std::fs::write(
        project.join(".mcp.json"),
        json!({"mcpServers": {"bedrock-provisioner": {"command": binary, "args": ["serve", "--mode", "provision"], "env": {"AWS_PROFILE": "admin"}}}}).to_string(),
    )
    .unwrap();
    let report = diagnose(
        &account,
        account.settings(),
        json!({"business_unit": "marketing", "model_id": HAIKU_3, "api_key": api_key,
               "project_dir": project.to_str().unwrap()}),
    )
    .await;
    let all = statuses(&report);
    assert_eq!(all.len(), 13);
    assert!(
        all.values().all(|s| *s == CheckStatus::Pass),
        "{all:?}\n{report:#?}"
    );
    assert!(report.summary.contains("13 passed"));
    assert!(
        !serde_json::to_string(&report).unwrap().contains(api_key),
        "the key is never echoed"
    );
    let listings = account
        .actions()
        .iter()
        .filter(|a| *a == "ListFoundationModels")
        .count();
    assert_eq!(
        listings, 6,
        "one listing per probed region (4), shared by the checks, plus the un-retried throttling probe and \
         key_works' own (it runs verify_access, which resolves the model it proves access to)"
    );
}

#[test]
fn no_credentials_at_all_fails_credentials_and_skips_aws_checks() {
    let home = std::env::temp_dir().join("bp-diagnose-empty-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args(["diagnose", "--output", "json"])
        .env_clear()
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a failed check exits 1");
    let report: DiagnoseReport = serde_json::from_slice(&out.stdout).unwrap();
    let credentials = check(&report, CheckId::Credentials);
    assert_eq!(credentials.status, CheckStatus::Fail);
    assert!(
        credentials
            .evidence
            .join("\n")
            .contains("AWS_ACCESS_KEY_ID not set")
    );
    assert!(fixes(credentials).contains("aws configure"));
    for (id, status) in statuses(&report) {
        if id != CheckId::Credentials {
            assert_eq!(status, CheckStatus::Skipped, "{id:?}");
        }
    }
}

#[tokio::test]
async fn principal_without_create_user_is_told_which_policy_to_attach() {
    let account = Account::new();
    let iam = account.iam().await;
    iam.create_user().user_name("john").send().await.unwrap();
    iam.put_user_policy()
        .user_name("john")
        .policy_name("readonly")
        .policy_document(allow(READS_ONLY))
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("john")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let settings = signed_by(
        &account,
        Credentials::new(
            key.access_key_id(),
            key.secret_access_key(),
            None,
            None,
            "john",
        ),
    );
    let report = diagnose(
        &account,
        settings,
        json!({"checks": ["credentials", "permissions"]}),
    )
    .await;
    assert_eq!(
        check(&report, CheckId::Credentials).status,
        CheckStatus::Pass,
        "{report:#?}"
    );
    let permissions = check(&report, CheckId::Permissions);
    assert_eq!(permissions.status, CheckStatus::Fail, "{permissions:#?}");
    assert!(permissions.summary.contains(":user/john"));
    assert!(permissions.evidence.join("\n").contains("iam:CreateUser"));
    assert!(
        fixes(permissions).contains("iam:CreateUser") && fixes(permissions).contains("2012-10-17")
    );
    assert_eq!(statuses(&report).len(), 2, "only the requested checks ran");
}

#[tokio::test]
async fn assumed_role_session_is_simulated_as_its_role_with_the_path() {
    let account = Account::new();
    let iam = account.iam().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", account.id)}, "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name("automation")
        .path("/platform/ci/")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_owned();
    iam.put_role_policy()
        .role_name("automation")
        .policy_name("readonly")
        .policy_document(allow(READS_ONLY))
        .send()
        .await
        .unwrap();
    let session = aws_sdk_sts::Client::new(&account.sdk_config().await)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("nightly")
        .send()
        .await
        .unwrap();
    let session = session.credentials().unwrap();
    let settings = signed_by(
        &account,
        Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_owned()),
            None,
            "assumed",
        ),
    );
    let report = diagnose(
        &account,
        settings.clone(),
        json!({"checks": ["credentials", "permissions"]}),
    )
    .await;
    let credentials = check(&report, CheckId::Credentials);
    assert_eq!(credentials.status, CheckStatus::Pass, "{report:#?}");
    assert!(
        credentials
            .summary
            .contains(":assumed-role/automation/nightly"),
        "{credentials:#?}"
    );
    // The session ARN has no path; simulating `role/automation` would fail with NoSuchEntity.
    let permissions = check(&report, CheckId::Permissions);
    assert_eq!(permissions.status, CheckStatus::Fail, "{permissions:#?}");
    assert!(
        permissions
            .summary
            .starts_with(&format!("{role_arn} lacks")),
        "{permissions:#?}"
    );
    assert!(role_arn.ends_with(":role/platform/ci/automation"));
    assert!(permissions.evidence.join("\n").contains("iam:CreateUser"));
    assert!(fixes(permissions).contains(&format!("Attach this policy to {role_arn}")));

    // Without iam:GetRole the path cannot be found: a warning that says so, not a confusing failure.
    iam.put_role_policy()
        .role_name("automation")
        .policy_name("readonly")
        .policy_document(allow(&["iam:ListUsers", "iam:SimulatePrincipalPolicy"]))
        .send()
        .await
        .unwrap();
    let report = diagnose(&account, settings, json!({"checks": ["permissions"]})).await;
    let permissions = check(&report, CheckId::Permissions);
    assert_eq!(permissions.status, CheckStatus::Warn, "{permissions:#?}");
    assert!(
        fixes(permissions).contains("Allow iam:GetRole"),
        "{permissions:#?}"
    );
}

#[tokio::test]
async fn no_anthropic_models_in_the_region() {
    let account = Account::new();
    emulator().control(
        "POST",
        "bedrock/catalog",
        &json!({"account": account.id, "region": "us-east-1", "models": ["amazon.nova-lite-v1:0"]})
            .to_string(),
    );
    let report = diagnose(&account, account.settings(), json!({})).await;
    let access = check(&report, CheckId::ModelAccess);
    assert_eq!(access.status, CheckStatus::Fail);
    assert!(access.summary.contains("no Anthropic models"));
    let region = check(&report, CheckId::Region);
    assert_eq!(region.status, CheckStatus::Fail);
    assert!(
        fixes(region).contains("AWS_REGION=us-west-2"),
        "{region:#?}"
    );
    only(
        &statuses(&report),
        &[
            (CheckId::ModelAccess, CheckStatus::Fail),
            (CheckId::Region, CheckStatus::Fail),
            (CheckId::CostTags, CheckStatus::Warn),
        ],
    );
}

#[tokio::test]
async fn model_agreement_and_use_case_form_problems_are_named() {
    let account = Account::new();
    emulator().control(
        "POST",
        "bedrock/availability",
        &json!({"account": account.id, "model": SONNET, "authorization": "NOT_AUTHORIZED"})
            .to_string(),
    );
    emulator().control(
        "POST",
        "bedrock/use-case",
        &json!({"account": account.id, "submitted": false}).to_string(),
    );
    let report = diagnose(
        &account,
        account.settings(),
        json!({"model_id": SONNET, "checks": ["model_access"]}),
    )
    .await;
    let access = check(&report, CheckId::ModelAccess);
    assert_eq!(access.status, CheckStatus::Fail);
    let evidence = access.evidence.join("\n");
    assert!(evidence.contains("not authorized"), "{evidence}");
    assert!(
        evidence.contains("use-case form has not been submitted"),
        "{evidence}"
    );
    assert!(fixes(access).contains("put-use-case-for-model-access"));
}

#[tokio::test]
async fn user_already_exists_but_is_not_managed() {
    let account = Account::new();
    account
        .iam()
        .await
        .create_user()
        .user_name("marketing-bedrock-user")
        .send()
        .await
        .unwrap();
    let report = diagnose(
        &account,
        account.settings(),
        json!({"business_unit": "marketing"}),
    )
    .await;
    let user = check(&report, CheckId::User);
    assert_eq!(user.status, CheckStatus::Fail);
    assert!(user.summary.contains("already exists"));
    assert!(fixes(user).contains("adopt: true") && fixes(user).contains("deprovision_user"));
    only(
        &statuses(&report),
        &[
            (CheckId::User, CheckStatus::Fail),
            (CheckId::CostTags, CheckStatus::Warn),
        ],
    );
}

#[tokio::test]
async fn expired_and_inactive_keys() {
    let account = Account::new();
    let admin = account.provisioned(&["sales"]).await;
    let expiring = ok(&call(
        &admin,
        "create_api_key",
        json!({"business_unit": "sales", "credential_age_days": 1}),
    )
    .await);
    let inactive = ok(&call(&admin, "create_api_key", json!({"business_unit": "sales"})).await);
    ok(&call(
        &admin,
        "revoke_key",
        json!({"business_unit": "sales", "credential_id": inactive["credential_id"], "confirm": true}),
    )
    .await);
    emulator().control(
        "POST",
        "clock",
        &json!({"account": account.id, "advance_days": 2}).to_string(),
    );
    let key = expiring["delivery"]["api_key"].as_str().unwrap();
    let report = diagnose(
        &account,
        account.settings(),
        json!({"business_unit": "sales", "api_key": key, "checks": ["api_key", "key_works"]}),
    )
    .await;
    let api_key = check(&report, CheckId::ApiKey);
    assert_eq!(api_key.status, CheckStatus::Fail);
    assert!(
        api_key.summary.contains("expired or inactive"),
        "{api_key:#?}"
    );
    assert!(fixes(api_key).contains("rotate_key"));
    // Both keys share the alias: the value does not tell which one it is, a call with it does.
    let works = check(&report, CheckId::KeyWorks);
    assert_eq!(works.status, CheckStatus::Fail, "{works:#?}");
    assert!(
        works.evidence.join("\n").contains("CountTokens"),
        "{works:#?}"
    );
    assert!(fixes(works).contains("rotate_key"), "{works:#?}");
    assert!(!report.to_string().contains(key));

    let no_key_value = diagnose(
        &account,
        account.settings(),
        json!({"business_unit": "sales", "checks": ["api_key"]}),
    )
    .await;
    assert!(
        check(&no_key_value, CheckId::ApiKey)
            .summary
            .contains("expired or inactive")
    );
}

#[tokio::test]
async fn region_mismatch_recommends_a_region_that_offers_the_model() {
    let account = Account::new();
    let report = diagnose(
        &account,
        account.settings_in("ap-southeast-1"),
        json!({"model_id": SONNET, "regions": ["us-west-2", "eu-west-1"]}),
    )
    .await;
    assert_eq!(report.region, "ap-southeast-1");
    let region = check(&report, CheckId::Region);
    assert_eq!(region.status, CheckStatus::Fail, "{report:#?}");
    assert!(
        fixes(region).contains("AWS_REGION=us-west-2"),
        "{region:#?}"
    );
    assert_eq!(region.evidence.len(), 3, "three regions probed");
    assert_eq!(
        check(&report, CheckId::ModelInRegion).status,
        CheckStatus::Fail
    );
}

#[tokio::test]
async fn throttled_calls_get_retry_and_quota_advice() {
    let account = Account::new();
    account.fault(json!({"action": "ListFoundationModels", "kind": "throttle", "count": 100}));
    let report = diagnose(
        &account,
        account.settings(),
        json!({"checks": ["throttling"]}),
    )
    .await;
    let throttling = check(&report, CheckId::Throttling);
    assert_eq!(throttling.status, CheckStatus::Warn);
    assert!(fixes(throttling).contains("AWS_RETRY_MODE=adaptive"));
    assert!(fixes(throttling).contains("Service Quotas"));
    let evidence = throttling.evidence.join("\n");
    assert!(
        evidence.contains("tokens per minute for Anthropic Claude Sonnet 4.5 = 2000000"),
        "the account's quotas are shown: {evidence}"
    );
    assert!(
        !evidence.contains("Nova"),
        "only Anthropic quotas: {evidence}"
    );
}

#[tokio::test]
async fn inactive_cost_tags_are_reported_with_the_delay() {
    let account = Account::new();
    emulator().control(
        "POST",
        "ce/tags",
        &json!({"account": account.id, "tags": [
            {"key": "business-unit", "status": "Inactive"},
            {"key": "purpose", "status": "Active"},
            {"key": "owner", "status": "Inactive"}]})
        .to_string(),
    );
    let report = diagnose(
        &account,
        account.settings(),
        json!({"checks": ["cost_tags"]}),
    )
    .await;
    let tags = check(&report, CheckId::CostTags);
    assert_eq!(tags.status, CheckStatus::Warn);
    assert!(tags.summary.contains("business-unit, owner"));
    assert!(fixes(tags).contains("enable_cost_tags") && fixes(tags).contains("24-48 hours"));
}

#[tokio::test]
async fn broken_mcp_json_is_located() {
    let account = Account::new();
    let project = tempdir(&account, "broken");
    std::fs::write(
        project.join(".mcp.json"),
        "{\"mcpServers\": {\"bedrock-provisioner\": {\"command\": \"x\",}}}",
    )
    .unwrap();
    let args = json!({"project_dir": project.to_str().unwrap(), "checks": ["mcp_config"]});
    let report = diagnose(&account, account.settings(), args.clone()).await;
    let config = check(&report, CheckId::McpConfig);
    assert_eq!(config.status, CheckStatus::Fail);
    assert!(config.summary.contains("line 1 column"), "{config:#?}");

    std::fs::write(
        project.join(".mcp.json"),
        json!({"mcpServers": {"bedrock-provisioner": {"command": "/nonexistent/bedrock-provisioner", "args": ["--mode", "admin"],
               "env": {"AWS_BEDROCK_API_KEY": "bdk_v1_x"}}}})
        .to_string(),
    )
    .unwrap();
    let report = diagnose(&account, account.settings(), args).await;
    let config = check(&report, CheckId::McpConfig);
    assert_eq!(config.status, CheckStatus::Fail);
    let evidence = config.evidence.join("\n");
    assert!(evidence.contains("does not resolve"), "{evidence}");
    assert!(evidence.contains("do not start with `serve`"), "{evidence}");
    assert!(evidence.contains("AWS_BEDROCK_API_KEY"), "{evidence}");
}

#[tokio::test]
async fn model_not_in_region_and_models_that_need_a_profile() {
    let account = Account::new();
    let report = diagnose(
        &account,
        account.settings_in("eu-west-1"),
        json!({"model_id": OPUS, "checks": ["model_in_region"]}),
    )
    .await;
    let model = check(&report, CheckId::ModelInRegion);
    assert_eq!(model.status, CheckStatus::Fail);
    assert!(model.summary.contains("not offered in eu-west-1"));

    let report = diagnose(
        &account,
        account.settings(),
        json!({"model_id": SONNET, "checks": ["model_in_region"]}),
    )
    .await;
    let model = check(&report, CheckId::ModelInRegion);
    assert_eq!(model.status, CheckStatus::Warn);
    assert!(fixes(model).contains(&format!("us.{SONNET}")), "{model:#?}");

    let report = diagnose(
        &account,
        account.settings(),
        json!({"model_id": format!("us.{SONNET}"), "checks": ["model_in_region"]}),
    )
    .await;
    assert_eq!(
        check(&report, CheckId::ModelInRegion).status,
        CheckStatus::Pass
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let account = Account::new();
    let client = account.mcp(AccessMode::ReadOnly).await;
    for (args, field) in [
        (json!({"business_unit": "Bad Name"}), "business_unit"),
        (json!({"model_id": "claude sonnet"}), "model_id"),
        (json!({"regions": ["moon-1"]}), "regions"),
        (json!({"checks": []}), "checks"),
    ] {
        let result = call(&client, "diagnose", args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{args}");
        assert!(
            common::text(&result).contains(&format!("invalid `{field}`")),
            "{args}"
        );
    }
    let unknown = call(&client, "diagnose", json!({"checks": ["everything"]})).await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(account.actions().is_empty(), "{:?}", account.actions());
}

#[tokio::test]
async fn a_hanging_endpoint_cannot_hang_diagnose() {
    let account = Account::new();
    account.fault(json!({"action": "ListCostAllocationTags", "kind": "latency", "latency_ms": 3000, "count": 1}));
    let settings = Settings {
        check_timeout: Duration::from_millis(800),
        ..account.settings()
    };
    let started = std::time::Instant::now();
    let report = diagnose(&account, settings, json!({})).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let tags = check(&report, CheckId::CostTags);
    assert_eq!(tags.status, CheckStatus::Warn);
    assert!(tags.summary.contains("did not finish"));
}

/// Benchmark (printed, not asserted): with 200 ms of latency on every emulator call, a full diagnosis
/// over four regions against the slowest single check and the serial sum. Run with `make bench`.
#[tokio::test]
#[ignore = "benchmark; run with make bench"]
async fn bench_diagnose_concurrency() {
    let account = Account::new();
    let _admin = account.provisioned(&["bench"]).await;
    account.fault(json!({"action": "*", "kind": "latency", "latency_ms": 200}));
    let settings = account.settings();
    let args = json!({"business_unit": "bench", "model_id": HAIKU_3,
                      "regions": ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]});
    let started = std::time::Instant::now();
    let report = diagnose(&account, settings, args).await;
    let total = started.elapsed().as_millis();
    let times: Vec<(String, u64)> = report
        .checks
        .iter()
        .map(|c| (format!("{:?}", c.id), c.elapsed_ms))
        .collect();
    let slowest = times.iter().map(|t| t.1).max().unwrap();
    let serial: u64 = times.iter().map(|t| t.1).sum();
    println!("diagnose, 200 ms latency per AWS call, 4 regions:");
    for (id, ms) in &times {
        println!("  {id:<16} {ms:>6} ms");
    }
    println!(
        "  total {total} ms; slowest check {slowest} ms; ratio total/slowest {:.2} (target < 2); serial sum {serial} ms ({:.1}x slower)",
        total as f64 / slowest as f64,
        serial as f64 / total as f64
    );
}

fn tempdir(account: &Account, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bp-diag-{}-{name}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
