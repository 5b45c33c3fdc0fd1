//! The arguments of each subcommand, and their conversion into the core's inputs (`From<XArgs> for
//! XInput`): the CLI adds no rule of its own, so a command and the tool of the same name behave alike.

use std::{collections::BTreeMap, time::Duration};

use clap::{Args, Subcommand, ValueEnum};

use crate::core::{
    AwsSettings,
    costs::budgets::{BudgetAlertInput, SpendKind, Threshold},
    costs::tags::EnableCostTagsInput,
    costs::{CostMetric, Granularity, GroupKey, QueryCostsInput},
    diagnose::{CheckId, DiagnoseInput},
    keys::deliver::Delivery,
    keys::{
        ApiKeyKind, CreateApiKeyInput, ListApiKeysInput, RevokeAction, RevokeKeyInput,
        RotateKeyInput, RotateMode,
    },
    units::deprovision::DeprovisionUserInput,
    units::inventory::ListBusinessUnitsInput,
    units::provision::{PolicyInput, ProvisionUserInput},
};

/// How to reach AWS (everything else comes from the standard credential chain).
#[derive(Debug, Args)]
#[command(next_help_heading = "AWS options")]
pub struct AwsArgs {
    /// AWS region [default: AWS_REGION, then the profile, then us-east-1].
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service (a local emulator) [default: AWS_ENDPOINT_URL when set].
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Attempts per AWS call, in the SDK's standard retry mode.
    #[arg(long, global = true, env = "BEDROCK_PROVISIONER_MAX_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    max_attempts: u32,
    /// The SDK's retry mode: `standard`, or `adaptive` (also slows the request rate after throttling; for
    /// fleets against a busy account).
    #[arg(long, global = true, value_enum, default_value_t = RetryMode::Standard)]
    retry_mode: RetryMode,
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

impl AwsArgs {
    /// The core's AWS settings (the region is resolved separately, by precedence).
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: self.max_attempts,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            operation_timeout: Duration::from_secs(self.operation_timeout),
            adaptive_retry: self.retry_mode == RetryMode::Adaptive,
            ..AwsSettings::default()
        }
    }
}

/// The SDK's retry mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RetryMode {
    /// Retry with exponential backoff.
    Standard,
    /// Also limit the request rate on the client after throttling.
    Adaptive,
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// For machines: the result as the MCP tool returns it.
    Json,
}

/// `--dry-run`, for commands that create or repair without destroying.
#[derive(Debug, Args)]
pub struct DryRun {
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--dry-run` and `--yes`, for commands whose changes need a confirmation.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm the change (without it, the command says what it would do and changes nothing).
    #[arg(long)]
    pub yes: bool,
    /// With `--yes`: apply only the plan with this digest (the one an unconfirmed run printed); a plan
    /// that changed since is printed again instead.
    #[arg(long, value_name = "DIGEST", requires = "yes")]
    pub plan_digest: Option<String>,
}

/// A business unit, for commands about exactly one.
#[derive(Debug, Args)]
pub struct Unit {
    /// Business unit, e.g. marketing (its IAM user is <business-unit>-bedrock-user).
    #[arg(long)]
    pub business_unit: String,
}

/// `config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate --config and print the effective settings (no secrets); exits 1 on an invalid file.
    Check,
}

/// `provision-user`.
#[derive(Debug, Args)]
pub struct ProvisionUserArgs {
    #[command(flatten)]
    unit: Unit,
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
    #[command(flatten)]
    dry_run: DryRun,
}

impl From<ProvisionUserArgs> for ProvisionUserInput {
    fn from(args: ProvisionUserArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
            purpose: args.purpose,
            owner: args.owner,
            tags: args.tags.into_iter().collect::<BTreeMap<_, _>>(),
            policy: args.policy.as_deref().map(|policy| match policy {
                "least-privilege" => PolicyInput::LeastPrivilege,
                "amazon-bedrock-limited-access" => PolicyInput::AmazonBedrockLimitedAccess,
                arn => PolicyInput::Arn(arn.to_owned()),
            }),
            adopt: args.adopt,
            dry_run: args.dry_run.dry_run,
        }
    }
}

fn parse_tag(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{raw}` is not KEY=VALUE"))
}

/// `list-business-units`.
#[derive(Debug, Args)]
pub struct ListBusinessUnitsArgs {
    /// Also list `*-bedrock-user` users that bedrock-provisioner did not create.
    #[arg(long)]
    include_unmanaged: bool,
    /// A fleet manifest: also list the units of every account it names (through its role).
    #[arg(long, value_name = "FILE", value_parser = read_manifest)]
    manifest: Option<String>,
}

impl From<ListBusinessUnitsArgs> for ListBusinessUnitsInput {
    fn from(args: ListBusinessUnitsArgs) -> Self {
        Self {
            include_unmanaged: args.include_unmanaged,
            manifest: args.manifest,
        }
    }
}

/// The text of a manifest file, read when the command line is parsed.
pub(super) fn read_manifest(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))
}

/// `diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
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
}

impl From<DiagnoseArgs> for DiagnoseInput {
    fn from(args: DiagnoseArgs) -> Self {
        Self {
            business_unit: args.business_unit,
            model_id: args.model_id,
            api_key: args.api_key_env.and_then(|name| std::env::var(name).ok()),
            regions: (!args.regions.is_empty()).then_some(args.regions),
            project_dir: args.project_dir,
            checks: (!args.checks.is_empty()).then_some(args.checks),
        }
    }
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

/// `verify-access`.
#[derive(Debug, Args)]
pub struct VerifyAccessArgs {
    #[command(flatten)]
    pub unit: Unit,
    /// Read the unit's Bedrock API key from this environment variable (never printed) and test it with
    /// one call.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// A model or inference profile id [default: a Claude model offered in the region].
    #[arg(long)]
    pub model_id: Option<String>,
    /// The region [default: the server's].
    #[arg(long)]
    pub region: Option<String>,
    /// Test the key with one 1-token Converse call (a fraction of a cent) instead of the free CountTokens.
    #[arg(long)]
    pub invoke: bool,
}

/// `query-costs`.
#[derive(Debug, Args)]
pub struct QueryCostsArgs {
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
    /// Also write the report as one self-contained HTML page (a chart of spend per unit and period).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
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

impl From<QueryCostsArgs> for QueryCostsInput {
    fn from(args: QueryCostsArgs) -> Self {
        let group = |g: &GroupArg| match g {
            GroupArg::BusinessUnit => GroupKey::BusinessUnit,
            GroupArg::Service => GroupKey::Service,
            GroupArg::UsageType => GroupKey::UsageType,
            GroupArg::Model => GroupKey::Model,
        };
        Self {
            business_units: (!args.business_units.is_empty()).then_some(args.business_units),
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
                args.group_by.iter().map(group).collect()
            },
            metric: match args.metric {
                MetricArg::Unblended => CostMetric::UnblendedCost,
                MetricArg::NetUnblended => CostMetric::NetUnblendedCost,
                MetricArg::Amortized => CostMetric::AmortizedCost,
            },
            tag_key: args.tag_key,
        }
    }
}

/// `enable-cost-tags`.
#[derive(Debug, Args)]
pub struct EnableCostTagsArgs {
    #[command(flatten)]
    confirm: Confirm,
}

impl From<EnableCostTagsArgs> for EnableCostTagsInput {
    fn from(args: EnableCostTagsArgs) -> Self {
        Self {
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}

/// `create-budget-alert`.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    #[command(flatten)]
    unit: Unit,
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
    #[command(flatten)]
    confirm: Confirm,
}

impl From<BudgetArgs> for BudgetAlertInput {
    fn from(args: BudgetArgs) -> Self {
        let threshold = |kind| {
            move |percent: &f64| Threshold {
                percent: *percent,
                kind,
            }
        };
        let thresholds: Vec<Threshold> = args
            .actual
            .iter()
            .map(threshold(SpendKind::Actual))
            .chain(args.forecast.iter().map(threshold(SpendKind::Forecasted)))
            .collect();
        Self {
            business_unit: args.unit.business_unit,
            monthly_limit_usd: args.monthly_limit_usd,
            emails: args.emails,
            thresholds: (!thresholds.is_empty()).then_some(thresholds),
            tag_key: None,
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}

/// Where a new key goes, for the CLI.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
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
pub enum DeliverArg {
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

/// `create-api-key`.
#[derive(Debug, Args)]
pub struct CreateApiKeyArgs {
    #[command(flatten)]
    unit: Unit,
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
    #[command(flatten)]
    dry_run: DryRun,
}

impl From<CreateApiKeyArgs> for CreateApiKeyInput {
    fn from(args: CreateApiKeyArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
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
            dry_run: args.dry_run.dry_run,
        }
    }
}

/// `list-api-keys`.
#[derive(Debug, Args)]
pub struct ListApiKeysArgs {
    /// One business unit; all managed users when omitted.
    #[arg(long)]
    business_unit: Option<String>,
    /// A fleet manifest: also list the keys of every account it names (through its role).
    #[arg(long, value_name = "FILE", value_parser = read_manifest, conflicts_with = "business_unit")]
    manifest: Option<String>,
}

impl From<ListApiKeysArgs> for ListApiKeysInput {
    fn from(args: ListApiKeysArgs) -> Self {
        Self {
            business_unit: args.business_unit,
            manifest: args.manifest,
        }
    }
}

/// `rotate-key`.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    #[command(flatten)]
    unit: Unit,
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
    #[command(flatten)]
    dry_run: DryRun,
}

impl From<RotateKeyArgs> for RotateKeyInput {
    fn from(args: RotateKeyArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
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
            dry_run: args.dry_run.dry_run,
        }
    }
}

/// `revoke-key`.
#[derive(Debug, Args)]
pub struct RevokeKeyArgs {
    #[command(flatten)]
    unit: Unit,
    /// The key's id (ACCA...).
    #[arg(long)]
    credential_id: String,
    /// Delete the key instead of deactivating it.
    #[arg(long)]
    delete: bool,
    #[command(flatten)]
    confirm: Confirm,
}

impl From<RevokeKeyArgs> for RevokeKeyInput {
    fn from(args: RevokeKeyArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
            credential_id: args.credential_id,
            action: if args.delete {
                RevokeAction::Delete
            } else {
                RevokeAction::Deactivate
            },
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}

/// `deprovision-user`.
#[derive(Debug, Args)]
pub struct DeprovisionUserArgs {
    #[command(flatten)]
    unit: Unit,
    #[command(flatten)]
    confirm: Confirm,
}

impl From<DeprovisionUserArgs> for DeprovisionUserInput {
    fn from(args: DeprovisionUserArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}
