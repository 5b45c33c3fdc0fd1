//! `fleet plan`, `fleet apply` and `fleet sweep`: the manifest read and validated before any AWS call,
//! every unit planned or applied a few at a time with a progress line each on stderr, a compact table for
//! people, exit codes for CI. Ctrl-C stops starting units; the ones in flight finish.

use std::{fmt, process::ExitCode};

use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::{
    args::{DeliverArg, Output},
    setup::Context,
    wording,
};
use crate::{
    audit::{self, Outcome},
    core::{
        Error,
        domain::plan::Confirmation,
        fleet::{FleetAction, FleetReport, Pace, manifest, sweep::SweepReport},
    },
};

/// `fleet`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Show what `fleet apply` would change for every unit of the manifest; exits 0 when nothing would,
    /// 2 when changes are pending, 1 on an error (like `terraform plan -detailed-exitcode`).
    Plan(FleetArgs),
    /// Create or repair every unit of the manifest: user, tags, policy, attachment, budget and key.
    Apply(FleetArgs),
    /// Rotate the keys of every managed unit that has no fresh working key (expired, expiring or due for
    /// rotation): a new key to the unit's destination, the due key deleted once it is there.
    Sweep(SweepArgs),
}

/// `fleet sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A manifest: its units' `key` settings apply, and its accounts are swept too.
    pub file: Option<std::path::PathBuf>,
    /// Say which keys would be rotated; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where new keys go: `secrets-manager` or `file` [default: the unit's `key.deliver` in the
    /// manifest, else the configured default_delivery].
    #[arg(long, value_enum)]
    pub deliver: Option<DeliverArg>,
    /// Units in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

/// The manifest and how many units run at once.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The manifest (see fleet.example.toml).
    pub file: std::path::PathBuf,
    /// Units in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Also remove the managed units the manifest does not name (their keys, policies and users), once
    /// every unit applied; `fleet apply --prune` needs `--yes`.
    #[arg(long)]
    pub prune: bool,
    /// Confirm the removals of `--prune`.
    #[arg(long)]
    pub yes: bool,
    /// With `--yes`: remove only what the plan with this digest removes (the one an unconfirmed run
    /// printed); a plan that changed since is printed again instead.
    #[arg(long, value_name = "DIGEST", requires = "yes")]
    pub plan_digest: Option<String>,
}

/// `fleet plan` exits with this when changes are pending.
const CHANGES_PENDING: u8 = 2;

/// A stop signal cancelled by the first Ctrl-C; a second one exits at once (130, as a shell would).
fn interrupt() -> CancellationToken {
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: finishing the units in flight, starting no more (Ctrl-C again to quit now)"
            );
            signal.cancel();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    stop
}

/// A progress line on stderr per finished unit.
fn progress_line(done: usize, total: usize, line: &str) {
    eprintln!("[{done}/{total}] {line}");
}

impl Context {
    /// Plan or apply a manifest.
    pub(super) async fn fleet(&self, command: FleetCommand) -> ExitCode {
        let (args, apply) = match command {
            FleetCommand::Plan(args) => (args, false),
            FleetCommand::Apply(args) => (args, true),
            FleetCommand::Sweep(args) => return self.sweep(args).await,
        };
        let pace = Pace::new(args.concurrency as usize, &progress_line, interrupt());
        let confirm = Confirmation::of(args.yes, args.plan_digest.as_deref());
        let result = match (self.load_manifest(&args.file), confirm) {
            (Ok(manifest), Ok(confirm)) => {
                let action = FleetAction {
                    apply,
                    prune: args.prune,
                    confirm,
                };
                self.core.run_fleet(&manifest, action, &pace).await
            }
            (Err(error), _) | (_, Err(error)) => Err(error),
        };
        if apply {
            self.audit_fleet(&args, &result).await;
        }
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                let remediation = error.remediation(&wording::Cli);
                eprintln!("error: {error}\n\nWhat to do: {remediation}");
                return ExitCode::FAILURE;
            }
        };
        match self.output {
            Output::Json => print_json(&report),
            Output::Text => print!("{report}"),
        }
        match (report.has_errors(), report.has_changes() && !apply) {
            (true, _) => ExitCode::FAILURE,
            (false, true) => ExitCode::from(CHANGES_PENDING),
            (false, false) => ExitCode::SUCCESS,
        }
    }

    fn load_manifest(&self, file: &std::path::Path) -> Result<manifest::Manifest, Error> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file)
            .map_err(|error| Error::invalid(name.clone(), format!("cannot read it: {error}")))?;
        manifest::parse(&name, &text, &self.core.settings().default_policy)
    }

    /// One audit record for an apply: what it created, per unit, and its outcome.
    async fn audit_fleet(&self, args: &FleetArgs, result: &Result<FleetReport, Error>) {
        let arguments = serde_json::json!({
            "manifest": args.file.display().to_string(),
            "prune": args.prune,
        });
        // A run with failed units is recorded as `partial` (from its effects), as over MCP.
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(error) => Outcome::Error(error.kind().to_owned()),
        };
        let report = result
            .as_ref()
            .ok()
            .and_then(|report| serde_json::to_value(report).ok());
        let call = audit::Call {
            client: format!("cli {}", env!("CARGO_PKG_VERSION")),
            tool: "apply_fleet",
            arguments,
            outcome,
            result: report.as_ref(),
            effects: result
                .as_ref()
                .map_or_else(audit::Effects::of_error, audit::Audited::effects),
            elicited: false,
            peer: None,
            stream_peer: None,
        };
        self.audit.record_call(&self.core, call).await;
    }

    /// `fleet sweep`: exits 1 when a rotation failed or did not start.
    async fn sweep(&self, args: SweepArgs) -> ExitCode {
        let deliver = args.deliver.map(Into::into);
        let pace = Pace::new(args.concurrency as usize, &progress_line, interrupt());
        let result = match args
            .file
            .as_deref()
            .map(|f| self.load_manifest(f))
            .transpose()
        {
            Ok(manifest) => {
                self.core
                    .sweep_keys(args.dry_run, deliver, manifest.as_ref(), &pace)
                    .await
            }
            Err(error) => Err(error),
        };
        let failed = result
            .as_ref()
            .is_ok_and(|r| r.units.iter().any(|u| u.error.is_some()) || !r.unreachable.is_empty());
        let arguments = serde_json::json!({"dry_run": args.dry_run, "deliver": deliver});
        let code = self.audited("sweep_keys", &arguments, result).await;
        if failed { ExitCode::FAILURE } else { code }
    }
}

fn print_json(report: &FleetReport) {
    match serde_json::to_string_pretty(report) {
        Ok(json) => println!("{json}"),
        Err(error) => eprintln!("error: could not encode the result as JSON: {error}"),
    }
}

/// One line per unit: rotated (old → new), or left and why.
impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        for unit in &report.units {
            let line = match (&unit.error, &unit.replaced) {
                (Some(error), _) => format!("error: {error}"),
                (None, Some(old)) if report.dry_run => format!("would replace {old}"),
                (None, Some(old)) => format!(
                    "replaced {old} with {}",
                    unit.new_key.as_deref().unwrap_or("?")
                ),
                (None, None) => format!("left: {}", unit.detail),
            };
            writeln!(f, "{:<28} {line}", unit.business_unit)?;
        }
        for why in &report.unreachable {
            writeln!(f, "not swept: {why}")?;
        }
        if report.cancelled {
            writeln!(
                f,
                "cancelled: the units not started are listed as such; run it again to finish"
            )?;
        }
        Ok(())
    }
}

/// A compact table: one line per unit, its changes and drift below it.
impl fmt::Display for FleetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let verb = if report.plan { "to change" } else { "changed" };
        for unit in &report.units {
            let status = match (&unit.error, unit.changes.len()) {
                (Some(_), _) => "error".to_owned(),
                (None, 0) => "unchanged".to_owned(),
                (None, n) => format!("{n} {verb}"),
            };
            writeln!(f, "{:<28} {status}", unit.business_unit)?;
            for change in &unit.changes {
                writeln!(f, "    {change}")?;
            }
            for drift in &unit.drift {
                writeln!(f, "    drift: {drift}")?;
            }
            if let Some(error) = &unit.error {
                writeln!(f, "    error: {error}")?;
            }
        }
        for absent in &report.absent {
            let what = absent.error.as_deref().unwrap_or(&absent.detail);
            writeln!(
                f,
                "{:<28} account {}: {what}",
                absent.business_unit, absent.account
            )?;
        }
        if report.cancelled {
            writeln!(
                f,
                "cancelled: the units not started are listed as such; run it again to finish"
            )?;
        }
        let changed = report
            .units
            .iter()
            .filter(|u| !u.changes.is_empty())
            .count();
        let failed = report.units.iter().filter(|u| u.error.is_some()).count();
        writeln!(
            f,
            "{} units: {changed} {verb}, {failed} failed",
            report.units.len()
        )?;
        Ok(())
    }
}
