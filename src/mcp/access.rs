//! Access modes: which tools a server exposes, derived from each tool's annotations so that a new tool
//! cannot slip into a mode by accident.

use clap::ValueEnum;
use rmcp::model::ToolAnnotations;
use serde::{Deserialize, Serialize};

/// How much the server may change. A tool outside the mode is neither listed nor callable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessMode {
    /// Only tools annotated `read_only_hint: true` (the default).
    #[default]
    ReadOnly,
    /// Adds tools that create or change resources without destroying anything.
    Provision,
    /// Adds destructive tools.
    Admin,
}

impl AccessMode {
    /// Whether a tool with these annotations belongs to this mode. Missing hints count as the MCP
    /// defaults: not read-only, destructive.
    pub fn allows(self, annotations: Option<&ToolAnnotations>) -> bool {
        let read_only = annotations.and_then(|a| a.read_only_hint).unwrap_or(false);
        let destructive = annotations.and_then(|a| a.destructive_hint).unwrap_or(true);
        match self {
            Self::ReadOnly => read_only,
            Self::Provision => read_only || !destructive,
            Self::Admin => true,
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Provision => "provision",
            Self::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(read_only: Option<bool>, destructive: Option<bool>) -> ToolAnnotations {
        let mut a = ToolAnnotations::default();
        a.read_only_hint = read_only;
        a.destructive_hint = destructive;
        a
    }

    #[test]
    fn modes_follow_annotations() {
        let read = hints(Some(true), Some(false));
        let create = hints(Some(false), Some(false));
        let destroy = hints(Some(false), Some(true));
        let unannotated = hints(None, None);
        let table = [
            (AccessMode::ReadOnly, [true, false, false, false]),
            (AccessMode::Provision, [true, true, false, false]),
            (AccessMode::Admin, [true, true, true, true]),
        ];
        for (mode, expected) in table {
            let got = [&read, &create, &destroy, &unannotated].map(|a| mode.allows(Some(a)));
            assert_eq!(got, expected, "{mode:?}");
            assert_eq!(mode.allows(None), mode == AccessMode::Admin);
        }
    }
}
