//! Key inspection: what a Bedrock API key value is, without echoing it. Long-term keys (`ABSK...`) carry
//! their public alias; short-term keys (`bedrock-api-key-...`) are presigned URLs that reveal the region,
//! the signing access key id and the expiry.

use std::collections::HashMap;

use aws_smithy_types::{DateTime, date_time::Format};
use base64::{Engine, engine::general_purpose::STANDARD};
use percent_encoding::percent_decode_str;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::keys::short_term::SHORT_TERM_PREFIX;

/// Prefix of every long-term key.
pub const LONG_TERM_PREFIX: &str = "ABSK";

/// What kind of value a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A long-term key: an IAM service-specific credential (`ABSK...`).
    LongTerm,
    /// A short-term key signed from IAM credentials (`bedrock-api-key-...`).
    ShortTerm,
    /// Not a Bedrock API key.
    Unrecognized,
}

/// What a key value reveals. Never contains the key or its secret part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyInspection {
    /// The kind of key.
    pub kind: Option<KeyKind>,
    /// Long-term: the public alias of the credential (IAM user and account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The AWS account the key belongs to, when it shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Short-term: the only region it is valid in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Short-term: the access key id of the credentials that signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_access_key_id: Option<String>,
    /// Short-term: when it was signed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
    /// Short-term: when it stops working (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Short-term: whether it has expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// Problems with the value itself, each with its fix.
    pub problems: Vec<String>,
}

/// Inspect a key value as of `now` (seconds since the epoch).
pub fn inspect_key(raw: &str, now: i64) -> KeyInspection {
    let mut report = KeyInspection::default();
    let value = raw.trim().trim_matches(|c| c == '"' || c == '\'');
    if value != raw {
        report.problems.push(
            "the value has surrounding whitespace or quotes; set the variable to the bare key"
                .into(),
        );
    }
    let value = value
        .strip_prefix("Bearer ")
        .map_or(value, |rest| {
            report.problems.push(
                "the value starts with `Bearer `; AWS_BEARER_TOKEN_BEDROCK takes the bare key (the SDK adds the scheme)"
                    .into(),
            );
            rest
        });
    if let Some(encoded) = value.strip_prefix(SHORT_TERM_PREFIX) {
        report.kind = Some(KeyKind::ShortTerm);
        inspect_short_term(encoded, now, &mut report);
    } else if let Some(encoded) = value.strip_prefix(LONG_TERM_PREFIX) {
        report.kind = Some(KeyKind::LongTerm);
        inspect_long_term(encoded, &mut report);
    } else {
        report.kind = Some(KeyKind::Unrecognized);
        report.problems.push(unrecognized(value));
    }
    report
}

/// The account a long-term key's alias names, if it names one. botocore documents the alias as "the IAM user
/// name and a suffix containing version and creation information"; keys seen so far end `-at-<account>`, but
/// the suffix is not promised: the account is the last `-at-` followed by 12 digits that end the alias or a
/// part of it, and none when there is no such part.
pub fn alias_account(alias: &str) -> Option<&str> {
    alias.rmatch_indices("-at-").find_map(|(at, _)| {
        let rest = &alias[at + 4..];
        let digits = rest.get(..12)?;
        let ends = rest[12..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        (digits.bytes().all(|b| b.is_ascii_digit()) && ends).then_some(digits)
    })
}

/// Whether a long-term key's alias names the IAM user `user_name`: the alias is the user name and a suffix
/// (see [`alias_account`]). A longer user name of this project that starts the same way
/// (`<user_name>-x-bedrock-user`) is another user.
pub fn alias_names_user(alias: &str, user_name: &str) -> bool {
    alias.strip_prefix(user_name).is_some_and(|suffix| {
        suffix.is_empty()
            || (suffix.starts_with(|c: char| !c.is_alphanumeric())
                && !suffix.contains(crate::core::domain::names::USER_SUFFIX))
    })
}

fn inspect_long_term(encoded: &str, report: &mut KeyInspection) {
    let alias = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.split_once(':').map(|(alias, _)| alias.to_owned()));
    match alias {
        Some(alias) => {
            report.account_id = alias_account(&alias).map(str::to_owned);
            report.alias = Some(alias);
        }
        None => report.problems.push(
            "the value starts with `ABSK` but is not a complete long-term key (truncated or altered \
             when copied); copy it again from where it was stored, or issue a new key"
                .into(),
        ),
    }
}

fn inspect_short_term(encoded: &str, now: i64, report: &mut KeyInspection) {
    let Some(url) = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        report.problems.push(
            "the value starts with `bedrock-api-key-` but does not decode (truncated or altered when \
             copied); generate a new short-term key"
                .into(),
        );
        return;
    };
    let query: HashMap<&str, String> = url
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k, percent_decode_str(v).decode_utf8_lossy().into_owned()))
        .collect();
    let mut scope = query.get("X-Amz-Credential").map(|c| c.split('/'));
    if let Some(parts) = scope.as_mut() {
        report.signing_access_key_id = parts.next().map(str::to_owned);
        report.region = parts.nth(1).map(str::to_owned);
    }
    let issued = query
        .get("X-Amz-Date")
        .and_then(|d| DateTime::from_str(&iso_basic_to_rfc3339(d), Format::DateTime).ok());
    let lifetime = query
        .get("X-Amz-Expires")
        .and_then(|e| e.parse::<i64>().ok());
    if let (Some(issued), Some(lifetime)) = (issued, lifetime) {
        let expires = DateTime::from_secs(issued.secs() + lifetime);
        report.issued = issued.fmt(Format::DateTime).ok();
        report.expires = expires.fmt(Format::DateTime).ok();
        report.expired = Some(expires.secs() <= now);
        if expires.secs() <= now {
            report.problems.push(
                "the short-term key has expired (they last at most 12 hours); generate a new one or \
                 use a long-term key"
                    .into(),
            );
        }
    }
    if report.signing_access_key_id.is_none() || report.region.is_none() || report.expires.is_none()
    {
        report.problems.push(
            "the short-term key lacks its signature fields (truncated or altered when copied); \
             generate a new one"
                .into(),
        );
    }
}

/// `20260101T000000Z` → `2026-01-01T00:00:00Z`.
fn iso_basic_to_rfc3339(basic: &str) -> String {
    if basic.len() != 16 || !basic.is_ascii() {
        return String::new();
    }
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &basic[0..4],
        &basic[4..6],
        &basic[6..8],
        &basic[9..11],
        &basic[11..13],
        &basic[13..15]
    )
}

fn unrecognized(value: &str) -> String {
    if value.starts_with("bdk_") {
        "`bdk_...` is not a real Bedrock API key format (an outdated guide shows it); real keys start \
         with `ABSK` (long-term) or `bedrock-api-key-` (short-term)"
            .into()
    } else if value.starts_with("AKIA") || value.starts_with("ASIA") {
        "this is an IAM access key id, not a Bedrock API key; use it as AWS_ACCESS_KEY_ID with its \
         secret, or issue an API key with create_api_key"
            .into()
    } else if value.is_empty() {
        "the value is empty".into()
    } else {
        "not a Bedrock API key: keys start with `ABSK` (long-term) or `bedrock-api-key-` (short-term)"
            .into()
    }
}

#[cfg(test)]
mod alias_tests {
    use super::*;

    #[test]
    fn an_alias_is_the_user_name_and_a_suffix_not_always_at_account() {
        let user = "marketing-bedrock-user";
        for alias in [
            "marketing-bedrock-user-at-111122223333",
            "marketing-bedrock-user-at-111122223333-v2-20261201",
            "marketing-bedrock-user+v2",
            "marketing-bedrock-user",
        ] {
            assert!(alias_names_user(alias, user), "{alias}");
        }
        assert!(!alias_names_user(
            "marketing-bedrock-user-x-bedrock-user-at-111122223333",
            user
        ));
        assert!(!alias_names_user(
            "sales-bedrock-user-at-111122223333",
            user
        ));
        assert!(!alias_names_user("marketing-bedrock-users-at-1", user));
        assert_eq!(alias_account("u-at-111122223333"), Some("111122223333"));
        assert_eq!(alias_account("u-at-111122223333-v2"), Some("111122223333"));
        assert_eq!(
            alias_account("team-at-home-at-111122223333"),
            Some("111122223333")
        );
        assert_eq!(alias_account("u-at-12345"), None);
        assert_eq!(alias_account("u-at-1111222233334"), None);
        assert_eq!(alias_account("u-v2"), None);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_credential_types::Credentials;

    use super::*;
    use crate::core::keys::short_term::generate;

    const NOW: u64 = 1_767_225_600;

    #[test]
    fn short_term_keys_reveal_region_signer_and_expiry() {
        let credentials = Credentials::new("AKIAEXAMPLE123456789", "secret", None, None, "t");
        let token = generate(
            &credentials,
            "eu-west-1",
            Duration::from_secs(3600),
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
        )
        .unwrap();
        let now = i64::try_from(NOW).unwrap();
        let fresh = inspect_key(token.expose(), now + 60);
        assert_eq!(fresh.kind, Some(KeyKind::ShortTerm));
        assert_eq!(fresh.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            fresh.signing_access_key_id.as_deref(),
            Some("AKIAEXAMPLE123456789")
        );
        assert_eq!(fresh.expires.as_deref(), Some("2026-01-01T01:00:00Z"));
        assert_eq!(fresh.expired, Some(false));
        assert!(fresh.problems.is_empty(), "{:?}", fresh.problems);
        let stale = inspect_key(token.expose(), now + 3600);
        assert_eq!(stale.expired, Some(true));
        assert_eq!(stale.problems.len(), 1);
    }

    #[test]
    fn long_term_keys_reveal_their_alias_and_never_the_secret() {
        let key = format!(
            "ABSK{}",
            STANDARD.encode("marketing-bedrock-user-at-123456789012:s3cr3tpart")
        );
        let report = inspect_key(&format!(" {key}\n"), 0);
        assert_eq!(report.kind, Some(KeyKind::LongTerm));
        assert_eq!(
            report.alias.as_deref(),
            Some("marketing-bedrock-user-at-123456789012")
        );
        assert_eq!(report.account_id.as_deref(), Some("123456789012"));
        assert_eq!(report.problems.len(), 1, "whitespace is reported");
        let shown = serde_json::to_string(&report).unwrap();
        assert!(!shown.contains("s3cr3t") && !shown.contains(&key));
    }

    #[test]
    fn other_values_are_named() {
        for (value, hint) in [
            ("bdk_v1_abc", "outdated guide"),
            ("AKIAIOSFODNN7EXAMPLE", "access key id"),
            ("ABSK%%%", "truncated"),
            ("bedrock-api-key-!!", "does not decode"),
            ("Bearer ABSKAAAA", "Bearer"),
        ] {
            let report = inspect_key(value, 0);
            assert!(
                report.problems.iter().any(|p| p.contains(hint)),
                "{value}: {:?}",
                report.problems
            );
        }
    }
}
