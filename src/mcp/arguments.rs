//! The JSON arguments of a tool call, checked against the tool's input type before the call, so a wrong
//! type or shape is refused naming the field at its path (`thresholds[0].percent`), not with serde's bare
//! "invalid type: sequence, expected a string" that rmcp's parameter extraction returns. Found by fuzzing.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::core::{
    Error,
    budgets::BudgetAlertInput,
    cost_tags::EnableCostTagsInput,
    costs::QueryCostsInput,
    deprovision::DeprovisionUserInput,
    diagnose::DiagnoseInput,
    fleet::{FleetInput, SweepInput},
    inventory::ListBusinessUnitsInput,
    keys::{CreateApiKeyInput, ListApiKeysInput, RevokeKeyInput, RotateKeyInput},
    provision::ProvisionUserInput,
    spend::{
        caps::EnforceInput, logging::EnableUsageLoggingInput, set_cap::SetSpendCapInput,
        usage::QueryUsageInput,
    },
    verify::VerifyAccessInput,
};

/// Check `arguments` against the input type of `tool` (unknown tools pass: the router answers them).
pub fn check(tool: &str, arguments: Option<&Map<String, Value>>) -> Result<(), Error> {
    let value = Value::Object(arguments.cloned().unwrap_or_default());
    match tool {
        "list_business_units" => shape::<ListBusinessUnitsInput>(value),
        "list_api_keys" => shape::<ListApiKeysInput>(value),
        "diagnose" => shape::<DiagnoseInput>(value),
        "verify_access" => shape::<VerifyAccessInput>(value),
        "query_costs" => shape::<QueryCostsInput>(value),
        "provision_user" => shape::<ProvisionUserInput>(value),
        "create_api_key" => shape::<CreateApiKeyInput>(value),
        "rotate_key" => shape::<RotateKeyInput>(value),
        "revoke_key" => shape::<RevokeKeyInput>(value),
        "deprovision_user" => shape::<DeprovisionUserInput>(value),
        "enable_cost_tags" => shape::<EnableCostTagsInput>(value),
        "create_budget_alert" => shape::<BudgetAlertInput>(value),
        "plan_fleet" | "apply_fleet" => shape::<FleetInput>(value),
        "sweep_keys" => shape::<SweepInput>(value),
        "enable_usage_logging" => shape::<EnableUsageLoggingInput>(value),
        "query_usage" => shape::<QueryUsageInput>(value),
        "set_spend_cap" => shape::<SetSpendCapInput>(value),
        "enforce_spend_caps" => shape::<EnforceInput>(value),
        _ => Ok(()),
    }
}

fn shape<T: DeserializeOwned>(value: Value) -> Result<(), Error> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map(|_| ())
        .map_err(|error| {
            let path = error.path().to_string();
            // Unknown and missing fields are reported at the top level, with the field in the message.
            let field = if path == "." {
                "arguments".to_owned()
            } else {
                path
            };
            Error::invalid(field, error.inner().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(tool: &str, arguments: Value) -> String {
        check(tool, arguments.as_object()).unwrap_err().to_string()
    }

    #[test]
    fn wrong_shapes_name_the_field_at_its_path() {
        assert_eq!(
            refusal("list_api_keys", serde_json::json!({"business_unit": ["a"]})),
            "invalid `business_unit`: invalid type: sequence, expected a string"
        );
        let nested = refusal(
            "create_budget_alert",
            serde_json::json!({"business_unit": "a", "monthly_limit_usd": 1, "emails": ["x@y.z"],
                "thresholds": [{"percent": "high", "kind": "actual"}]}),
        );
        assert!(
            nested.starts_with("invalid `thresholds[0].percent`"),
            "{nested}"
        );
        let unknown = refusal("enable_cost_tags", serde_json::json!({"dryrun": true}));
        assert!(unknown.contains("unknown field `dryrun`"), "{unknown}");
        assert!(check("diagnose", None).is_ok());
    }

    /// The catch-all arm passes unknown tools (the router answers them); a declared operation without
    /// its own arm would pass everything unchecked, so every operation must refuse an unknown member.
    #[test]
    fn every_operation_has_its_input_checked() {
        for operation in crate::operations::OPERATIONS {
            let refused = check(
                operation.name,
                serde_json::json!({"no_such_member": 1}).as_object(),
            );
            assert!(
                refused.is_err_and(|e| e.to_string().contains("unknown field")),
                "{} has no arm in arguments::check",
                operation.name
            );
        }
    }
}
