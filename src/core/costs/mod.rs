//! `query_costs`: Bedrock spend per business unit from Cost Explorer, including Claude billed through AWS
//! Marketplace ("... (Amazon Bedrock Edition)" services), with the business-unit tag key read from the
//! cost allocation tags, every page followed, and untagged spend as its own line.

pub mod budgets;
pub mod html;
pub mod tags;

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, DimensionValues, Expression, Group, GroupDefinition,
    GroupDefinitionType, ResultByTime, TagValues,
};
use chrono::{Datelike, Months, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
};

/// Label of spend without a business-unit tag.
pub const UNTAGGED: &str = "(untagged)";
/// Months of history Cost Explorer serves (besides the current month).
const HISTORY_MONTHS: u32 = 13;
const MARKETPLACE_SUFFIX: &str = " (Amazon Bedrock Edition)";

/// Granularity of the rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Granularity {
    /// One row per day.
    Daily,
    /// One row per calendar month.
    #[default]
    Monthly,
}

/// What to group by (at most two).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GroupKey {
    /// The business-unit tag.
    BusinessUnit,
    /// The billing service (Amazon Bedrock, or a Marketplace "... (Amazon Bedrock Edition)").
    Service,
    /// The usage type (tokens in/out per region and model).
    UsageType,
    /// The model, read from the service name.
    Model,
}

/// The cost metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CostMetric {
    /// What was charged, before discounts (Cost Explorer's default).
    #[default]
    UnblendedCost,
    /// After discounts and credits.
    NetUnblendedCost,
    /// With upfront fees spread over their term.
    AmortizedCost,
}

impl CostMetric {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnblendedCost => "UnblendedCost",
            Self::NetUnblendedCost => "NetUnblendedCost",
            Self::AmortizedCost => "AmortizedCost",
        }
    }
}

fn default_group_by() -> Vec<GroupKey> {
    vec![GroupKey::BusinessUnit]
}

/// Input of `query_costs`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryCostsInput {
    /// Only these units (default: all, and untagged spend).
    #[serde(default)]
    pub business_units: Option<Vec<String>>,
    /// First day, YYYY-MM-DD (default: the 1st of this month).
    #[serde(default)]
    pub start: Option<String>,
    /// Day after the last, YYYY-MM-DD, exclusive (default: tomorrow).
    #[serde(default)]
    pub end: Option<String>,
    /// Bucket size.
    #[serde(default)]
    pub granularity: Granularity,
    /// At most two (default `business_unit`).
    #[serde(default = "default_group_by")]
    pub group_by: Vec<GroupKey>,
    /// Cost metric.
    #[serde(default)]
    pub metric: CostMetric,
    /// The units' cost allocation tag key (default: discovered).
    #[serde(default)]
    pub tag_key: Option<String>,
}

impl Default for QueryCostsInput {
    fn default() -> Self {
        Self {
            business_units: None,
            start: None,
            end: None,
            granularity: Granularity::default(),
            group_by: default_group_by(),
            metric: CostMetric::default(),
            tag_key: None,
        }
    }
}

/// One row: a period and a group.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CostRow {
    /// First day of the period.
    pub start: String,
    /// Day after its last (exclusive).
    pub end: String,
    /// The business unit (`(untagged)` for spend without the tag), when grouped by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<String>,
    /// The billing service, when grouped by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The usage type, when grouped by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_type: Option<String>,
    /// The model, when grouped by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The amount.
    pub amount: f64,
    /// Whether Cost Explorer marks the figure as estimated (the current period).
    pub estimated: bool,
}

/// Result of `query_costs`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CostReport {
    /// First day.
    pub start: String,
    /// Day after the last (exclusive).
    pub end: String,
    /// The metric.
    pub metric: CostMetric,
    /// The currency of every amount.
    pub currency: String,
    /// The tag key used for business units.
    pub tag_key: String,
    /// The billing services counted as Bedrock spend.
    pub services: Vec<String>,
    /// Rows per period and group (periods without spend are left out).
    pub rows: Vec<CostRow>,
    /// Totals per business unit over the whole range (`(untagged)` included), when grouped by it.
    pub totals_by_business_unit: BTreeMap<String, f64>,
    /// The total.
    pub total: f64,
    /// Whether any figure is estimated.
    pub estimated: bool,
    /// What explains an empty or low figure (inactive tags, the 24-48 h delay, ...).
    pub notes: Vec<String>,
}

/// Validated request.
#[derive(Debug)]
struct CostQuery {
    units: Vec<BusinessUnit>,
    start: NaiveDate,
    end: NaiveDate,
    group_by: Vec<GroupKey>,
}

impl QueryCostsInput {
    fn validate(&self, today: NaiveDate) -> Result<CostQuery> {
        let units = self
            .business_units
            .iter()
            .flatten()
            .map(|raw| BusinessUnit::parse("business_units", raw))
            .collect::<Result<Vec<_>>>()?;
        let (start, end) = self.period(today)?;
        let mut group_by = self.group_by.clone();
        group_by.dedup();
        if group_by.is_empty() || group_by.len() > 2 {
            return Err(Error::invalid(
                "group_by",
                "needs one or two keys (Cost Explorer groups by at most two)",
            ));
        }
        if group_by.contains(&GroupKey::Service) && group_by.contains(&GroupKey::Model) {
            return Err(Error::invalid(
                "group_by",
                "`service` and `model` both group by the billing service; pick one",
            ));
        }
        if let Some(key) = &self.tag_key
            && (key.is_empty() || key.len() > 128)
        {
            return Err(Error::invalid("tag_key", "must be 1-128 characters"));
        }
        Ok(CostQuery {
            units,
            start,
            end,
            group_by,
        })
    }
}

impl QueryCostsInput {
    /// The validated `[start, end)` range: defaults to this month so far, within what Cost Explorer serves.
    fn period(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
        let first_of_month = today.with_day(1).unwrap_or(today);
        let start = match &self.start {
            Some(raw) => parse_date("start", raw)?,
            None => first_of_month,
        };
        let end = match &self.end {
            Some(raw) => parse_date("end", raw)?,
            None => today.succ_opt().unwrap_or(today),
        };
        if start > today {
            return Err(Error::invalid(
                "start",
                format!("{start} is in the future (today is {today})"),
            ));
        }
        if end <= start {
            return Err(Error::invalid(
                "end",
                format!(
                    "must be after start ({start}); end is exclusive, so one day is start={start}, end={}",
                    start.succ_opt().unwrap_or(start)
                ),
            ));
        }
        let oldest = first_of_month - Months::new(HISTORY_MONTHS);
        if start < oldest {
            return Err(Error::invalid(
                "start",
                format!(
                    "Cost Explorer serves {HISTORY_MONTHS} months of history: start on or after {oldest}"
                ),
            ));
        }
        let latest = first_of_month + Months::new(1);
        if end > latest {
            return Err(Error::invalid(
                "end",
                format!("Cost Explorer has no spend after this month: end on or before {latest}"),
            ));
        }
        Ok((start, end))
    }
}

/// A date in exactly `YYYY-MM-DD` form: chrono alone also takes `26-01-01`, `+2026-01-01` and `2026-1-1`.
fn parse_date(field: &str, raw: &str) -> Result<NaiveDate> {
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| Error::invalid(field, format!("must be a date YYYY-MM-DD; `{raw}` is not")))
}

/// The model named by a billing service.
fn model_of(service: &str) -> String {
    service
        .strip_suffix(MARKETPLACE_SUFFIX)
        .map_or_else(|| format!("{service} (first-party billing)"), str::to_owned)
}

impl Provisioner {
    /// Bedrock spend per business unit.
    pub async fn query_costs(&self, input: &QueryCostsInput) -> Result<CostReport> {
        let query = input.validate(self.today())?;
        let period = DateInterval::builder()
            .start(query.start.to_string())
            .end(query.end.to_string())
            .build()
            .map_err(|e| Error::invalid("start", e.to_string()))?;
        let mut notes = Vec::new();
        let services = self.bedrock_services(&period).await?;
        let (tag_key, tag_note) = match &input.tag_key {
            Some(key) => (key.clone(), None),
            None => self.business_unit_tag_key().await?,
        };
        notes.extend(tag_note);
        let mut report = CostReport::new(
            &query,
            input.metric,
            tag_key.clone(),
            services.clone(),
            notes,
        );
        if services.is_empty() {
            report.notes.push(format!(
                "No Bedrock spend from {} to {} (exclusive): no billing service with `Bedrock` in its name has charges in the range.",
                query.start, query.end
            ));
            return Ok(report);
        }
        let filter = cost_filter(&services, &tag_key, &query.units)?;
        let groups = group_definitions(&query.group_by, &tag_key);
        let ce = &self.clients().await.cost_explorer;
        let mut token = None;
        loop {
            let page = ce
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(match input.granularity {
                    Granularity::Daily => aws_sdk_costexplorer::types::Granularity::Daily,
                    Granularity::Monthly => aws_sdk_costexplorer::types::Granularity::Monthly,
                })
                .metrics(input.metric.as_str())
                .filter(filter.clone())
                .set_group_by(Some(groups.clone()))
                .set_next_page_token(token)
                .send()
                .await
                .map_err(|e| sdk_error("ce:GetCostAndUsage", e))?;
            for result in page.results_by_time() {
                for group in result.groups() {
                    report.add(&query.group_by, input.metric, result, group);
                }
            }
            token = page.next_page_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        report.finish();
        Ok(report)
    }
}

/// How Cost Explorer groups: by the business-unit tag, the billing service (models are services), or the
/// usage type.
fn group_definitions(keys: &[GroupKey], tag_key: &str) -> Vec<GroupDefinition> {
    keys.iter()
        .map(|key| match key {
            GroupKey::BusinessUnit => GroupDefinition::builder()
                .r#type(GroupDefinitionType::Tag)
                .key(tag_key)
                .build(),
            GroupKey::Service | GroupKey::Model => GroupDefinition::builder()
                .r#type(GroupDefinitionType::Dimension)
                .key("SERVICE")
                .build(),
            GroupKey::UsageType => GroupDefinition::builder()
                .r#type(GroupDefinitionType::Dimension)
                .key("USAGE_TYPE")
                .build(),
        })
        .collect()
}

impl CostReport {
    /// An empty report of `query`, before any row.
    fn new(
        query: &CostQuery,
        metric: CostMetric,
        tag_key: String,
        services: Vec<String>,
        notes: Vec<String>,
    ) -> Self {
        Self {
            start: query.start.to_string(),
            end: query.end.to_string(),
            metric,
            currency: "USD".to_owned(),
            tag_key,
            services,
            rows: Vec::new(),
            totals_by_business_unit: BTreeMap::new(),
            total: 0.0,
            estimated: false,
            notes,
        }
    }

    /// Add one group of one period; a group without spend is left out.
    fn add(&mut self, keys: &[GroupKey], metric: CostMetric, result: &ResultByTime, group: &Group) {
        let Some(value) = group.metrics().and_then(|m| m.get(metric.as_str())) else {
            return;
        };
        let amount: f64 = value.amount().and_then(|a| a.parse().ok()).unwrap_or(0.0);
        if let Some(unit) = value.unit() {
            unit.clone_into(&mut self.currency);
        }
        if amount == 0.0 {
            return;
        }
        let (start, end) = result
            .time_period()
            .map(|p| (p.start().to_owned(), p.end().to_owned()))
            .unwrap_or_default();
        let mut row = CostRow {
            start,
            end,
            business_unit: None,
            service: None,
            usage_type: None,
            model: None,
            amount,
            estimated: result.estimated(),
        };
        for (key, value) in keys.iter().zip(group.keys()) {
            match key {
                GroupKey::BusinessUnit => {
                    let unit = value.split_once('$').map_or(value.as_str(), |(_, v)| v);
                    let unit = if unit.is_empty() { UNTAGGED } else { unit };
                    row.business_unit = Some(unit.to_owned());
                }
                GroupKey::Service => row.service = Some(value.clone()),
                GroupKey::Model => row.model = Some(model_of(value)),
                GroupKey::UsageType => row.usage_type = Some(value.clone()),
            }
        }
        self.total += amount;
        self.estimated |= row.estimated;
        if let Some(unit) = &row.business_unit {
            *self
                .totals_by_business_unit
                .entry(unit.clone())
                .or_default() += amount;
        }
        self.rows.push(row);
    }

    /// Round the totals and explain estimated, empty or untagged figures.
    fn finish(&mut self) {
        self.total = round(self.total);
        for value in self.totals_by_business_unit.values_mut() {
            *value = round(*value);
        }
        if self.estimated {
            self.notes.push(
                "Figures for the current period are estimated until the month closes.".to_owned(),
            );
        }
        if self.total == 0.0 {
            self.notes.push("No spend found: usage appears in Cost Explorer after up to 24 hours, and business-unit tags only from their activation on (24-48 h delay).".to_owned());
        } else if self
            .totals_by_business_unit
            .get(UNTAGGED)
            .is_some_and(|u| *u > 0.0)
        {
            self.notes.push(format!(
                "Spend without a `{}` tag is listed as {UNTAGGED}: usage before the tag was activated, or by principals without the tag.",
                self.tag_key
            ));
        }
    }
}

/// Bedrock services, and the business units when some were named.
fn cost_filter(services: &[String], tag_key: &str, units: &[BusinessUnit]) -> Result<Expression> {
    let services = Expression::builder()
        .dimensions(
            DimensionValues::builder()
                .key(Dimension::Service)
                .set_values(Some(services.to_vec()))
                .build(),
        )
        .build();
    if units.is_empty() {
        return Ok(services);
    }
    let tags = Expression::builder()
        .tags(
            TagValues::builder()
                .key(tag_key)
                .set_values(Some(units.iter().map(ToString::to_string).collect()))
                .build(),
        )
        .build();
    Ok(Expression::builder().and(services).and(tags).build())
}

fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("start", "2026-01-01").is_ok());
        for bad in [
            "26-01-01",
            "+2026-01-01",
            "2026-1-1",
            "2026-01-1",
            "2026-02-30",
            "2026/01/01",
            " 2026-01-01",
        ] {
            let error = parse_date("start", bad).unwrap_err().to_string();
            assert!(error.contains("invalid `start`"), "{bad}: {error}");
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dates_are_checked_against_what_cost_explorer_serves() {
        let today = day("2026-11-25");
        let ok = QueryCostsInput::default().validate(today).unwrap();
        assert_eq!((ok.start, ok.end), (day("2026-11-01"), day("2026-11-26")));
        let input = |start: &str, end: &str| QueryCostsInput {
            start: Some(start.into()),
            end: Some(end.into()),
            ..QueryCostsInput::default()
        };
        for (start, end, field, rule) in [
            ("2026-11-27", "2026-11-28", "start", "in the future"),
            ("2026-11-10", "2026-11-10", "end", "must be after start"),
            ("2026-11-10", "2026-11-09", "end", "must be after start"),
            (
                "2025-09-30",
                "2025-11-05",
                "start",
                "on or after 2025-10-01",
            ),
            ("2026-11-01", "2027-01-01", "end", "on or before 2026-12-01"),
            ("2026-13-01", "2026-11-02", "start", "YYYY-MM-DD"),
        ] {
            let error = input(start, end).validate(today).unwrap_err().to_string();
            assert!(
                error.contains(&format!("invalid `{field}`")) && error.contains(rule),
                "{start}..{end}: {error}"
            );
        }
        assert!(input("2025-10-01", "2026-12-01").validate(today).is_ok());
        let both = QueryCostsInput {
            group_by: vec![GroupKey::Service, GroupKey::Model],
            ..QueryCostsInput::default()
        };
        assert!(both.validate(today).is_err());
        assert_eq!(
            model_of("Claude Sonnet 4.5 (Amazon Bedrock Edition)"),
            "Claude Sonnet 4.5"
        );
    }
}
