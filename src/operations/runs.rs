//! The operations that need more of their [`Call`] than the core and the input (progress, the stop
//! signal, the adapter's mode), and those made of the core's shared reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Call;
use crate::core::{
    Error, Result,
    diagnose::{DiagnoseInput, DiagnoseReport},
    domain::plan::Confirmation,
    fleet::{self, FleetInput, FleetReport, Pace, SweepInput, manifest, sweep::SweepReport},
};

/// `diagnose`: a progress line per finished check (`credentials: pass`).
pub async fn diagnose(call: Call<'_>, input: DiagnoseInput) -> Result<DiagnoseReport> {
    let notify = |step: crate::core::diagnose::Progress| {
        let line = format!("{}: {:?}", step.check.as_str(), step.status).to_lowercase();
        (call.progress)(step.completed, step.total, &line);
    };
    call.core.diagnose_with_progress(&input, &notify).await
}

/// `plan_fleet`: a progress line per planned unit.
pub async fn plan_fleet(call: Call<'_>, input: FleetInput) -> Result<FleetReport> {
    call.core
        .fleet(&input, None, call.progress, call.stop.clone())
        .await
}

/// `apply_fleet`: a progress line per finished unit; a stopped call starts no further unit. `prune`
/// removes units, so only an admin-mode adapter accepts it.
pub async fn apply_fleet(call: Call<'_>, input: FleetInput) -> Result<FleetReport> {
    if input.prune && !call.mode.allows(false, true) {
        return Err(Error::invalid(
            "prune",
            format!(
                "removes units, which only a server in admin mode may do; this one runs in {} mode \
                 (apply without prune, or start the server with `--mode admin`)",
                call.mode.as_str()
            ),
        ));
    }
    let confirmation = Confirmation::of(input.confirm, input.plan_digest.as_deref())?;
    call.core
        .fleet(&input, Some(confirmation), call.progress, call.stop.clone())
        .await
}

/// `sweep_keys`: the manifest, when given, validated first; a progress line per finished unit; a stopped
/// call starts no further unit.
pub async fn sweep_keys(call: Call<'_>, input: SweepInput) -> Result<SweepReport> {
    let concurrency = fleet::concurrency(input.concurrency)?;
    let manifest = match input.manifest.as_deref() {
        Some(text) => Some(
            manifest::parse_off_runtime("manifest", text, &call.core.settings().default_policy)
                .await?,
        ),
        None => None,
    };
    let pace = Pace::new(concurrency, call.progress, call.stop.clone());
    call.core
        .sweep_keys(input.dry_run, input.deliver, manifest.as_ref(), &pace)
        .await
}

/// `whoami`'s input: nothing.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiInput {}

/// Where this server's calls go.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Whoami {
    /// The AWS account every call goes to.
    pub account: String,
    /// The principal the server acts as (an assumed-role session ARN for roles).
    pub caller_arn: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// The region of the regional calls (Bedrock, CloudWatch Logs, Secrets Manager, the usage logs).
    pub region: String,
    /// The access mode: `read-only`, `provision` or `admin`.
    pub mode: String,
}

/// `whoami`: the caller (STS `GetCallerIdentity`, asked once per process) and the region.
pub async fn whoami(call: Call<'_>, _input: WhoamiInput) -> Result<Whoami> {
    let caller = call.core.caller().await?;
    Ok(Whoami {
        account: caller.account.clone(),
        caller_arn: caller.arn.clone(),
        partition: caller.partition.clone(),
        region: call.core.clients().await.region.clone(),
        mode: call.mode.as_str().to_owned(),
    })
}

impl crate::audit::Audited for Whoami {}
