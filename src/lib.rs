//! bedrock-provisioner: give each business unit its own, accounted access to Claude on Amazon Bedrock.
//!
//! Layers: [`core`] (the domain, no MCP or CLI types), [`mcp`] (the MCP server), [`cli`] (the command line);
//! [`audit`] records the mutating calls of both.

// No function of the library over 100 lines (the threshold is in clippy.toml); scripts/long-functions also
// bounds how many pass 60.
#![deny(clippy::too_many_lines)]

pub mod audit;
pub mod cli;
pub mod config;
pub mod core;
pub mod logging;
pub mod mcp;
pub mod mode;
pub mod operations;
