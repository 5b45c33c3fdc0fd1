//! bedrock-provisioner: give each business unit its own, accounted access to Claude on Amazon Bedrock.
//!
//! Layers: [`core`] (the domain, no MCP or CLI types), [`mcp`] (the MCP server), [`cli`] (the command line);
//! [`audit`] records the mutating calls of both.

pub mod audit;
pub mod cli;
pub mod config;
pub mod core;
pub mod logging;
pub mod mcp;
pub mod mode;
pub mod operations;
