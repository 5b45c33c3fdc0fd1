//! The fleet manifest (`fleet.toml`): every business unit in one file, validated before any AWS call. Each
//! error names the file, the line and the rule.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use toml::Spanned;

use crate::core::{
    costs::budgets::BudgetAlertInput,
    domain::error::{Error, Result},
    keys::deliver::Delivery,
    units::provision::{PolicyInput, ProvisionUserInput},
};

/// Role assumed in another account when a unit names one and the manifest does not say.
pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";
/// Longest IAM role name.
const MAX_ROLE_NAME: usize = 64;
/// Longest IAM path (`/` + segments + `/`).
const MAX_ROLE_PATH: usize = 512;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default, rename = "unit")]
    units: Vec<RawUnit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    purpose: Option<String>,
    owner: Option<String>,
    account: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    budget: Option<Spanned<RawBudget>>,
    key: Option<RawKey>,
    cap_usd: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    name: Spanned<String>,
    purpose: Option<String>,
    owner: Option<String>,
    account: Option<Spanned<String>>,
    role: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    budget: Option<Spanned<RawBudget>>,
    key: Option<RawKey>,
    cap_usd: Option<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    max_age_days: Option<u32>,
    deliver: Option<Delivery>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    monthly_usd: f64,
    #[serde(default)]
    emails: Vec<String>,
}

/// A validated fleet: one entry per business unit.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The units, in file order.
    pub units: Vec<UnitSpec>,
}

/// One business unit as the manifest wants it.
#[derive(Clone, Debug)]
pub struct UnitSpec {
    /// The line of its `name`.
    pub line: usize,
    /// Its `provision_user` request.
    pub provision: ProvisionUserInput,
    /// Its budget, if any.
    pub budget: Option<BudgetAlertInput>,
    /// The account it lives in, when not the caller's.
    pub account: Option<String>,
    /// The role assumed in that account.
    pub role: String,
    /// The key the unit keeps, if the manifest asks for one.
    pub key: Option<KeySpec>,
    /// Its monthly spend cap in USD (`set_spend_cap`), when the manifest sets one; a unit without one keeps
    /// whatever cap it has.
    pub cap_usd: Option<f64>,
}

/// A unit's key: `apply` creates one when the unit has no working key, and the sweep replaces it once it
/// is `max_age_days` old, both delivering to `deliver` (never inline: a fleet would print many keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Age at which the sweep replaces it.
    pub max_age_days: u32,
    /// Where new keys go.
    pub deliver: Delivery,
}

/// The age at which a manifest's keys are replaced when it does not say.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;

impl UnitSpec {
    /// The business unit's name.
    pub fn name(&self) -> &str {
        &self.provision.business_unit
    }
}

/// Parse and validate a manifest; `file` names it in errors. `default_policy` is the server's.
pub fn parse(file: &str, text: &str, default_policy: &PolicyInput) -> Result<Manifest> {
    let lines = Lines::new(text);
    let at = |span: Option<std::ops::Range<usize>>| lines.line_of(span.map_or(0, |s| s.start));
    let raw: RawManifest = toml::from_str(text).map_err(|error| {
        let rule = error.message().to_owned();
        Error::invalid(format!("{file}:{}", at(error.span())), rule)
    })?;
    if let Some(role) = &raw.defaults.role {
        check_role(role.get_ref()).map_err(|error| match error {
            Error::InvalidInput { field, rule } => Error::invalid(
                format!("{file}:{}: [defaults] {field}", at(Some(role.span()))),
                rule,
            ),
            other => other,
        })?;
    }
    let mut seen = HashSet::new();
    let mut units = Vec::with_capacity(raw.units.len());
    for unit in &raw.units {
        let line = at(Some(unit.name.span()));
        // The name is echoed before it is validated: escaped, so a newline in it cannot forge a log line.
        let name = unit.name.get_ref().escape_debug();
        let where_ = |field: &str| format!("{file}:{line}: unit `{name}` {field}");
        if !seen.insert(unit.name.get_ref().clone()) {
            return Err(Error::invalid(
                where_("name"),
                "appears twice in the manifest",
            ));
        }
        let spec = unit_spec(unit, &raw.defaults, line)
            .and_then(|spec| check(&spec, default_policy).map(|()| spec))
            .map_err(|error| match error {
                Error::InvalidInput { field, rule } => Error::invalid(where_(&field), rule),
                other => other,
            })?;
        units.push(spec);
    }
    Ok(Manifest { units })
}

/// [`parse`] on a blocking thread, off the runtime's threads: a manifest of 1 MiB holds some 60,000 units,
/// and validating it must not hold up the other requests they answer (an `initialize`, a `ping`).
pub async fn parse_off_runtime(
    file: &str,
    text: &str,
    default_policy: &PolicyInput,
) -> Result<Manifest> {
    let (file, text, policy) = (file.to_owned(), text.to_owned(), default_policy.clone());
    match tokio::task::spawn_blocking(move || parse(&file, &text, &policy)).await {
        Ok(parsed) => parsed,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Only a runtime shutting down cancels a blocking task.
        Err(_) => Err(Error::Cancelled),
    }
}

/// A unit with the defaults filled in.
fn unit_spec(unit: &RawUnit, defaults: &RawDefaults, line: usize) -> Result<UnitSpec> {
    let mut tags = defaults.tags.clone();
    tags.extend(unit.tags.clone());
    let account = unit
        .account
        .as_ref()
        .or(defaults.account.as_ref())
        .map(|a| a.get_ref().clone());
    if let Some(account) = &account
        && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Error::invalid(
            "account",
            "must be a 12-digit AWS account id",
        ));
    }
    let business_unit = unit.name.get_ref().clone();
    let budget = unit.budget.as_ref().or(defaults.budget.as_ref()).map(|b| {
        let b = b.get_ref();
        BudgetAlertInput {
            business_unit: business_unit.clone(),
            monthly_limit_usd: b.monthly_usd,
            emails: b.emails.clone(),
            ..BudgetAlertInput::default()
        }
    });
    let required = |value: &Option<String>, default: &Option<String>, field: &str| {
        value
            .clone()
            .or_else(|| default.clone())
            .ok_or_else(|| Error::invalid(field, "is required (in the unit or in [defaults])"))
    };
    let key = unit
        .key
        .as_ref()
        .or(defaults.key.as_ref())
        .map(key_spec)
        .transpose()?;
    Ok(UnitSpec {
        line,
        key,
        provision: ProvisionUserInput {
            business_unit,
            purpose: required(&unit.purpose, &defaults.purpose, "purpose")?,
            owner: required(&unit.owner, &defaults.owner, "owner")?,
            tags,
            ..ProvisionUserInput::default()
        },
        budget,
        account,
        role: role_of(unit, defaults)?,
        cap_usd: unit.cap_usd.or(defaults.cap_usd),
    })
}

/// The unit's role, else the defaults', else [`DEFAULT_ROLE`]; checked.
fn role_of(unit: &RawUnit, defaults: &RawDefaults) -> Result<String> {
    let role = match (&unit.role, &defaults.role) {
        (Some(role), _) => role.clone(),
        (None, Some(role)) => role.get_ref().clone(),
        (None, None) => DEFAULT_ROLE.to_owned(),
    };
    check_role(&role)?;
    Ok(role)
}

/// The rules of `role`, the role assumed in a unit's account (it becomes `…:role/<role>` in the ARN
/// given to `sts:AssumeRole`): a role name, 1-64 of IAM's `[\w+=,.@-]` (ASCII), optionally after a path,
/// `path/to/name` for a role at IAM path `/path/to/`. Path segments take the same characters (this
/// project's rule for IAM paths, stricter than IAM's printable ASCII) and the path at most 512
/// characters. Refused values are not echoed back (a newline in them could forge a log line).
fn check_role(role: &str) -> Result<()> {
    const FIELD: &str = "role";
    if role.starts_with("arn:") {
        return Err(Error::invalid(
            FIELD,
            "must be the role's name (e.g. `OrganizationAccountAccessRole`, or `path/name` for a role \
             with a path), not its ARN: the account comes from the unit's `account`",
        ));
    }
    let (path, name) = role.rsplit_once('/').unwrap_or(("", role));
    let allowed = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    };
    if name.is_empty() || name.len() > MAX_ROLE_NAME || !allowed(name) {
        return Err(Error::invalid(
            FIELD,
            format!(
                "must be an IAM role name: 1-{MAX_ROLE_NAME} characters of letters, digits and \
                 `+=,.@_-` (no spaces, `*` or line breaks), optionally after a path as `path/name`; \
                 got {} characters",
                role.chars().count()
            ),
        ));
    }
    if !path.is_empty()
        && (path.len() + 2 > MAX_ROLE_PATH || !path.split('/').all(|s| !s.is_empty() && allowed(s)))
    {
        return Err(Error::invalid(
            FIELD,
            format!(
                "has a path (`path/name`) that is not an IAM path: at most {MAX_ROLE_PATH} characters, \
                 segments of letters, digits and `+=,.@_-`, none empty (no leading or doubled `/`)"
            ),
        ));
    }
    Ok(())
}

/// A unit's key, its defaults filled in and its rules checked.
fn key_spec(raw: &RawKey) -> Result<KeySpec> {
    let max_age_days = raw.max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS);
    if !(1..=365).contains(&max_age_days) {
        return Err(Error::invalid(
            "key.max_age_days",
            format!("must be 1-365 days; got {max_age_days}"),
        ));
    }
    let deliver = raw.deliver.unwrap_or(Delivery::SecretsManager);
    if deliver == Delivery::Inline {
        return Err(Error::invalid(
            "key.deliver",
            "a fleet's keys go to `secrets_manager` or `file`, never inline",
        ));
    }
    Ok(KeySpec {
        max_age_days,
        deliver,
    })
}

/// The rules of the tools themselves: names, tags, budgets (a budget without e-mails is refused here).
fn check(spec: &UnitSpec, default_policy: &PolicyInput) -> Result<()> {
    spec.provision.validate(default_policy)?;
    if let Some(budget) = &spec.budget {
        if budget.emails.is_empty() {
            return Err(Error::invalid(
                "budget.emails",
                "a budget needs at least one e-mail address to alert",
            ));
        }
        budget.check()?;
    }
    if let Some(cap) = spec.cap_usd {
        crate::core::spend::caps::parse_cap("cap_usd", cap)?;
    }
    Ok(())
}

/// The line breaks of a text, so the line of a byte offset is a binary search. (Counting the line breaks
/// before the offset, once per unit, made validation quadratic: 56,000 units took 30 s.)
struct Lines {
    breaks: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        Self {
            breaks: text.match_indices('\n').map(|(at, _)| at).collect(),
        }
    }

    /// The 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.breaks.partition_point(|&at| at < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[defaults]
owner = "platform@example.com"
purpose = "general"

[[unit]]
name = "marketing"
purpose = "campaign copy"
tags = { cost-center = "cc-4711" }
budget = { monthly_usd = 500, emails = ["finops@example.com"] }

[[unit]]
name = "sales"
account = "111122223333"
key = { max_age_days = 14 }
"#;

    fn error(text: &str) -> (String, String) {
        match parse("fleet.toml", text, &PolicyInput::default()) {
            Err(Error::InvalidInput { field, rule }) => (field, rule),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_in_and_units_keep_their_own() {
        let manifest = parse("fleet.toml", GOOD, &PolicyInput::default()).unwrap();
        let [marketing, sales] = &manifest.units[..] else {
            panic!("two units")
        };
        assert_eq!(marketing.line, 7);
        assert_eq!(marketing.provision.purpose, "campaign copy");
        assert_eq!(marketing.provision.owner, "platform@example.com");
        assert_eq!(marketing.budget.as_ref().unwrap().monthly_limit_usd, 500.0);
        assert_eq!(sales.account.as_deref(), Some("111122223333"));
        assert_eq!(sales.role, DEFAULT_ROLE);
        assert!(sales.budget.is_none());
        assert_eq!(marketing.key, None);
        assert_eq!(
            sales.key,
            Some(KeySpec {
                max_age_days: 14,
                deliver: Delivery::SecretsManager
            })
        );
    }

    #[test]
    fn the_documented_example_is_a_valid_manifest() {
        let text = include_str!("../../../fleet.example.toml");
        let manifest = parse("fleet.example.toml", text, &PolicyInput::default()).unwrap();
        let names: Vec<&str> = manifest.units.iter().map(UnitSpec::name).collect();
        assert_eq!(names, ["marketing", "sales"]);
        assert_eq!(manifest.units[1].account.as_deref(), Some("111122223333"));
    }

    /// Thirty-two kinds of bad manifest, each refused with its line and rule.
    #[test]
    fn every_bad_manifest_names_the_line_and_the_rule() {
        let unit = |body: &str| {
            format!("[defaults]\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\n{body}\n")
        };
        let cases: Vec<(String, &str, &str)> = vec![
            (unit("name = \"a\"\ncolour = \"red\""), "fleet.toml:7", "unknown field"),
            ("[defaults]\nownr = \"x\"\n".into(), "fleet.toml:2", "unknown field"),
            ("[[unit]]\nname = \"a\"\nowner = \"o\"\npurpose = \"p\"\n[[unit]]\nname = \"a\"\nowner = \"o\"\npurpose = \"p\"\n".into(), "fleet.toml:6: unit `a` name", "twice"),
            (unit("name = \"Sales Team\""), "fleet.toml:6: unit `Sales Team` business_unit", "lowercase"),
            (unit("name = \"\""), "fleet.toml:6: unit `` business_unit", ""),
            (unit("name = \"a\"\naccount = \"1234\""), "fleet.toml:6: unit `a` account", "12-digit"),
            (unit("name = \"a\"\naccount = \"12345678901x\""), "fleet.toml:6: unit `a` account", "12-digit"),
            (unit("name = \"a\"\nbudget = { monthly_usd = 5 }"), "fleet.toml:6: unit `a` budget.emails", "at least one"),
            (unit("name = \"a\"\nbudget = { monthly_usd = -5, emails = [\"f@example.com\"] }"), "fleet.toml:6: unit `a` monthly_limit_usd", ""),
            (unit("name = \"a\"\nbudget = { monthly_usd = 5, emails = [\"not-an-address\"] }"), "fleet.toml:6: unit `a` emails", "e-mail"),
            (unit("name = \"a\"\nbudget = { monthly_usd = 5, emails = [\"f@example.com\"], extra = 1 }"), "fleet.toml:7", "unknown field"),
            (unit("name = \"a\"\ntags = { Managed-By = \"me\" }"), "fleet.toml:6: unit `a` tags.Managed-By", "case-insensitive"),
            (unit("name = \"a\"\ntags = { team = \"x\", Team = \"y\" }"), "fleet.toml:6: unit `a` tags.", "one tag key"),
            (unit("name = \"a\"\ntags = { k = \"a;b\" }"), "fleet.toml:6: unit `a` tags.k", ""),
            ("[[unit]]\nname = \"a\"\npurpose = \"p\"\n".into(), "fleet.toml:2: unit `a` owner", "required"),
            ("[[unit]]\nname = \"a\"\nowner = \"o\"\n".into(), "fleet.toml:2: unit `a` purpose", "required"),
            (unit("name = \"a\"\nowner = \" \""), "fleet.toml:6: unit `a` owner", ""),
            (unit("purpose = \"p\""), "fleet.toml:5", "missing field `name`"),
            (unit("name = 5"), "fleet.toml:6", "invalid type"),
            ("[[unit]\nname = \"a\"\n".into(), "fleet.toml:1", ""),
            (unit("name = \"a\"\nkey = { max_age_days = 0 }"), "fleet.toml:6: unit `a` key.max_age_days", "1-365"),
            (unit("name = \"a\"\nkey = { deliver = \"inline\" }"), "fleet.toml:6: unit `a` key.deliver", "never inline"),
            (unit("name = \"a\"\nkey = { deliver = \"s3\" }"), "fleet.toml:7", "unknown variant"),
            (unit("name = \"a\"\nrole = \"*\""), "fleet.toml:6: unit `a` role", "IAM role name"),
            (unit("name = \"a\"\nrole = \"\""), "fleet.toml:6: unit `a` role", "IAM role name"),
            (unit("name = \"a\"\nrole = \"arn:aws:iam::111122223333:role/Admin\""), "fleet.toml:6: unit `a` role", "not its ARN"),
            (unit(&format!("name = \"a\"\nrole = \"{}\"", "R".repeat(100_000))), "fleet.toml:6: unit `a` role", "got 100000 characters"),
            (unit("name = \"a\"\nrole = \"R\\nINFO fake log line\""), "fleet.toml:6: unit `a` role", "IAM role name"),
            (unit("name = \"a\"\nrole = \"/team/Admin\""), "fleet.toml:6: unit `a` role", "IAM path"),
            (unit(&format!("name = \"a\"\nrole = \"{}/Admin\"", "p".repeat(511))), "fleet.toml:6: unit `a` role", "IAM path"),
            ("[defaults]\nowner = \"o\"\npurpose = \"p\"\nrole = \"a b\"\n".into(), "fleet.toml:4: [defaults] role", "IAM role name"),
            (unit("name = \"a\\nINFO fake log line\""), "fleet.toml:6: unit `a\\nINFO fake log line` business_unit", ""),
        ];
        assert_eq!(cases.len(), 32);
        for (text, field, rule) in cases {
            let (got_field, got_rule) = error(&text);
            let shown = &text[..text.len().min(300)];
            assert!(got_field.starts_with(field), "{got_field:?} for:\n{shown}");
            assert!(got_rule.contains(rule), "{got_rule:?} for:\n{shown}");
            let refusal = format!("{got_field}: {got_rule}");
            assert!(
                !refusal.contains('\n') && refusal.len() < 1000,
                "a refusal is one short line: {:?}",
                &refusal[..refusal.len().min(300)]
            );
        }
    }

    /// A manifest of `units` units, one line each (`[defaults]` gives owner and purpose), the shape of the
    /// issue's 941 KB manifest of 56,000 units.
    fn many(units: usize) -> String {
        let mut text = String::from("unit = [\n");
        for i in 0..units {
            text.push_str(&format!("{{name=\"u{i}\"}},\n"));
        }
        text.push_str("]\n[defaults]\nowner = \"o\"\npurpose = \"p\"\n");
        text
    }

    /// The fastest of three validations of `text`, which holds `units` units.
    fn validation_time(text: &str, units: usize) -> std::time::Duration {
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let manifest = parse("fleet.toml", text, &PolicyInput::default()).unwrap();
                assert_eq!(manifest.units.len(), units);
                started.elapsed()
            })
            .min()
            .unwrap()
    }

    /// Validation is linear in the manifest: 50,000 units (0.8 MB, under the HTTP body limit) take about
    /// four times as long as 12,500, where it was sixteen (quadratic: the line of each unit was found by
    /// counting the line breaks before it). The fastest of three runs, and twice the slack, so a busy
    /// machine does not fail it.
    #[test]
    fn validation_time_grows_linearly_with_the_units() {
        let (small, large) = (many(12_500), many(50_000));
        assert!(large.len() < 1 << 20, "{} bytes", large.len());
        let (small, large) = (
            validation_time(&small, 12_500),
            validation_time(&large, 50_000),
        );
        assert!(
            large < small * 8,
            "12,500 units: {small:?}, 50,000: {large:?} ({:.1}x for 4x the units)",
            large.as_secs_f64() / small.as_secs_f64()
        );
    }

    /// A unit's line is the line of its name, at the start, the middle and the end of a large manifest.
    #[test]
    fn units_keep_their_lines_in_a_large_manifest() {
        let manifest = parse("fleet.toml", &many(1_000), &PolicyInput::default()).unwrap();
        for i in [0, 1, 500, 999] {
            assert_eq!(manifest.units[i].line, i + 2);
        }
        let lines = Lines::new("a\nb\n\nc");
        let naive = |offset: usize| "a\nb\n\nc"[..offset].matches('\n').count() + 1;
        for offset in 0..=6 {
            assert_eq!(lines.line_of(offset), naive(offset), "offset {offset}");
        }
    }

    /// Validation time per manifest size: `cargo test --lib manifest_validation_figures -- --ignored
    /// --nocapture` (add `--profile release-baseline` for optimized figures).
    #[test]
    #[ignore = "prints figures; run by hand"]
    fn manifest_validation_figures() {
        for units in [10_000, 20_000, 40_000, 56_000] {
            let text = many(units);
            let time = validation_time(&text, units);
            println!(
                "{units} units, {} KB: validated in {time:?}",
                text.len() / 1000
            );
        }
    }

    /// Roles the manifest accepts: a name, a `path/name`, the default; each makes the ARN AWS expects.
    #[test]
    fn a_role_is_a_name_or_a_path_and_a_name() {
        for role in ["Admin", "team/ops/Deploy+Role=1,a.b@c_d-e", &"R".repeat(64)] {
            let text = format!(
                "[[unit]]\nname = \"a\"\nowner = \"o\"\npurpose = \"p\"\nrole = \"{role}\"\n"
            );
            let manifest = parse("fleet.toml", &text, &PolicyInput::default()).unwrap();
            assert_eq!(manifest.units[0].role, role);
        }
        let (field, rule) = error(&format!(
            "[[unit]]\nname = \"a\"\nowner = \"o\"\npurpose = \"p\"\nrole = \"{}\"\n",
            "R".repeat(65)
        ));
        assert_eq!(field, "fleet.toml:2: unit `a` role");
        assert!(rule.contains("1-64"), "{rule}");
    }
}
