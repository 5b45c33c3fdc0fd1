//! The command-line adapter: the same core operations as subcommands, JSON or human output, non-zero exit
//! on failure.

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::{
    core::{
        AwsSettings, Error, Provisioner, Settings,
        inventory::{BusinessUnitList, ListBusinessUnitsInput},
        provision::{PolicyInput, ProvisionReport, ProvisionUserInput},
    },
    mcp::{self, AccessMode},
};

/// Give each business unit its own, accounted access to Claude on Amazon Bedrock.
#[derive(Debug, Parser)]
#[command(name = "bedrock-provisioner", version, about)]
pub struct Cli {
    #[command(flatten)]
    aws: AwsArgs,
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
        /// Which tools to expose: read-only tools only, plus creating, or plus destructive tools.
        #[arg(long, env = "BEDROCK_PROVISIONER_MODE", value_enum, default_value_t = AccessMode::ReadOnly)]
        mode: AccessMode,
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
    /// Policy to attach: `least-privilege`, `amazon-bedrock-limited-access`, or a policy ARN.
    #[arg(long, default_value = "least-privilege")]
    policy: String,
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
    /// Run the parsed command line.
    pub async fn run(self) -> ExitCode {
        let settings = Settings {
            aws: self.aws.settings(),
            ..Settings::default()
        };
        let core = Arc::new(Provisioner::new(settings));
        match self.command {
            Command::Serve { mode } => {
                tracing::info!(mode = mode.as_str(), "serving MCP over stdio");
                match mcp::serve_stdio(core, mode).await {
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
                    policy: match args.policy.as_str() {
                        "least-privilege" => PolicyInput::LeastPrivilege,
                        "amazon-bedrock-limited-access" => PolicyInput::AmazonBedrockLimitedAccess,
                        arn => PolicyInput::Arn(arn.to_owned()),
                    },
                    adopt: args.adopt,
                    dry_run: args.dry_run,
                };
                report(
                    core.provision_user(&input).await,
                    args.output,
                    print_provision,
                )
            }
            Command::ListBusinessUnits {
                include_unmanaged,
                output,
            } => {
                let input = ListBusinessUnitsInput { include_unmanaged };
                report(core.list_business_units(&input).await, output, print_units)
            }
        }
    }
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

fn print_provision(report: &ProvisionReport) {
    let heading = if report.dry_run { "Plan" } else { "Result" };
    println!("{heading} for business unit `{}`", report.business_unit);
    println!("  user:   {}", report.user_arn);
    println!("  policy: {}", report.policy_arn);
    for resource in &report.resources {
        let status = serde_json::to_value(resource.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
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
