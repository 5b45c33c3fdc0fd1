//! Which tools a server exposes in an [`AccessMode`], derived from each tool's annotations.

use rmcp::model::ToolAnnotations;

use crate::mode::AccessMode;

/// Whether a tool with these annotations belongs to `mode`. Missing hints count as the MCP defaults: not
/// read-only, destructive.
pub fn allows(mode: AccessMode, annotations: Option<&ToolAnnotations>) -> bool {
    let read_only = annotations.and_then(|a| a.read_only_hint).unwrap_or(false);
    let destructive = annotations.and_then(|a| a.destructive_hint).unwrap_or(true);
    mode.allows(read_only, destructive)
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
            let got = [&read, &create, &destroy, &unannotated].map(|a| allows(mode, Some(a)));
            assert_eq!(got, expected, "{mode:?}");
            assert_eq!(allows(mode, None), mode == AccessMode::Admin);
        }
    }
}
