//! `query-costs`, which can also write the report as an HTML page (`--html FILE`).

use std::{path::Path, process::ExitCode};

use super::{args::QueryCostsArgs, setup::Context};
use crate::core::costs::{CostReport, QueryCostsInput, html};

impl Context {
    /// `query-costs`: the report as text or JSON, and with `--html FILE` as a page in FILE too (its path
    /// on stderr, so JSON output stays one document).
    pub(super) async fn query_costs(&self, mut args: QueryCostsArgs) -> ExitCode {
        let page = args.html.take();
        let input = QueryCostsInput::from(args);
        let result = self.core.query_costs(&input).await;
        if let (Ok(report), Some(path)) = (&result, &page) {
            if let Err(error) = write_page(path, report) {
                eprintln!(
                    "error: could not write the HTML report to {}: {error}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            eprintln!("HTML report written to {}", path.display());
        }
        self.report(result)
    }
}

/// Write the page of `report` to `path`, made now.
fn write_page(path: &Path, report: &CostReport) -> std::io::Result<()> {
    std::fs::write(path, html::render(report, chrono::Utc::now()))
}
