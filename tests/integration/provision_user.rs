//! provision_user against the emulator, through an in-process MCP client; AWS state is checked with an
//! independent SDK client.

use crate::common;

use std::collections::BTreeMap;

use bedrock_provisioner::{
    core::{
        domain::policy::least_privilege_document,
        units::{
            inventory::BusinessUnitList,
            provision::{ChangeStatus, ProvisionReport, ResourceKind},
        },
    },
    mode::AccessMode,
};
use common::{Account, call, is_mutation, ok, text};
use serde_json::{Value, json};

fn marketing() -> Value {
    json!({"business_unit": "marketing", "purpose": "campaign copy", "owner": "jane@example.com"})
}

fn report(result: &rmcp::model::CallToolResult) -> ProvisionReport {
    common::report(result)
}

fn status_of(report: &ProvisionReport, kind: ResourceKind) -> ChangeStatus {
    report
        .resources
        .iter()
        .find(|r| r.resource == kind)
        .expect("resource listed")
        .status
}

async fn user_tags(iam: &aws_sdk_iam::Client, user: &str) -> BTreeMap<String, String> {
    let user = iam
        .get_user()
        .user_name(user)
        .send()
        .await
        .expect("user exists")
        .user
        .expect("user");
    user.tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

async fn attached(iam: &aws_sdk_iam::Client, user: &str) -> Vec<String> {
    let out = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .expect("list");
    out.attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn creates_user_tags_policy_and_attachment_then_changes_nothing() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let first = report(&call(&client, "provision_user", marketing()).await);
    assert!(first.changed);
    assert_eq!(first.user_name, "marketing-bedrock-user");
    assert_eq!(
        status_of(&first, ResourceKind::IamUser),
        ChangeStatus::Created
    );
    assert_eq!(
        status_of(&first, ResourceKind::ManagedPolicy),
        ChangeStatus::Created
    );
    assert_eq!(
        status_of(&first, ResourceKind::PolicyAttachment),
        ChangeStatus::Created
    );

    // Independent read of what exists in AWS.
    let iam = account.iam().await;
    let user = iam
        .get_user()
        .user_name("marketing-bedrock-user")
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(user.arn(), first.user_arn);
    assert_eq!(user.path(), "/bedrock-provisioner/");
    let tags = user_tags(&iam, "marketing-bedrock-user").await;
    let expected: BTreeMap<String, String> = [
        ("business-unit", "marketing"),
        ("purpose", "campaign copy"),
        ("owner", "jane@example.com"),
        ("managed-by", "bedrock-provisioner"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(tags, expected);
    let policy_arn = format!(
        "arn:aws:iam::{}:policy/bedrock-provisioner/BedrockProvisionerClaudeAccess",
        account.id
    );
    assert_eq!(first.policy_arn, policy_arn);
    assert_eq!(
        attached(&iam, "marketing-bedrock-user").await,
        vec![policy_arn.clone()]
    );
    let version = iam
        .get_policy_version()
        .policy_arn(&policy_arn)
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let document = version.policy_version().unwrap().document().unwrap();
    let document =
        bedrock_provisioner::core::domain::policy::parse_returned_document(document).unwrap();
    assert_eq!(document, least_privilege_document("aws", &account.id));
    let users = iam.list_users().send().await.unwrap();
    assert_eq!(users.users().len(), 1, "exactly one user was created");

    // Second run: nothing changes, and no mutating call reaches AWS.
    let calls_before = account.actions().len();
    let second = report(&call(&client, "provision_user", marketing()).await);
    assert!(!second.changed);
    assert!(
        second
            .resources
            .iter()
            .all(|r| r.status == ChangeStatus::Unchanged),
        "{:?}",
        second.resources
    );
    let second_calls = &account.actions()[calls_before..];
    assert!(
        second_calls.iter().all(|a| !is_mutation(a)),
        "{second_calls:?}"
    );
}

#[tokio::test]
async fn drifted_tags_and_missing_attachment_are_repaired() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let first = report(&call(&client, "provision_user", marketing()).await);
    let iam = account.iam().await;
    iam.untag_user()
        .user_name("marketing-bedrock-user")
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    iam.tag_user()
        .user_name("marketing-bedrock-user")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("purpose")
                .value("something else")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.detach_user_policy()
        .user_name("marketing-bedrock-user")
        .policy_arn(&first.policy_arn)
        .send()
        .await
        .unwrap();

    let repaired = report(&call(&client, "provision_user", marketing()).await);
    assert_eq!(
        status_of(&repaired, ResourceKind::UserTags),
        ChangeStatus::Updated
    );
    assert_eq!(
        status_of(&repaired, ResourceKind::PolicyAttachment),
        ChangeStatus::Created
    );
    assert_eq!(
        status_of(&repaired, ResourceKind::IamUser),
        ChangeStatus::Unchanged
    );
    let tags = user_tags(&iam, "marketing-bedrock-user").await;
    assert_eq!(tags["owner"], "jane@example.com");
    assert_eq!(tags["purpose"], "campaign copy");
    assert_eq!(
        attached(&iam, "marketing-bedrock-user").await,
        vec![first.policy_arn]
    );
}

#[tokio::test]
async fn changed_policy_document_gets_a_new_default_version() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let first = report(&call(&client, "provision_user", marketing()).await);
    let iam = account.iam().await;
    let tampered = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]});
    iam.create_policy_version()
        .policy_arn(&first.policy_arn)
        .policy_document(tampered.to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();

    let second = report(&call(&client, "provision_user", marketing()).await);
    assert_eq!(
        status_of(&second, ResourceKind::ManagedPolicy),
        ChangeStatus::Updated
    );
    let policy = iam
        .get_policy()
        .policy_arn(&first.policy_arn)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let version_id = policy.default_version_id().unwrap().to_owned();
    assert_eq!(version_id, "v3");
    let version = iam
        .get_policy_version()
        .policy_arn(&first.policy_arn)
        .version_id(version_id)
        .send()
        .await
        .unwrap();
    let document = bedrock_provisioner::core::domain::policy::parse_returned_document(
        version.policy_version().unwrap().document().unwrap(),
    )
    .unwrap();
    assert_eq!(document, least_privilege_document("aws", &account.id));
}

#[tokio::test]
async fn foreign_user_is_refused_unless_adopted() {
    let account = Account::new();
    let iam = account.iam().await;
    iam.create_user()
        .user_name("marketing-bedrock-user")
        .send()
        .await
        .unwrap();
    let client = account.mcp(AccessMode::Provision).await;
    let calls_before = account.actions().len();

    let refused = call(&client, "provision_user", marketing()).await;
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(
        message.contains("was not created by bedrock-provisioner"),
        "{message}"
    );
    assert!(message.contains("adopt: true"), "{message}");
    let calls = &account.actions()[calls_before..];
    assert!(
        calls.iter().all(|a| !is_mutation(a)),
        "refusal changed something: {calls:?}"
    );
    assert!(user_tags(&iam, "marketing-bedrock-user").await.is_empty());

    let mut adopt = marketing();
    adopt["adopt"] = json!(true);
    let adopted = report(&call(&client, "provision_user", adopt).await);
    assert_eq!(
        status_of(&adopted, ResourceKind::UserTags),
        ChangeStatus::Updated
    );
    assert_eq!(
        user_tags(&iam, "marketing-bedrock-user").await["managed-by"],
        "bedrock-provisioner"
    );
}

#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_plan() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let mut args = marketing();
    args["dry_run"] = json!(true);
    let plan = report(&call(&client, "provision_user", args.clone()).await);
    assert!(plan.dry_run && plan.changed);
    assert!(
        plan.resources
            .iter()
            .all(|r| r.status == ChangeStatus::Planned),
        "{:?}",
        plan.resources
    );
    assert_eq!(
        plan.user_arn,
        format!(
            "arn:aws:iam::{}:user/bedrock-provisioner/marketing-bedrock-user",
            account.id
        )
    );
    let calls = account.actions();
    assert!(
        calls.iter().all(|a| !is_mutation(a)),
        "dry run mutated: {calls:?}"
    );
    let iam = account.iam().await;
    assert!(iam.list_users().send().await.unwrap().users().is_empty());
    assert!(
        iam.list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .unwrap()
            .policies()
            .is_empty()
    );

    // After a real run, a dry run plans nothing.
    report(&call(&client, "provision_user", marketing()).await);
    let again = report(&call(&client, "provision_user", args).await);
    assert!(!again.changed);
}

#[tokio::test]
async fn throttled_create_user_is_retried() {
    let account = Account::new();
    account.fault(json!({"action": "CreateUser", "kind": "throttle", "count": 2}));
    let client = account.mcp(AccessMode::Provision).await;
    let done = report(&call(&client, "provision_user", marketing()).await);
    assert_eq!(
        status_of(&done, ResourceKind::IamUser),
        ChangeStatus::Created
    );
    let creates = account
        .actions()
        .iter()
        .filter(|a| *a == "CreateUser")
        .count();
    assert_eq!(creates, 3, "two throttled attempts, then success");
    account
        .iam()
        .await
        .get_user()
        .user_name("marketing-bedrock-user")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn eventual_consistency_after_create_user_is_absorbed() {
    let account = Account::new();
    account.fault(json!({
        "action": "AttachUserPolicy", "kind": "error", "status": 404, "code": "NoSuchEntity",
        "message": "The user with name marketing-bedrock-user cannot be found.", "count": 2
    }));
    let client = account.mcp(AccessMode::Provision).await;
    let done = report(&call(&client, "provision_user", marketing()).await);
    assert_eq!(
        status_of(&done, ResourceKind::PolicyAttachment),
        ChangeStatus::Created
    );
    assert_eq!(
        account
            .actions()
            .iter()
            .filter(|a| *a == "AttachUserPolicy")
            .count(),
        3
    );
}

#[tokio::test]
async fn access_denied_names_the_missing_action() {
    let account = Account::new();
    account.fault(json!({
        "action": "CreateUser", "kind": "error", "status": 403, "code": "AccessDenied",
        "message": format!("User: arn:aws:iam::{}:user/john is not authorized to perform: iam:CreateUser", account.id)
    }));
    let client = account.mcp(AccessMode::Provision).await;
    let denied = call(&client, "provision_user", marketing()).await;
    assert_eq!(denied.is_error, Some(true));
    let message = text(&denied);
    assert!(message.contains("AWS denied `iam:CreateUser`"), "{message}");
    assert!(
        message.contains("\"Action\": \"iam:CreateUser\""),
        "{message}"
    );
    assert!(message.contains("error kind: access_denied"), "{message}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let long = "x".repeat(52);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"business_unit": "", "purpose": "p", "owner": "o"}),
            "business_unit",
            "must not be empty",
        ),
        (
            json!({"business_unit": long, "purpose": "p", "owner": "o"}),
            "business_unit",
            "at most 51",
        ),
        (
            json!({"business_unit": "sales team", "purpose": "p", "owner": "o"}),
            "business_unit",
            "only lowercase",
        ),
        (
            json!({"business_unit": "a/b", "purpose": "p", "owner": "o"}),
            "business_unit",
            "only lowercase",
        ),
        (
            json!({"business_unit": "a*", "purpose": "p", "owner": "o"}),
            "business_unit",
            "only lowercase",
        ),
        (
            json!({"business_unit": "vertrieb-süd", "purpose": "p", "owner": "o"}),
            "business_unit",
            "only lowercase",
        ),
        (
            json!({"business_unit": ".hidden", "purpose": "p", "owner": "o"}),
            "business_unit",
            "start and end",
        ),
        (
            json!({"business_unit": "trailing.", "purpose": "p", "owner": "o"}),
            "business_unit",
            "start and end",
        ),
        (
            json!({"business_unit": "ok", "purpose": "p", "owner": ""}),
            "owner",
            "required",
        ),
        (
            json!({"business_unit": "ok", "purpose": "p", "owner": "a;b"}),
            "owner",
            "only letters",
        ),
        (
            json!({"business_unit": "ok", "purpose": "", "owner": "o"}),
            "purpose",
            "required",
        ),
        (
            json!({"business_unit": "ok", "purpose": "p", "owner": "o", "tags": {"aws:x": "1"}}),
            "tags.aws:x",
            "reserved",
        ),
        (
            json!({"business_unit": "ok", "purpose": "p", "owner": "o", "tags": {"a*b": "1"}}),
            "tags.a*b",
            "only letters",
        ),
        (
            json!({"business_unit": "ok", "purpose": "p", "owner": "o", "policy": {"arn": "nope"}}),
            "policy.arn",
            "policy ARN",
        ),
    ];
    for (args, field, rule) in cases {
        let result = call(&client, "provision_user", args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{args}");
        let message = text(&result);
        assert!(
            message.contains(&format!("invalid `{field}`")),
            "{args}: {message}"
        );
        assert!(message.contains(rule), "{args}: {message}");
        assert!(message.contains("Nothing was sent to AWS"), "{message}");
    }
    assert!(
        account.actions().is_empty(),
        "\"Nothing was sent to AWS\" must be true: {:?}",
        account.actions()
    );
    // Unknown and missing fields are refused by the schema layer.
    let typo = call(
        &client,
        "provision_user",
        json!({"business_unit": "ok", "purpose": "p", "owner": "o", "dryrun": true}),
    )
    .await;
    assert_eq!(typo.is_error, Some(true));
    assert!(text(&typo).contains("dryrun"), "{}", text(&typo));
    let missing = call(
        &client,
        "provision_user",
        json!({"business_unit": "ok", "purpose": "p"}),
    )
    .await;
    assert_eq!(missing.is_error, Some(true));
    assert!(text(&missing).contains("owner"), "{}", text(&missing));
    assert!(
        account.actions().is_empty(),
        "AWS was called: {:?}",
        account.actions()
    );
}

#[tokio::test]
async fn amazon_bedrock_limited_access_is_allowed_with_a_warning() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let mut args = marketing();
    args["policy"] = json!("amazon_bedrock_limited_access");
    let done = report(&call(&client, "provision_user", args).await);
    assert_eq!(
        done.policy_arn,
        "arn:aws:iam::aws:policy/AmazonBedrockLimitedAccess"
    );
    assert!(
        done.warnings
            .iter()
            .any(|w| w.contains("far more than invoking Claude")),
        "{:?}",
        done.warnings
    );
    assert!(
        done.resources
            .iter()
            .all(|r| r.resource != ResourceKind::ManagedPolicy)
    );
    let iam = account.iam().await;
    assert_eq!(
        attached(&iam, "marketing-bedrock-user").await,
        vec![done.policy_arn]
    );
}

#[tokio::test]
async fn list_business_units_reads_what_was_provisioned() {
    let account = Account::new();
    let iam = account.iam().await;
    iam.create_user()
        .user_name("legacy-bedrock-user")
        .send()
        .await
        .unwrap();
    iam.create_user()
        .user_name("unrelated")
        .send()
        .await
        .unwrap();
    let client = account.mcp(AccessMode::ReadOnly).await;
    let empty: BusinessUnitList =
        common::report(&call(&client, "list_business_units", json!({})).await);
    assert!(empty.business_units.is_empty());

    let writer = account.mcp(AccessMode::Provision).await;
    report(&call(&writer, "provision_user", marketing()).await);
    let listed: BusinessUnitList = common::report(
        &call(
            &client,
            "list_business_units",
            json!({"include_unmanaged": true}),
        )
        .await,
    );
    let units = &listed.business_units;
    let names: Vec<&str> = units.iter().map(|u| u.business_unit.as_str()).collect();
    assert_eq!(names, ["legacy", "marketing"]);
    assert!(!units[0].managed);
    assert_eq!(units[0].missing_tags, ["business-unit", "purpose", "owner"]);
    assert!(units[1].managed);
    assert_eq!(units[1].tags["owner"], "jane@example.com");
    assert!(units[1].missing_tags.is_empty());
}

#[tokio::test]
async fn provision_mode_cannot_grant_more_than_bedrock_and_a_broader_policy_is_drift() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let refused = call(
        &client,
        "provision_user",
        json!({"business_unit": "ops", "purpose": "p", "owner": "o", "policy": {"arn": admin}}),
    )
    .await;
    assert!(
        text(&refused).contains("invalid `policy.arn`"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("allowed_policy_arns"),
        "{}",
        text(&refused)
    );
    assert!(
        account.actions().iter().all(|a| !is_mutation(a)),
        "{:?}",
        account.actions()
    );

    let args = json!({"business_unit": "ops", "purpose": "p", "owner": "o"});
    ok(&call(&client, "provision_user", args.clone()).await);
    // Someone attaches a broad policy by hand; the next default run reports it instead of success.
    account
        .iam()
        .await
        .attach_user_policy()
        .user_name("ops-bedrock-user")
        .policy_arn(admin)
        .send()
        .await
        .unwrap();
    let again = report(&call(&client, "provision_user", args).await);
    assert!(!again.changed, "{again:#?}");
    let drift: Vec<_> = again
        .resources
        .iter()
        .filter(|r| r.status == ChangeStatus::Drift)
        .collect();
    assert_eq!(drift.len(), 1, "{again:#?}");
    assert!(drift[0].id.ends_with(admin));
    assert!(
        drift[0].detail.contains(&format!(
            "aws iam detach-user-policy --user-name ops-bedrock-user --policy-arn {admin}"
        )),
        "{again:#?}"
    );
    assert!(
        again
            .warnings
            .iter()
            .any(|w| w.contains("other managed policy")),
        "{again:#?}"
    );
}

#[tokio::test]
async fn a_tag_key_in_another_case_is_repaired_not_duplicated() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    let args = json!({"business_unit": "legal", "purpose": "p", "owner": "new@example.com"});
    ok(&call(&client, "provision_user", args.clone()).await);
    let iam = account.iam().await;
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("Owner")
        .value("old@example.com")
        .build()
        .unwrap();
    iam.tag_user()
        .user_name("legal-bedrock-user")
        .tags(tag)
        .send()
        .await
        .unwrap();
    let repaired = report(&call(&client, "provision_user", args).await);
    assert!(repaired.changed, "{repaired:#?}");
    let tags = iam
        .list_user_tags()
        .user_name("legal-bedrock-user")
        .send()
        .await
        .unwrap();
    let owners: Vec<_> = tags
        .tags()
        .iter()
        .filter(|t| t.key().eq_ignore_ascii_case("owner"))
        .map(|t| t.value().to_owned())
        .collect();
    assert_eq!(owners, vec!["new@example.com"], "one owner tag, repaired");
}

/// Parallel `provision_user` of two units on a fresh account: both read "no policy", both create it; IAM
/// answers the second with `EntityAlreadyExists`, which is the race, not an error.
#[tokio::test]
async fn parallel_provisioning_on_a_fresh_account_shares_one_policy() {
    let account = Account::new();
    // Hold both CreatePolicy calls long enough that both reads happen before either create.
    account.fault(json!({"action": "CreatePolicy", "kind": "latency", "latency_ms": 300}));
    let client = account.mcp(AccessMode::Provision).await;
    let (a, b) = tokio::join!(
        call(
            &client,
            "provision_user",
            json!({"business_unit": "alpha", "purpose": "p", "owner": "o"})
        ),
        call(
            &client,
            "provision_user",
            json!({"business_unit": "beta", "purpose": "p", "owner": "o"})
        ),
    );
    let (a, b) = (report(&a), report(&b));
    let creates = account
        .actions()
        .iter()
        .filter(|action| *action == "CreatePolicy")
        .count();
    assert_eq!(creates, 2, "both calls raced to create the policy");
    assert_eq!(account.local_policy_count().await, 1, "one policy");
    for report in [&a, &b] {
        assert!(
            report
                .resources
                .iter()
                .any(|r| r.resource == ResourceKind::PolicyAttachment),
            "{report:#?}"
        );
    }
}

/// A refusal decided by reading AWS (an allowed policy ARN that does not exist) says so, not "Nothing was
/// sent to AWS".
#[tokio::test]
async fn a_refusal_after_reading_aws_does_not_claim_nothing_was_sent() {
    let account = Account::new();
    let missing = format!("arn:aws:iam::{}:policy/NotCreatedYet", account.id);
    let mut settings = account.settings();
    settings.governance.allowed_policy_arns = vec![missing.clone()];
    let client = account.mcp_with(AccessMode::Provision, settings).await;
    let refused = call(
        &client,
        "provision_user",
        json!({"business_unit": "ops", "purpose": "p", "owner": "o", "policy": {"arn": missing}}),
    )
    .await;
    let message = text(&refused);
    assert!(message.contains("invalid `policy.arn`"), "{message}");
    assert!(!message.contains("Nothing was sent"), "{message}");
    assert!(account.actions().iter().any(|a| a == "GetPolicy"));
    assert!(
        account.actions().iter().all(|a| !is_mutation(a)),
        "{:?}",
        account.actions()
    );
}
