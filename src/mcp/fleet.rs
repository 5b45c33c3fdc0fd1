//! The fleet tools' adapter: `plan_fleet`, `apply_fleet` and `sweep_keys` with a progress notification per
//! finished unit, the request's cancellation as the run's stop signal, and `prune` refused outside admin
//! mode.

use rmcp::{Json, RoleServer, service::RequestContext};

use super::{ProvisionerServer, ToolError, progress_notifier};
use crate::core::fleet::{
    self, FleetInput, FleetReport, Pace, SweepInput, manifest, sweep::SweepReport,
};

impl ProvisionerServer {
    /// `plan_fleet` and `apply_fleet`: a progress notification per finished unit; a cancelled request
    /// starts no further unit. `prune` removes units, so only an admin-mode server accepts it.
    pub(super) async fn fleet(
        &self,
        input: &FleetInput,
        apply: bool,
        context: &RequestContext<RoleServer>,
    ) -> Result<Json<FleetReport>, ToolError> {
        if input.prune && apply && !self.mode.allows(false, true) {
            return Err(ToolError(crate::core::Error::invalid(
                "prune",
                format!(
                    "removes units, which only a server in admin mode may do; this one runs in {} mode \
                     (apply without prune, or start the server with `--mode admin`)",
                    self.mode.as_str()
                ),
            )));
        }
        let progress = progress_notifier(context);
        let notify = |done, total, line: &str| progress(done, total, line.to_owned());
        let report = self
            .core
            .fleet(input, apply, &notify, context.ct.clone())
            .await?;
        Ok(Json(report))
    }

    /// `sweep_keys`: the manifest, when given, validated first; a progress notification per finished
    /// unit; a cancelled request starts no further unit.
    pub(super) async fn sweep(
        &self,
        input: &SweepInput,
        context: &RequestContext<RoleServer>,
    ) -> Result<Json<SweepReport>, ToolError> {
        let concurrency = fleet::concurrency(input.concurrency)?;
        let manifest = match input.manifest.as_deref() {
            Some(text) => Some(
                manifest::parse_off_runtime("manifest", text, &self.core.settings().default_policy)
                    .await?,
            ),
            None => None,
        };
        let progress = progress_notifier(context);
        let notify = |done, total, line: &str| progress(done, total, line.to_owned());
        let pace = Pace::new(concurrency, &notify, context.ct.clone());
        let report = self
            .core
            .sweep_keys(input.dry_run, input.deliver, manifest.as_ref(), &pace)
            .await?;
        Ok(Json(report))
    }
}
