//! How the command line names what a remediation points at: subcommands (`provision-user`) and flags
//! (`--yes`, `--adopt`, `--business-unit marketing`) instead of the tools' `confirm: true`.

use crate::core::Dialect;

/// The command line's [`Dialect`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Cli;

impl Dialect for Cli {
    fn operation(&self, name: &str) -> String {
        format!("`{}`", name.replace('_', "-"))
    }

    fn field(&self, name: &str) -> String {
        format!("`{}`", flag(name))
    }

    fn argument(&self, name: &str, value: &str) -> String {
        let flag = match (name, value) {
            ("confirm", "true") => "--yes".to_owned(),
            ("action", "delete") => "--delete".to_owned(),
            (_, "true") => flag(name),
            _ => format!("{} {value}", flag(name)),
        };
        format!("`{flag}`")
    }

    fn again(&self) -> &'static str {
        "run the command again"
    }

    fn confirm_plan(&self, digest: &str) -> String {
        format!("`--yes --plan-digest {digest}`")
    }
}

/// The flag of an input field: `credential_age_days` is `--credential-age-days`; a field inside a map
/// (`tags.owner`) or a list keeps its name.
fn flag(field: &str) -> String {
    if field.contains(['.', '[']) {
        return field.to_owned();
    }
    format!("--{}", field.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Error, ToolDialect};

    #[test]
    fn each_adapter_names_its_own_controls() {
        let unconfirmed = Error::ConfirmationRequired {
            summary: "revoke_key would delete".into(),
            plan_digest: "00000000000000aa".into(),
        };
        let cli = unconfirmed.remediation(&Cli);
        assert!(
            cli.contains("`--yes --plan-digest 00000000000000aa`") && cli.contains("`--dry-run`"),
            "{cli}"
        );
        assert!(!cli.contains("confirm"), "{cli}");
        let agent = unconfirmed.remediation(&ToolDialect);
        assert!(
            agent.contains("`confirm: true` and `plan_digest: \"00000000000000aa\"`")
                && !agent.contains("--yes"),
            "{agent}"
        );
        let foreign = Error::ForeignUser {
            user_name: "x-bedrock-user".into(),
        };
        assert!(
            foreign
                .remediation(&Cli)
                .contains("`provision-user` with `--adopt`")
        );
        assert!(
            foreign
                .remediation(&ToolDialect)
                .contains("`provision_user` with `adopt: true`")
        );
        let missing = Error::NotProvisioned {
            business_unit: "sales".into(),
            user_name: "sales-bedrock-user".into(),
        };
        assert!(
            missing
                .remediation(&Cli)
                .contains("`--business-unit sales`")
        );
        let invalid = Error::invalid("credential_age_days", "too long");
        assert!(
            invalid
                .remediation(&Cli)
                .contains("`--credential-age-days`")
        );
        assert!(
            Error::invalid("tags.owner", "x")
                .remediation(&Cli)
                .contains("`tags.owner`")
        );
    }
}
