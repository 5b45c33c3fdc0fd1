//! The `bedrock-provisioner` binary: logs to stderr (stdout is the MCP channel), then runs the CLI on a
//! tokio runtime: multi-threaded for HTTP (concurrent sessions), one thread for everything else (a stdio
//! server has one client, and its AWS calls are concurrent on one thread), which keeps start-up lean.

// The CLI's future nests every command's AWS SDK futures; computing its layout in release builds needs more
// than the default query depth of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;

use bedrock_provisioner::{cli::Cli, logging};

fn main() -> ExitCode {
    logging::init();
    let cli = Cli::parse();
    let mut builder = if cli.serves_http() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(cli.run()),
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
