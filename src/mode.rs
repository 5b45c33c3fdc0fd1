//! Access modes: how much a server may change. Which operations a mode allows follows from two facts
//! about each operation (read-only, destructive), so that a new one cannot slip into a mode by accident.
//! Shared by the configuration file, the command line and the MCP adapter.

use clap::ValueEnum;
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
    /// Whether an operation that is `read_only`, or else `destructive` or not, belongs to this mode.
    pub fn allows(self, read_only: bool, destructive: bool) -> bool {
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

    #[test]
    fn modes_nest() {
        let table = [
            (AccessMode::ReadOnly, [true, false, false]),
            (AccessMode::Provision, [true, true, false]),
            (AccessMode::Admin, [true, true, true]),
        ];
        for (mode, expected) in table {
            let got =
                [(true, false), (false, false), (false, true)].map(|(r, d)| mode.allows(r, d));
            assert_eq!(got, expected, "{mode:?}");
        }
    }
}
