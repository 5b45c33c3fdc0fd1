//! Defects only our emulator used to accept, each reproduced against an emulator that behaves like AWS:
//! inference profiles beyond the first page, geography of the suggested profile, the alias both keys of a
//! user share, permissions scoped to the resources the tools touch, Cost Explorer's throttling code.

use crate::{
    common,
    diagnose::{check, diagnose},
};

use aws_credential_types::Credentials;
use bedrock_provisioner::{
    core::{
        AwsSettings, Provisioner, Settings,
        diagnose::{CheckId, CheckStatus},
    },
    mode::AccessMode,
};
use common::{Account, call, ok, text};
use serde_json::{Value, json};

const MODELS: [&str; 3] = [
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
];

#[tokio::test]
async fn every_profile_is_found_whatever_page_it_is_on() {
    let account = Account::new();
    for model in MODELS {
        for prefix in ["us.", "global."] {
            let report = diagnose(
                &account,
                account.settings(),
                json!({"model_id": format!("{prefix}{model}"), "checks": ["model_in_region"]}),
            )
            .await;
            let status = check(&report, CheckId::ModelInRegion).status;
            assert_eq!(status, CheckStatus::Pass, "{prefix}{model}: {report:#?}");
        }
    }
    let listings = account
        .actions()
        .iter()
        .filter(|a| a.as_str() == "ListInferenceProfiles")
        .count();
    assert!(
        listings > 6,
        "one listing per check means no paging: {listings}"
    );
}

#[tokio::test]
async fn a_region_is_told_the_profile_of_its_own_geography() {
    let account = Account::new();
    for (region, prefix) in [
        ("eu-west-1", "eu."),
        ("ap-northeast-1", "jp."),
        ("us-west-2", "us."),
    ] {
        let report = diagnose(
            &account,
            account.settings_in(region),
            json!({"model_id": MODELS[1], "checks": ["model_in_region"]}),
        )
        .await;
        let fix = check(&report, CheckId::ModelInRegion)
            .remediation
            .join("\n");
        assert!(
            fix.contains(&format!("`{prefix}{}`", MODELS[1])),
            "{region}: {fix}"
        );
        if prefix != "us." {
            assert!(
                !fix.contains(&format!("`us.{}`", MODELS[1])),
                "{region}: {fix}"
            );
        }
    }
}

#[tokio::test]
async fn both_keys_share_an_alias_and_diagnose_does_not_guess_which_one_was_given() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Provision).await;
    ok(&call(
        &client,
        "provision_user",
        json!({"business_unit": "sales", "purpose": "p", "owner": "o@example.com"}),
    )
    .await);
    let first = ok(&call(&client, "create_api_key", json!({"business_unit": "sales"})).await);
    let second = ok(&call(&client, "create_api_key", json!({"business_unit": "sales"})).await);
    let listed = account
        .iam()
        .await
        .list_service_specific_credentials()
        .user_name("sales-bedrock-user")
        .send()
        .await
        .unwrap();
    let aliases: Vec<_> = listed
        .service_specific_credentials()
        .iter()
        .map(|c| c.service_credential_alias().unwrap_or_default().to_owned())
        .collect();
    let expected = format!("sales-bedrock-user-at-{}", account.id);
    assert_eq!(aliases, vec![expected.clone(), expected], "AWS's alias");
    let key = second["delivery"]["api_key"].as_str().unwrap();
    let report = diagnose(
        &account,
        account.settings(),
        json!({"business_unit": "sales", "api_key": key, "checks": ["api_key"]}),
    )
    .await;
    let evidence = check(&report, CheckId::ApiKey).evidence.join("\n");
    assert!(evidence.contains("cannot be told"), "{evidence}");
    let first_id = first["credential_id"].as_str().unwrap();
    assert!(
        !evidence.contains(&format!("the given key is {first_id}")),
        "diagnose named the wrong credential: {evidence}"
    );
}

/// An operator allowed exactly what the tools touch: IAM users and the policy under the tool's path,
/// its secrets and budgets, and account-wide reads.
fn scoped_operator_policy(account: &str, deny: Option<&str>) -> String {
    let mut statements = vec![
        json!({"Effect": "Allow", "Action": "iam:*", "Resource": [
            format!("arn:aws:iam::{account}:user/bedrock-provisioner/*"),
            format!("arn:aws:iam::{account}:policy/bedrock-provisioner/*")]}),
        json!({"Effect": "Allow", "Action": "secretsmanager:*",
            "Resource": format!("arn:aws:secretsmanager:*:{account}:secret:bedrock-provisioner/*")}),
        json!({"Effect": "Allow", "Action": "budgets:*",
            "Resource": format!("arn:aws:budgets::{account}:budget/bedrock-*")}),
        json!({"Effect": "Allow", "Action": "iam:*",
            "Resource": format!("arn:aws:iam::{account}:role/bedrock-provisioner/*")}),
        json!({"Effect": "Allow", "Action": "logs:*",
            "Resource": format!("arn:aws:logs:*:{account}:log-group:bedrock-provisioner/*")}),
        json!({"Effect": "Allow", "Resource": "*", "Action": ["iam:ListUsers",
            "iam:SimulatePrincipalPolicy", "iam:RemoveUserFromGroup", "bedrock:*", "ce:*",
            "servicequotas:*", "sts:AssumeRole", "iam:GetAccountAuthorizationDetails",
            "logs:DescribeLogGroups", "logs:GetQueryResults", "pricing:GetProducts",
            "budgets:DescribeBudgetActionsForAccount"]}),
    ];
    if let Some(action) = deny {
        statements.push(json!({"Effect": "Deny", "Action": action, "Resource": "*"}));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

async fn operator(account: &Account, name: &str, policy: String) -> Settings {
    let (id, secret) = account.operator_key(name, &policy).await;
    let base = account.settings();
    Settings {
        aws: AwsSettings {
            static_credentials: Some(Credentials::new(id, secret, None, None, "operator")),
            ..base.aws
        },
        ..base
    }
}

#[tokio::test]
async fn permissions_scoped_to_the_tools_resources_show_no_false_gaps() {
    let account = Account::new();
    let scoped = operator(
        &account,
        "scoped",
        scoped_operator_policy(&account.id, None),
    )
    .await;
    let report = diagnose(&account, scoped, json!({"checks": ["permissions"]})).await;
    let permissions = check(&report, CheckId::Permissions);
    assert_eq!(permissions.status, CheckStatus::Pass, "{permissions:#?}");

    let no_tag = operator(
        &account,
        "notag",
        scoped_operator_policy(&account.id, Some("iam:TagPolicy")),
    )
    .await;
    let report = diagnose(&account, no_tag, json!({"checks": ["permissions"]})).await;
    let permissions = check(&report, CheckId::Permissions);
    assert_eq!(permissions.status, CheckStatus::Fail, "{permissions:#?}");
    let evidence = permissions.evidence.join("\n");
    assert!(
        evidence.contains(&format!(
            "iam:TagPolicy on arn:aws:iam::{}:policy/bedrock-provisioner/BedrockProvisionerClaudeAccess (for iam:CreatePolicy)",
            account.id
        )),
        "{evidence}"
    );
}

/// Units are listed with their tags in pages (`GetAccountAuthorizationDetails`); an operator denied that
/// still gets the same list, from `ListUsers` and one `ListUserTags` per user.
#[tokio::test]
async fn units_are_listed_in_pages_or_user_by_user_when_pages_are_denied() {
    let account = Account::new();
    account.provisioned(&["a", "b"]).await.cancel().await.ok();
    let names = |list: bedrock_provisioner::core::units::inventory::BusinessUnitList| {
        list.business_units
            .into_iter()
            .map(|u| (u.business_unit, u.tags.get("owner").cloned()))
            .collect::<Vec<_>>()
    };
    let input = bedrock_provisioner::core::units::inventory::ListBusinessUnitsInput::default();
    let start = account.actions().len();
    let paged = Provisioner::new(account.settings())
        .list_business_units(&input)
        .await
        .unwrap();
    let calls = account.actions()[start..].to_vec();
    assert!(
        calls.contains(&"GetAccountAuthorizationDetails".to_owned()),
        "{calls:?}"
    );
    assert!(!calls.contains(&"ListUserTags".to_owned()), "{calls:?}");
    let denied = operator(
        &account,
        "nopages",
        scoped_operator_policy(&account.id, Some("iam:GetAccountAuthorizationDetails")),
    )
    .await;
    let key = denied
        .aws
        .static_credentials
        .as_ref()
        .unwrap()
        .access_key_id()
        .to_owned();
    let by_user = Provisioner::new(denied)
        .list_business_units(&input)
        .await
        .unwrap();
    let log = common::emulator().control("GET", &format!("requests?access_key={key}"), "");
    let calls: Vec<&str> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        calls.contains(&"GetAccountAuthorizationDetails"),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|a| **a == "ListUserTags").count(),
        2,
        "{calls:?}"
    );
    let (paged, by_user) = (names(paged), names(by_user));
    assert_eq!(paged.len(), 2);
    assert!(paged.iter().all(|(_, owner)| owner.is_some()), "{paged:?}");
    assert_eq!(paged, by_user);
}

#[tokio::test]
async fn cost_explorer_limit_exceeded_is_reported_as_throttling() {
    let account = Account::new();
    account.fault(json!({"service": "ce", "action": "GetDimensionValues", "kind": "throttle"}));
    let client = account.mcp(AccessMode::ReadOnly).await;
    let result = call(&client, "query_costs", json!({})).await;
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.contains("(error kind: throttled)"), "{message}");
    let codes: Vec<Value> = account
        .requests()
        .into_iter()
        .filter(|r| r["action"] == "GetDimensionValues")
        .collect();
    assert!(codes.len() > 1, "the SDK retries throttling: {codes:?}");
}
