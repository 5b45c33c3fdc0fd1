//! Every operation the product offers, declared once: its tool name, title, toolset, access class,
//! whether a repeat changes nothing more, its CLI command and its line in the README. The MCP tools'
//! annotations, the modes and toolsets that offer them, the README's tool table and the bundle's tool
//! list all follow from [`OPERATIONS`]; tests fail when one of them has a tool this list does not.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::mode::AccessMode;

/// A group of tools offered or left out together (`--toolsets`), so an agent pays in context only for
/// the tools its job needs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Toolset {
    /// Business units: their IAM users.
    Units,
    /// Bedrock API keys.
    Keys,
    /// Spend: the bill, tags, budgets, usage within minutes and caps.
    Costs,
    /// Fleets: many units from one manifest, and key sweeps.
    Fleet,
    /// Diagnosis and proof of access.
    Diagnose,
}

impl Toolset {
    /// Every toolset, in the order the README lists them.
    pub const ALL: [Self; 5] = [
        Self::Units,
        Self::Keys,
        Self::Costs,
        Self::Fleet,
        Self::Diagnose,
    ];

    /// The name used on the command line and in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Units => "units",
            Self::Keys => "keys",
            Self::Costs => "costs",
            Self::Fleet => "fleet",
            Self::Diagnose => "diagnose",
        }
    }
}

/// Toolsets from a comma-separated list of their names (`all` for every one), e.g. `units,keys`: the
/// `--toolsets` flag and `BEDROCK_PROVISIONER_TOOLSETS`. An empty or unknown name is refused, naming it
/// and the names allowed.
pub fn parse_toolsets(list: &str) -> Result<Vec<Toolset>, String> {
    let mut toolsets = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name == "all" {
            toolsets.extend(Toolset::ALL);
            continue;
        }
        let toolset = Toolset::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown toolset `{name}`: give a comma-separated list of units, keys, costs, \
                     fleet, diagnose, or all"
                )
            })?;
        toolsets.push(toolset);
    }
    toolsets.sort_unstable();
    toolsets.dedup();
    Ok(toolsets)
}

/// What an operation may do to AWS; decides which [`AccessMode`] offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Creates or changes, never destroys.
    Write,
    /// May destroy or overwrite something that cannot be had back.
    Destructive,
}

impl Access {
    /// Whether the operation reads only.
    pub fn read_only(self) -> bool {
        self == Self::Read
    }

    /// Whether the operation may destroy something.
    pub fn destructive(self) -> bool {
        self == Self::Destructive
    }

    /// The least access mode that offers the operation.
    pub fn least_mode(self) -> AccessMode {
        match self {
            Self::Read => AccessMode::ReadOnly,
            Self::Write => AccessMode::Provision,
            Self::Destructive => AccessMode::Admin,
        }
    }
}

/// One operation, as every adapter and document sees it.
#[derive(Debug)]
pub struct Operation {
    /// The MCP tool's name.
    pub name: &'static str,
    /// A short title for people (the tool's `title` annotation).
    pub title: &'static str,
    /// The toolset it belongs to.
    pub toolset: Toolset,
    /// What it may do to AWS.
    pub access: Access,
    /// Whether repeating a call with the same arguments changes nothing more.
    pub idempotent: bool,
    /// The CLI command that runs it (`fleet plan` for a subcommand of a group).
    pub cli: &'static str,
    /// Its line in the README's tool table.
    pub summary: &'static str,
}

impl Operation {
    /// The operation named `name`, if there is one.
    pub fn find(name: &str) -> Option<&'static Self> {
        OPERATIONS.iter().find(|operation| operation.name == name)
    }

    /// Whether a server in `mode` with `toolsets` offers it.
    pub fn offered(&self, mode: AccessMode, toolsets: &[Toolset]) -> bool {
        mode.allows(self.access.read_only(), self.access.destructive())
            && toolsets.contains(&self.toolset)
    }
}

/// Every operation.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "list_business_units",
        title: "List business units with Bedrock access",
        toolset: Toolset::Units,
        access: Access::Read,
        idempotent: true,
        cli: "list-business-units",
        summary: "The business units' users (`*-bedrock-user`) with ARN, tags, managed or not, missing required tags.",
    },
    Operation {
        name: "provision_user",
        title: "Provision a business unit's Bedrock user",
        toolset: Toolset::Units,
        access: Access::Write,
        idempotent: true,
        cli: "provision-user",
        summary: "Create or repair `<business_unit>-bedrock-user`: tags `business-unit`, `purpose`, `owner`, `managed-by=bedrock-provisioner`, the least-privilege policy, the attachment. `dry_run`, `adopt`.",
    },
    Operation {
        name: "deprovision_user",
        title: "Deprovision a business unit's Bedrock user",
        toolset: Toolset::Units,
        access: Access::Destructive,
        idempotent: false,
        cli: "deprovision-user",
        summary: "Delete a managed user in IAM's order: service-specific credentials, access keys, signing certificates, SSH keys, MFA devices, login profile, group memberships, inline policies, managed-policy attachments, the user. `dry_run` shows the plan; needs `confirm: true`.",
    },
    Operation {
        name: "list_api_keys",
        title: "List Bedrock API keys",
        toolset: Toolset::Keys,
        access: Access::Read,
        idempotent: true,
        cli: "list-api-keys",
        summary: "Keys of one business unit or all managed ones: id, alias, status, created, expires, days left, flags `expired`, `expiring_soon` (< 7 days), `rotation_due` (≥ 30 days old), `inactive`. Never key values.",
    },
    Operation {
        name: "create_api_key",
        title: "Create a Bedrock API key",
        toolset: Toolset::Keys,
        access: Access::Write,
        idempotent: false,
        cli: "create-api-key",
        summary: "A Bedrock API key: long-term (default; `credential_age_days` default 30, at most 90: refused above, not clamped; a third key is refused with advice, IAM allows two) or `kind: short_term` (≤ 12 h, one region, signed locally with the server's credentials, byte-identical to `aws-bedrock-token-generator`). `deliver: inline` (the key once, with `AWS_BEARER_TOKEN_BEDROCK`, `AWS_REGION`, `CLAUDE_CODE_USE_BEDROCK=1`), `secrets_manager` (secret `bedrock-provisioner/<unit>/bedrock-api-key`, tagged like the user; only the ARN comes back) or `file` (a 0600 dotenv file in `--key-dir`: `<unit>.env`, or a chosen `file_name` in the unit's own 0700 subdirectory, so one unit cannot overwrite another's file; only the path comes back). If hand-off fails, the new key is deleted again.",
    },
    Operation {
        name: "rotate_key",
        title: "Rotate a Bedrock API key",
        toolset: Toolset::Keys,
        access: Access::Write,
        idempotent: false,
        cli: "rotate-key",
        summary: "Zero-downtime rotation: new key first, old key kept active (`mode: replace` deletes it after). Full slots: an expired/inactive key is deleted first; two active keys: name the one to replace. Same `deliver` options.",
    },
    Operation {
        name: "revoke_key",
        title: "Revoke a Bedrock API key",
        toolset: Toolset::Keys,
        access: Access::Destructive,
        idempotent: true,
        cli: "revoke-key",
        summary: "Deactivate (default, reversible) or delete one key; `dry_run`; needs `confirm: true`. A key of another business unit is refused.",
    },
    Operation {
        name: "query_costs",
        title: "Query Bedrock spend per business unit",
        toolset: Toolset::Costs,
        access: Access::Read,
        idempotent: true,
        cli: "query-costs",
        summary: "Bedrock spend per business unit from Cost Explorer (see below).",
    },
    Operation {
        name: "enable_cost_tags",
        title: "Activate cost allocation tags",
        toolset: Toolset::Costs,
        access: Access::Destructive,
        idempotent: true,
        cli: "enable-cost-tags",
        summary: "Activate `business-unit`, `purpose`, `owner` (and IAM-principal forms) as cost allocation tags; reports already active and not-yet-known keys. Idempotent; `dry_run`; needs `confirm: true`.",
    },
    Operation {
        name: "create_budget_alert",
        title: "Create a budget alert for a business unit",
        toolset: Toolset::Costs,
        access: Access::Destructive,
        idempotent: true,
        cli: "create-budget-alert",
        summary: "AWS Budgets monthly cost budget `bedrock-<unit>-monthly`, filtered on the unit's tag (an active `iamPrincipal/business-unit` alone: every model counts; a plain `business-unit` tag also on the Bedrock billing services seen so far, a list that only grows), metric `UnblendedCost` (AWS needs `Metrics` beside a filter), e-mail alerts (default 80 %/100 % actual, 100 % forecasted). Idempotent: an unchanged budget is never rewritten (`UpdateBudget` resets its calculated spend); `dry_run`; needs `confirm: true`.",
    },
    Operation {
        name: "enable_usage_logging",
        title: "Enable usage logging",
        toolset: Toolset::Costs,
        access: Access::Destructive,
        idempotent: true,
        cli: "enable-usage-logging",
        summary: "Bedrock model invocation logging in the server's region into the CloudWatch Logs group `bedrock-provisioner/model-invocations` (retention `retention_days`, default 400), written by a role only Bedrock can assume for this account; every data-delivery flag off, so no prompt or answer is ever stored. Logging that already goes elsewhere is not overwritten. `dry_run`; needs `confirm: true`.",
    },
    Operation {
        name: "query_usage",
        title: "Query usage per business unit",
        toolset: Toolset::Costs,
        access: Access::Read,
        idempotent: true,
        cli: "query-usage",
        summary: "Calls and tokens (input, output, cache read, cache write) per business unit and model within minutes of the calls, from the invocation logs (one Logs Insights query), with an estimated cost from the Price List (`pricing:GetProducts`), labelled an estimate. `since`: `15m`, `6h`, `7d` or `month` (default). Callers that are not a managed unit are listed as such.",
    },
    Operation {
        name: "set_spend_cap",
        title: "Set a business unit's spend cap",
        toolset: Toolset::Costs,
        access: Access::Destructive,
        idempotent: true,
        cli: "set-spend-cap",
        summary: "A unit's monthly cap in USD (`monthly_cap_usd`; null or `--remove` removes it), kept as the tag `bedrock-provisioner:monthly-cap-usd` on its user so every machine agrees. `dry_run`; needs `confirm: true`.",
    },
    Operation {
        name: "enforce_spend_caps",
        title: "Enforce spend caps",
        toolset: Toolset::Costs,
        access: Access::Destructive,
        idempotent: true,
        cli: "enforce",
        summary: "Compares each unit's month-to-date estimate with its cap (one usage query for every unit) and attaches the deny policy `BedrockProvisionerSpendCapDeny` to the user of each unit whose cap is spent (every long-term key of the unit stops), recorded on the user (`bedrock-provisioner:capped`); lifts it when the month turns or the cap is raised. Idempotent, no confirmation; `dry_run`. `enforce --every 5m` keeps running.",
    },
    Operation {
        name: "plan_fleet",
        title: "Plan a fleet of business units",
        toolset: Toolset::Fleet,
        access: Access::Read,
        idempotent: true,
        cli: "fleet plan",
        summary: "Every unit of a manifest (TOML text, the format of `fleet.example.toml`): what `apply_fleet` would change, drift, and managed units the manifest does not name. The manifest is validated first; errors name the line and the rule. See [Fleets](#fleets-every-unit-in-one-manifest).",
    },
    Operation {
        name: "apply_fleet",
        title: "Apply a fleet of business units",
        toolset: Toolset::Fleet,
        access: Access::Write,
        idempotent: true,
        cli: "fleet apply",
        summary: "Create or repair every unit of a manifest (user, tags, policy, attachment, budget), a few at a time; units in other accounts through their role. Idempotent; removes nothing.",
    },
    Operation {
        name: "sweep_keys",
        title: "Rotate due keys of every unit",
        toolset: Toolset::Fleet,
        access: Access::Write,
        idempotent: true,
        cli: "fleet sweep",
        summary: "Every managed unit without a fresh working key gets a new key (Secrets Manager or file, never inline) and the due key is deleted once the new one is there; `dry_run`.",
    },
    Operation {
        name: "diagnose",
        title: "Diagnose Bedrock setup",
        toolset: Toolset::Diagnose,
        access: Access::Read,
        idempotent: true,
        cli: "diagnose",
        summary: "Thirteen checks run concurrently, each `pass/warn/fail/skipped` with evidence and the fix (see below). The CLI exits 1 when a check fails.",
    },
    Operation {
        name: "verify_access",
        title: "Verify a business unit can call Claude",
        toolset: Toolset::Diagnose,
        access: Access::Read,
        idempotent: true,
        cli: "verify-access",
        summary: "Proves a business unit can call Claude, at no cost: `SimulatePrincipalPolicy` for its user on the exact resources a call touches (the inference profile, the foundation model in every destination region, the default project), and with `api_key` one free `CountTokens` call with that key (`invoke: true`: one 1-token `Converse`, a fraction of a cent). Names each denied action and resource and the fix; never echoes the key. The CLI exits 1 unless the verdict is `can_call`.",
    },
];

/// The README's tool table, generated from [`OPERATIONS`] (between the README's `tools` markers).
pub fn readme_table() -> String {
    let mut table = String::from(
        "| Tool | CLI | Least mode | Toolset | What it does |\n|---|---|---|---|---|\n",
    );
    for operation in OPERATIONS {
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            operation.name,
            operation.cli,
            operation.access.least_mode().as_str(),
            operation.toolset.as_str(),
            operation.summary
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_toolset_has_operations() {
        let mut names: Vec<_> = OPERATIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        for toolset in Toolset::ALL {
            assert!(
                OPERATIONS.iter().any(|o| o.toolset == toolset),
                "{toolset:?}"
            );
        }
    }

    #[test]
    fn toolset_lists_parse_and_refuse_unknown_names() {
        assert_eq!(
            parse_toolsets("keys, units,keys").unwrap(),
            [Toolset::Units, Toolset::Keys]
        );
        assert_eq!(parse_toolsets("all").unwrap(), Toolset::ALL);
        let refused = parse_toolsets("units,spend").unwrap_err();
        assert!(refused.contains("`spend`"), "{refused}");
        assert!(parse_toolsets("").is_err());
    }

    #[test]
    fn offered_follows_mode_and_toolsets() {
        let revoke = Operation::find("revoke_key").unwrap();
        assert!(revoke.offered(AccessMode::Admin, &[Toolset::Keys]));
        assert!(!revoke.offered(AccessMode::Provision, &[Toolset::Keys]));
        assert!(!revoke.offered(AccessMode::Admin, &[Toolset::Units]));
        assert!(Operation::find("no_such_tool").is_none());
    }
}
