//! A call's JSON arguments into the operation's input type, deserialized once: a wrong type or shape is
//! refused naming the field at its path (`thresholds[0].percent`), not with serde's bare "invalid type:
//! sequence, expected a string". Found by fuzzing.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::JsonObject;
use crate::core::Error;

/// `arguments` as the input type `T`, or an error naming the failing field and the rule.
pub fn parse<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, Error> {
    serde_path_to_error::deserialize::<_, T>(Value::Object(arguments)).map_err(|error| {
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

/// A report as the JSON an adapter returns (it fails only for a map with keys that are no strings, which
/// no report has).
pub fn structured<T: Serialize>(report: &T) -> Result<Value, Error> {
    serde_json::to_value(report)
        .map_err(|error| Error::invalid("report", format!("cannot be written as JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{
        costs::budgets::BudgetAlertInput, costs::tags::EnableCostTagsInput, keys::ListApiKeysInput,
    };

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(arguments: Value) -> String {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        parse::<T>(arguments).unwrap_err().to_string()
    }

    #[test]
    fn wrong_shapes_name_the_field_at_its_path() {
        assert_eq!(
            refusal::<ListApiKeysInput>(serde_json::json!({"business_unit": ["a"]})),
            "invalid `business_unit`: invalid type: sequence, expected a string"
        );
        let nested = refusal::<BudgetAlertInput>(
            serde_json::json!({"business_unit": "a", "monthly_limit_usd": 1, "emails": ["x@y.z"],
                "thresholds": [{"percent": "high", "kind": "actual"}]}),
        );
        assert!(
            nested.starts_with("invalid `thresholds[0].percent`"),
            "{nested}"
        );
        let unknown = refusal::<EnableCostTagsInput>(serde_json::json!({"dryrun": true}));
        assert!(unknown.contains("unknown field `dryrun`"), "{unknown}");
    }
}
