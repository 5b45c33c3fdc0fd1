//! Validated names: a value of these types has passed AWS's rules and this project's, so the rest of the
//! code cannot be handed an invalid business unit, tag or policy ARN.

use std::{collections::BTreeMap, fmt, sync::LazyLock};

use regex::Regex;

use crate::core::domain::error::{Error, Result};

/// Suffix appended to a business unit to form its IAM user name.
pub const USER_SUFFIX: &str = "-bedrock-user";
/// Longest IAM user name.
const MAX_USER_NAME: usize = 64;
/// Longest business unit, so that the user name fits in 64 characters.
pub const MAX_BUSINESS_UNIT: usize = MAX_USER_NAME - USER_SUFFIX.len();
/// IAM's tag character class: letters, separators (spaces), numbers and `_ . : / = + - @`.
static TAG_CHARS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").unwrap_or_else(|_| unreachable!("static regex"))
});
static BUSINESS_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")
        .unwrap_or_else(|_| unreachable!("static regex"))
});
static POLICY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$",
    )
    .unwrap_or_else(|_| unreachable!("static regex"))
});

/// A business unit: 1–51 characters of lowercase letters, digits, `.`, `_` and `-`, starting and ending
/// with a letter or digit. Lowercase only because IAM user names are case-insensitive: `Marketing` and
/// `marketing` would be the same user.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessUnit(String);

/// Check that `value` looks like an AWS region code (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`).
pub fn parse_region(field: &str, value: &str) -> Result<String> {
    if is_region(value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "must be an AWS region code such as `us-east-1` or `eu-central-1`; `{value}` is not"
            ),
        ))
    }
}

/// `^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`, checked by hand: every start-up that names a region checks one, and
/// compiling a regex for it cost the server's start-up time and memory.
fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    let letters = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    first.len() == 2
        && letters(first)
        && !middle.is_empty()
        && middle.iter().all(letters)
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

impl BusinessUnit {
    /// Validate `value` as the input field `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        if value.chars().count() > MAX_BUSINESS_UNIT {
            return Err(Error::invalid(
                field,
                format!(
                    "must be at most {MAX_BUSINESS_UNIT} characters, so that the IAM user name \
                     `<business-unit>{USER_SUFFIX}` fits IAM's limit of {MAX_USER_NAME} \
                     (got {})",
                    value.chars().count()
                ),
            ));
        }
        if !BUSINESS_UNIT.is_match(value) {
            let why = if value.chars().any(|c| c.is_ascii_uppercase()) {
                "must be lowercase (IAM user names are case-insensitive, so upper and lower case \
                 would name the same user) and"
            } else {
                "must"
            };
            let hint = Self::suggest(value)
                .map(|s| format!("; for example `{s}`"))
                .unwrap_or_default();
            return Err(Error::invalid(
                field,
                format!(
                    "{why} contain only lowercase letters a-z, digits, `.`, `_` and `-`, and \
                     start and end with a letter or digit (no spaces, `/`, `*` or non-ASCII \
                     characters){hint}"
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// A valid business unit close to `value`, if one can be derived: lowercase, runs of other
    /// characters replaced by `-`, trimmed to start and end with a letter or digit.
    fn suggest(value: &str) -> Option<String> {
        let mut out = String::new();
        for c in value.chars().map(|c| c.to_ascii_lowercase()) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed = out.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        (!trimmed.is_empty()
            && trimmed.len() <= MAX_BUSINESS_UNIT
            && BUSINESS_UNIT.is_match(trimmed))
        .then(|| trimmed.to_owned())
    }

    /// The business unit as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IAM user name of this business unit: `<business-unit>-bedrock-user`.
    pub fn user_name(&self) -> String {
        format!("{}{USER_SUFFIX}", self.0)
    }
}

impl fmt::Display for BusinessUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IAM tag key: 1–128 characters of IAM's tag character class, not starting with `aws:`. Keys are
/// case-insensitive in IAM (`Managed-By` and `managed-by` are one key), so two keys are equal, ordered and
/// hashed by their lowercase form; the key keeps the case it was given.
#[derive(Clone, Debug)]
pub struct TagKey(String);

/// Whether two tag keys name the same IAM tag (IAM compares them case-insensitively).
pub fn same_tag_key(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

impl PartialEq for TagKey {
    fn eq(&self, other: &Self) -> bool {
        same_tag_key(&self.0, &other.0)
    }
}

impl Eq for TagKey {}

impl PartialOrd for TagKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TagKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_lowercase().cmp(&other.0.to_lowercase())
    }
}

impl std::hash::Hash for TagKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_lowercase().hash(state);
    }
}

impl TagKey {
    /// Validate `value` as the input field `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        let length = value.chars().count();
        if length == 0 || length > 128 {
            return Err(Error::invalid(
                field,
                format!("tag keys must be 1-128 characters (got {length})"),
            ));
        }
        if !TAG_CHARS.is_match(value) {
            return Err(Error::invalid(
                field,
                "tag keys may contain only letters, digits, spaces and `_ . : / = + - @`",
            ));
        }
        if value.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::invalid(
                field,
                "tag keys starting with `aws:` are reserved by AWS",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// A key known to be valid (the project's own tag keys).
    pub(crate) fn from_static(value: &'static str) -> Self {
        Self(value.to_owned())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IAM tag value: 0–256 characters of IAM's tag character class.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagValue(String);

impl TagValue {
    /// Validate `value` as the input field `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        let length = value.chars().count();
        if length > 256 {
            return Err(Error::invalid(
                field,
                format!("tag values must be at most 256 characters (got {length})"),
            ));
        }
        if !TAG_CHARS.is_match(value) {
            return Err(Error::invalid(
                field,
                "tag values may contain only letters, digits, spaces and `_ . : / = + - @`",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Like [`TagValue::parse`], and also non-empty and without leading or trailing spaces.
    pub fn parse_required(field: &str, value: &str) -> Result<Self> {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, "is required and must not be empty"));
        }
        if value.trim() != value {
            return Err(Error::invalid(
                field,
                "must not start or end with whitespace",
            ));
        }
        Self::parse(field, value)
    }

    /// A value known to be valid.
    pub(crate) fn from_static(value: &'static str) -> Self {
        Self(value.to_owned())
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of validated tags.
pub type Tags = BTreeMap<TagKey, TagValue>;

/// The ARN of an IAM managed policy (AWS-managed or customer-managed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyArn(String);

impl PolicyArn {
    /// Validate `value` as the input field `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        if !POLICY_ARN.is_match(value) {
            return Err(Error::invalid(
                field,
                "must be an IAM policy ARN such as `arn:aws:iam::123456789012:policy/Name` or \
                 `arn:aws:iam::aws:policy/Name`",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// An ARN built by this crate from valid parts.
    pub(crate) fn from_parts(partition: &str, account: &str, path: &str, name: &str) -> Self {
        Self(format!("arn:{partition}:iam::{account}:policy{path}{name}"))
    }

    /// The ARN as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_checked_as_the_pattern_says() {
        let pattern = Regex::new(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$").unwrap();
        let samples = [
            "us-east-1",
            "eu-central-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "il-central-1",
            "us-east-12",
            "us-east-123",
            "us-east",
            "us--east-1",
            "-us-east-1",
            "us-east-1-",
            "use-east-1",
            "u-east-1",
            "US-east-1",
            "us-East-1",
            "us-east-a",
            "us-1",
            "us-east-1\n",
            " us-east-1",
            "",
            "-",
            "us-ea st-1",
            "eu-west-3",
            "cn-north-1",
            "us-isob-east-1",
            "ab-c-d-0",
        ];
        for sample in samples {
            assert_eq!(is_region(sample), pattern.is_match(sample), "{sample:?}");
        }
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&"[a-zA-Z]{1,3}(-[a-z]{0,5}){0,3}-?[0-9]{0,3}", |sample| {
                proptest::prop_assert_eq!(is_region(&sample), pattern.is_match(&sample));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn tag_keys_are_one_key_in_any_case() {
        let lower = TagKey::parse("k", "managed-by").unwrap();
        let mixed = TagKey::parse("k", "Managed-By").unwrap();
        assert_eq!(lower, mixed);
        assert_eq!(mixed.as_str(), "Managed-By", "the given case is kept");
        let mut tags = Tags::new();
        tags.insert(lower, TagValue::parse("v", "a").unwrap());
        assert!(tags.contains_key(&mixed));
        assert!(same_tag_key("Cost-Center", "cost-center"));
        assert!(!same_tag_key("cost-center", "costcenter"));
    }

    fn rule_of(result: Result<impl fmt::Debug>) -> (String, String) {
        match result {
            Err(Error::InvalidInput { field, rule }) => (field, rule),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn good_business_units() {
        for good in [
            "marketing",
            "a",
            "data-science",
            "team_7",
            "eu.sales",
            &"x".repeat(51),
        ] {
            let unit = BusinessUnit::parse("business_unit", good).unwrap();
            assert_eq!(unit.user_name(), format!("{good}-bedrock-user"));
            assert!(unit.user_name().len() <= 64);
        }
    }

    #[test]
    fn bad_business_units_name_field_and_rule() {
        let table = [
            ("", "must not be empty"),
            (&"x".repeat(52) as &str, "at most 51 characters"),
            ("Marketing", "must be lowercase"),
            ("Marketing Team", "for example `marketing-team`"),
            ("market ing", "only lowercase letters"),
            ("a/b", "only lowercase letters"),
            ("a*", "only lowercase letters"),
            ("marketïng", "only lowercase letters"),
            ("営業", "only lowercase letters"),
            (".marketing", "for example `marketing`"),
            ("marketing.", "start"),
            ("-x", "start"),
            ("a+b", "only lowercase letters"),
        ];
        for (bad, expected) in table {
            let (field, rule) = rule_of(BusinessUnit::parse("business_unit", bad));
            assert_eq!(field, "business_unit", "{bad:?}");
            assert!(rule.contains(expected), "{bad:?}: {rule}");
        }
    }

    #[test]
    fn tag_keys() {
        for good in [
            "cost-center",
            "a",
            "Projekt Größe",
            "x:y/z=+@",
            &"k".repeat(128),
        ] {
            TagKey::parse("tags", good).unwrap();
        }
        for (bad, expected) in [
            ("", "1-128"),
            (&"k".repeat(129) as &str, "1-128"),
            ("a*b", "only letters"),
            ("tab\tkey", "only letters"),
            ("aws:createdBy", "reserved"),
        ] {
            let (field, rule) = rule_of(TagKey::parse("tags", bad));
            assert_eq!(field, "tags");
            assert!(rule.contains(expected), "{bad:?}: {rule}");
        }
    }

    #[test]
    fn tag_values_and_required_values() {
        TagValue::parse("purpose", "").unwrap();
        TagValue::parse("owner", "jane.doe@example.com").unwrap();
        TagValue::parse("purpose", "Kampagnen-Texte für Q3").unwrap();
        for (bad, expected) in [
            ("", "required"),
            ("   ", "required"),
            (" jane", "whitespace"),
            ("jane;drop", "only letters"),
            ("a\nb", "only letters"),
            (&"v".repeat(257) as &str, "at most 256"),
        ] {
            let (field, rule) = rule_of(TagValue::parse_required("owner", bad));
            assert_eq!(field, "owner");
            assert!(rule.contains(expected), "{bad:?}: {rule}");
        }
    }

    #[test]
    fn policy_arns() {
        PolicyArn::parse(
            "policy",
            "arn:aws:iam::aws:policy/AmazonBedrockLimitedAccess",
        )
        .unwrap();
        PolicyArn::parse(
            "policy",
            "arn:aws:iam::123456789012:policy/team/BedrockInvoke",
        )
        .unwrap();
        PolicyArn::parse("policy", "arn:aws-cn:iam::123456789012:policy/X").unwrap();
        for bad in [
            "",
            "AmazonBedrockLimitedAccess",
            "arn:aws:iam::123:policy/X",
            "arn:aws:s3:::b",
        ] {
            let (field, _) = rule_of(PolicyArn::parse("policy", bad));
            assert_eq!(field, "policy");
        }
    }
}
