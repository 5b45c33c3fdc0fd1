//! The `bedrock-provisioner` binary: logs to stderr (stdout is the MCP channel), then runs the CLI.

use std::process::ExitCode;

use clap::Parser;

use bedrock_provisioner::{cli::Cli, logging};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    Cli::parse().run().await
}
