//! The command-line adapter: the same core operations as subcommands, JSON or human output, non-zero exit
//! on failure.

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::{
    audit,
    audit::AuditLog,
    config::{ConfigFile, EffectiveSettings},
    core::secret::Secret,
    core::{
        AwsSettings, Error, Provisioner, Settings,
        budgets::{BudgetAlertInput, BudgetReport, SpendKind, Threshold},
        cost_tags::{CostTagsReport, EnableCostTagsInput},
        costs::{CostMetric, CostReport, Granularity, GroupKey, QueryCostsInput},
        deliver::{Delivered, Delivery},
        deprovision::{DeprovisionReport, DeprovisionUserInput},
        diagnose::{CheckId, CheckStatus, DiagnoseInput, DiagnoseReport},
        inventory::{BusinessUnitList, ListBusinessUnitsInput},
        keys::{
            ApiKeyKind, ApiKeyList, CreateApiKeyInput, CreatedApiKey, ListApiKeysInput,
            RevokeAction, RevokeKeyInput, RevokeReport, RotateKeyInput, RotateMode, RotateReport,
        },
        label,
        names::parse_region,
        provision::{PolicyInput, ProvisionReport, ProvisionUserInput},
        verify::{AccessReport, Verdict, VerifyAccessInput},
    },
    mcp::{
        self, ProvisionerServer,
        http::{self, HttpOptions},
    },
    mode::AccessMode,
};

/// Give each business unit its own, accounted access to Claude on Amazon Bedrock.
#[derive(Debug, Parser)]
#[command(name = "bedrock-provisioner", version, about)]
pub struct Cli {
    #[command(flatten)]
    aws: AwsArgs,
    /// Directory where `--deliver file` writes key files (0600); file delivery is off without it.
    #[arg(long, global = true, env = "BEDROCK_PROVISIONER_KEY_DIR")]
    key_dir: Option<std::path::PathBuf>,
    /// Configuration file (TOML; see bedrock-provisioner.example.toml).
    #[arg(long, global = true, env = "BEDROCK_PROVISIONER_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Append one JSON line per mutating tool call or command to this file (created 0600); also logged to
    /// stderr at info level.
    #[arg(long, global = true, env = "BEDROCK_PROVISIONER_AUDIT_LOG")]
    audit_log: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How to reach AWS (everything else comes from the standard credential chain).
#[derive(Debug, Args)]
struct AwsArgs {
    /// AWS region [default: AWS_REGION, then the profile, then us-east-1].
    #[arg(long, global = true)]
    region: Option<String>,
    /// Endpoint URL for every AWS service (a local emulator) [default: AWS_ENDPOINT_URL when set].
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Attempts per AWS call, in the SDK's standard retry mode.
    #[arg(long, global = true, env = "BEDROCK_PROVISIONER_MAX_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// TCP connect timeout in seconds.
    #[arg(
        long,
        global = true,
        env = "BEDROCK_PROVISIONER_CONNECT_TIMEOUT",
        default_value_t = 5
    )]
    connect_timeout: u64,
    /// Timeout of one AWS operation (retries included) in seconds.
    #[arg(
        long,
        global = true,
        env = "BEDROCK_PROVISIONER_OPERATION_TIMEOUT",
        default_value_t = 60
    )]
    operation_timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdio (for Claude Code's .mcp.json or any MCP client).
    Serve {
        /// Which tools to expose: read-only tools only, plus creating, or plus destructive tools
        /// [default: the config file's mode, else read-only].
        #[arg(long, env = "BEDROCK_PROVISIONER_MODE", value_enum)]
        mode: Option<AccessMode>,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// Create or repair a business unit's IAM user, tags and Bedrock policy.
    ProvisionUser(ProvisionUserArgs),
    /// List the business units provisioned for Bedrock.
    ListBusinessUnits {
        /// Also list `*-bedrock-user` users that bedrock-provisioner did not create.
        #[arg(long)]
        include_unmanaged: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Find what stops a business unit from using Claude on Bedrock, with the fix; exits 1 when a check
    /// fails (usable in CI).
    Diagnose(DiagnoseArgs),
    /// Prove a business unit can call Claude, at no cost (policy simulation; a free CountTokens call with
    /// a key); exits 1 when it cannot.
    VerifyAccess(VerifyAccessArgs),
    /// Bedrock spend per business unit from Cost Explorer.
    QueryCosts(QueryCostsArgs),
    /// Activate business-unit, purpose and owner as cost allocation tags.
    EnableCostTags {
        /// Show what would be activated; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm the account-wide change.
        #[arg(long)]
        yes: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Create or update a business unit's monthly Bedrock budget with e-mail alerts.
    CreateBudgetAlert(BudgetArgs),
    /// Create a Bedrock API key for a business unit.
    CreateApiKey(CreateApiKeyArgs),
    /// List Bedrock API keys with their expiry and health flags (never their values).
    ListApiKeys {
        /// One business unit; all managed users when omitted.
        #[arg(long)]
        business_unit: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Replace a business unit's key without downtime.
    RotateKey(RotateKeyArgs),
    /// Deactivate (default) or delete one key.
    RevokeKey(RevokeKeyArgs),
    /// Remove a business unit's IAM user and everything attached to it.
    DeprovisionUser {
        /// Business unit.
        #[arg(long)]
        business_unit: String,
        /// Show the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm the deletion (it cannot be undone).
        #[arg(long)]
        yes: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct DiagnoseArgs {
    /// A business unit to check.
    #[arg(long)]
    business_unit: Option<String>,
    /// A model or inference profile id to check.
    #[arg(long)]
    model_id: Option<String>,
    /// Read a Bedrock API key to inspect from this environment variable (never printed).
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Regions to compare; repeatable.
    #[arg(long = "probe-region")]
    regions: Vec<String>,
    /// A project directory whose .mcp.json to check.
    #[arg(long)]
    project_dir: Option<String>,
    /// Only these checks; repeatable.
    #[arg(long = "check", value_parser = parse_check)]
    checks: Vec<CheckId>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct VerifyAccessArgs {
    /// The business unit.
    #[arg(long)]
    business_unit: String,
    /// Read the unit's Bedrock API key from this environment variable (never printed) and test it with
    /// one call.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// A model or inference profile id [default: a Claude model offered in the region].
    #[arg(long)]
    model_id: Option<String>,
    /// The region [default: the server's].
    #[arg(long)]
    region: Option<String>,
    /// Test the key with one 1-token Converse call (a fraction of a cent) instead of the free CountTokens.
    #[arg(long)]
    invoke: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct QueryCostsArgs {
    /// A business unit to include; repeatable (default: all).
    #[arg(long = "business-unit")]
    business_units: Vec<String>,
    /// First day, YYYY-MM-DD [default: first day of this month].
    #[arg(long)]
    start: Option<String>,
    /// Day after the last, YYYY-MM-DD, exclusive [default: tomorrow].
    #[arg(long)]
    end: Option<String>,
    /// Rows per day instead of per month.
    #[arg(long)]
    daily: bool,
    /// Group by (up to two): business-unit, service, usage-type, model [default: business-unit].
    #[arg(long = "group-by", value_enum)]
    group_by: Vec<GroupArg>,
    /// The cost metric.
    #[arg(long, value_enum, default_value_t = MetricArg::Unblended)]
    metric: MetricArg,
    /// The cost allocation tag key of business units [default: discovered].
    #[arg(long)]
    tag_key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GroupArg {
    BusinessUnit,
    Service,
    UsageType,
    Model,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MetricArg {
    Unblended,
    NetUnblended,
    Amortized,
}

#[derive(Debug, Args)]
struct BudgetArgs {
    /// Business unit.
    #[arg(long)]
    business_unit: String,
    /// Monthly limit in USD.
    #[arg(long)]
    monthly_limit_usd: f64,
    /// E-mail address to alert; repeatable.
    #[arg(long = "email", required = true)]
    emails: Vec<String>,
    /// Alert threshold in percent of actual spend; repeatable [default: 80 and 100, plus 100 forecasted].
    #[arg(long = "actual-threshold")]
    actual: Vec<f64>,
    /// Alert threshold in percent of forecasted spend; repeatable.
    #[arg(long = "forecast-threshold")]
    forecast: Vec<f64>,
    /// Show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Confirm the change.
    #[arg(long)]
    yes: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

fn parse_check(raw: &str) -> Result<CheckId, String> {
    CheckId::ALL
        .into_iter()
        .find(|id| id.as_str() == raw)
        .ok_or_else(|| {
            let names: Vec<&str> = CheckId::ALL.iter().map(|id| id.as_str()).collect();
            format!("unknown check `{raw}`; one of {}", names.join(", "))
        })
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate --config and print the effective settings (no secrets); exits 1 on an invalid file.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

/// Streamable HTTP instead of stdio.
#[derive(Debug, Args)]
struct HttpArgs {
    /// Serve MCP over streamable HTTP at ADDR (path /mcp) instead of stdio, e.g. 127.0.0.1:8808. A
    /// non-loopback address requires a bearer token.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// File holding the bearer token clients must send (else BEDROCK_PROVISIONER_HTTP_TOKEN).
    #[arg(long, requires = "http")]
    http_token_file: Option<std::path::PathBuf>,
    /// Extra accepted Host header (hostname or host:port); repeatable.
    #[arg(long = "allowed-host", requires = "http")]
    allowed_hosts: Vec<String>,
    /// Extra accepted browser Origin (scheme://host:port); repeatable.
    #[arg(long = "allowed-origin", requires = "http")]
    allowed_origins: Vec<String>,
    /// Serve admin-mode tools over HTTP without a bearer token (loopback only): any local process or
    /// browser page that reaches the port could delete users and keys.
    #[arg(long, requires = "http")]
    allow_unauthenticated_admin: bool,
}

impl HttpArgs {
    /// The token from the file or the environment (never from the command line, where `ps` shows it).
    /// Both sources are treated alike: trimmed, and a blank one is an error (not "no token").
    fn token(&self) -> Result<Option<Secret>, String> {
        let (source, raw) = if let Some(path) = &self.http_token_file {
            let raw = std::fs::read_to_string(path)
                .map_err(|e| format!("--http-token-file {}: {e}", path.display()))?;
            (format!("--http-token-file {}", path.display()), raw)
        } else {
            match std::env::var("BEDROCK_PROVISIONER_HTTP_TOKEN") {
                Ok(raw) => ("BEDROCK_PROVISIONER_HTTP_TOKEN".to_owned(), raw),
                Err(_) => return Ok(None),
            }
        };
        let token = raw.trim();
        if token.is_empty() {
            return Err(format!(
                "{source} is blank: give a token of at least {} characters, or unset it to serve \
                 loopback without one",
                http::MIN_TOKEN_CHARS
            ));
        }
        Ok(Some(Secret::new(token)))
    }
}

/// Where a new key goes, for the CLI.
#[derive(Debug, Args)]
struct DeliveryArgs {
    /// Region the client calls Bedrock in [default: the server's region].
    #[arg(long = "key-region")]
    key_region: Option<String>,
    /// Where the key goes [default: the configured default_delivery, else inline].
    #[arg(long, value_enum)]
    deliver: Option<DeliverArg>,
    /// With `--deliver file`: file name inside --key-dir [default: <business-unit>.env].
    #[arg(long)]
    file_name: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DeliverArg {
    Inline,
    SecretsManager,
    File,
}

impl From<DeliverArg> for Delivery {
    fn from(arg: DeliverArg) -> Self {
        match arg {
            DeliverArg::Inline => Self::Inline,
            DeliverArg::SecretsManager => Self::SecretsManager,
            DeliverArg::File => Self::File,
        }
    }
}

#[derive(Debug, Args)]
struct CreateApiKeyArgs {
    /// Business unit.
    #[arg(long)]
    business_unit: String,
    /// A short-term key (at most 12 hours, signed with this tool's credentials) instead of long-term.
    #[arg(long)]
    short_term: bool,
    /// Long-term keys: days until expiry [default: 30].
    #[arg(long)]
    credential_age_days: Option<u32>,
    /// Short-term keys: seconds until expiry [default: 43200].
    #[arg(long)]
    duration_seconds: Option<u32>,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Check everything and show what would be created; create nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct RotateKeyArgs {
    /// Business unit.
    #[arg(long)]
    business_unit: String,
    /// The key to replace (required when both keys are active).
    #[arg(long)]
    credential_id: Option<String>,
    /// Delete the old key once the new one exists (default: keep it until you revoke it).
    #[arg(long)]
    replace: bool,
    /// Days until the new key expires [default: 30].
    #[arg(long)]
    credential_age_days: Option<u32>,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Show which keys would be created and deleted; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct RevokeKeyArgs {
    /// Business unit.
    #[arg(long)]
    business_unit: String,
    /// The key's id (ACCA...).
    #[arg(long)]
    credential_id: String,
    /// Delete the key instead of deactivating it.
    #[arg(long)]
    delete: bool,
    /// Show what would happen; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Confirm the change.
    #[arg(long)]
    yes: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
struct ProvisionUserArgs {
    /// Business unit, e.g. marketing (the user becomes <business-unit>-bedrock-user).
    #[arg(long)]
    business_unit: String,
    /// What the business unit uses Claude for (the `purpose` tag).
    #[arg(long)]
    purpose: String,
    /// Who is accountable (the `owner` tag), e.g. an e-mail address.
    #[arg(long)]
    owner: String,
    /// Extra tag KEY=VALUE; repeatable.
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Policy to attach: `least-privilege`, `amazon-bedrock-limited-access`, or a policy ARN
    /// [default: the configured default_policy, else least-privilege].
    #[arg(long)]
    policy: Option<String>,
    /// Take over an existing user of that name that bedrock-provisioner did not create.
    #[arg(long)]
    adopt: bool,
    /// Report what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn parse_tag(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{raw}` is not KEY=VALUE"))
}

impl AwsArgs {
    fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: self.max_attempts,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            operation_timeout: Duration::from_secs(self.operation_timeout),
            ..AwsSettings::default()
        }
    }
}

impl Cli {
    /// Whether this run serves MCP over HTTP (concurrent sessions: a multi-threaded runtime pays off);
    /// everything else is one client or one command, served on one thread.
    pub fn serves_http(&self) -> bool {
        matches!(&self.command, Command::Serve { http, .. } if http.http.is_some())
    }

    /// Run the parsed command line.
    pub async fn run(self) -> ExitCode {
        let config = match self.config.as_deref().map(ConfigFile::load).transpose() {
            Ok(config) => config.unwrap_or_default(),
            Err(error) => {
                eprintln!(
                    "error: {error}\n\nWhat to do: fix the file (bedrock-provisioner.example.toml documents every key), then run `config check`."
                );
                return ExitCode::FAILURE;
            }
        };
        let mut settings = match core_settings(&self.aws, self.key_dir, &config) {
            Ok(settings) => settings,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        };
        config.apply(&mut settings);
        let core = Arc::new(Provisioner::new(settings));
        let audit_log = self.audit_log.or_else(|| config.audit_log.clone());
        // Only a server (which records changes and refusals) and the commands that may change AWS open the
        // audit log: a read-only command must not fail on it (`config check` reports a broken path instead).
        let writes = self.command.audits();
        let audit = match (writes, audit_log.as_deref()) {
            (false, _) | (_, None) => AuditLog::default(),
            (true, Some(path)) => match AuditLog::open(path) {
                Ok(audit) => audit,
                Err(error) => {
                    eprintln!(
                        "error: --audit-log {}: {error}\n\nWhat to do: point --audit-log at a \
                         writable file path.",
                        path.display()
                    );
                    return ExitCode::FAILURE;
                }
            },
        };
        match self.command {
            Command::Config(ConfigCommand::Check { output }) => {
                let problems = runtime_problems(audit_log.as_deref(), core.settings());
                if !problems.is_empty() {
                    eprintln!(
                        "error: these settings break commands that use them:\n  - {}\n\nWhat to do: fix them in the \
                         configuration file or the flags, then run `config check` again.",
                        problems.join("\n  - ")
                    );
                    return ExitCode::FAILURE;
                }
                let effective = EffectiveSettings::new(
                    effective_mode(None, &config),
                    audit_log,
                    core.settings(),
                );
                report(Ok(effective), output, |e| {
                    println!("configuration is valid; effective settings:");
                    match toml::to_string(e) {
                        Ok(text) => print!("{text}"),
                        Err(error) => println!("(cannot show: {error})"),
                    }
                })
            }
            Command::Serve { mode, http } => {
                let mode = effective_mode(mode, &config);
                if let Some(addr) = http.http {
                    return serve_http(core, mode, audit, addr, &http).await;
                }
                tracing::info!(mode = mode.as_str(), "serving MCP over stdio");
                let server = ProvisionerServer::new(core, mode).with_audit_log(audit);
                match mcp::serve_stdio(server).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        tracing::error!(%error, "MCP server stopped with an error");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::ProvisionUser(args) => {
                let input = ProvisionUserInput {
                    business_unit: args.business_unit,
                    purpose: args.purpose,
                    owner: args.owner,
                    tags: args.tags.into_iter().collect::<BTreeMap<_, _>>(),
                    policy: args.policy.as_deref().map(|policy| match policy {
                        "least-privilege" => PolicyInput::LeastPrivilege,
                        "amazon-bedrock-limited-access" => PolicyInput::AmazonBedrockLimitedAccess,
                        arn => PolicyInput::Arn(arn.to_owned()),
                    }),
                    adopt: args.adopt,
                    dry_run: args.dry_run,
                };
                report_audited(
                    &core,
                    &audit,
                    "provision_user",
                    &input,
                    core.provision_user(&input).await,
                    args.output,
                    print_provision,
                )
                .await
            }
            Command::ListBusinessUnits {
                include_unmanaged,
                output,
            } => {
                let input = ListBusinessUnitsInput { include_unmanaged };
                report(core.list_business_units(&input).await, output, print_units)
            }
            Command::Diagnose(args) => {
                let input = DiagnoseInput {
                    business_unit: args.business_unit,
                    model_id: args.model_id,
                    api_key: args.api_key_env.and_then(|name| std::env::var(name).ok()),
                    regions: (!args.regions.is_empty()).then_some(args.regions),
                    project_dir: args.project_dir,
                    checks: (!args.checks.is_empty()).then_some(args.checks),
                };
                let result = core.diagnose(&input).await;
                let failed = result.as_ref().is_ok_and(|r| r.counts.fail > 0);
                let code = report(result, args.output, print_diagnosis);
                if failed { ExitCode::FAILURE } else { code }
            }
            Command::VerifyAccess(args) => {
                let output = args.output;
                let result = match key_from_env(args.api_key_env.as_deref()) {
                    Ok(api_key) => {
                        let input = VerifyAccessInput {
                            business_unit: args.business_unit,
                            api_key,
                            model_id: args.model_id,
                            region: args.region,
                            invoke: args.invoke,
                        };
                        core.verify_access(&input).await
                    }
                    Err(error) => Err(error),
                };
                let denied = result.as_ref().is_ok_and(|r| r.verdict != Verdict::CanCall);
                let code = report(result, output, print_access);
                if denied { ExitCode::FAILURE } else { code }
            }
            Command::QueryCosts(args) => {
                let input = QueryCostsInput {
                    business_units: (!args.business_units.is_empty())
                        .then_some(args.business_units),
                    start: args.start,
                    end: args.end,
                    granularity: if args.daily {
                        Granularity::Daily
                    } else {
                        Granularity::Monthly
                    },
                    group_by: if args.group_by.is_empty() {
                        vec![GroupKey::BusinessUnit]
                    } else {
                        args.group_by
                            .iter()
                            .map(|g| match g {
                                GroupArg::BusinessUnit => GroupKey::BusinessUnit,
                                GroupArg::Service => GroupKey::Service,
                                GroupArg::UsageType => GroupKey::UsageType,
                                GroupArg::Model => GroupKey::Model,
                            })
                            .collect()
                    },
                    metric: match args.metric {
                        MetricArg::Unblended => CostMetric::UnblendedCost,
                        MetricArg::NetUnblended => CostMetric::NetUnblendedCost,
                        MetricArg::Amortized => CostMetric::AmortizedCost,
                    },
                    tag_key: args.tag_key,
                };
                report(core.query_costs(&input).await, args.output, print_costs)
            }
            Command::EnableCostTags {
                dry_run,
                yes,
                output,
            } => {
                let input = EnableCostTagsInput {
                    dry_run,
                    confirm: yes,
                };
                report_audited(
                    &core,
                    &audit,
                    "enable_cost_tags",
                    &input,
                    core.enable_cost_tags(&input).await,
                    output,
                    print_cost_tags,
                )
                .await
            }
            Command::CreateBudgetAlert(args) => {
                let thresholds: Vec<Threshold> = args
                    .actual
                    .iter()
                    .map(|p| Threshold {
                        percent: *p,
                        kind: SpendKind::Actual,
                    })
                    .chain(args.forecast.iter().map(|p| Threshold {
                        percent: *p,
                        kind: SpendKind::Forecasted,
                    }))
                    .collect();
                let input = BudgetAlertInput {
                    business_unit: args.business_unit,
                    monthly_limit_usd: args.monthly_limit_usd,
                    emails: args.emails,
                    thresholds: (!thresholds.is_empty()).then_some(thresholds),
                    tag_key: None,
                    dry_run: args.dry_run,
                    confirm: args.yes,
                };
                report_audited(
                    &core,
                    &audit,
                    "create_budget_alert",
                    &input,
                    core.create_budget_alert(&input).await,
                    args.output,
                    print_budget,
                )
                .await
            }
            Command::CreateApiKey(args) => {
                let input = CreateApiKeyInput {
                    business_unit: args.business_unit,
                    kind: if args.short_term {
                        ApiKeyKind::ShortTerm
                    } else {
                        ApiKeyKind::LongTerm
                    },
                    credential_age_days: args.credential_age_days,
                    duration_seconds: args.duration_seconds,
                    region: args.delivery.key_region,
                    deliver: args.delivery.deliver.map(Into::into),
                    file_name: args.delivery.file_name,
                    dry_run: args.dry_run,
                };
                report_audited(
                    &core,
                    &audit,
                    "create_api_key",
                    &input,
                    core.create_api_key(&input).await,
                    args.output,
                    print_key,
                )
                .await
            }
            Command::ListApiKeys {
                business_unit,
                output,
            } => {
                let input = ListApiKeysInput { business_unit };
                report(core.list_api_keys(&input).await, output, print_keys)
            }
            Command::RotateKey(args) => {
                let input = RotateKeyInput {
                    business_unit: args.business_unit,
                    credential_id: args.credential_id,
                    mode: if args.replace {
                        RotateMode::Replace
                    } else {
                        RotateMode::KeepOld
                    },
                    credential_age_days: args.credential_age_days,
                    region: args.delivery.key_region,
                    deliver: args.delivery.deliver.map(Into::into),
                    file_name: args.delivery.file_name,
                    dry_run: args.dry_run,
                };
                report_audited(
                    &core,
                    &audit,
                    "rotate_key",
                    &input,
                    core.rotate_key(&input).await,
                    args.output,
                    print_rotation,
                )
                .await
            }
            Command::RevokeKey(args) => {
                let input = RevokeKeyInput {
                    business_unit: args.business_unit,
                    credential_id: args.credential_id,
                    action: if args.delete {
                        RevokeAction::Delete
                    } else {
                        RevokeAction::Deactivate
                    },
                    dry_run: args.dry_run,
                    confirm: args.yes,
                };
                report_audited(
                    &core,
                    &audit,
                    "revoke_key",
                    &input,
                    core.revoke_key(&input).await,
                    args.output,
                    print_revocation,
                )
                .await
            }
            Command::DeprovisionUser {
                business_unit,
                dry_run,
                yes,
                output,
            } => {
                let input = DeprovisionUserInput {
                    business_unit,
                    dry_run,
                    confirm: yes,
                };
                report_audited(
                    &core,
                    &audit,
                    "deprovision_user",
                    &input,
                    core.deprovision_user(&input).await,
                    output,
                    print_deprovision,
                )
                .await
            }
        }
    }
}

/// The access mode: flag or environment, else the configuration file, else read-only.
fn effective_mode(flag: Option<AccessMode>, config: &ConfigFile) -> AccessMode {
    flag.or(config.mode).unwrap_or_default()
}

/// Serve over streamable HTTP until SIGTERM/SIGINT.
async fn serve_http(
    core: Arc<Provisioner>,
    mode: AccessMode,
    audit: AuditLog,
    addr: std::net::SocketAddr,
    args: &HttpArgs,
) -> ExitCode {
    let options = match args.token() {
        Ok(token) => HttpOptions {
            token,
            allowed_hosts: args.allowed_hosts.clone(),
            allowed_origins: args.allowed_origins.clone(),
            admin: mode == AccessMode::Admin,
            allow_unauthenticated_admin: args.allow_unauthenticated_admin,
        },
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = http::check_options(addr, &options) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    if options.admin && options.token.is_none() {
        eprintln!(
            "warning: serving admin-mode tools over HTTP without a bearer token (--allow-unauthenticated-admin): \
             any local process or browser page that reaches {addr} can delete users and keys"
        );
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = match http::shutdown_on_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("error: cannot install signal handlers: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(bound) = listener.local_addr() {
        eprintln!("listening on http://{bound}{}", http::MCP_PATH);
    }
    let audit = Arc::new(audit);
    let factory =
        move || ProvisionerServer::new(core.clone(), mode).with_shared_audit_log(audit.clone());
    match http::serve_http(listener, factory, options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Record a mutating command's result in the audit log, as the MCP tool of the same name records it,
/// then print it like [`report`].
async fn report_audited<I: Serialize, T: Serialize>(
    core: &Provisioner,
    audit: &AuditLog,
    tool: &str,
    input: &I,
    result: Result<T, Error>,
    output: Output,
    text: fn(&T),
) -> ExitCode {
    let arguments = serde_json::to_value(input).unwrap_or_default();
    // A failure carries what it left in AWS (ids only), as the MCP adapter's `_meta` does.
    let value = match &result {
        Ok(r) => serde_json::to_value(r).ok(),
        Err(error) => Some(serde_json::json!({"resource_ids": error.resources()})),
    };
    let call = audit::Call {
        client: format!("cli {}", env!("CARGO_PKG_VERSION")),
        tool,
        arguments: audit::sanitize(arguments.as_object()),
        outcome: result
            .as_ref()
            .map_or_else(|e| format!("error:{}", e.kind()), |_| "ok".to_owned()),
        result: value.as_ref(),
    };
    audit.record_call(core, call).await;
    report(result, output, text)
}

/// Print a result; errors go to stderr with their remediation.
fn report<T: Serialize>(result: Result<T, Error>, output: Output, text: fn(&T)) -> ExitCode {
    match result {
        Ok(value) => {
            match output {
                Output::Json => match serde_json::to_string_pretty(&value) {
                    Ok(json) => println!("{json}"),
                    Err(error) => {
                        eprintln!("error: could not encode the result as JSON: {error}");
                        return ExitCode::FAILURE;
                    }
                },
                Output::Text => text(&value),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}\n\nWhat to do: {}", error.remediation());
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// Whether the command writes audit records: a server in any mode (changes, and refusals of tools
    /// outside its mode), and the subcommands that may change AWS.
    fn audits(&self) -> bool {
        match self {
            Command::Serve { .. }
            | Command::ProvisionUser(_)
            | Command::EnableCostTags { .. }
            | Command::CreateBudgetAlert(_)
            | Command::CreateApiKey(_)
            | Command::RotateKey(_)
            | Command::RevokeKey(_)
            | Command::DeprovisionUser { .. } => true,
            Command::ListBusinessUnits { .. }
            | Command::Config(_)
            | Command::Diagnose(_)
            | Command::VerifyAccess(_)
            | Command::QueryCosts(_)
            | Command::ListApiKeys { .. } => false,
        }
    }
}

/// Settings that pass the file's own checks but break every command that uses them.
fn runtime_problems(audit_log: Option<&std::path::Path>, settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(path) = audit_log {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            problems.push(format!(
                "audit_log {}: its directory does not exist, so every mutating command would fail",
                path.display()
            ));
        }
    }
    if settings.default_delivery == Delivery::File && settings.key_dir.is_none() {
        problems.push(
            "default_delivery = \"file\" needs key_dir (or --key-dir): every key hand-off would fail"
                .to_owned(),
        );
    }
    problems
}

/// The core settings from the flags and the file (before the file's other keys are applied): the key
/// directory (a symlink refused, then canonicalized) and the region. Errors carry what to do.
fn core_settings(
    aws: &AwsArgs,
    key_dir: Option<std::path::PathBuf>,
    config: &ConfigFile,
) -> Result<Settings, String> {
    let key_dir = key_dir.or_else(|| config.key_dir.clone());
    if key_dir
        .as_deref()
        .and_then(|dir| std::fs::symlink_metadata(dir).ok())
        .is_some_and(|meta| meta.file_type().is_symlink())
    {
        return Err(
            "--key-dir is a symlink: whoever controls its target controls where keys are written.\n\n\
             What to do: point --key-dir at the real directory (owned by the server's user, mode 0700)."
                .to_owned(),
        );
    }
    let key_dir = key_dir
        .map(std::fs::canonicalize)
        .transpose()
        .map_err(|error| {
            format!(
                "--key-dir: {error}\n\nWhat to do: create the directory (mode 0700) or point --key-dir at an existing one."
            )
        })?;
    let region = effective_region(aws.region.as_deref(), config)
        .map_err(|error| format!("{error}\n\nWhat to do: {}", error.remediation()))?;
    let mut settings = Settings {
        aws: aws.settings(),
        key_dir,
        ..Settings::default()
    };
    settings.aws.region = region;
    Ok(settings)
}

/// The region by the documented precedence, `--region` > `AWS_REGION` (or `AWS_DEFAULT_REGION`) > the
/// configuration file's `region`, each validated like the flag (`moon` and `US-EAST-1` are refused, naming
/// where they came from). `None`: the AWS profile's region, else us-east-1.
fn effective_region(flag: Option<&str>, config: &ConfigFile) -> Result<Option<String>, Error> {
    if let Some(region) = flag {
        return parse_region("--region", region).map(Some);
    }
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = std::env::var(variable).ok().filter(|r| !r.is_empty()) {
            return parse_region(variable, &region).map(Some);
        }
    }
    config
        .region
        .as_deref()
        .map(|region| parse_region("region (configuration file)", region))
        .transpose()
}

/// The value of the environment variable `name` (for keys, which never go on a command line).
fn key_from_env(name: Option<&str>) -> Result<Option<String>, Error> {
    let Some(name) = name else { return Ok(None) };
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(Error::invalid(
            "api_key_env",
            format!("the environment variable {name} is not set (or not valid UTF-8)"),
        )),
    }
}

fn print_access(report: &AccessReport) {
    println!("{}", report.summary);
    println!("  user:   {}", report.user_arn);
    println!("  model:  {} in {}", report.model_id, report.region);
    for check in &report.permissions {
        println!(
            "  {:<13} {} on {}",
            check.decision, check.action, check.resource
        );
    }
    if let Some(test) = &report.key_test {
        println!(
            "  key:    {} {} ({}); cost: {}",
            test.call,
            label(&test.outcome),
            test.detail,
            test.cost
        );
    }
    for note in &report.notes {
        println!("  note:   {note}");
    }
    for step in &report.remediation {
        println!("  fix:    {step}");
    }
}

fn print_provision(report: &ProvisionReport) {
    let heading = if report.dry_run { "Plan" } else { "Result" };
    println!("{heading} for business unit `{}`", report.business_unit);
    println!("  user:   {}", report.user_arn);
    println!("  policy: {}", report.policy_arn);
    for resource in &report.resources {
        let status = label(&resource.status);
        println!("  [{status:>9}] {}: {}", resource.id, resource.detail);
    }
    for warning in &report.warnings {
        println!("  warning: {warning}");
    }
    for step in &report.next_steps {
        println!("  next: {step}");
    }
}

fn print_units(list: &BusinessUnitList) {
    if list.business_units.is_empty() {
        println!("No business units provisioned yet (provision-user creates one).");
    }
    for unit in &list.business_units {
        let owner = unit.tags.get("owner").map_or("-", String::as_str);
        let managed = if unit.managed {
            ""
        } else {
            "  (not managed by bedrock-provisioner)"
        };
        println!(
            "{:<24} owner {owner:<28} {}{managed}",
            unit.business_unit, unit.user_arn
        );
        if !unit.missing_tags.is_empty() {
            println!("{:<24} missing tags: {}", "", unit.missing_tags.join(", "));
        }
    }
}

fn print_key(key: &CreatedApiKey) {
    let id = key.credential_id.as_deref().unwrap_or("short-term");
    println!(
        "New Bedrock API key for `{}` ({id}), expires {}",
        key.business_unit,
        key.expires.as_deref().unwrap_or("never")
    );
    match &key.delivery {
        Delivered::Inline {
            client_settings, ..
        } => {
            println!(
                "  export AWS_BEARER_TOKEN_BEDROCK={}",
                client_settings.aws_bearer_token_bedrock.expose()
            );
            println!("  export AWS_REGION={}", client_settings.aws_region);
            println!(
                "  export CLAUDE_CODE_USE_BEDROCK={}",
                client_settings.claude_code_use_bedrock
            );
        }
        Delivered::SecretsManager { secret_arn, .. } => {
            println!("  stored in Secrets Manager: {secret_arn}");
        }
        Delivered::File { path } => println!("  written to {path} (mode 0600)"),
        Delivered::Planned { destination } => println!("  dry run: would go to {destination}"),
    }
    for warning in &key.warnings {
        println!("  warning: {warning}");
    }
}

fn print_keys(list: &ApiKeyList) {
    if list.keys.is_empty() {
        println!("No Bedrock API keys.");
    }
    for key in &list.keys {
        let flags: Vec<String> = key.flags.iter().map(label).collect();
        println!(
            "{:<20} {:<24} {:<8} expires {:<22} {}",
            key.business_unit,
            key.credential_id,
            key.status,
            key.expires.as_deref().unwrap_or("never"),
            flags.join(",")
        );
    }
}

fn print_rotation(report: &RotateReport) {
    print_key(&report.new_key);
    for id in &report.deleted_credential_ids {
        println!("  deleted {id}");
    }
    println!("  next: {}", report.instruction);
}

fn print_revocation(report: &RevokeReport) {
    println!(
        "{} {}: {}",
        report.business_unit, report.credential_id, report.outcome
    );
}

fn print_deprovision(report: &DeprovisionReport) {
    let heading = if report.dry_run { "Plan" } else { "Done" };
    println!("{heading}: remove `{}`", report.user_name);
    for step in &report.steps {
        let action = label(&step.action);
        println!("  {action:<34} {}", step.resource);
    }
}

fn print_diagnosis(report: &DiagnoseReport) {
    println!("Diagnosis in {} ({} ms)", report.region, report.elapsed_ms);
    for check in &report.checks {
        let mark = match check.status {
            CheckStatus::Pass => "PASS",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skipped => "SKIP",
        };
        println!("  {mark:<4}  {:<16} {}", check.id.as_str(), check.summary);
        if check.status != CheckStatus::Pass {
            for line in &check.evidence {
                println!("{:24}· {line}", "");
            }
            for step in &check.remediation {
                println!("{:24}→ {step}", "");
            }
        }
    }
    println!("\n{}", report.summary);
}

fn print_costs(report: &CostReport) {
    println!(
        "Bedrock spend {} to {} (exclusive), {:?}, tag `{}`",
        report.start, report.end, report.metric, report.tag_key
    );
    for row in &report.rows {
        let group: Vec<&str> = [
            &row.business_unit,
            &row.service,
            &row.usage_type,
            &row.model,
        ]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
        let estimated = if row.estimated { " (estimated)" } else { "" };
        println!(
            "  {} {:<40} {:>12.2} {}{estimated}",
            row.start,
            group.join(" / "),
            row.amount,
            report.currency
        );
    }
    for (unit, total) in &report.totals_by_business_unit {
        println!("  total {unit:<34} {total:>12.2} {}", report.currency);
    }
    println!(
        "  total {:<34} {:>12.2} {}",
        "all", report.total, report.currency
    );
    for note in &report.notes {
        println!("  note: {note}");
    }
}

fn print_cost_tags(report: &CostTagsReport) {
    let verb = if report.dry_run {
        "would activate"
    } else {
        "activated"
    };
    println!("{verb}: {}", report.activated.join(", "));
    println!("already active: {}", report.already_active.join(", "));
    println!(
        "not yet known to billing: {}",
        report.not_yet_known.join(", ")
    );
    for note in &report.notes {
        println!("note: {note}");
    }
}

fn print_budget(report: &BudgetReport) {
    println!("{} [{}]", report.budget_name, label(&report.status));
    for change in &report.changes {
        println!("  {change}");
    }
    println!(
        "  counts {} for {}",
        report.services.join(", "),
        report.tag_filter
    );
    for note in &report.notes {
        println!("  note: {note}");
    }
}
