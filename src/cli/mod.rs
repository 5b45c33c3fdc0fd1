//! The command-line adapter: the same core operations as subcommands, JSON or human output, non-zero exit
//! on failure. Each subcommand's arguments convert into the core's input (`args`); results print as text
//! (`print`) or JSON; errors name the CLI's own flags (`wording`).

mod args;
mod costs;
mod declared;
mod fleet;
mod print;
mod serve;
mod setup;
mod spend;
mod wording;

use std::{fmt::Display, process::ExitCode};

use clap::{Parser, Subcommand};
use serde::Serialize;

use args::{
    AwsArgs, BudgetArgs, ConfigCommand, CreateApiKeyArgs, DeprovisionUserArgs, DiagnoseArgs,
    EnableCostTagsArgs, ListApiKeysArgs, ListBusinessUnitsArgs, Output, ProvisionUserArgs,
    QueryCostsArgs, RevokeKeyArgs, RotateKeyArgs, VerifyAccessArgs,
};
use declared::{Commands, Invocation};
use fleet::FleetCommand;
use serve::ServeArgs;
use setup::{Context, Globals};

use tokio_util::sync::CancellationToken;

use crate::{
    audit::{self, Audited, Outcome},
    core::{
        Error,
        costs::budgets::BudgetAlertInput,
        costs::tags::EnableCostTagsInput,
        diagnose::verify::Verdict,
        diagnose::verify::VerifyAccessInput,
        keys::RevokeKeyInput,
        spend::{logging::EnableUsageLoggingInput, set_cap::SetSpendCapInput},
        units::deprovision::DeprovisionUserInput,
        units::provision::ProvisionUserInput,
    },
    mode::AccessMode,
    operations::Call,
};

/// Give each business unit its own, accounted access to Claude on Amazon Bedrock.
#[derive(Debug, Parser)]
#[command(name = "bedrock-provisioner", version, about)]
pub struct Cli {
    #[command(flatten)]
    aws: AwsArgs,
    /// Directory where `--deliver file` writes key files (0600); file delivery is off without it.
    #[arg(
        long,
        global = true,
        env = "BEDROCK_PROVISIONER_KEY_DIR",
        help_heading = "Global options"
    )]
    key_dir: Option<std::path::PathBuf>,
    /// Configuration file (TOML; see bedrock-provisioner.example.toml).
    #[arg(
        long,
        global = true,
        env = "BEDROCK_PROVISIONER_CONFIG",
        help_heading = "Global options"
    )]
    config: Option<std::path::PathBuf>,
    /// Append one JSON line per mutating tool call or command to this file (created 0600); also logged to
    /// stderr at info level.
    #[arg(
        long,
        global = true,
        env = "BEDROCK_PROVISIONER_AUDIT_LOG",
        help_heading = "Global options"
    )]
    audit_log: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text, help_heading = "Global options")]
    output: Output,
    #[command(subcommand)]
    command: Commands,
}

/// The hand-written subcommands; each operation without one has a declared command ([`declared`]).
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdio (for Claude Code's .mcp.json or any MCP client).
    Serve(ServeArgs),
    /// Create or repair a business unit's IAM user, tags and Bedrock policy.
    ProvisionUser(ProvisionUserArgs),
    /// List the business units provisioned for Bedrock.
    ListBusinessUnits(ListBusinessUnitsArgs),
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
    EnableCostTags(EnableCostTagsArgs),
    /// Create or update a business unit's monthly Bedrock budget with e-mail alerts.
    CreateBudgetAlert(BudgetArgs),
    /// Create a Bedrock API key for a business unit.
    CreateApiKey(CreateApiKeyArgs),
    /// List Bedrock API keys with their expiry and health flags (never their values).
    ListApiKeys(ListApiKeysArgs),
    /// Replace a business unit's key without downtime.
    RotateKey(RotateKeyArgs),
    /// Deactivate (default) or delete one key.
    RevokeKey(RevokeKeyArgs),
    /// Remove a business unit's IAM user and everything attached to it.
    DeprovisionUser(DeprovisionUserArgs),
    /// Every business unit of a manifest (fleet.toml) in one plan and one apply.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Turn on Bedrock's model invocation logging (no prompts or answers) for usage within minutes.
    EnableUsageLogging(spend::EnableUsageLoggingArgs),
    /// Calls, tokens and estimated cost per business unit and model, within minutes of the calls.
    QueryUsage(spend::QueryUsageArgs),
    /// Set, change or remove a business unit's monthly spend cap (USD).
    SetSpendCap(spend::SetSpendCapArgs),
    /// Deny every key of each unit whose monthly cap is spent; lift the deny when the month turns.
    #[command(alias = "enforce-spend-caps")]
    Enforce(spend::EnforceArgs),
}

/// Run a core operation that may change AWS: convert the arguments, call it, record it in the audit log
/// under the tool's name (the operation's name), print the result.
macro_rules! mutate {
    ($context:expr, $operation:ident, $args:expr) => {{
        let input = $args.into();
        let result = $context.core.$operation(&input).await;
        $context
            .audited(stringify!($operation), &input, result)
            .await
    }};
}

/// Run a planned change: plan it, render the plan for `--dry-run`, else apply it (once confirmed with
/// `--yes` when the plan asks); record it in the audit log under the tool's name and print the result.
macro_rules! planned {
    ($context:expr, $operation:ident, $input:ty, $args:expr) => {{
        let input: $input = $args.into();
        let result = crate::operations::mutate(&$context.core, &input).await;
        $context
            .audited(stringify!($operation), &input, result)
            .await
    }};
}

/// Run a read-only core operation and print the result.
macro_rules! read {
    ($context:expr, $operation:ident, $args:expr) => {{
        let input = $args.into();
        $context.report($context.core.$operation(&input).await)
    }};
}

impl Cli {
    /// Whether this run serves MCP over HTTP (concurrent sessions: a multi-threaded runtime pays off);
    /// everything else is one client or one command, served on one thread.
    pub fn serves_http(&self) -> bool {
        matches!(&self.command, Commands::Written(Command::Serve(args)) if args.http.http.is_some())
    }

    /// Run the parsed command line.
    pub async fn run(self) -> ExitCode {
        let globals = Globals {
            aws: &self.aws,
            key_dir: self.key_dir,
            config: self.config.as_deref(),
            audit_log: self.audit_log,
            output: self.output,
        };
        let audits = match &self.command {
            Commands::Written(command) => command.audits(),
            Commands::Declared(invocation) => !invocation.operation.access.read_only(),
        };
        let c = match Context::new(globals, audits) {
            Ok(context) => context,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        };
        let command = match self.command {
            Commands::Written(command) => command,
            Commands::Declared(invocation) => return c.declared(invocation).await,
        };
        match command {
            Command::Serve(args) => serve::serve(c, args).await,
            Command::Config(ConfigCommand::Check) => c.config_check(),
            Command::ProvisionUser(a) => planned!(c, provision_user, ProvisionUserInput, a),
            Command::ListBusinessUnits(a) => read!(c, list_business_units, a),
            Command::Diagnose(a) => c.diagnose(a).await,
            Command::VerifyAccess(a) => c.verify_access(a).await,
            Command::QueryCosts(a) => c.query_costs(a).await,
            Command::EnableCostTags(a) => planned!(c, enable_cost_tags, EnableCostTagsInput, a),
            Command::CreateBudgetAlert(a) => {
                planned!(c, create_budget_alert, BudgetAlertInput, a)
            }
            Command::CreateApiKey(a) => mutate!(c, create_api_key, a),
            Command::ListApiKeys(a) => read!(c, list_api_keys, a),
            Command::RotateKey(a) => mutate!(c, rotate_key, a),
            Command::RevokeKey(a) => planned!(c, revoke_key, RevokeKeyInput, a),
            Command::DeprovisionUser(a) => {
                planned!(c, deprovision_user, DeprovisionUserInput, a)
            }
            Command::Fleet(command) => c.fleet(command).await,
            Command::EnableUsageLogging(a) => {
                planned!(c, enable_usage_logging, EnableUsageLoggingInput, a)
            }
            Command::QueryUsage(a) => read!(c, query_usage, a),
            Command::SetSpendCap(a) => planned!(c, set_spend_cap, SetSpendCapInput, a),
            Command::Enforce(a) => c.enforce(a).await,
        }
    }
}

impl Command {
    /// Whether the command writes audit records: a server in any mode (changes, and refusals of tools
    /// outside its mode), and the subcommands that may change AWS.
    fn audits(&self) -> bool {
        match self {
            Command::Serve(_)
            | Command::ProvisionUser(_)
            | Command::EnableCostTags(_)
            | Command::CreateBudgetAlert(_)
            | Command::CreateApiKey(_)
            | Command::RotateKey(_)
            | Command::RevokeKey(_)
            | Command::DeprovisionUser(_)
            | Command::Fleet(FleetCommand::Apply(_) | FleetCommand::Sweep(_))
            | Command::EnableUsageLogging(_)
            | Command::SetSpendCap(_)
            | Command::Enforce(_) => true,
            Command::ListBusinessUnits(_)
            | Command::Config(_)
            | Command::Diagnose(_)
            | Command::VerifyAccess(_)
            | Command::QueryCosts(_)
            | Command::ListApiKeys(_)
            | Command::QueryUsage(_)
            | Command::Fleet(FleetCommand::Plan(_)) => false,
        }
    }
}

impl Context {
    /// `config check`.
    fn config_check(&self) -> ExitCode {
        match self.check() {
            Ok(effective) => self.report(Ok(effective)),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    }

    /// A declared command: the operation run as over MCP (in admin mode: the command line is its
    /// operator), a change recorded in the audit log, the report as text or JSON.
    async fn declared(&self, invocation: Invocation) -> ExitCode {
        let Invocation {
            operation,
            arguments,
        } = invocation;
        let progress = |done, total, line: &str| eprintln!("[{done}/{total}] {line}");
        let call = Call {
            core: &self.core,
            mode: AccessMode::Admin,
            progress: &progress,
            stop: CancellationToken::new(),
        };
        let input = serde_json::Value::Object(arguments.clone());
        let result = (operation.handler.run)(call, arguments).await;
        if operation.access.read_only() {
            self.report(result)
        } else {
            self.audited(operation.name, &input, result).await
        }
    }

    /// `diagnose`: exits 1 when a check fails.
    async fn diagnose(&self, args: DiagnoseArgs) -> ExitCode {
        let result = self.core.diagnose(&args.into()).await;
        let failed = result.as_ref().is_ok_and(|r| r.counts.fail > 0);
        let code = self.report(result);
        if failed { ExitCode::FAILURE } else { code }
    }

    /// `verify-access`: exits 1 when the unit cannot call Claude.
    async fn verify_access(&self, args: VerifyAccessArgs) -> ExitCode {
        let result = match setup::key_from_env(args.api_key_env.as_deref()) {
            Ok(api_key) => {
                let input = VerifyAccessInput {
                    business_unit: args.unit.business_unit,
                    api_key,
                    model_id: args.model_id,
                    region: args.region,
                    invoke: args.invoke,
                };
                self.core.verify_access(&input).await
            }
            Err(error) => Err(error),
        };
        let denied = result.as_ref().is_ok_and(|r| r.verdict != Verdict::CanCall);
        let code = self.report(result);
        if denied { ExitCode::FAILURE } else { code }
    }

    /// Record a mutating command's result in the audit log, as the MCP tool of the same name records it,
    /// then print it like [`Context::report`].
    pub(super) async fn audited<I: Serialize, T: Serialize + Audited + Display>(
        &self,
        tool: &str,
        input: &I,
        result: Result<T, Error>,
    ) -> ExitCode {
        let arguments = serde_json::to_value(input).unwrap_or_default();
        // A failure carries what it left in AWS (ids only), as the MCP adapter's `_meta` does.
        let value = match &result {
            Ok(r) => serde_json::to_value(r).ok(),
            Err(error) => Some(
                serde_json::json!({"resource_ids": error.resources(), "called_aws": error.called_aws()}),
            ),
        };
        let call = audit::Call {
            client: format!("cli {}", env!("CARGO_PKG_VERSION")),
            tool,
            arguments: audit::sanitize(arguments.as_object()),
            outcome: result
                .as_ref()
                .map_or_else(|e| Outcome::Error(e.kind().to_owned()), |_| Outcome::Ok),
            result: value.as_ref(),
            effects: result
                .as_ref()
                .map_or_else(audit::Effects::of_error, Audited::effects),
            elicited: false,
            peer: None,
            stream_peer: None,
        };
        self.audit.record_call(&self.core, call).await;
        self.report(result)
    }

    /// Print a result as text or JSON; errors go to stderr with their remediation in the CLI's words.
    pub(super) fn report<T: Serialize + Display>(&self, result: Result<T, Error>) -> ExitCode {
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                let remediation = error.remediation(&wording::Cli);
                eprintln!("error: {error}\n\nWhat to do: {remediation}");
                return ExitCode::FAILURE;
            }
        };
        match self.output {
            Output::Json => match serde_json::to_string_pretty(&value) {
                Ok(json) => println!("{json}"),
                Err(error) => {
                    eprintln!("error: could not encode the result as JSON: {error}");
                    return ExitCode::FAILURE;
                }
            },
            Output::Text => print!("{value}"),
        }
        ExitCode::SUCCESS
    }
}
