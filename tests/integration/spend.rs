//! Issue 23: spend control end to end against the emulator. Invocation logging on (no prompt or answer
//! stored, checked on the configuration), two units with caps of 1 and 100 USD, the first unit's key calls
//! Converse until its estimate passes 1 USD, `enforce` denies every key of that unit only, `query_usage`
//! shows both units' tokens priced within 1 % of the list prices, the month turns (the emulator's clock
//! and the server's), `enforce` lifts the deny, and the audit log holds the attach and the lift.

use crate::common;

use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
use bedrock_provisioner::{
    audit::AuditLog,
    core::{
        diagnose::{CheckStatus, DiagnoseReport},
        domain::plan::ChangeStatus,
        spend::{
            caps::{CapAction, EnforceReport},
            logging::UsageLoggingReport,
            usage::{UsageReport, UsageRow},
            window,
        },
        units::inventory::BusinessUnitList,
    },
    mode::AccessMode,
};
use chrono::{DateTime, TimeZone, Utc};
use common::{Account, TestClock, call, emulator, ok, text};
use rmcp::{RoleClient, ServiceExt, service::RunningService};
use serde_json::{Value, json};

const SONNET: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/// The instant every test here starts at, on the server's clock and its accounts' emulator clocks:
/// mid-month, so the turn of the month is a known move away whatever day the suite runs.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 17, 12, 0, 0).unwrap()
}

/// One Converse call with `key` (a bearer token) and a prompt of `chars` characters; the error code if refused.
async fn converse(account: &Account, key: &str, chars: usize) -> Result<(), String> {
    let config = aws_sdk_bedrockruntime::config::Builder::from(&account.sdk_config().await)
        .endpoint_url(emulator().endpoint())
        .bearer_token(aws_sdk_bedrockruntime::config::Token::new(key, None))
        .auth_scheme_preference([aws_smithy_runtime_api::client::auth::AuthSchemeId::new(
            "httpBearerAuth",
        )])
        .build();
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("x".repeat(chars)))
        .build()
        .unwrap();
    aws_sdk_bedrockruntime::Client::from_conf(config)
        .converse()
        .model_id(SONNET)
        .messages(message)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            aws_sdk_bedrockruntime::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("no code")
                .to_owned()
        })
}

async fn admin(
    account: &Account,
    clock: &TestClock,
    audit: &std::path::Path,
) -> RunningService<RoleClient, ()> {
    let settings = account.settings_on(clock);
    let log = AuditLog::open(audit).unwrap();
    ().serve(common::serve_in_process_audited(
        AccessMode::Admin,
        settings,
        log,
    ))
    .await
    .unwrap()
}

async fn unit_with_key(client: &RunningService<RoleClient, ()>, unit: &str, cap: f64) -> String {
    ok(&call(
        client,
        "provision_user",
        json!({"business_unit": unit, "purpose": "p", "owner": "o"}),
    )
    .await);
    let key = ok(&call(
        client,
        "create_api_key",
        json!({"business_unit": unit, "credential_age_days": 90}),
    )
    .await);
    ok(&call(
        client,
        "set_spend_cap",
        json!({"business_unit": unit, "monthly_cap_usd": cap, "confirm": true}),
    )
    .await);
    key["delivery"]["api_key"].as_str().unwrap().to_owned()
}

/// Seconds from [`start`] to 01:00 UTC on the first of the next month.
fn next_month_offset() -> i64 {
    let next = window::next_month_start(start()) + chrono::Duration::hours(1);
    (next - start()).num_seconds()
}

/// Move time on by `seconds` (back, when negative) for AWS (the account's emulator clock) and for the
/// server (its SDK clock).
fn move_clocks(account: &Account, clock: &TestClock, seconds: i64) {
    clock.advance(seconds);
    clock.share_with(account);
}

/// What enforcing did to `unit`, `None` when the report does not name it.
fn action_of(report: &EnforceReport, unit: &str) -> Option<CapAction> {
    report
        .units
        .iter()
        .find(|u| u.business_unit == unit)
        .map(|u| u.action)
}

/// `enforce_spend_caps`' report.
async fn enforce(client: &RunningService<RoleClient, ()>) -> EnforceReport {
    common::report(&call(client, "enforce_spend_caps", json!({})).await)
}

#[tokio::test]
async fn a_spent_cap_stops_every_key_and_the_next_month_lifts_it() {
    let account = Account::new();
    let clock = TestClock::at(start());
    let audit = std::env::temp_dir().join(format!("bp-spend-audit-{}.jsonl", account.id));
    let client = admin(&account, &clock, &audit).await;
    let logging: UsageLoggingReport =
        common::report(&call(&client, "enable_usage_logging", json!({"confirm": true})).await);
    assert_eq!(logging.status, ChangeStatus::Created, "{logging:#?}");
    let config = aws_sdk_bedrock::Client::new(&account.sdk_config().await)
        .get_model_invocation_logging_configuration()
        .send()
        .await
        .unwrap();
    let config = config.logging_config().unwrap();
    for flag in [
        config.text_data_delivery_enabled(),
        config.image_data_delivery_enabled(),
        config.embedding_data_delivery_enabled(),
        config.video_data_delivery_enabled(),
        config.audio_data_delivery_enabled(),
    ] {
        assert_ne!(
            flag,
            Some(true),
            "no prompt or answer is ever stored: {config:?}"
        );
    }
    assert!(config.s3_config().is_none());
    assert_eq!(
        config.cloud_watch_config().unwrap().log_group_name(),
        logging.log_group
    );
    let again: UsageLoggingReport =
        common::report(&call(&client, "enable_usage_logging", json!({"confirm": true})).await);
    assert_eq!(again.status, ChangeStatus::Unchanged);

    let alpha = unit_with_key(&client, "alpha", 1.0).await;
    let beta = unit_with_key(&client, "beta", 100.0).await;
    // 100,000 input tokens a call (the emulator counts a token per 4 characters): 0.33 USD at the `us.`
    // profile's regional 3.30 USD/M.
    for _ in 0..4 {
        converse(&account, &alpha, 400_000)
            .await
            .expect("alpha calls");
    }
    converse(&account, &beta, 4_000).await.expect("beta calls");

    let usage: UsageReport =
        common::report(&call(&client, "query_usage", json!({"since": "15m"})).await);
    let spent = &usage.estimated_usd_by_business_unit;
    let alpha_usd = spent["alpha"];
    let rows: Vec<_> = usage
        .rows
        .iter()
        .filter(|r| r.business_unit.as_deref() == Some("alpha"))
        .collect();
    let tokens = |of: fn(&UsageRow) -> u64| rows.iter().map(|r| of(r)).sum::<u64>();
    assert_eq!(tokens(|r| r.invocations), 4, "{usage:#?}");
    let (input, output) = (tokens(|r| r.input_tokens), tokens(|r| r.output_tokens));
    assert_eq!(input, 400_000);
    // The emulator's seeded list prices of Sonnet 4.5 in us-east-1, regional (a `us.` profile).
    let listed = input as f64 * 3.3e-6 + output as f64 * 16.5e-6;
    assert!(
        (alpha_usd - listed).abs() <= listed * 0.01,
        "estimate {alpha_usd} vs list {listed}: {usage:#?}"
    );
    assert!(spent["beta"] > 0.0, "{usage:#?}");
    assert!(usage.estimate);

    let listed: BusinessUnitList =
        common::report(&call(&client, "list_business_units", json!({})).await);
    let alpha_listed = listed
        .business_units
        .iter()
        .find(|u| u.business_unit == "alpha")
        .unwrap();
    assert_eq!(alpha_listed.monthly_cap_usd, Some(1.0), "{listed:#?}");
    assert!(
        alpha_listed.month_to_date_usd.unwrap() >= 1.0,
        "{listed:#?}"
    );
    let enforced = enforce(&client).await;
    assert_eq!(
        action_of(&enforced, "alpha"),
        Some(CapAction::Capped),
        "{enforced:#?}"
    );
    assert_eq!(
        action_of(&enforced, "beta"),
        Some(CapAction::WithinCap),
        "{enforced:#?}"
    );
    assert_eq!(
        converse(&account, &alpha, 10).await,
        Err("AccessDeniedException".to_owned())
    );
    converse(&account, &beta, 10)
        .await
        .expect("the other unit's key still works");
    let again = enforce(&client).await;
    assert_eq!(
        action_of(&again, "alpha"),
        Some(CapAction::StillCapped),
        "idempotent: {again:#?}"
    );
    let diagnosed: DiagnoseReport = common::report(
        &call(
            &client,
            "diagnose",
            json!({"business_unit": "alpha", "checks": ["usage_logging"]}),
        )
        .await,
    );
    let check = &diagnosed.checks[0];
    assert_eq!(check.status, CheckStatus::Warn, "{diagnosed:#?}");
    let evidence = check.evidence.join("\n");
    assert!(
        evidence.contains("is capped") && evidence.contains("when the month turns"),
        "{evidence}"
    );
    let short = call(
        &client,
        "create_api_key",
        json!({"business_unit": "alpha", "kind": "short_term"}),
    )
    .await;
    assert!(
        text(&short).contains("spend cap"),
        "a capped unit gets no short-term key: {}",
        text(&short)
    );

    // The month turns, for AWS (the emulator's clock) and for the server.
    move_clocks(&account, &clock, next_month_offset());
    let lifted = enforce(&client).await;
    move_clocks(&account, &clock, -next_month_offset());
    assert_eq!(
        action_of(&lifted, "alpha"),
        Some(CapAction::Lifted),
        "{lifted:#?}"
    );
    converse(&account, &alpha, 10)
        .await
        .expect("the next month lifts the cap");

    let records = std::fs::read_to_string(&audit).unwrap();
    // The log group and the role the first enable_usage_logging created are in its record, as IAM and
    // CloudWatch Logs hold them; the second created nothing.
    let role = account
        .iam()
        .await
        .get_role()
        .role_name(bedrock_provisioner::core::spend::logging::ROLE_NAME)
        .send()
        .await
        .unwrap();
    let of = |tool: &str| -> Vec<Value> {
        records
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["tool"] == tool)
            .collect()
    };
    let logging = of("enable_usage_logging");
    assert_eq!(
        logging[0]["created"],
        json!([
            config.cloud_watch_config().unwrap().log_group_name(),
            role.role().unwrap().arn()
        ]),
        "{records}"
    );
    assert_eq!(logging[1]["created"], json!([]), "{records}");
    let enforce = of("enforce_spend_caps");
    assert!(
        enforce
            .iter()
            .any(|r| r["created"] == json!(["spend-cap-deny:alpha"])),
        "{records}"
    );
    assert!(
        enforce
            .iter()
            .any(|r| r["deleted"] == json!(["spend-cap-deny:alpha"])),
        "{records}"
    );
}

/// Bad input is refused before any AWS call, naming the field and the rule.
#[tokio::test]
async fn bad_caps_and_windows_are_refused_before_any_aws_call() {
    let account = Account::new();
    let client = account.mcp(AccessMode::Admin).await;
    for (tool, args, field) in [
        (
            "set_spend_cap",
            json!({"business_unit": "a", "monthly_cap_usd": -5}),
            "monthly_cap_usd",
        ),
        (
            "set_spend_cap",
            json!({"business_unit": "a", "monthly_cap_usd": 1e15}),
            "monthly_cap_usd",
        ),
        (
            "set_spend_cap",
            json!({"business_unit": "Bad Unit", "monthly_cap_usd": 5}),
            "business_unit",
        ),
        ("query_usage", json!({"since": "yesterday"}), "since"),
        ("query_usage", json!({"since": "99999d"}), "since"),
        (
            "enable_usage_logging",
            json!({"retention_days": 42}),
            "retention_days",
        ),
    ] {
        let result = call(&client, tool, args).await;
        assert!(
            text(&result).contains(&format!("invalid `{field}`")),
            "{tool}: {}",
            text(&result)
        );
    }
    assert!(account.actions().is_empty(), "{:?}", account.actions());
    let unlogged = call(&client, "query_usage", json!({})).await;
    assert!(
        text(&unlogged).contains("enable_usage_logging"),
        "{}",
        text(&unlogged)
    );
    let unknown = call(
        &client,
        "query_usage",
        json!({"business_units": ["nobody"]}),
    )
    .await;
    assert!(
        text(&unknown).contains("nobody"),
        "an unknown unit is named: {}",
        text(&unknown)
    );
    ok(&call(
        &client,
        "enable_usage_logging",
        json!({"retention_days": 7, "confirm": true}),
    )
    .await);
    let beyond = call(&client, "query_usage", json!({"since": "30d"})).await;
    let said = text(&beyond);
    assert!(
        said.contains("invalid `since`") && said.contains("7 days"),
        "{said}"
    );
    ok(&call(&client, "query_usage", json!({"since": "6d"})).await);
}

/// Issue 23 (4): the backstop that needs no process of ours. With an active `iamPrincipal/business-unit` tag, a
/// cap gets an AWS Budgets budget on that tag with an `APPLY_IAM_POLICY` action at 100 %; when Budgets
/// evaluates the billed spend past the cap, it attaches the deny itself (the unit's key is refused),
/// `enforce` keeps it for the month, and once the month turns `enforce` reverses and resets the action (AWS
/// never lifts it by itself) and the key works again.
#[tokio::test]
async fn the_budgets_backstop_denies_without_us_and_enforce_resets_it_next_month() {
    let account = Account::new();
    emulator().control(
        "POST",
        "ce/tags",
        &json!({"account": account.id, "tags": [{"key": "iamPrincipal/business-unit", "status": "Active"}]})
            .to_string(),
    );
    let clock = TestClock::at(start());
    let audit = std::env::temp_dir().join(format!("bp-backstop-audit-{}.jsonl", account.id));
    let client = admin(&account, &clock, &audit).await;
    ok(&call(
        &client,
        "provision_user",
        json!({"business_unit": "gamma", "purpose": "p", "owner": "ops@example.com"}),
    )
    .await);
    let key = ok(&call(
        &client,
        "create_api_key",
        json!({"business_unit": "gamma", "credential_age_days": 90}),
    )
    .await);
    let key = key["delivery"]["api_key"].as_str().unwrap().to_owned();
    let set = ok(&call(
        &client,
        "set_spend_cap",
        json!({"business_unit": "gamma", "monthly_cap_usd": 5, "confirm": true}),
    )
    .await);
    assert!(
        set["notes"]
            .to_string()
            .contains("Budgets backstop: the budget bedrock-gamma-spend-cap"),
        "{set:#}"
    );
    let budgets = aws_sdk_budgets::Client::new(&account.sdk_config().await);
    let actions = budgets
        .describe_budget_actions_for_budget()
        .account_id(&account.id)
        .budget_name("bedrock-gamma-spend-cap")
        .send()
        .await
        .unwrap();
    assert_eq!(actions.actions().len(), 1);
    let action = &actions.actions()[0];
    assert_eq!(action.action_type().as_str(), "APPLY_IAM_POLICY");
    assert_eq!(action.status().as_str(), "STANDBY");

    emulator().control(
        "POST",
        "budgets/spend",
        &json!({"account": account.id, "budget": "bedrock-gamma-spend-cap", "amount": 6})
            .to_string(),
    );
    emulator().control(
        "POST",
        "budgets/evaluate",
        &json!({"account": account.id}).to_string(),
    );
    assert_eq!(
        converse(&account, &key, 10).await,
        Err("AccessDeniedException".to_owned()),
        "Budgets attached the deny"
    );
    let held = enforce(&client).await;
    assert_eq!(
        action_of(&held, "gamma"),
        Some(CapAction::StillCapped),
        "billed spend outranks the estimate: {held:#?}"
    );

    move_clocks(&account, &clock, next_month_offset());
    let lifted = enforce(&client).await;
    move_clocks(&account, &clock, -next_month_offset());
    assert_eq!(
        action_of(&lifted, "gamma"),
        Some(CapAction::Lifted),
        "{lifted:#?}"
    );
    let after = budgets
        .describe_budget_action()
        .account_id(&account.id)
        .budget_name("bedrock-gamma-spend-cap")
        .action_id(action.action_id())
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.action().unwrap().status().as_str(),
        "STANDBY",
        "reversed and reset for the new month"
    );
    converse(&account, &key, 10)
        .await
        .expect("the key works again");
}

/// Issue 23 (2): for the whole past days of the window, each unit's estimate stands beside Cost Explorer's
/// billed figure, with the difference in percent.
#[tokio::test]
async fn the_estimate_stands_beside_the_bill_for_whole_past_days() {
    let account = Account::new();
    let yesterday = (start() - chrono::Duration::days(1)).date_naive();
    emulator().control(
        "POST",
        "ce/line-items",
        &json!({"account": account.id, "items": [
            {"date": yesterday.to_string(), "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
             "usage_type": "USE1-MP:USE1_InputTokenCount-Units", "region": "us-east-1",
             "tags": {"business-unit": "alpha"}, "cost": 2.0}]})
        .to_string(),
    );
    emulator().control(
        "POST",
        "ce/tags",
        &json!({"account": account.id, "tags": [{"key": "business-unit", "status": "Active"}]})
            .to_string(),
    );
    let clock = TestClock::at(start());
    let audit = std::env::temp_dir().join(format!("bp-billed-audit-{}.jsonl", account.id));
    let client = admin(&account, &clock, &audit).await;
    ok(&call(&client, "enable_usage_logging", json!({"confirm": true})).await);
    let usage = ok(&call(&client, "query_usage", json!({"since": "7d"})).await);
    let alpha = usage["billed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["business_unit"] == "alpha")
        .unwrap_or_else(|| panic!("{usage:#}"));
    assert_eq!(alpha["billed_usd"], 2.0, "{usage:#}");
    assert_eq!(alpha["estimated_usd"], 0.0);
    assert_eq!(alpha["difference_pct"], -100.0);
    assert_eq!(
        alpha["end"],
        start().date_naive().to_string(),
        "whole past days only"
    );
}

/// Issue 23: usage is visible within Bedrock's delivery delay plus one query. The emulator delivers each
/// invocation record 1.5 s after the call (AWS: about a minute, no SLA): before that the call is not counted,
/// and the first query after it is.
#[tokio::test]
async fn usage_is_visible_within_the_delivery_delay_plus_one_query() {
    let account = Account::new();
    let clock = TestClock::at(start());
    let audit = std::env::temp_dir().join(format!("bp-delay-audit-{}.jsonl", account.id));
    let client = admin(&account, &clock, &audit).await;
    ok(&call(&client, "enable_usage_logging", json!({"confirm": true})).await);
    let key = unit_with_key(&client, "delta", 100.0).await;
    emulator().control(
        "POST",
        "bedrock-runtime/log-delay",
        &json!({"ms": 1500, "account": account.id}).to_string(),
    );
    let called = std::time::Instant::now();
    converse(&account, &key, 400).await.expect("delta calls");
    let calls = |usage: &Value| {
        usage["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["invocations"].as_u64().unwrap())
            .sum::<u64>()
    };
    let early = ok(&call(&client, "query_usage", json!({"since": "15m"})).await);
    if called.elapsed() < std::time::Duration::from_millis(1400) {
        assert_eq!(calls(&early), 0, "not delivered yet: {early:#}");
    }
    let seen = loop {
        let usage = ok(&call(&client, "query_usage", json!({"since": "15m"})).await);
        if calls(&usage) == 1 {
            break called.elapsed();
        }
        assert!(
            called.elapsed() < std::time::Duration::from_secs(10),
            "never delivered: {usage:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        seen < std::time::Duration::from_millis(1500 + 5000),
        "visible {seen:?} after the call"
    );
    emulator().control(
        "POST",
        "bedrock-runtime/log-delay",
        &json!({"ms": 0, "account": account.id}).to_string(),
    );
}

/// Issue 23 (2): usage across the accounts of a fleet manifest, like the list tools: each row names its
/// account, read through the manifest's role.
#[tokio::test]
async fn usage_is_read_across_a_manifests_accounts() {
    let home = Account::new();
    let member = Account::new();
    crate::fleet::trust(&member, &home).await;
    let clock = TestClock::at(start());
    let there = admin(
        &member,
        &clock,
        &std::env::temp_dir().join(format!("bp-member-{}.jsonl", member.id)),
    )
    .await;
    ok(&call(&there, "enable_usage_logging", json!({"confirm": true})).await);
    let key = unit_with_key(&there, "remote", 100.0).await;
    converse(&member, &key, 400).await.expect("remote calls");
    let here = admin(
        &home,
        &clock,
        &std::env::temp_dir().join(format!("bp-home-{}.jsonl", home.id)),
    )
    .await;
    ok(&call(&here, "enable_usage_logging", json!({"confirm": true})).await);
    let manifest = format!(
        "[[unit]]\nname = \"remote\"\npurpose = \"p\"\nowner = \"o\"\naccount = \"{}\"\n",
        member.id
    );
    let usage = ok(&call(
        &here,
        "query_usage",
        json!({"since": "15m", "manifest": manifest}),
    )
    .await);
    let row = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["business_unit"] == "remote")
        .unwrap_or_else(|| panic!("{usage:#}"));
    assert_eq!(row["account"], member.id.as_str(), "{usage:#}");
    assert_eq!(row["invocations"], 1);
}
