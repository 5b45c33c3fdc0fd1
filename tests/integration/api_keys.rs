//! Bedrock API key lifecycle against the emulator through an MCP client; AWS state is read independently.

use crate::common;

use std::sync::Arc;

use bedrock_provisioner::core::{
    Provisioner,
    keys::{
        ApiKeyList, CreateApiKeyInput, CreatedApiKey, KeyFlag, RevokeOutcome, RevokeReport,
        RotateKeyInput, RotateMode, RotateReport, deliver::Delivered,
    },
};
use common::{Account, call, emulator, is_mutation, ok, text};
use serde_json::{Value, json};

#[tokio::test]
async fn create_returns_the_key_once_with_client_settings() {
    let account = Account::new();
    let client = account.provisioned(&["marketing"]).await;
    let created: CreatedApiKey = common::report(
        &call(
            &client,
            "create_api_key",
            json!({"business_unit": "marketing"}),
        )
        .await,
    );
    let Delivered::Inline {
        api_key,
        client_settings,
    } = &created.delivery
    else {
        panic!("inline by default: {created:?}");
    };
    let key = api_key.expose();
    assert!(key.starts_with("ABSK"), "{key}");
    assert_eq!(client_settings.aws_bearer_token_bedrock.expose(), key);
    assert_eq!(client_settings.aws_region, "us-east-1");
    assert_eq!(client_settings.claude_code_use_bedrock, "1");
    assert!(created.warnings[0].contains("cannot be retrieved again"));
    let id = created.credential_id.as_deref().unwrap();
    assert_eq!(
        account.keys_in_aws("marketing-bedrock-user").await,
        vec![(id.to_owned(), "Active".to_owned())]
    );
    let listed = account
        .iam()
        .await
        .list_service_specific_credentials()
        .user_name("marketing-bedrock-user")
        .send()
        .await
        .unwrap();
    let meta = &listed.service_specific_credentials()[0];
    let days = (meta.expiration_date().unwrap().secs() - meta.create_date().secs()) / 86_400;
    assert_eq!(days, 30, "default age is 30 days");

    let listed = call(
        &client,
        "list_api_keys",
        json!({"business_unit": "marketing"}),
    )
    .await;
    assert!(
        !ok(&listed).to_string().contains(key),
        "list_api_keys must not return the key"
    );
    let listed: ApiKeyList = common::report(&listed);
    assert_eq!(listed.keys[0].credential_id, id);
    // Whole days left, rounded down: 29 or 30 depending on where the second boundary falls.
    let days_left = listed.keys[0].days_left.unwrap();
    assert!((29..=30).contains(&days_left), "{days_left}");
}

#[tokio::test]
async fn third_key_is_refused_with_advice_not_a_raw_limit_error() {
    let account = Account::new();
    let client = account.provisioned(&["sales"]).await;
    for _ in 0..2 {
        ok(&call(&client, "create_api_key", json!({"business_unit": "sales"})).await);
    }
    let refused = call(&client, "create_api_key", json!({"business_unit": "sales"})).await;
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(message.contains("two Bedrock API keys"), "{message}");
    assert!(message.contains("rotate_key"), "{message}");
    assert!(!message.contains("LimitExceeded"), "{message}");
    assert_eq!(account.keys_in_aws("sales-bedrock-user").await.len(), 2);
}

#[tokio::test]
async fn concurrent_creates_and_rotations_never_exceed_two_keys() {
    let account = Account::new();
    let _client = account.provisioned(&["finance"]).await;
    let core = Arc::new(Provisioner::new(account.settings()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let core = core.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                core.create_api_key(&CreateApiKeyInput {
                    business_unit: "finance".into(),
                    ..CreateApiKeyInput::default()
                })
                .await
                .map(drop)
            } else {
                core.rotate_key(&RotateKeyInput {
                    business_unit: "finance".into(),
                    mode: RotateMode::Replace,
                    ..RotateKeyInput::default()
                })
                .await
                .map(drop)
            }
        });
    }
    let mut succeeded = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => succeeded += 1,
            // Refusals name the limit or ask which key to replace; never a raw AWS error.
            Err(error) => assert!(
                ["key_limit", "invalid_input"].contains(&error.kind()),
                "{error}"
            ),
        }
    }
    assert!(succeeded >= 2, "{succeeded}");
    let keys = account.keys_in_aws("finance-bedrock-user").await;
    assert!((1..=2).contains(&keys.len()), "{keys:?}");
    assert!(
        !account
            .requests()
            .iter()
            .any(|r| r["status"].as_u64() == Some(409)),
        "no call hit IAM's LimitExceeded"
    );
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let account = Account::new();
    let client = account.provisioned(&["ops"]).await;
    let other = call(
        &client,
        "provision_user",
        json!({"business_unit": "hr", "purpose": "p", "owner": "o"}),
    )
    .await;
    ok(&other);
    let hr_key = ok(&call(&client, "create_api_key", json!({"business_unit": "hr"})).await);
    let before = account.actions().len();
    let cases = [
        (
            "create_api_key",
            json!({"business_unit": "ops", "credential_age_days": 0}),
            "invalid `credential_age_days`",
        ),
        (
            "create_api_key",
            json!({"business_unit": "ops", "credential_age_days": 91}),
            "between 1 and 90",
        ),
        (
            "create_api_key",
            json!({"business_unit": "ops", "credential_age_days": 36601}),
            "between 1 and 90",
        ),
        (
            "revoke_key",
            json!({"business_unit": "ops", "credential_id": "nope"}),
            "invalid `credential_id`",
        ),
        (
            "rotate_key",
            json!({"business_unit": "Ops", "credential_id": "ACCA1234567890ABCDEFG"}),
            "invalid `business_unit`",
        ),
    ];
    for (tool, args, expected) in cases {
        let result = call(&client, tool, args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{args}");
        assert!(
            text(&result).contains(expected),
            "{args}: {}",
            text(&result)
        );
    }
    assert_eq!(
        account.actions().len(),
        before,
        "validation errors must not reach AWS"
    );

    // Unknown business unit, and a key of another business unit: clear errors, nothing changed.
    let unknown = call(
        &client,
        "create_api_key",
        json!({"business_unit": "nobody"}),
    )
    .await;
    assert!(
        text(&unknown).contains("has no IAM user `nobody-bedrock-user`"),
        "{}",
        text(&unknown)
    );
    assert!(text(&unknown).contains("provision_user"));
    let foreign = call(&client, "revoke_key", json!({"business_unit": "ops", "credential_id": hr_key["credential_id"], "action": "delete"})).await;
    assert_eq!(foreign.is_error, Some(true));
    assert!(
        text(&foreign).contains("belongs to business unit `ops`"),
        "{}",
        text(&foreign)
    );
    let after: Vec<String> = account.actions()[before..].to_vec();
    assert!(after.iter().all(|a| !is_mutation(a)), "{after:?}");
    assert_eq!(account.keys_in_aws("hr-bedrock-user").await[0].1, "Active");
}

/// `create_api_key`'s report for `arguments`.
async fn created(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    arguments: Value,
) -> CreatedApiKey {
    common::report(&call(client, "create_api_key", arguments).await)
}

/// `rotate_key`'s report for `arguments`.
async fn rotate(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    arguments: Value,
) -> RotateReport {
    common::report(&call(client, "rotate_key", arguments).await)
}

/// `revoke_key`'s report for `arguments`.
async fn revoke(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    arguments: Value,
) -> RevokeReport {
    common::report(&call(client, "revoke_key", arguments).await)
}

#[tokio::test]
async fn revoke_deactivates_or_deletes() {
    let account = Account::new();
    let client = account.provisioned(&["legal"]).await;
    let id = ok(&call(&client, "create_api_key", json!({"business_unit": "legal"})).await)["credential_id"].clone();
    let plan = revoke(
        &client,
        json!({"business_unit": "legal", "credential_id": id, "dry_run": true}),
    )
    .await;
    assert_eq!(plan.outcome, RevokeOutcome::Planned);
    assert_eq!(
        account.keys_in_aws("legal-bedrock-user").await[0].1,
        "Active"
    );
    let unconfirmed = call(
        &client,
        "revoke_key",
        json!({"business_unit": "legal", "credential_id": id}),
    )
    .await;
    assert_eq!(unconfirmed.is_error, Some(true));
    assert!(
        text(&unconfirmed).contains("confirm: true"),
        "{}",
        text(&unconfirmed)
    );
    assert_eq!(
        account.keys_in_aws("legal-bedrock-user").await[0].1,
        "Active",
        "an unconfirmed revoke changes nothing"
    );
    let done = revoke(
        &client,
        json!({"business_unit": "legal", "credential_id": id, "confirm": true}),
    )
    .await;
    assert_eq!(done.outcome, RevokeOutcome::Deactivated);
    assert_eq!(
        account.keys_in_aws("legal-bedrock-user").await[0].1,
        "Inactive"
    );
    let listed: ApiKeyList =
        common::report(&call(&client, "list_api_keys", json!({"business_unit": "legal"})).await);
    assert_eq!(listed.keys[0].flags, [KeyFlag::Inactive]);
    let again = revoke(
        &client,
        json!({"business_unit": "legal", "credential_id": id, "confirm": true}),
    )
    .await;
    assert_eq!(again.outcome, RevokeOutcome::Unchanged);
    let deleted = revoke(
        &client,
        json!({"business_unit": "legal", "credential_id": id, "action": "delete", "confirm": true}),
    )
    .await;
    assert_eq!(deleted.outcome, RevokeOutcome::Deleted);
    assert!(account.keys_in_aws("legal-bedrock-user").await.is_empty());
}

#[tokio::test]
async fn rotation_keeps_a_working_key_and_clears_dead_slots_first() {
    let account = Account::new();
    let client = account.provisioned(&["support"]).await;
    let first = created(&client, json!({"business_unit": "support"})).await;
    let first = first.credential_id.unwrap();
    let rotated = rotate(&client, json!({"business_unit": "support"})).await;
    assert_eq!(rotated.old_credential_id.as_ref(), Some(&first));
    assert!(rotated.deleted_credential_ids.is_empty());
    assert!(rotated.instruction.contains("revoke_key"));
    let keys = account.keys_in_aws("support-bedrock-user").await;
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|(_, status)| status == "Active"));

    // Two active keys: the caller must name one.
    let ambiguous = call(&client, "rotate_key", json!({"business_unit": "support"})).await;
    assert!(
        text(&ambiguous).contains("two active keys"),
        "{}",
        text(&ambiguous)
    );
    assert_eq!(account.keys_in_aws("support-bedrock-user").await.len(), 2);

    // An inactive key is removed first, without naming it; the active one survives.
    ok(&call(
        &client,
        "revoke_key",
        json!({"business_unit": "support", "credential_id": first, "confirm": true}),
    )
    .await);
    let third = rotate(
        &client,
        json!({"business_unit": "support", "mode": "replace"}),
    )
    .await;
    assert_eq!(
        third.deleted_credential_ids[0], first,
        "the inactive key went first"
    );
    let keys = account.keys_in_aws("support-bedrock-user").await;
    let ids: Vec<&str> = keys.iter().map(|(id, _)| id.as_str()).collect();
    assert!(!ids.contains(&first.as_str()));
    assert!(ids.contains(&third.new_key.credential_id.as_deref().unwrap()));
    assert!(
        keys.iter().all(|(_, status)| status == "Active"),
        "{keys:?}"
    );
}

#[tokio::test]
async fn expired_keys_are_reported_expired() {
    let account = Account::new();
    let client = account.provisioned(&["research"]).await;
    ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "research", "credential_age_days": 3}),
    )
    .await);
    let soon: ApiKeyList = common::report(&call(&client, "list_api_keys", json!({})).await);
    assert_eq!(soon.keys[0].flags, [KeyFlag::ExpiringSoon]);
    emulator().control(
        "POST",
        "clock",
        &json!({"account": account.id, "advance_days": 4}).to_string(),
    );
    let listed: ApiKeyList = common::report(&call(&client, "list_api_keys", json!({})).await);
    assert_eq!(listed.keys[0].status, "Expired");
    assert!(listed.keys[0].flags.contains(&KeyFlag::Expired));
}

#[tokio::test]
async fn dry_runs_of_create_and_rotate_change_nothing() {
    let account = Account::new();
    let client = account.provisioned(&["design"]).await;
    let first = created(&client, json!({"business_unit": "design"})).await;
    let before = account.actions().len();
    let planned = created(
        &client,
        json!({"business_unit": "design", "deliver": "secrets_manager", "dry_run": true}),
    )
    .await;
    assert_eq!(planned.status, "Planned");
    let Delivered::Planned { destination } = &planned.delivery else {
        panic!("a dry run delivers nothing: {planned:?}");
    };
    assert!(destination.contains("bedrock-provisioner/design/bedrock-api-key"));
    let rotation = rotate(
        &client,
        json!({"business_unit": "design", "mode": "replace", "dry_run": true}),
    )
    .await;
    assert_eq!(
        rotation.deleted_credential_ids,
        [first.credential_id.unwrap()]
    );
    assert_eq!(rotation.new_key.status, "Planned");
    let after: Vec<String> = account.actions()[before..].to_vec();
    assert!(after.iter().all(|a| !is_mutation(a)), "{after:?}");
    assert_eq!(account.keys_in_aws("design-bedrock-user").await.len(), 1);
}

/// `rotate_key mode=replace` when deleting the old key fails after the new one exists: the new key (inline:
/// its value) is in the answer, the old one is named as still active, and the instruction finishes it.
#[tokio::test]
async fn a_failed_deletion_during_replace_never_loses_the_new_key() {
    let account = Account::new();
    let client = account.provisioned(&["ops"]).await;
    let old = created(&client, json!({"business_unit": "ops"})).await;
    let old_id = old.credential_id.as_deref().unwrap();
    account.fault(
        json!({"action": "DeleteServiceSpecificCredential", "kind": "error",
        "status": 500, "code": "ServiceFailure", "count": 20}),
    );
    let rotated = rotate(
        &client,
        json!({"business_unit": "ops", "mode": "replace", "deliver": "inline"}),
    )
    .await;
    let new_key = &rotated.new_key;
    assert!(
        matches!(&new_key.delivery, Delivered::Inline { api_key, .. } if api_key.expose().starts_with("ABSK")),
        "the new key is in the answer: {rotated:#?}"
    );
    assert!(
        new_key.warnings.iter().any(|w| w.contains(old_id)),
        "{rotated:#?}"
    );
    assert!(
        rotated
            .instruction
            .contains(&format!("credential_id `{old_id}`")),
        "{rotated:#?}"
    );
    assert!(rotated.deleted_credential_ids.is_empty());
    let keys = account.keys_in_aws("ops-bedrock-user").await;
    assert_eq!(keys.len(), 2, "both keys exist: {keys:?}");
    assert!(
        keys.iter()
            .any(|(id, _)| Some(id.as_str()) == new_key.credential_id.as_deref())
    );
}

/// Listing every unit's keys costs pages, not units: one `ListServiceSpecificCredentials` with
/// `AllUsers=true` for the whole account (issue 15's inventory), and keys of users this tool does not manage
/// stay out.
#[tokio::test]
async fn listing_every_units_keys_is_one_paged_listing() {
    let account = Account::new();
    let units = ["a", "b", "c", "d"];
    let client = account.provisioned(&units).await;
    for unit in units {
        ok(&call(&client, "create_api_key", json!({"business_unit": unit})).await);
    }
    let iam = account.iam().await;
    iam.create_user()
        .user_name("stranger")
        .send()
        .await
        .unwrap();
    iam.create_service_specific_credential()
        .user_name("stranger")
        .service_name("bedrock.amazonaws.com")
        .send()
        .await
        .unwrap();
    let start = account.actions().len();
    let listed: ApiKeyList = common::report(&call(&client, "list_api_keys", json!({})).await);
    assert_eq!(listed.keys.len(), 4, "{listed:#?}");
    assert!(listed.keys.iter().all(|k| k.user_name != "stranger"));
    let listings = account.actions()[start..]
        .iter()
        .filter(|a| *a == "ListServiceSpecificCredentials")
        .count();
    assert_eq!(listings, 1, "{:?}", &account.actions()[start..]);
}

/// Issue 20 (1): replacing one of a unit's two active keys works on AWS. The key lease records the keys
/// that existed before it in an IAM tag value, whose pattern has no comma: the emulator refuses a comma as
/// IAM does (`tagValueType`), so joining the two ids with one failed `TagUser` before any key was made.
#[tokio::test]
async fn replacing_one_of_two_active_keys_works() {
    let account = Account::new();
    let client = account.provisioned(&["finance"]).await;
    let first = created(&client, json!({"business_unit": "finance"})).await;
    created(&client, json!({"business_unit": "finance"})).await;
    let first_id = first.credential_id.as_deref().unwrap();
    let rotated = rotate(
        &client,
        json!({"business_unit": "finance", "credential_id": first_id, "mode": "replace", "deliver": "inline"}),
    )
    .await;
    assert_eq!(rotated.deleted_credential_ids, [first_id], "{rotated:#?}");
    let keys = account.keys_in_aws("finance-bedrock-user").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|(id, _)| id != first_id));
    let refused: Vec<Value> = account
        .requests()
        .into_iter()
        .filter(|r| r["action"] == "TagUser" && r["status"] != 200)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}
