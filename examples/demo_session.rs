//! "Give marketing access", the whole story: drives the real `bedrock-provisioner` binary over stdio with
//! rmcp's MCP client against the local emulator (`make demo` starts it): diagnose, plan, provision, issue a
//! key into Secrets Manager, prove the unit can call Claude, key health, usage within minutes and a monthly cap
//! that stops the unit's key (and lifts), spend per business unit over seeded
//! billing data, a budget plan, and what retiring the unit would do; then the spend of three months as an HTML
//! page (`query-costs --html`). Compact human-readable output; `--json` prints every request and result in
//! full.
//!
//! Usage: demo_session PATH_TO_BEDROCK_PROVISIONER [--json]

use std::process::ExitCode;

use rmcp::{
    RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::{Value, json};
use tokio::process::Command;

type Client = RunningService<RoleClient, ()>;
type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .ok_or("usage: demo_session PATH_TO_BEDROCK_PROVISIONER [--json]")?;
    let demo = Demo {
        json: args.any(|a| a == "--json"),
    };
    let mut command = Command::new(&binary);
    command.args(["serve", "--mode", "admin"]);
    if !demo.json {
        // The server's own log lines (and audit records) on stderr would interleave with the story.
        command.env("RUST_LOG", "error");
    }
    println!("$ bedrock-provisioner serve --mode admin   (MCP over stdio, local AWS emulator)");
    let client = ().serve(TokioChildProcess::new(command)?).await?;
    demo.introduce(&client).await?;
    demo.provision(&client).await?;
    demo.keys(&client).await?;
    demo.spend_control(&client).await?;
    seed_spend().await?;
    demo.costs(&client).await?;
    demo.retire(&client).await?;
    client.cancel().await?;
    picture(&binary).await?;
    Ok(())
}

/// How results are shown.
struct Demo {
    json: bool,
}

impl Demo {
    async fn introduce(&self, client: &Client) -> Result<(), Failure> {
        let info = client.peer_info();
        if let Some(server) = info.as_ref().and_then(|info| info.server_info.as_ref()) {
            println!("connected to {} {}", server.name, server.version);
        }
        let tools = client.list_all_tools().await?;
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        println!("{} tools: {}", names.len(), names.join(", "));
        let prompts = client.list_all_prompts().await?;
        let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
        println!("prompts: {}", names.join(", "));
        let checks = json!({"business_unit": "marketing",
            "model_id": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "checks": ["credentials", "permissions", "model_access", "region", "model_in_region"]});
        self.call(client, "Diagnose first", "diagnose", checks)
            .await?;
        Ok(())
    }

    async fn provision(&self, client: &Client) -> Result<(), Failure> {
        let marketing = json!({"business_unit": "marketing", "purpose": "campaign copywriting",
            "owner": "jane.doe@example.com", "tags": {"cost-center": "cc-4711"}});
        let mut plan = marketing.clone();
        plan["dry_run"] = json!(true);
        self.call(client, "The plan (dry run)", "provision_user", plan)
            .await?;
        self.call(
            client,
            "Give marketing access",
            "provision_user",
            marketing.clone(),
        )
        .await?;
        self.call(
            client,
            "Again: nothing changes",
            "provision_user",
            marketing,
        )
        .await?;
        let bad = json!({"business_unit": "Marketing Team", "purpose": "x", "owner": "jane.doe@example.com"});
        self.call(
            client,
            "A bad name is refused before any AWS call",
            "provision_user",
            bad,
        )
        .await?;
        Ok(())
    }

    async fn keys(&self, client: &Client) -> Result<(), Failure> {
        let key = json!({"business_unit": "marketing", "deliver": "secrets_manager"});
        let heading =
            "A Bedrock API key, straight into Secrets Manager (it never enters the transcript)";
        self.call(client, heading, "create_api_key", key).await?;
        let unit = json!({"business_unit": "marketing"});
        let heading =
            "Prove marketing can call Claude (policy simulation on the exact resources; free)";
        self.call(client, heading, "verify_access", unit.clone())
            .await?;
        self.call(
            client,
            "Key health (never key values)",
            "list_api_keys",
            unit,
        )
        .await?;
        Ok(())
    }

    /// Usage within minutes and a cap that stops every key: logging on, a tiny cap, marketing's key calls
    /// Claude, its usage shows, `enforce` denies the key, a raised cap (or the next month) lifts it.
    async fn spend_control(&self, client: &Client) -> Result<(), Failure> {
        let heading =
            "Usage within minutes: Bedrock invocation logging on (no prompt or answer stored)";
        self.call(
            client,
            heading,
            "enable_usage_logging",
            json!({"confirm": true}),
        )
        .await?;
        let cap = json!({"business_unit": "marketing", "monthly_cap_usd": 0.01, "confirm": true});
        let heading = "A hard monthly cap for marketing: 0.01 USD, small enough to see it bite";
        self.call(client, heading, "set_spend_cap", cap).await?;
        let key = marketing_key().await?;
        for _ in 0..4 {
            converse(&key).await?;
        }
        println!(
            "\n== Marketing's key (read from its secret) makes 4 Claude calls of about 1,000 tokens each"
        );
        let heading =
            "Marketing's usage a moment later: tokens per model, priced from the Price List";
        self.call(client, heading, "query_usage", json!({"since": "15m"}))
            .await?;
        let heading = "Enforce the caps (run every few minutes: `enforce --every 5m`)";
        self.call(client, heading, "enforce_spend_caps", json!({}))
            .await?;
        let refused = converse(&key)
            .await
            .err()
            .unwrap_or_else(|| "it still worked".to_owned());
        println!("   marketing's key now: {refused}");
        let raise = json!({"business_unit": "marketing", "monthly_cap_usd": 100, "confirm": true});
        let heading = "Raise the cap (the next month lifts a cap the same way)";
        self.call(client, heading, "set_spend_cap", raise).await?;
        self.call(
            client,
            "Enforce again: the deny is lifted",
            "enforce_spend_caps",
            json!({}),
        )
        .await?;
        let works = converse(&key)
            .await
            .map_or_else(|e| e, |()| "Claude answers again".to_owned());
        println!("   marketing's key now: {works}");
        Ok(())
    }

    async fn costs(&self, client: &Client) -> Result<(), Failure> {
        let tags = json!({"confirm": true});
        let heading = "Activate the cost allocation tags (account-wide: admin, confirmed)";
        self.call(client, heading, "enable_cost_tags", tags).await?;
        let heading = "Bedrock spend per business unit, this month to date (seeded billing data)";
        self.call(client, heading, "query_costs", json!({})).await?;
        let budget = json!({"business_unit": "marketing", "monthly_limit_usd": 500,
            "emails": ["finops@example.com"], "dry_run": true});
        self.call(
            client,
            "A monthly budget with alerts (dry run)",
            "create_budget_alert",
            budget,
        )
        .await?;
        Ok(())
    }

    async fn retire(&self, client: &Client) -> Result<(), Failure> {
        let plan = json!({"business_unit": "marketing", "dry_run": true});
        let heading =
            "What retiring marketing would do (dry run; the real call needs confirm: true)";
        self.call(client, heading, "deprovision_user", plan).await?;
        Ok(())
    }

    async fn call(
        &self,
        client: &Client,
        heading: &str,
        tool: &'static str,
        arguments: Value,
    ) -> Result<(), Failure> {
        println!("\n== {heading}");
        println!("-> {tool} {arguments}");
        let params = CallToolRequestParams::new(tool)
            .with_arguments(arguments.as_object().cloned().unwrap_or_default());
        let result = client.call_tool(params).await?;
        match (&result.structured_content, result.is_error) {
            (Some(value), Some(false) | None) if self.json => {
                println!("<- {}", serde_json::to_string_pretty(value)?);
            }
            (Some(value), Some(false) | None) => {
                for line in summarize(tool, value) {
                    println!("   {line}");
                }
            }
            _ => {
                let text = result.content.iter().find_map(|c| c.as_text());
                let text = text.map(|t| t.text.as_str()).unwrap_or_default();
                let shown = if self.json {
                    text
                } else {
                    text.lines().next().unwrap_or_default()
                };
                println!("<- error: {shown}");
            }
        }
        Ok(())
    }
}

/// A few lines a person reads, per tool.
fn summarize(tool: &str, value: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let list = |key: &str| value[key].as_array().cloned().unwrap_or_default();
    match tool {
        "diagnose" => list("checks")
            .iter()
            .map(|c| {
                format!(
                    "{:<5} {:<16} {}",
                    text(&c["status"]),
                    text(&c["id"]),
                    text(&c["summary"])
                )
            })
            .collect(),
        "provision_user" => list("resources")
            .iter()
            .map(|r| {
                format!(
                    "{:<9} {:<15} {}",
                    text(&r["status"]),
                    text(&r["resource"]),
                    text(&r["detail"])
                )
            })
            .collect(),
        "create_api_key" => vec![format!(
            "key {} ({}), expires {}, delivered to {}",
            text(&value["credential_id"]),
            text(&value["status"]),
            text(&value["expires"]),
            text(&value["delivery"]["secret_arn"])
        )],
        "verify_access" => {
            let allowed = list("permissions")
                .iter()
                .filter(|p| p["decision"] == "allowed")
                .count();
            vec![
                text(&value["summary"]),
                format!(
                    "{allowed} of {} action/resource pairs allowed",
                    list("permissions").len()
                ),
            ]
        }
        "list_api_keys" => list("keys")
            .iter()
            .map(|k| {
                format!(
                    "{} {} {} days left",
                    text(&k["credential_id"]),
                    text(&k["status"]),
                    text(&k["days_left"])
                )
            })
            .collect(),
        "query_costs" => costs(value),
        "query_usage" => list("rows")
            .iter()
            .map(|r| {
                format!(
                    "{:<10} {:<48} {} calls, {} in / {} out tokens, ~{:.4} USD (estimate)",
                    text(&r["business_unit"]),
                    text(&r["model_id"]).rsplit('/').next().unwrap_or_default(),
                    r["invocations"],
                    r["input_tokens"],
                    r["output_tokens"],
                    r["estimated_usd"].as_f64().unwrap_or(0.0)
                )
            })
            .collect(),
        "enforce_spend_caps" => list("units")
            .iter()
            .map(|u| {
                format!(
                    "{:<10} {:<12} {}",
                    text(&u["business_unit"]),
                    text(&u["action"]),
                    text(&u["reason"])
                )
            })
            .collect(),
        "set_spend_cap" => vec![format!(
            "cap {} USD (was {}) [{}]",
            value["cap_usd"],
            value["previous_cap_usd"],
            text(&value["status"])
        )],
        "enable_usage_logging" => vec![format!(
            "[{}] {} ({} days); prompts or answers stored: {}",
            text(&value["status"]),
            text(&value["log_group"]),
            value["retention_days"],
            value["stores_prompts_or_answers"]
        )],
        "create_budget_alert" => list("changes").iter().map(text).collect(),
        "enable_cost_tags" => vec![format!(
            "activated {}; already active {}",
            value["activated"], value["already_active"]
        )],
        "deprovision_user" => list("steps")
            .iter()
            .map(|s| {
                format!(
                    "{:<8} {:<28} {}",
                    text(&s["status"]),
                    text(&s["action"]),
                    text(&s["resource"])
                )
            })
            .collect(),
        _ => vec![value.to_string()],
    }
}

fn costs(value: &Value) -> Vec<String> {
    let currency = value["currency"].as_str().unwrap_or("USD");
    let mut lines: Vec<String> = value["totals_by_business_unit"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(unit, amount)| {
            format!(
                "{unit:<12} {:>10.2} {currency}",
                amount.as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    lines.push(format!(
        "{:<12} {:>10.2} {currency}{}",
        "total",
        value["total"].as_f64().unwrap_or(0.0),
        if value["estimated"] == true {
            " (estimated: the month is not over)"
        } else {
            ""
        }
    ));
    lines
}

/// Marketing's key, as a client would read it from the unit's secret.
async fn marketing_key() -> Result<String, Failure> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret = aws_sdk_secretsmanager::Client::new(&config)
        .get_secret_value()
        .secret_id("bedrock-provisioner/marketing/bedrock-api-key")
        .send()
        .await?;
    let value: Value = serde_json::from_str(secret.secret_string().unwrap_or("{}"))?;
    Ok(value["AWS_BEARER_TOKEN_BEDROCK"]
        .as_str()
        .ok_or("no key in the secret")?
        .to_owned())
}

/// One Converse call of about 1,000 input tokens with `key`; the error code when Bedrock refuses it.
async fn converse(key: &str) -> Result<(), String> {
    use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let runtime = aws_sdk_bedrockruntime::config::Builder::from(&config)
        .bearer_token(aws_sdk_bedrockruntime::config::Token::new(key, None))
        .auth_scheme_preference([aws_smithy_runtime_api::client::auth::AuthSchemeId::new(
            "httpBearerAuth",
        )])
        .build();
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("Write a product tagline. ".repeat(160)))
        .build()
        .map_err(|e| e.to_string())?;
    aws_sdk_bedrockruntime::Client::from_conf(runtime)
        .converse()
        .model_id("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        .messages(message)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let code =
                aws_sdk_bedrockruntime::error::ProvideErrorMetadata::code(&e).unwrap_or("error");
            format!("refused ({code})")
        })
}

/// Seed this month's Bedrock billing in the emulator (what Cost Explorer would hold), through its control API.
async fn seed_spend() -> Result<(), Failure> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let account = std::env::var("AWS_ACCESS_KEY_ID")?;
    let today = chrono::Utc::now().date_naive();
    let mut items = Vec::new();
    for (unit, service, cost) in [
        (
            Some("marketing"),
            "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
            182.40,
        ),
        (Some("marketing"), "Amazon Bedrock", 3.10),
        (
            Some("sales"),
            "Claude Haiku 4.5 (Amazon Bedrock Edition)",
            41.75,
        ),
        (None, "Claude Sonnet 4.5 (Amazon Bedrock Edition)", 12.00),
    ] {
        let tags = unit.map_or_else(|| json!({}), |u| json!({"business-unit": u}));
        // This month (what query_costs shows), and the two before at 1.4 and 0.8 times (for the picture).
        for (months_ago, factor) in [(0, 1.0), (1, 1.4), (2, 0.8)] {
            let date = today
                .checked_sub_months(chrono::Months::new(months_ago))
                .ok_or("date out of range")?;
            items.push(
                json!({"date": date.to_string(), "service": service, "usage_type": "USE1-tokens",
                "region": "us-east-1", "tags": tags, "cost": cost * factor}),
            );
        }
    }
    let http = reqwest::Client::new();
    for (command, body) in [
        ("ce/line-items", json!({"account": account, "items": items})),
        (
            "ce/tags",
            json!({"account": account, "tags": [
            {"key": "business-unit"}, {"key": "purpose"}, {"key": "owner"}]}),
        ),
    ] {
        http.post(format!("{endpoint}/_emulator/{command}"))
            .body(body.to_string())
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// The spend of this month and the two before as one self-contained HTML page, written by the CLI
/// (`query-costs --html FILE`) to target/demo/spend.html.
async fn picture(binary: &str) -> Result<(), Failure> {
    use chrono::Datelike;
    let first = chrono::Utc::now()
        .date_naive()
        .with_day(1)
        .ok_or("no first day")?;
    let start = first
        .checked_sub_months(chrono::Months::new(2))
        .ok_or("date out of range")?;
    let end = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or("date out of range")?;
    let file = std::env::current_dir()?.join("target/demo/spend.html");
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let (start, end) = (start.to_string(), end.to_string());
    println!("\n== The spend as a picture: one HTML file, no script, nothing from the network");
    println!(
        "$ bedrock-provisioner query-costs --start {start} --end {end} --html {}",
        file.display()
    );
    let status = Command::new(binary)
        .args(["query-costs", "--start", &start, "--end", &end, "--html"])
        .arg(&file)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await?;
    if !status.success() {
        return Err(format!("query-costs --html failed ({status})").into());
    }
    println!("   open {}", file.display());
    Ok(())
}
