//! A secret value (a Bedrock API key): serialized only where it is handed to its owner, redacted in
//! `Debug` and `Display`, so logs, traces and error messages cannot carry it by accident.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A secret string. `Debug` and `Display` print `[redacted]`; only serialization reveals it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only to hand it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_serialization_reveals_the_value() {
        let secret = Secret::new("ABSKc2VjcmV0");
        assert!(!format!("{secret:?} {secret}").contains("ABSK"));
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"ABSKc2VjcmV0\"");
        assert_eq!(secret.expose(), "ABSKc2VjcmV0");
    }
}
