//! The CLI subcommands of the key lifecycle, run as a person or a CI job would: exit codes, JSON output,
//! refusals on stderr with what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::process::{Command, Output};

use common::{Account, emulator};
use serde_json::Value;

fn run(account: &Account, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", &account.id)
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run the binary")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn key_lifecycle_from_the_command_line() {
    let account = Account::new();
    let dir = std::env::temp_dir().join(format!("bp-cli-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_str().unwrap();
    json(&run(
        &account,
        &[
            "provision-user",
            "--business-unit",
            "web",
            "--purpose",
            "p",
            "--owner",
            "o",
            "--output",
            "json",
        ],
    ));
    let created = json(&run(
        &account,
        &[
            "create-api-key",
            "--business-unit",
            "web",
            "--deliver",
            "file",
            "--key-dir",
            dir_arg,
            "--output",
            "json",
        ],
    ));
    assert_eq!(created["delivery"]["method"], "file");
    assert!(dir.join("web.env").exists());
    let listed = json(&run(&account, &["list-api-keys", "--output", "json"]));
    assert_eq!(listed["keys"][0]["credential_id"], created["credential_id"]);
    let id = created["credential_id"].as_str().unwrap();

    let unconfirmed = run(
        &account,
        &[
            "revoke-key",
            "--business-unit",
            "web",
            "--credential-id",
            id,
            "--delete",
        ],
    );
    assert!(!unconfirmed.status.success());
    let stderr = String::from_utf8_lossy(&unconfirmed.stderr);
    assert!(stderr.contains("confirmation required"), "{stderr}");
    assert_eq!(account.keys_in_aws("web-bedrock-user").await.len(), 1);

    json(&run(
        &account,
        &[
            "revoke-key",
            "--business-unit",
            "web",
            "--credential-id",
            id,
            "--delete",
            "--yes",
            "--output",
            "json",
        ],
    ));
    assert!(account.keys_in_aws("web-bedrock-user").await.is_empty());
    let removed = json(&run(
        &account,
        &[
            "deprovision-user",
            "--business-unit",
            "web",
            "--yes",
            "--output",
            "json",
        ],
    ));
    assert_eq!(removed["user_deleted"], true);
    assert!(
        account
            .iam()
            .await
            .get_user()
            .user_name("web-bedrock-user")
            .send()
            .await
            .is_err()
    );
    std::fs::remove_dir_all(&dir).ok();
}
