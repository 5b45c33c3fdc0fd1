//! The integration tests, as one test binary: each of them links the whole AWS SDK, so one binary instead
//! of ten saves nine links and several gigabytes of `target/`. They share one emulator; every test works in
//! its own emulator account.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../common/mod.rs"]
mod common;

mod api_keys;
mod aws_facts;
mod cli;
mod confirmation;
mod costs;
mod crash_matrix;
mod diagnose;
mod fault_matrix;
mod fleet;
mod fuzz;
mod http;
mod key_delivery;
mod lease;
mod mcp_app;
mod prompts;
mod provision_user;
mod report_html;
mod spend;
mod stdio_binary;
mod tool_surface;
mod verify_access;
