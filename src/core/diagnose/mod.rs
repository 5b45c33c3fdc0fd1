//! `diagnose`: every failure of the troubleshooting guide, checked automatically and concurrently, each
//! with evidence and the fix. The credentials check runs first; when it fails, the checks that need AWS
//! are `skipped` with that reason. Every check runs under its own timeout.

mod access;
mod account;
mod local;
mod models;
mod needed;
mod usage;
pub mod verify;

use std::{
    future::Future,
    path::PathBuf,
    pin::Pin,
    time::{Duration, Instant},
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, parse_region},
};

/// Regions probed when the caller names none: the configured one plus these.
pub const DEFAULT_PROBE_REGIONS: [&str; 4] =
    ["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"];

/// Input of `diagnose`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseInput {
    /// A business unit to check (user, tags, policy, keys).
    #[serde(default)]
    pub business_unit: Option<String>,
    /// A model or inference profile id to check.
    #[serde(default)]
    pub model_id: Option<String>,
    /// A Bedrock API key to inspect (never echoed).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Regions to compare (default: the server's and four common ones).
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    /// A project directory whose `.mcp.json` to check.
    #[serde(default)]
    pub project_dir: Option<String>,
    /// Only these checks (default: all).
    #[serde(default)]
    pub checks: Option<Vec<CheckId>>,
}

/// The checks, each with a stable id.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// AWS credentials resolve and STS accepts them.
    Credentials,
    /// The caller may do what this server needs.
    Permissions,
    /// Anthropic models are listed and usable (agreement, authorization, entitlement, use-case form).
    ModelAccess,
    /// The business unit's user exists, is managed, tagged, and has the policy.
    User,
    /// The business unit's keys, and a given key value.
    ApiKey,
    /// The configured region offers Claude; which region to use otherwise.
    Region,
    /// A given model id is available in the region, or which inference profile to use.
    ModelInRegion,
    /// Bedrock answers without throttling; retry and quota advice.
    Throttling,
    /// The cost allocation tags are active.
    CostTags,
    /// A project's `.mcp.json` runs this server correctly.
    McpConfig,
    /// Environment variables and clock skew.
    Environment,
    /// A given key of the business unit calls Bedrock (one free CountTokens call, as verify_access).
    KeyWorks,
    /// Bedrock's invocation logging (usage within minutes, spend caps), and a unit's cap.
    UsageLogging,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [Self; 13] = [
        Self::Credentials,
        Self::Permissions,
        Self::ModelAccess,
        Self::User,
        Self::ApiKey,
        Self::Region,
        Self::ModelInRegion,
        Self::Throttling,
        Self::CostTags,
        Self::McpConfig,
        Self::Environment,
        Self::KeyWorks,
        Self::UsageLogging,
    ];

    /// Whether the check calls AWS (and is skipped without credentials).
    fn needs_aws(self) -> bool {
        !matches!(self, Self::McpConfig)
    }

    /// The id as it appears in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Permissions => "permissions",
            Self::ModelAccess => "model_access",
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Region => "region",
            Self::ModelInRegion => "model_in_region",
            Self::Throttling => "throttling",
            Self::CostTags => "cost_tags",
            Self::McpConfig => "mcp_config",
            Self::Environment => "environment",
            Self::KeyWorks => "key_works",
            Self::UsageLogging => "usage_logging",
        }
    }
}

/// The outcome of a check.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Works, but something needs attention.
    Warn,
    /// Broken: the remediation says how to fix it.
    Fail,
    /// Not run (no input for it, or an earlier check failed).
    Skipped,
}

/// One check's result.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Which check.
    pub id: CheckId,
    /// The outcome.
    pub status: CheckStatus,
    /// One line on what was found.
    pub summary: String,
    /// What was observed (never a secret).
    pub evidence: Vec<String>,
    /// What to do, step by step (empty when nothing is needed).
    pub remediation: Vec<String>,
    /// How long the check took, in milliseconds.
    pub elapsed_ms: u64,
}

impl CheckResult {
    fn new(id: CheckId, status: CheckStatus, summary: impl Into<String>) -> Self {
        Self {
            id,
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            remediation: Vec::new(),
            elapsed_ms: 0,
        }
    }

    pub(crate) fn pass(id: CheckId, summary: impl Into<String>) -> Self {
        Self::new(id, CheckStatus::Pass, summary)
    }

    pub(crate) fn warn(id: CheckId, summary: impl Into<String>) -> Self {
        Self::new(id, CheckStatus::Warn, summary)
    }

    pub(crate) fn fail(id: CheckId, summary: impl Into<String>) -> Self {
        Self::new(id, CheckStatus::Fail, summary)
    }

    pub(crate) fn skipped(id: CheckId, summary: impl Into<String>) -> Self {
        Self::new(id, CheckStatus::Skipped, summary)
    }

    pub(crate) fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    pub(crate) fn fix(mut self, step: impl Into<String>) -> Self {
        self.remediation.push(step.into());
        self
    }

    /// A check that could not complete because AWS answered with an error.
    pub(crate) fn from_error(id: CheckId, error: &Error) -> Self {
        let status = match error {
            Error::AccessDenied { .. } | Error::Throttled { .. } => CheckStatus::Warn,
            _ => CheckStatus::Fail,
        };
        Self::new(id, status, format!("could not complete: {error}"))
            .fix(error.remediation(&crate::core::ToolDialect))
    }
}

/// Result of `diagnose`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DiagnoseReport {
    /// The region checked.
    pub region: String,
    /// One paragraph to relay to the user.
    pub summary: String,
    /// Counts of passed, warned, failed and skipped checks.
    pub counts: Counts,
    /// The checks, in a fixed order.
    pub checks: Vec<CheckResult>,
    /// Wall-clock time of the whole diagnosis, in milliseconds.
    pub elapsed_ms: u64,
}

/// One finished check, for progress reporting.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Checks finished so far.
    pub completed: usize,
    /// Checks in this run.
    pub total: usize,
    /// The check that just finished.
    pub check: CheckId,
    /// How it ended.
    pub status: CheckStatus,
}

/// How many checks ended how.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Warnings.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skipped: usize,
}

/// Validated inputs shared by the checks.
pub(crate) struct Request {
    pub unit: Option<BusinessUnit>,
    pub model_id: Option<String>,
    pub api_key: Option<crate::core::domain::secret::Secret>,
    pub regions: Vec<String>,
    pub project_dir: Option<PathBuf>,
    pub region: String,
    /// Anthropic models per probed region, listed once per run and shared by the checks.
    pub models: std::collections::HashMap<String, ModelList>,
}

/// The Anthropic models of one region, filled by the first check that asks.
pub(crate) type ModelList =
    tokio::sync::OnceCell<Vec<aws_sdk_bedrock::types::FoundationModelSummary>>;

type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// The checks `checks` names, in their order of [`CheckId::ALL`]; every check when it names none.
fn wanted_checks(checks: Option<&[CheckId]>) -> Result<Vec<CheckId>> {
    match checks {
        Some([]) => Err(Error::invalid(
            "checks",
            "must name at least one check, or be omitted for all",
        )),
        Some(list) => Ok(CheckId::ALL
            .into_iter()
            .filter(|id| list.contains(id))
            .collect()),
        None => Ok(CheckId::ALL.to_vec()),
    }
}

impl Provisioner {
    /// Run the checks and summarize them.
    pub async fn diagnose(&self, input: &DiagnoseInput) -> Result<DiagnoseReport> {
        self.diagnose_with_progress(input, &|_| {}).await
    }

    /// Run the checks, calling `progress` as each one finishes (for progress notifications).
    pub async fn diagnose_with_progress(
        &self,
        input: &DiagnoseInput,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<DiagnoseReport> {
        let started = Instant::now();
        let wanted = wanted_checks(input.checks.as_deref())?;
        let request = self.diagnose_request(input).await?;
        let timeout = self.settings().check_timeout;

        let total = wanted.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let report = |result: &CheckResult| {
            let completed = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(Progress {
                completed,
                total,
                check: result.id,
                status: result.status,
            });
        };
        // Credentials first: without them, every AWS check is skipped with the reason.
        let credentials = self.credentials_first(&wanted, timeout).await;
        if wanted.contains(&CheckId::Credentials) {
            report(&credentials);
        }
        let aws_ok = credentials.status == CheckStatus::Pass;
        let mut futures: Vec<CheckFuture<'_>> = Vec::new();
        for id in wanted
            .iter()
            .copied()
            .filter(|id| *id != CheckId::Credentials)
        {
            let check: CheckFuture<'_> = if id.needs_aws() && !aws_ok {
                let skipped = CheckResult::skipped(id, "skipped: the credentials check failed");
                Box::pin(std::future::ready(skipped))
            } else {
                let Some(check) = self.check(id, &request) else {
                    continue;
                };
                Box::pin(self.timed(id, timeout, check))
            };
            let report = &report;
            futures.push(Box::pin(async move {
                let result = check.await;
                report(&result);
                result
            }));
        }
        // Concurrently on this task: the checks borrow the provisioner, so they are not spawned.
        let mut checks = futures::future::join_all(futures).await;
        if wanted.contains(&CheckId::Credentials) {
            checks.insert(0, credentials);
        }
        let counts = count(&checks);
        Ok(DiagnoseReport {
            summary: summarize(&checks, counts),
            region: request.region,
            counts,
            checks,
            elapsed_ms: millis(started),
        })
    }

    /// The credentials check, run when any of `wanted` needs AWS.
    async fn credentials_first(&self, wanted: &[CheckId], timeout: Duration) -> CheckResult {
        if wanted.iter().any(|id| id.needs_aws()) {
            self.timed(CheckId::Credentials, timeout, self.check_credentials())
                .await
        } else {
            CheckResult::skipped(CheckId::Credentials, "no check needs AWS")
        }
    }

    /// The check `id` on `request`; `None` for the credentials check, which runs before the others.
    fn check<'a>(&'a self, id: CheckId, request: &'a Request) -> Option<CheckFuture<'a>> {
        Some(match id {
            CheckId::Credentials => return None,
            CheckId::Permissions => Box::pin(self.check_permissions()),
            CheckId::ModelAccess => Box::pin(self.check_model_access(request)),
            CheckId::User => Box::pin(self.check_user(request)),
            CheckId::ApiKey => Box::pin(self.check_api_key(request)),
            CheckId::Region => Box::pin(self.check_region(request)),
            CheckId::ModelInRegion => Box::pin(self.check_model_in_region(request)),
            CheckId::Throttling => Box::pin(self.check_throttling()),
            CheckId::CostTags => Box::pin(self.check_cost_tags()),
            CheckId::McpConfig => Box::pin(local::check_mcp_config(request)),
            CheckId::Environment => Box::pin(self.check_environment()),
            CheckId::KeyWorks => Box::pin(self.check_key_works(request)),
            CheckId::UsageLogging => Box::pin(self.check_usage_logging(request)),
        })
    }

    async fn diagnose_request(&self, input: &DiagnoseInput) -> Result<Request> {
        let unit = input
            .business_unit
            .as_deref()
            .map(|raw| BusinessUnit::parse("business_unit", raw))
            .transpose()?;
        let model_id = input
            .model_id
            .as_deref()
            .map(crate::core::aws::bedrock::parse_model_id)
            .transpose()?;
        let mut regions = Vec::new();
        for region in input.regions.iter().flatten() {
            regions.push(parse_region("regions", region)?);
        }
        if regions.len() > 16 {
            return Err(Error::invalid("regions", "at most 16 regions"));
        }
        let project_dir = input.project_dir.as_deref().map(PathBuf::from);
        let region = self.clients().await.region.clone();
        if regions.is_empty() {
            regions.push(region.clone());
            regions.extend(DEFAULT_PROBE_REGIONS.iter().map(|r| (*r).to_owned()));
        } else if !regions.contains(&region) {
            regions.insert(0, region.clone());
        }
        regions.dedup();
        let mut seen = std::collections::HashSet::new();
        regions.retain(|r| seen.insert(r.clone()));
        Ok(Request {
            unit,
            model_id,
            api_key: input
                .api_key
                .as_deref()
                .map(crate::core::domain::secret::Secret::new),
            models: regions
                .iter()
                .map(|r| (r.clone(), ModelList::new()))
                .collect(),
            regions,
            project_dir,
            region,
        })
    }

    /// Run one check under its timeout and record its duration.
    async fn timed(
        &self,
        id: CheckId,
        timeout: std::time::Duration,
        check: impl Future<Output = CheckResult>,
    ) -> CheckResult {
        let started = Instant::now();
        let mut result = match tokio::time::timeout(timeout, check).await {
            Ok(result) => result,
            Err(_) => CheckResult::warn(
                id,
                format!("did not finish within {} s", timeout.as_secs_f32()),
            )
            .fix("AWS or the network answered too slowly; run diagnose again, or check connectivity to the endpoint (proxy, VPC endpoint, AWS_ENDPOINT_URL)."),
        };
        result.elapsed_ms = millis(started);
        result
    }
}

fn count(checks: &[CheckResult]) -> Counts {
    let mut counts = Counts::default();
    for check in checks {
        match check.status {
            CheckStatus::Pass => counts.pass += 1,
            CheckStatus::Warn => counts.warn += 1,
            CheckStatus::Fail => counts.fail += 1,
            CheckStatus::Skipped => counts.skipped += 1,
        }
    }
    counts
}

fn summarize(checks: &[CheckResult], counts: Counts) -> String {
    let mut text = format!(
        "{} check{}: {} passed, {} warnings, {} failed, {} skipped.",
        checks.len(),
        if checks.len() == 1 { "" } else { "s" },
        counts.pass,
        counts.warn,
        counts.fail,
        counts.skipped
    );
    let failing: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    let warning: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Warn)
        .collect();
    for (label, list) in [("Failed", &failing), ("Warnings", &warning)] {
        if !list.is_empty() {
            let items: Vec<String> = list
                .iter()
                .map(|c| format!("{} ({})", c.id.as_str(), c.summary))
                .collect();
            text.push_str(&format!(" {label}: {}.", items.join("; ")));
        }
    }
    if let Some(first) = failing.first().and_then(|c| c.remediation.first()) {
        text.push_str(&format!(" Fix first: {first}"));
    } else if failing.is_empty() && warning.is_empty() {
        text.push_str(" Everything needed to provision and use Claude on Bedrock is in place.");
    }
    text
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
