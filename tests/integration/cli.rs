//! The CLI subcommands of the key lifecycle, run as a person or a CI job would: exit codes, JSON output,
//! refusals on stderr with what to do.

use crate::common;

use std::process::{Command, Output};

use common::Account;
use serde_json::Value;

/// The built binary with `args`, in the account's environment only.
fn binary(account: &Account, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command.args(args).env_clear().envs(account.binary_env());
    command
}

fn run(account: &Account, args: &[&str]) -> Output {
    binary(account, args).output().expect("run the binary")
}

/// A configuration file holding `text`, in a scratch directory of its own: (directory, file).
fn config_file(
    account: &Account,
    name: &str,
    text: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("bp-{name}-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
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
    assert!(!account.user_exists("web-bedrock-user").await);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn mutating_commands_are_audited_like_tool_calls_and_without_the_key() {
    let account = Account::new();
    let audit_path = std::env::temp_dir().join(format!("bp-cli-audit-{}.jsonl", account.id));
    let audit_arg = audit_path.to_str().unwrap();
    let audited = |args: &[&str]| {
        let mut all = vec!["--audit-log", audit_arg];
        all.extend_from_slice(args);
        run(&account, &all)
    };
    json(&audited(&[
        "provision-user",
        "--business-unit",
        "ops",
        "--purpose",
        "p",
        "--owner",
        "o",
        "--output",
        "json",
    ]));
    let create = audited(&[
        "create-api-key",
        "--business-unit",
        "ops",
        "--output",
        "json",
    ]);
    let created = json(&create);
    let key = created["delivery"]["api_key"].as_str().unwrap();
    let id = created["credential_id"].as_str().unwrap();
    json(&audited(&["list-api-keys", "--output", "json"]));
    let revoke = [
        "revoke-key",
        "--business-unit",
        "ops",
        "--credential-id",
        id,
        "--delete",
    ];
    assert!(!audited(&revoke).status.success());
    json(&audited(
        &[&revoke[..], &["--yes", "--output", "json"]].concat(),
    ));

    let audit = std::fs::read_to_string(&audit_path).unwrap();
    std::fs::remove_file(&audit_path).ok();
    assert!(!audit.contains(key));
    assert!(!String::from_utf8_lossy(&create.stderr).contains(key));
    let records: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["tool"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("provision_user", "ok"),
            ("create_api_key", "ok"),
            ("revoke_key", "error:confirmation_required"),
            ("revoke_key", "ok"),
        ],
        "one record per mutating command, none for list-api-keys"
    );
    for record in &records {
        assert_eq!(
            record["client"],
            format!("cli {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let caller = format!("::{}:user/", account.id);
    assert!(
        records[1]["caller_arn"].as_str().unwrap().contains(&caller),
        "{}",
        records[1]
    );
    assert!(
        records[1]["resources"]
            .as_array()
            .unwrap()
            .contains(&Value::from(id))
    );
    assert_eq!(records[3]["arguments"]["action"], "delete");
}

#[test]
fn config_check_validates_and_prints_effective_settings() {
    let account = Account::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bedrock-provisioner.example.toml"
    );
    let dir = std::env::temp_dir().join(format!("bp-config-{}", account.id));
    std::fs::create_dir_all(&dir).unwrap();
    // The example names directories of a real deployment; point them at this test's directory.
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("/srv/bedrock-keys", dir.to_str().unwrap())
        .replace("/var/log/bedrock-provisioner", dir.to_str().unwrap());
    let file = dir.join("config.toml");
    std::fs::write(&file, text).unwrap();
    let checked = json(&run(
        &account,
        &[
            "--config",
            file.to_str().unwrap(),
            "config",
            "check",
            "--output",
            "json",
        ],
    ));
    assert_eq!(checked["mode"], "provision");
    assert_eq!(checked["max_key_age_days"], 60);
    assert_eq!(checked["default_delivery"], "secrets_manager");
    assert_eq!(
        checked["allowed_business_units"],
        serde_json::json!(["marketing", "sales", "research"])
    );

    std::fs::write(&file, "max_key_age_days = 10\ndefault_key_age_days = 30\n").unwrap();
    let bad = run(
        &account,
        &["--config", file.to_str().unwrap(), "config", "check"],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("`default_key_age_days` must be 1-10"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn governance_from_the_config_file_is_enforced_before_any_aws_call() {
    let account = Account::new();
    let (dir, file) = config_file(
        &account,
        "governance",
        "allowed_business_units = [\"marketing\"]\nrequired_tags = [\"cost-center\"]\nmax_key_age_days = 60\n",
    );
    let config = file.to_str().unwrap();
    let provision = |unit: &str, extra: &[&str]| {
        let mut args = vec![
            "--config",
            config,
            "provision-user",
            "--business-unit",
            unit,
            "--purpose",
            "p",
            "--owner",
            "o",
        ];
        args.extend_from_slice(extra);
        run(&account, &args)
    };
    let outsider = provision("sales", &["--tag", "cost-center=cc-1"]);
    assert!(
        String::from_utf8_lossy(&outsider.stderr)
            .contains("`sales` is not an allowed business unit")
    );
    let untagged = provision("marketing", &[]);
    assert!(String::from_utf8_lossy(&untagged.stderr).contains("invalid `tags.cost-center`"));
    assert!(account.actions().is_empty(), "{:?}", account.actions());
    assert!(
        provision("marketing", &["--tag", "cost-center=cc-1"])
            .status
            .success()
    );
    let too_long = run(
        &account,
        &[
            "--config",
            config,
            "create-api-key",
            "--business-unit",
            "marketing",
            "--credential-age-days",
            "61",
        ],
    );
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("between 1 and 60"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The region is validated wherever it comes from, and flags > environment > configuration file.
#[tokio::test]
async fn the_region_is_validated_from_every_source_with_flags_over_environment_over_file() {
    let account = Account::new();
    let (dir, config) = config_file(&account, "region", "region = \"us-west-2\"\n");
    let config = config.to_str().unwrap();
    let with = |vars: &[(&str, &str)], args: &[&str]| {
        let mut command = binary(&account, args);
        command.env_remove("AWS_REGION");
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    for bad in ["moon", "US-EAST-1"] {
        let refused = with(&[("AWS_REGION", bad)], &["list-business-units"]);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("invalid `AWS_REGION`"), "{stderr}");
        assert!(stderr.contains("Nothing was sent to AWS"), "{stderr}");
    }
    assert!(account.actions().is_empty(), "{:?}", account.actions());
    let region = |output: Output| {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("region = ")
                    .map(|r| r.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("{stdout}"))
    };
    let check = ["--config", config, "config", "check"];
    assert_eq!(region(with(&[], &check)), "us-west-2", "the file");
    let env = [("AWS_REGION", "eu-west-1")];
    assert_eq!(
        region(with(&env, &check)),
        "eu-west-1",
        "environment over file"
    );
    let flag = [
        "--region",
        "ap-south-1",
        "--config",
        config,
        "config",
        "check",
    ];
    assert_eq!(
        region(with(&env, &flag)),
        "ap-south-1",
        "flag over environment"
    );
    let bad_file = dir.join("bad.toml");
    std::fs::write(&bad_file, "region = \"Moon-1\"\n").unwrap();
    let refused = with(
        &[],
        &[
            "--config",
            bad_file.to_str().unwrap(),
            "list-business-units",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("region"));
}

/// `config check` catches settings that break every command using them; read-only commands do not fail on
/// write-side settings; the HTTP token is treated alike from the environment and from a file.
#[tokio::test]
async fn settings_that_break_commands_are_caught_and_only_where_they_matter() {
    let account = Account::new();
    let (dir, config) = config_file(
        &account,
        "settings",
        "audit_log = \"/nonexistent-dir/audit.jsonl\"\ndefault_delivery = \"file\"\n",
    );
    let config = config.to_str().unwrap();
    let check = run(&account, &["--config", config, "config", "check"]);
    assert!(!check.status.success());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("audit_log /nonexistent-dir/audit.jsonl"),
        "{stderr}"
    );
    assert!(
        stderr.contains("default_delivery = \"file\" needs key_dir"),
        "{stderr}"
    );
    let listed = run(
        &account,
        &[
            "--config",
            config,
            "list-business-units",
            "--output",
            "json",
        ],
    );
    assert!(
        listed.status.success(),
        "a read-only command ignores the audit log: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let written = run(
        &account,
        &[
            "--config",
            config,
            "provision-user",
            "--business-unit",
            "web",
            "--purpose",
            "p",
            "--owner",
            "o",
        ],
    );
    assert!(
        !written.status.success(),
        "a mutating command needs its audit log"
    );
    assert!(String::from_utf8_lossy(&written.stderr).contains("--audit-log"));

    let token_file = dir.join("token");
    std::fs::write(&token_file, "  \n").unwrap();
    for (variable, file) in [
        (Some("   "), None),
        (None, Some(token_file.to_str().unwrap())),
    ] {
        let mut command = binary(&account, &["serve", "--http", "127.0.0.1:0"]);
        if let Some(value) = variable {
            command.env("BEDROCK_PROVISIONER_HTTP_TOKEN", value);
        }
        if let Some(path) = file {
            command.args(["--http-token-file", path]);
        }
        let refused = command.output().unwrap();
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("is blank"), "{stderr}");
    }
}

/// A failed hand-off whose clean-up also fails: both errors and the orphaned key's id are reported, and the
/// audit record names it.
#[tokio::test]
async fn an_orphaned_key_is_reported_with_both_errors_and_audited() {
    let account = Account::new();
    let (dir, _) = config_file(&account, "orphan", "");
    let audit = dir.join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    json(&run(
        &account,
        &[
            "--audit-log",
            audit_arg,
            "provision-user",
            "--business-unit",
            "ops",
            "--purpose",
            "p",
            "--owner",
            "o",
            "--output",
            "json",
        ],
    ));
    account.fault(
        serde_json::json!({"action": "CreateSecret", "kind": "error", "status": 400,
        "code": "AccessDeniedException", "count": 1}),
    );
    account.fault(
        serde_json::json!({"action": "DeleteServiceSpecificCredential", "kind": "error",
        "status": 500, "code": "ServiceFailure", "count": 10}),
    );
    let failed = run(
        &account,
        &[
            "--audit-log",
            audit_arg,
            "create-api-key",
            "--business-unit",
            "ops",
            "--deliver",
            "secrets-manager",
        ],
    );
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let keys = account.keys_in_aws("ops-bedrock-user").await;
    assert_eq!(keys.len(), 1, "the key could not be deleted: {keys:?}");
    let orphan = &keys[0].0;
    assert!(stderr.contains(orphan.as_str()), "{stderr}");
    assert!(
        stderr.contains("secretsmanager:CreateSecret"),
        "the hand-off error: {stderr}"
    );
    assert!(
        stderr.contains("iam:DeleteServiceSpecificCredential"),
        "the clean-up error: {stderr}"
    );
    let records = std::fs::read_to_string(&audit).unwrap();
    let last: Value = serde_json::from_str(records.lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "error:orphaned_key", "{last}");
    assert_eq!(last["resources"], serde_json::json!([orphan]), "{last}");
}

/// Three processes creating a key for one unit at once (no shared lock): IAM's limit is the arbiter, so
/// exactly two keys exist and the third process gets the same advice a single process would give.
#[tokio::test]
async fn concurrent_processes_never_exceed_the_two_keys_iam_allows() {
    let account = Account::new();
    json(&run(
        &account,
        &[
            "provision-user",
            "--business-unit",
            "api",
            "--purpose",
            "p",
            "--owner",
            "o",
            "--output",
            "json",
        ],
    ));
    let spawn = || {
        binary(
            &account,
            &[
                "create-api-key",
                "--business-unit",
                "api",
                "--output",
                "json",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let created = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(created, 2, "two processes got a key");
    let refused = outputs.iter().find(|o| !o.status.success()).unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let keys = account.keys_in_aws("api-bedrock-user").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for (id, _) in &keys {
        assert!(
            stderr.contains(id.as_str()),
            "the refusal names the user's keys: {stderr}"
        );
    }
}

/// Remediation speaks the CLI's language: `--yes`, `--adopt`, `provision-user`, never the tools'
/// `confirm: true` or `adopt: true` (the MCP rendering of the same errors is tested with the tools).
#[tokio::test]
async fn refusals_name_the_cli_flags_not_the_tool_arguments() {
    let account = Account::new();
    let client = account.provisioned(&["web"]).await;
    let created = common::ok(
        &common::call(
            &client,
            "create_api_key",
            serde_json::json!({"business_unit": "web"}),
        )
        .await,
    );
    let id = created["credential_id"].as_str().unwrap().to_owned();
    let revoke_with = |confirmation: &[&str]| {
        let mut args = vec![
            "revoke-key",
            "--business-unit",
            "web",
            "--credential-id",
            id.as_str(),
        ];
        args.extend_from_slice(confirmation);
        run(&account, &args)
    };
    let revoke = revoke_with(&[]);
    let stderr = String::from_utf8_lossy(&revoke.stderr);
    assert!(!revoke.status.success());
    assert!(
        stderr.contains("`--yes --plan-digest ") && stderr.contains("`--dry-run`"),
        "{stderr}"
    );
    assert!(!stderr.contains("confirm: true"), "{stderr}");
    // The digest confirms that plan and no other: a stale one is refused with the plan, the right one applies.
    let digest = stderr
        .split("--plan-digest ")
        .nth(1)
        .and_then(|rest| rest.get(..16))
        .unwrap()
        .to_owned();
    let stale = revoke_with(&["--yes", "--plan-digest", "ffffffffffffffff"]);
    let stale_err = String::from_utf8_lossy(&stale.stderr);
    assert!(!stale.status.success());
    assert!(stale_err.contains("the plan changed"), "{stale_err}");
    let applied = revoke_with(&["--yes", "--plan-digest", &digest]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    account
        .iam()
        .await
        .create_user()
        .user_name("legacy-bedrock-user")
        .send()
        .await
        .unwrap();
    let foreign = run(
        &account,
        &[
            "provision-user",
            "--business-unit",
            "legacy",
            "--purpose",
            "p",
            "--owner",
            "o",
        ],
    );
    let stderr = String::from_utf8_lossy(&foreign.stderr);
    assert!(
        stderr.contains("`provision-user` with `--adopt`"),
        "{stderr}"
    );
    assert!(!stderr.contains("adopt: true"), "{stderr}");
    let missing = run(
        &account,
        &["create-api-key", "--business-unit", "nobody", "--dry-run"],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("`provision-user` (`--business-unit nobody`)"),
        "{stderr}"
    );

    // An AWS error is AWS's sentence, its code and the request id, never a Rust `Debug` dump.
    account.fault(
        serde_json::json!({"action": "CreateUser", "kind": "error", "status": 400,
        "code": "ValidationError", "message": "The user name is not valid.", "count": 1}),
    );
    let rejected = run(
        &account,
        &[
            "provision-user",
            "--business-unit",
            "fresh",
            "--purpose",
            "p",
            "--owner",
            "o",
        ],
    );
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains(
            "AWS rejected `iam:CreateUser` with ValidationError: The user name is not valid. \
             (request id emulator-fault-"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("ServiceError {"), "{stderr}");
    client.cancel().await.ok();
}

/// An operation without a hand-written subcommand has one made from its declaration: `whoami` runs from the
/// command line (JSON, and indented text), an unknown flag is refused by the parser, and over MCP the same
/// operation answers with the server's mode. The account and caller are checked against STS read directly.
#[tokio::test]
async fn whoami_is_a_declared_command_and_tool() {
    let account = Account::new();
    let sts = aws_sdk_sts::Client::new(&account.sdk_config().await);
    let identity = sts.get_caller_identity().send().await.unwrap();
    let report = json(&run(&account, &["whoami", "--output", "json"]));
    assert_eq!(report["account"], identity.account().unwrap());
    assert_eq!(report["caller_arn"], identity.arn().unwrap());
    assert_eq!(report["partition"], "aws");
    assert_eq!(report["region"], "us-east-1");
    assert_eq!(report["mode"], "admin");
    let text = run(&account, &["whoami"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("account: {}\n", identity.account().unwrap())),
        "{text}"
    );
    let refused = run(&account, &["whoami", "--business-unit", "web"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--business-unit"));

    let client = account
        .mcp(bedrock_provisioner::mode::AccessMode::ReadOnly)
        .await;
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["account"], report["account"]);
    assert_eq!(structured["mode"], "read-only");
    client.cancel().await.ok();
}
