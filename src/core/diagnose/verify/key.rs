//! The key half of `verify_access`: a key checked before it is sent, whose it is, and one call made with it.

use super::{AccessReport, KeyOutcome, KeyTest};
use crate::core::{
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::secret::Secret,
    keys::inspect::{KeyKind, LONG_TERM_PREFIX, alias_names_user},
    keys::short_term::SHORT_TERM_PREFIX,
};

/// The longest key accepted: a short-term key with a long session token is a few kilobytes.
const MAX_KEY_CHARS: usize = 16_384;

/// A Bedrock API key as given (surrounding whitespace dropped), checked before it is sent anywhere: bounded,
/// only the characters a key has (base64 and its prefix), and one of the two prefixes. The key is never
/// quoted in the error.
pub(super) fn parse_key(raw: &str) -> Result<Secret> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Error::invalid("api_key", "must not be empty when given"));
    }
    let length = key.chars().count();
    if length > MAX_KEY_CHARS {
        return Err(Error::invalid(
            "api_key",
            format!("is {length} characters; a Bedrock API key has at most {MAX_KEY_CHARS}"),
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c))
    {
        return Err(Error::invalid(
            "api_key",
            "contains a character no Bedrock API key has (a space, a line break, a quote or a control character): pass the bare key",
        ));
    }
    if !key.starts_with(LONG_TERM_PREFIX) && !key.starts_with(SHORT_TERM_PREFIX) {
        return Err(Error::invalid(
            "api_key",
            format!(
                "is not a Bedrock API key: long-term keys start with `{LONG_TERM_PREFIX}`, short-term ones with `{SHORT_TERM_PREFIX}`"
            ),
        ));
    }
    Ok(Secret::new(key))
}

/// What the key proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyProof {
    /// No key was given: the verdict rests on the simulation.
    NotGiven,
    /// A key was given but not tested (the free test is not allowed to the unit).
    NotTested,
    /// The key was tested.
    Tested {
        /// How the call ended.
        outcome: KeyOutcome,
        /// Whether the key is the unit's (a long-term key whose alias names another user is not).
        owned: bool,
    },
}

/// `bedrock:bearerTokenType` of a key: `SHORT_TERM` or `LONG_TERM`.
pub(super) fn bearer_token_type(key: &str) -> &'static str {
    if key.starts_with(SHORT_TERM_PREFIX) {
        "SHORT_TERM"
    } else {
        "LONG_TERM"
    }
}

/// Say whose key it is, as far as the value tells; whether it is the unit's.
pub(super) fn note_key_owner(
    report: &mut AccessReport,
    inspection: &crate::core::keys::inspect::KeyInspection,
    user_name: &str,
) -> bool {
    match inspection.kind {
        Some(KeyKind::LongTerm) => {
            let alias = inspection.alias.as_deref().unwrap_or_default();
            let owned = alias_names_user(alias, user_name);
            if !owned {
                report.remediation.push(format!(
                    "The key's alias names `{alias}`, not {user_name}: it proves another user's access. Test with a key of this business unit (list_api_keys shows its keys)."
                ));
            }
            owned
        }
        Some(KeyKind::ShortTerm) => {
            report.notes.push(
                "a short-term key carries the permissions of the identity that signed it, not necessarily the unit's user".to_owned(),
            );
            true
        }
        _ => {
            report.remediation.push("The value is not a Bedrock API key (long-term keys start with ABSK, short-term ones with bedrock-api-key-).".to_owned());
            false
        }
    }
}

pub(super) async fn count_tokens_once(
    client: &aws_sdk_bedrockruntime::Client,
    model: &str,
) -> KeyTest {
    use aws_sdk_bedrockruntime::types::{
        ContentBlock, ConversationRole, ConverseTokensRequest, CountTokensInput, Message,
    };
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("ping".to_owned()))
        .build();
    let input = message
        .map(|m| CountTokensInput::Converse(ConverseTokensRequest::builder().messages(m).build()));
    let result = match input {
        Ok(input) => client
            .count_tokens()
            .model_id(model)
            .input(input)
            .send()
            .await
            .map(|out| {
                format!(
                    "CountTokens answered: {} input token(s)",
                    out.input_tokens()
                )
            })
            .map_err(|e| runtime_error("bedrock:CountTokens", e)),
        Err(e) => Err((false, Error::invalid("model_id", e.to_string()))),
    };
    key_test("CountTokens", "nothing: CountTokens is free", result)
}

pub(super) async fn converse_once(client: &aws_sdk_bedrockruntime::Client, model: &str) -> KeyTest {
    use aws_sdk_bedrockruntime::types::{
        ContentBlock, ConversationRole, InferenceConfiguration, Message,
    };
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("Reply with OK.".to_owned()))
        .build();
    let result = match message {
        Ok(message) => client
            .converse()
            .model_id(model)
            .messages(message)
            .inference_config(InferenceConfiguration::builder().max_tokens(1).build())
            .send()
            .await
            .map(|out| {
                let usage = out.usage();
                format!(
                    "Converse answered ({} input, {} output token(s))",
                    usage.map_or(0, |u| u.input_tokens()),
                    usage.map_or(0, |u| u.output_tokens())
                )
            })
            .map_err(|e| runtime_error("bedrock:InvokeModel", e)),
        Err(e) => Err((false, Error::invalid("model_id", e.to_string()))),
    };
    key_test(
        "Converse",
        "one call of about ten input tokens and one output token: a fraction of a cent",
        result,
    )
}

/// A bedrock-runtime error, and whether Bedrock refused the caller (HTTP 401/403: an invalid key is
/// answered 403 "Authentication failed", possibly without an `x-amzn-ErrorType`, so the code alone is
/// `Unknown`).
fn runtime_error<E, R>(
    action: &'static str,
    error: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> (bool, Error)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static + HttpStatus,
{
    let refused = error
        .raw_response()
        .is_some_and(|r| matches!(r.status_code(), 401 | 403));
    (refused, sdk_error(action, error))
}

/// The HTTP status of a raw response.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn key_test(call: &str, cost: &str, result: std::result::Result<String, (bool, Error)>) -> KeyTest {
    let (outcome, detail) = match result {
        Ok(detail) => (KeyOutcome::Works, detail),
        Err((_, error @ (Error::AccessDenied { .. } | Error::Credentials { .. })))
        | Err((true, error)) => (KeyOutcome::Refused, error.to_string()),
        Err((false, error)) => (KeyOutcome::Failed, error.to_string()),
    };
    KeyTest {
        call: call.to_owned(),
        outcome,
        detail,
        cost: cost.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_before_they_are_sent() {
        let rule = |raw: &str| match parse_key(raw) {
            Err(Error::InvalidInput { field, rule }) => {
                assert_eq!(field, "api_key");
                assert!(
                    !rule.contains(raw.trim()) || raw.trim().len() < 5,
                    "the key is never quoted"
                );
                rule
            }
            other => panic!("{other:?}"),
        };
        assert!(rule(&format!("ABSK{}", "A".repeat(100_000))).contains("at most"));
        assert!(rule("ABSKabc\r\ndef").contains("line break"));
        assert!(rule("ABSK abc").contains("a space"));
        assert!(rule("sk-ant-abc").contains("not a Bedrock API key"));
        assert!(rule("  ").contains("empty"));
        assert!(parse_key(" ABSKbWFya2V0aW5nOnNlY3JldA== \n").is_ok());
        assert!(
            parse_key("bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbA==").is_ok()
        );
    }
}
