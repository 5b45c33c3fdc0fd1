//! The `bedrock-provisioner` binary: logs to stderr (stdout is the MCP channel), then runs the CLI.

// The CLI's future nests every command's AWS SDK futures; computing its layout in release builds needs more
// than the default query depth of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;

use bedrock_provisioner::{cli::Cli, logging};

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    Cli::parse().run().await
}
