//! The domain: validated types and rules with no AWS call in them, shared by every area.

pub mod cost_tags;
pub mod error;
pub mod governance;
pub mod names;
pub mod plan;
pub mod policy;
pub mod secret;
