//! Short-term keys (against the Python package as oracle), secret hand-off to Secrets Manager and to
//! files, rollback when hand-off fails, key inspection, and deprovisioning: all against the emulator,
//! with AWS state read independently through the SDK.

use crate::common;

use std::{
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    process::Command,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use bedrock_provisioner::core::{
    keys::inspect::{KeyKind, inspect_key},
    keys::{ApiKeyKind, CreatedApiKey, RotateReport, deliver::Delivered, short_term},
    units::deprovision::{DeprovisionReport, StepKind, StepStatus},
};
use common::{Account, call, is_mutation, ok, text};
use serde_json::json;

/// The `aws-bedrock-token-generator` package's token for these inputs.
fn python_token(
    access_key: &str,
    secret: &str,
    session: Option<&str>,
    region: &str,
    expires: u32,
    time: u64,
) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join(".venv/bin/python"))
        .current_dir(root.join("tests/emulator"))
        .args(["-m", "bpemu.token_oracle", access_key, secret])
        .arg(session.unwrap_or("-"))
        .args([region, &expires.to_string(), &time.to_string()])
        .output()
        .expect("run the token oracle (make venv)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn short_term_tokens_match_the_python_package_byte_for_byte() {
    let cases = [
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            "us-east-1",
            43_200,
            1_767_225_600,
        ),
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            "eu-central-1",
            900,
            1_790_000_123,
        ),
        (
            "ASIAQWERTYUIOPASDFGH",
            "s3cr3t+/with=symbols",
            Some("IQoJb3JpZ2luX2VjEFoaCXVzLWVhc3QtMSJHMEUCIQ+/=="),
            "us-west-2",
            3_600,
            1_767_225_600,
        ),
        (
            "ASIAQWERTYUIOPASDFGH",
            "another",
            Some("FwoGZXIvYXdzEJr//////////wEaDP token with space"),
            "ap-northeast-1",
            1,
            1_800_000_000,
        ),
    ];
    for (access_key, secret, session, region, expires, time) in cases {
        let credentials =
            Credentials::new(access_key, secret, session.map(str::to_owned), None, "test");
        let ours = short_term::generate(
            &credentials,
            region,
            Duration::from_secs(u64::from(expires)),
            SystemTime::UNIX_EPOCH + Duration::from_secs(time),
        )
        .unwrap();
        let theirs = python_token(access_key, secret, session, region, expires, time);
        assert_eq!(
            ours.expose(),
            theirs,
            "{access_key} {region} session={session:?}"
        );
    }
}

#[tokio::test]
async fn short_term_key_is_signed_by_the_server_and_creates_no_iam_credential() {
    let account = Account::new();
    let client = account.provisioned(&["labs"]).await;
    let created: CreatedApiKey = common::report(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "labs", "kind": "short_term", "duration_seconds": 600, "region": "eu-west-1"}),
    )
    .await);
    assert_eq!(created.kind, ApiKeyKind::ShortTerm);
    assert_eq!(created.credential_id, None);
    let Delivered::Inline { api_key, .. } = &created.delivery else {
        panic!("inline by default: {created:?}");
    };
    let key = api_key.expose();
    assert!(key.starts_with("bedrock-api-key-"));
    let inspected = inspect_key(key, chrono_now());
    assert_eq!(inspected.kind, Some(KeyKind::ShortTerm));
    assert_eq!(inspected.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        inspected.signing_access_key_id.as_deref(),
        Some(account.id.as_str())
    );
    assert_eq!(inspected.expires, created.expires);
    assert!(created.warnings[0].contains("server's own credentials"));
    assert!(account.keys_in_aws("labs-bedrock-user").await.is_empty());

    for (args, expected) in [
        (
            json!({"business_unit": "labs", "kind": "short_term", "duration_seconds": 43201}),
            "between 1 and 43200",
        ),
        (
            json!({"business_unit": "labs", "kind": "short_term", "credential_age_days": 5}),
            "applies to `kind: long_term` only",
        ),
        (
            json!({"business_unit": "labs", "duration_seconds": 60}),
            "applies to `kind: short_term` only",
        ),
        (
            json!({"business_unit": "labs", "region": "mars-1"}),
            "invalid `region`",
        ),
    ] {
        let refused = call(&client, "create_api_key", args.clone()).await;
        assert!(
            text(&refused).contains(expected),
            "{args}: {}",
            text(&refused)
        );
    }
}

fn chrono_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn secrets_manager_delivery_keeps_the_key_out_of_the_result() {
    let account = Account::new();
    let client = account.provisioned(&["marketing"]).await;
    let created = call(
        &client,
        "create_api_key",
        json!({"business_unit": "marketing", "deliver": "secrets_manager"}),
    )
    .await;
    assert!(
        !format!("{created:?}").contains("ABSK"),
        "no key in the result"
    );
    let body: CreatedApiKey = common::report(&created);
    let Delivered::SecretsManager {
        secret_arn,
        secret_name,
        ..
    } = &body.delivery
    else {
        panic!("delivered to Secrets Manager: {body:?}");
    };
    assert_eq!(secret_name, "bedrock-provisioner/marketing/bedrock-api-key");

    let secrets = account.secrets_manager().await;
    let stored = secrets
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    assert_eq!(value["AWS_REGION"], "us-east-1");
    assert_eq!(value["CLAUDE_CODE_USE_BEDROCK"], "1");
    let inspected = inspect_key(value["AWS_BEARER_TOKEN_BEDROCK"].as_str().unwrap(), 0);
    assert_eq!(inspected.alias, body.alias);
    let described = secrets
        .describe_secret()
        .secret_id("bedrock-provisioner/marketing/bedrock-api-key")
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = described
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("business-unit", "marketing"),
        ("owner", "o@example.com"),
        ("managed-by", "bedrock-provisioner"),
    ] {
        assert!(
            tags.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{tags:?}"
        );
    }

    // Rotation writes the new key into the same secret, so clients reading it move over.
    let rotated: RotateReport = common::report(
        &call(
            &client,
            "rotate_key",
            json!({"business_unit": "marketing", "deliver": "secrets_manager"}),
        )
        .await,
    );
    let latest = secrets
        .get_secret_value()
        .secret_id("bedrock-provisioner/marketing/bedrock-api-key")
        .send()
        .await
        .unwrap();
    let latest: serde_json::Value = serde_json::from_str(latest.secret_string().unwrap()).unwrap();
    assert_eq!(
        inspect_key(latest["AWS_BEARER_TOKEN_BEDROCK"].as_str().unwrap(), 0).alias,
        rotated.new_key.alias
    );
}

#[tokio::test]
async fn failed_hand_off_deletes_the_new_key() {
    let account = Account::new();
    let client = account.provisioned(&["ops"]).await;
    account.fault(
        json!({"action": "CreateSecret", "kind": "error", "status": 400,
                         "code": "AccessDeniedException", "count": 1}),
    );
    let failed = call(
        &client,
        "create_api_key",
        json!({"business_unit": "ops", "deliver": "secrets_manager"}),
    )
    .await;
    assert_eq!(failed.is_error, Some(true));
    assert!(
        text(&failed).contains("secretsmanager:CreateSecret"),
        "{}",
        text(&failed)
    );
    assert!(
        account.keys_in_aws("ops-bedrock-user").await.is_empty(),
        "a key nobody received is deleted again"
    );
}

#[tokio::test]
async fn file_delivery_writes_a_private_file_inside_the_key_directory() {
    let account = Account::new();
    let dir = std::env::temp_dir().join(format!("bp-keys-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = bedrock_provisioner::core::Settings {
        key_dir: Some(dir.clone()),
        ..account.settings()
    };
    let client = account.provisioned_with(settings, &["hr"]).await;
    let created = call(
        &client,
        "create_api_key",
        json!({"business_unit": "hr", "deliver": "file"}),
    )
    .await;
    assert!(
        !format!("{created:?}").contains("ABSK"),
        "no key in the result"
    );
    let report: CreatedApiKey = common::report(&created);
    let Delivered::File { path } = &report.delivery else {
        panic!("delivered to a file: {report:?}");
    };
    let path = PathBuf::from(path);
    assert_eq!(path, dir.join("hr.env"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let contents = std::fs::read_to_string(&path).unwrap();
    let id = report.credential_id.clone().unwrap();
    assert!(
        contents.starts_with(&format!(
            "BEDROCK_API_KEY_ID={id}\nAWS_BEARER_TOKEN_BEDROCK=ABSK"
        )),
        "the file names its key, so the next operation can tell the unit's two keys apart: {contents}"
    );
    assert!(contents.contains("\nAWS_REGION=us-east-1\nCLAUDE_CODE_USE_BEDROCK=1\n"));

    // A name that would leave the directory is refused before any AWS call.
    let before = account.actions().len();
    for name in ["../escape.env", "/tmp/x.env", "sub/x.env", ".hidden"] {
        let refused = call(
            &client,
            "create_api_key",
            json!({"business_unit": "hr", "deliver": "file", "file_name": name}),
        )
        .await;
        assert!(
            text(&refused).contains("invalid `file_name`"),
            "{name}: {}",
            text(&refused)
        );
    }
    assert_eq!(account.actions().len(), before);
    assert!(!dir.parent().unwrap().join("escape.env").exists());
    std::fs::remove_dir_all(&dir).unwrap();

    // Without a key directory, file delivery is refused with the flag that enables it.
    let plain = account
        .mcp(bedrock_provisioner::mode::AccessMode::Admin)
        .await;
    let refused = call(
        &plain,
        "create_api_key",
        json!({"business_unit": "hr", "deliver": "file"}),
    )
    .await;
    assert!(text(&refused).contains("--key-dir"), "{}", text(&refused));
}

#[tokio::test]
async fn deprovision_removes_everything_in_order_only_when_confirmed() {
    let account = Account::new();
    let client = account.provisioned(&["sales"]).await;
    ok(&call(&client, "create_api_key", json!({"business_unit": "sales"})).await);
    let iam = account.iam().await;
    let user = "sales-bedrock-user";
    iam.create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name(user)
        .password("Pa55word!Pa55word!")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(user)
        .policy_name("extra")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    iam.create_group()
        .group_name("analysts")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .user_name(user)
        .group_name("analysts")
        .send()
        .await
        .unwrap();

    let plan: DeprovisionReport = common::report(
        &call(
            &client,
            "deprovision_user",
            json!({"business_unit": "sales", "dry_run": true}),
        )
        .await,
    );
    let actions: Vec<StepKind> = plan.steps.iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        [
            StepKind::DeleteServiceSpecificCredential,
            StepKind::DeleteAccessKey,
            StepKind::DeleteLoginProfile,
            StepKind::RemoveFromGroup,
            StepKind::DeleteInlinePolicy,
            StepKind::DetachManagedPolicy,
            StepKind::DeleteUser
        ]
    );
    assert!(plan.steps.iter().all(|s| s.status == StepStatus::Planned));

    let before = account.actions().len();
    let unconfirmed = call(
        &client,
        "deprovision_user",
        json!({"business_unit": "sales"}),
    )
    .await;
    assert_eq!(unconfirmed.is_error, Some(true));
    assert!(
        text(&unconfirmed).contains("confirm: true"),
        "{}",
        text(&unconfirmed)
    );
    assert!(
        account.actions()[before..].iter().all(|a| !is_mutation(a)),
        "dry runs and unconfirmed calls change nothing"
    );
    assert!(account.user_exists(user).await);

    let done: DeprovisionReport = common::report(
        &call(
            &client,
            "deprovision_user",
            json!({"business_unit": "sales", "confirm": true}),
        )
        .await,
    );
    assert!(done.user_deleted);
    let gone = iam.get_user().user_name(user).send().await.unwrap_err();
    assert_eq!(
        gone.into_service_error().meta().code(),
        Some("NoSuchEntity")
    );
    // The shared policy stays for other business units.
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(
        policies
            .policies()
            .iter()
            .any(|p| p.policy_name() == Some("BedrockProvisionerClaudeAccess"))
    );

    // A user this tool does not manage is refused.
    iam.create_user()
        .user_name("legacy-bedrock-user")
        .send()
        .await
        .unwrap();
    let foreign = call(
        &client,
        "deprovision_user",
        json!({"business_unit": "legacy", "confirm": true}),
    )
    .await;
    assert!(
        text(&foreign).contains("not created by bedrock-provisioner"),
        "{}",
        text(&foreign)
    );
    assert!(account.user_exists("legacy-bedrock-user").await);
}

/// A secret of the predictable name that this tool did not set up (no `managed-by` tag, a resource policy,
/// or another KMS key) never receives a key: the call is refused before a key exists, naming the ARN.
#[tokio::test]
async fn a_secret_the_tool_does_not_own_is_refused_before_any_key_is_created() {
    let account = Account::new();
    let client = account.provisioned(&["sales", "ops", "legal"]).await;
    let secrets = account.secrets_manager().await;
    let tag = |key: &str, value: &str| {
        aws_sdk_secretsmanager::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    };
    secrets
        .create_secret()
        .name("bedrock-provisioner/sales/bedrock-api-key")
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let ops = secrets
        .create_secret()
        .name("bedrock-provisioner/ops/bedrock-api-key")
        .secret_string("{}")
        .tags(tag("Managed-By", "bedrock-provisioner"))
        .send()
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "secretsmanager:GetSecretValue",
        "Resource": "*"}]});
    secrets
        .put_resource_policy()
        .secret_id(ops.arn().unwrap())
        .resource_policy(policy.to_string())
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name("bedrock-provisioner/legal/bedrock-api-key")
        .secret_string("{}")
        .kms_key_id("arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        .tags(tag("managed-by", "bedrock-provisioner"))
        .send()
        .await
        .unwrap();
    for (unit, reason) in [
        ("sales", "did not create it"),
        ("ops", "resource policy"),
        ("legal", "KMS key"),
    ] {
        for tool in ["create_api_key", "rotate_key"] {
            let refused = call(
                &client,
                tool,
                json!({"business_unit": unit, "deliver": "secrets_manager"}),
            )
            .await;
            let message = text(&refused);
            assert_eq!(refused.is_error, Some(true), "{unit} {tool}: {message}");
            assert!(message.contains(reason), "{unit} {tool}: {message}");
            assert!(
                message.contains(&format!(
                    "secret:bedrock-provisioner/{unit}/bedrock-api-key"
                )),
                "the secret's ARN is named: {message}"
            );
        }
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert!(keys.is_empty(), "{unit}: no key was created: {keys:?}");
    }
}

/// Key files are bound to their unit: a chosen name lives in the unit's own directory, so unit `ops` naming
/// its file `hr.env` cannot overwrite unit `hr`'s key. A key directory others may write to, or a symlink, is
/// refused with the reason, before any AWS call.
#[tokio::test]
async fn key_files_are_bound_to_their_unit_and_an_unsafe_key_directory_is_refused() {
    let account = Account::new();
    let dir = std::env::temp_dir().join(format!("bp-bound-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let settings = bedrock_provisioner::core::Settings {
        key_dir: Some(dir.clone()),
        ..account.settings()
    };
    let client = account.provisioned_with(settings, &["hr", "ops"]).await;
    let deliver = |unit: &str, name: Option<&str>| {
        let mut args = json!({"business_unit": unit, "deliver": "file"});
        if let Some(name) = name {
            args["file_name"] = json!(name);
        }
        args
    };
    let hr = ok(&call(&client, "create_api_key", deliver("hr", None)).await);
    assert_eq!(hr["delivery"]["path"], dir.join("hr.env").to_str().unwrap());
    let before = std::fs::read_to_string(dir.join("hr.env")).unwrap();
    let ops = ok(&call(&client, "create_api_key", deliver("ops", Some("hr.env"))).await);
    let ops_path = dir.join("ops").join("hr.env");
    assert_eq!(ops["delivery"]["path"], ops_path.to_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("hr.env")).unwrap(),
        before,
        "hr's key untouched"
    );
    let mode = std::fs::metadata(dir.join("ops"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the unit's directory is private");

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = account.actions().len();
    let refused = call(&client, "create_api_key", deliver("hr", None)).await;
    assert!(
        text(&refused).contains("writable by every user"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        account.actions().len(),
        before,
        "refused before any AWS call"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let link = std::env::temp_dir().join(format!("bp-link-{}", account.id));
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args(["--key-dir", link.to_str().unwrap(), "list-api-keys"])
        .env_clear()
        .envs(account.binary_env())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is a symlink"));
    std::fs::remove_file(&link).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 21: a second `create_api_key` into the unit's secret would overwrite it and leave the first key
/// working with no stored copy: it is refused, naming rotate_key, before any key is created.
#[tokio::test]
async fn a_second_key_into_a_secret_holding_an_active_one_is_refused() {
    let account = Account::new();
    let client = account.provisioned(&["payroll"]).await;
    let args = json!({"business_unit": "payroll", "deliver": "secrets_manager"});
    let first = ok(&call(&client, "create_api_key", args.clone()).await);
    let first_id = first["credential_id"].as_str().unwrap().to_owned();
    let again = call(&client, "create_api_key", args).await;
    let said = text(&again);
    assert!(
        said.contains("rotate_key") && said.contains(&first_id),
        "{said}"
    );
    assert_eq!(account.keys_in_aws("payroll-bedrock-user").await.len(), 1);
    assert_eq!(
        account.secret_key_id("payroll").await.as_deref(),
        Some(first_id.as_str())
    );
}
