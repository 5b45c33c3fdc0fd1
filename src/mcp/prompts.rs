//! MCP prompts: the `/provisioning-bedrock` skill's workflows for agents other than Claude Code. Each prompt
//! is a user message naming only this server's tools and fields in backticks (a test checks every one of
//! them against the tool schemas).

use rmcp::{
    ErrorData,
    handler::server::{
        router::prompt::PromptRouter, router::tool::ToolRouter, wrapper::Parameters,
    },
    model::{PromptMessage, Role},
    prompt, prompt_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::ProvisionerServer;

/// Arguments of `give_unit_access`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GiveAccessArgs {
    /// The business unit, e.g. `marketing`.
    pub business_unit: String,
    /// What the unit uses Claude for.
    pub purpose: String,
    /// Who owns the unit's access (an e-mail address).
    pub owner: String,
}

/// Arguments of the prompts about one business unit.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UnitArgs {
    /// The business unit, e.g. `marketing`.
    pub business_unit: String,
}

/// Arguments of `unit_spend`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SpendArgs {
    /// First day, YYYY-MM-DD (default: the first of this month).
    #[serde(default)]
    pub start: Option<String>,
    /// Day after the last, YYYY-MM-DD (default: tomorrow).
    #[serde(default)]
    pub end: Option<String>,
}

/// Arguments of `unit_usage`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UsageArgs {
    /// A business unit (default: every unit).
    #[serde(default)]
    pub business_unit: Option<String>,
    /// The window: `15m`, `6h`, `7d` or `month` (default: `month`).
    #[serde(default)]
    pub since: Option<String>,
}

/// The tools each prompt relies on, and those it mentions as an optional last step. A prompt is listed only
/// in modes that have every tool it relies on.
pub const PROMPT_TOOLS: &[(&str, &[&str], &[&str])] = &[
    (
        "give_unit_access",
        &[
            "diagnose",
            "provision_user",
            "create_api_key",
            "verify_access",
        ],
        &[],
    ),
    (
        "rotate_unit_key",
        &["list_api_keys", "rotate_key", "verify_access"],
        &["revoke_key"],
    ),
    (
        "why_unit_cannot_call_claude",
        &["diagnose", "verify_access"],
        &["provision_user", "rotate_key"],
    ),
    ("unit_spend", &["query_costs"], &["enable_cost_tags"]),
    (
        "unit_usage",
        &["query_usage"],
        &[
            "enable_usage_logging",
            "set_spend_cap",
            "enforce_spend_caps",
        ],
    ),
];

/// The prompts whose tools `tools` has.
pub(super) fn prompts_for(
    tools: &ToolRouter<ProvisionerServer>,
) -> PromptRouter<ProvisionerServer> {
    let mut router = ProvisionerServer::prompt_router();
    for (name, needed, _) in PROMPT_TOOLS {
        if !needed.iter().all(|tool| tools.has_route(tool)) {
            router.remove_route(name);
        }
    }
    router
}

/// The rules every workflow shares.
const SAFETY: &str = "Rules: never show or repeat a key value; change nothing without showing the \
`dry_run` plan first and getting the user's yes; relay each tool's `summary`, `warnings` and `notes`.";

fn user(text: String) -> Result<Vec<PromptMessage>, ErrorData> {
    Ok(vec![PromptMessage::new_text(Role::User, text)])
}

/// A prompt argument held to the rule of the tool field it becomes (a business unit's name, a tag value, a
/// window, a date), so no newline or fake instruction line reaches the message and its size is bounded.
fn checked<T>(parsed: crate::core::Result<T>) -> Result<T, ErrorData> {
    parsed.map_err(|error| ErrorData::invalid_params(error.to_string(), None))
}

fn unit(value: &str) -> Result<String, ErrorData> {
    checked(crate::core::domain::names::BusinessUnit::parse(
        "business_unit",
        value,
    ))
    .map(|u| u.to_string())
}

fn date(field: &str, value: &str) -> Result<String, ErrorData> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|d| d.to_string())
        .map_err(|_| {
            ErrorData::invalid_params(
                format!("invalid `{field}`: must be a date YYYY-MM-DD"),
                None,
            )
        })
}

// rmcp 3.11's `#[prompt]` generates an undocumented public `<name>_prompt_attr` function per prompt; the
// prompts themselves are documented below.
#[allow(missing_docs)]
#[prompt_router]
impl ProvisionerServer {
    /// Give a business unit its own access to Claude on Bedrock: check, provision, issue a key out of the
    /// transcript, prove it works.
    #[prompt(name = "give_unit_access")]
    async fn give_unit_access(
        &self,
        Parameters(args): Parameters<GiveAccessArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let unit = unit(&args.business_unit)?;
        let purpose = checked(crate::core::domain::names::TagValue::parse_required(
            "purpose",
            &args.purpose,
        ))?;
        let owner = checked(crate::core::domain::names::TagValue::parse_required(
            "owner",
            &args.owner,
        ))?;
        let (purpose, owner) = (purpose.as_str(), owner.as_str());
        user(format!(
            "Give business unit {unit} access to Claude on Amazon Bedrock.\n\
             1. Call `diagnose` with `business_unit` {unit}; if `credentials` or `permissions` fail, show their \
             `remediation` and stop.\n\
             2. Call `provision_user` with `business_unit` {unit}, `purpose` {purpose:?}, `owner` {owner:?} and \
             `dry_run` true; show the plan, and on the user's yes call it again without `dry_run`.\n\
             3. Call `create_api_key` with `business_unit` {unit} and `deliver` `secrets_manager` (or `file`; \
             `inline` only when the user asks), so the key never enters this conversation. Tell the user where \
             it went.\n\
             4. Call `verify_access` with `business_unit` {unit} and relay its `summary`.\n{SAFETY}"
        ))
    }

    /// Rotate a business unit's key without downtime.
    #[prompt(name = "rotate_unit_key")]
    async fn rotate_unit_key(
        &self,
        Parameters(args): Parameters<UnitArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let unit = unit(&args.business_unit)?;
        user(format!(
            "Rotate the Bedrock API key of business unit {unit} without downtime.\n\
             1. Call `list_api_keys` with `business_unit` {unit} and show each key's `status`, `expires` and \
             `flags`.\n\
             2. Call `rotate_key` with `business_unit` {unit}, `deliver` `secrets_manager` and `dry_run` true; \
             show the plan and, on the user's yes, run it without `dry_run`. The old key stays active until \
             clients use the new one.\n\
             3. Call `verify_access` with `business_unit` {unit}. Once the clients run on the new key, the old \
             one can be removed with `revoke_key` (`confirm` true, after the user agrees).\n{SAFETY}"
        ))
    }

    /// Find why a business unit cannot call Claude, and fix it.
    #[prompt(name = "why_unit_cannot_call_claude")]
    async fn why_unit_cannot_call_claude(
        &self,
        Parameters(args): Parameters<UnitArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let unit = unit(&args.business_unit)?;
        user(format!(
            "Business unit {unit} cannot call Claude on Amazon Bedrock. Find out why and fix it.\n\
             1. Call `diagnose` with `business_unit` {unit} (add `model_id` when the user names a model) and \
             relay its `summary`.\n\
             2. Call `verify_access` with `business_unit` {unit}; each denied action and resource is in \
             `permissions`, the fix in `remediation`.\n\
             3. Apply the first fix with the tool it names (often `provision_user` to refresh the policy, or \
             `rotate_key` for an expired key), after showing the `dry_run` plan; then call `verify_access` \
             again.\n{SAFETY}"
        ))
    }

    /// Report a business unit's usage within minutes, priced, and its cap.
    #[prompt(name = "unit_usage")]
    async fn unit_usage(
        &self,
        Parameters(args): Parameters<UsageArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let who = match args.business_unit.as_deref() {
            Some(u) => format!("business unit {:?}", unit(u)?),
            None => "each business unit".to_owned(),
        };
        let since = args.since.as_deref().unwrap_or("month");
        checked(crate::core::spend::window::Since::parse("since", since))?;
        user(format!(
            "Report {who}'s use of Claude on Amazon Bedrock over `since` {since:?}, within minutes.\n\
             1. Call `query_usage` with `since` {since:?} (and `business_units` when a unit is named); show \
             calls and tokens per unit and model and `estimated_usd_by_business_unit`, and say the figures \
             are estimates from list prices (the bill follows in 24-48 h).\n\
             2. If it says invocation logging is off, `enable_usage_logging` turns it on (admin mode, \
             `confirm` true after the user agrees); usage appears from then on.\n\
             3. To stop a unit at a monthly amount: `set_spend_cap` (admin, `confirm` true after the user \
             agrees), carried out by `enforce_spend_caps` on a schedule.\n{SAFETY}"
        ))
    }

    /// Report what each business unit spent on Bedrock.
    #[prompt(name = "unit_spend")]
    async fn unit_spend(
        &self,
        Parameters(args): Parameters<SpendArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let start = args
            .start
            .as_deref()
            .map(|d| date("start", d))
            .transpose()?;
        let end = args.end.as_deref().map(|d| date("end", d)).transpose()?;
        let range = match (&start, &end) {
            (Some(start), Some(end)) => format!("from {start} to {end} (`end` exclusive)"),
            (Some(start), None) => format!("from {start} to date"),
            (None, Some(end)) => format!("this month until {end} (`end` exclusive)"),
            (None, None) => "this month to date".to_owned(),
        };
        user(format!(
            "Report what each business unit spent on Claude on Amazon Bedrock {range}.\n\
             1. Call `query_costs` with `start` and `end` as given, grouped by business unit; show \
             `totals_by_business_unit` as a table with the `currency`, and say whether the figures are \
             `estimated`.\n\
             2. Relay `notes`: spend shown as `(untagged)` or missing often means the cost allocation tags are \
             inactive; `enable_cost_tags` activates them (admin mode, `confirm` true after the user \
             agrees).\n{SAFETY}"
        ))
    }
}
