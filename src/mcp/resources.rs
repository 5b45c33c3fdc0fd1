//! MCP resources: what an agent may want to show or reason about without a tool call. The least-privilege
//! policy document (for the caller's account: what `provision_user` attaches) and the settings the server
//! runs with (no secrets exist in them). Both are read-only and cheap; the policy costs one STS call, once.

use rmcp::{
    ErrorData,
    model::{ListResourcesResult, ReadResourceResult, Resource, ResourceContents},
};

use crate::{
    config::EffectiveSettings,
    core::{Provisioner, domain::policy::least_privilege_document},
    mode::AccessMode,
};

/// URI of the least-privilege policy document.
pub const POLICY_URI: &str = "bedrock-provisioner://policy/least-privilege";
/// URI of the effective settings.
pub const SETTINGS_URI: &str = "bedrock-provisioner://settings";

/// The resources this server offers.
pub fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(POLICY_URI, "least-privilege-policy")
            .with_title("Least-privilege Bedrock policy")
            .with_description(
                "The IAM policy document provision_user attaches to each business unit's user in this \
                 account: invoke Anthropic models through the account's inference profiles and projects, \
                 count tokens, subscribe through Bedrock, use Bedrock API keys.",
            )
            .with_mime_type("application/json"),
        Resource::new(SETTINGS_URI, "settings")
            .with_title("Effective settings")
            .with_description(
                "Mode, region, IAM path, key ages, default delivery and policy, and the governance rules \
                 (allowed business units, naming pattern, required tags) this server runs with.",
            )
            .with_mime_type("application/json"),
    ])
}

/// Read one resource.
pub async fn read(
    core: &Provisioner,
    mode: AccessMode,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let document = match uri {
        POLICY_URI => {
            let caller = core
                .caller()
                .await
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            least_privilege_document(&caller.partition, &caller.account)
        }
        SETTINGS_URI => {
            let mut settings =
                serde_json::to_value(EffectiveSettings::new(mode, None, core.settings()))
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            if let Some(object) = settings.as_object_mut() {
                // The audit log belongs to the adapter, not to the core settings: not known here.
                object.remove("audit_log");
            }
            settings
        }
        other => {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {other}; resources/list names {POLICY_URI} and {SETTINGS_URI}"
                ),
                None,
            ));
        }
    };
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json"),
    ]))
}
