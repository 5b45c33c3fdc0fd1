//! The operations that need more of their [`Call`] than the core and the input: progress, the stop
//! signal, the adapter's mode.

use super::Call;
use crate::core::{
    Error, Result,
    diagnose::{DiagnoseInput, DiagnoseReport},
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
        .fleet(&input, false, call.progress, call.stop.clone())
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
    call.core
        .fleet(&input, true, call.progress, call.stop.clone())
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
