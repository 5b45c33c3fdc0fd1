//! `query_usage`: each unit's Bedrock calls and tokens within minutes, from the model invocation logs
//! (one Logs Insights query for every unit), priced with the Price List and labelled as an estimate.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::QueryStatus;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    prices::{PriceTable, Tokens, base_model},
    window::Since,
};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, USER_SUFFIX},
};

/// The Logs Insights query: calls and tokens per caller and model.
pub const QUERY: &str = "stats count(*) as invocations, sum(input.inputTokenCount) as input_tokens, \
sum(output.outputTokenCount) as output_tokens, sum(input.cacheReadInputTokenCount) as cache_read, \
sum(input.cacheWriteInputTokenCount) as cache_write by identity.arn, modelId | limit 10000";

/// How long a query may run before the call gives up.
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Input of `query_usage`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryUsageInput {
    /// Only these business units (default: every caller).
    #[serde(default)]
    pub business_units: Option<Vec<String>>,
    /// `15m`, `6h`, `7d` back from now, or `month` (to date, UTC; default).
    #[serde(default)]
    pub since: Option<String>,
    /// A fleet manifest: also its accounts, through their roles.
    #[serde(default)]
    pub manifest: Option<String>,
}

/// Calls and tokens of one caller and model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UsageRow {
    /// The business unit whose IAM user made the calls; `None` for a caller that is not a managed unit.
    pub business_unit: Option<String>,
    /// The account, when read across a manifest's accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The caller's ARN as the logs record it (`identity.arn`).
    pub caller_arn: String,
    /// The model id or inference profile called.
    pub model_id: String,
    /// Calls.
    pub invocations: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Estimated cost in USD from the Price List; `None` when the model's price is unknown.
    pub estimated_usd: Option<f64>,
}

/// Result of `query_usage`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UsageReport {
    /// The window as asked.
    pub since: String,
    /// Its start (RFC 3339).
    pub start: String,
    /// Its end: now (RFC 3339).
    pub end: String,
    /// The log group read.
    pub log_group: String,
    /// One row per caller and model.
    pub rows: Vec<UsageRow>,
    /// Estimated USD per business unit (callers that are not units under `(not a unit)`).
    pub estimated_usd_by_business_unit: BTreeMap<String, f64>,
    /// The estimated total.
    pub estimated_total_usd: f64,
    /// Always true: these are estimates from token counts and list prices, not the bill.
    pub estimate: bool,
    /// For the whole past days of the window: each unit's estimate beside Cost Explorer's billed figure.
    pub billed: Vec<BilledComparison>,
    /// What to know about the figures.
    pub notes: Vec<String>,
}

/// One unit's estimate beside the bill, over the same whole days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BilledComparison {
    /// The business unit (`(untagged)` for billed spend without the tag).
    pub business_unit: String,
    /// First day compared (`YYYY-MM-DD`).
    pub start: String,
    /// Day after the last compared (exclusive).
    pub end: String,
    /// The estimate over those days, in USD.
    pub estimated_usd: f64,
    /// Cost Explorer's figure over those days, in USD.
    pub billed_usd: f64,
    /// (estimate - billed) / billed, in percent; `None` when nothing was billed.
    pub difference_pct: Option<f64>,
}

/// The label of callers that are not a managed business unit.
pub const NOT_A_UNIT: &str = "(not a unit)";

impl QueryUsageInput {
    /// The window and the units, validated before any AWS call.
    pub fn validate(&self) -> Result<(Since, Option<Vec<BusinessUnit>>)> {
        let since = Since::parse("since", self.since.as_deref().unwrap_or("month"))?;
        let units = self
            .business_units
            .as_ref()
            .map(|units| {
                units
                    .iter()
                    .map(|u| BusinessUnit::parse("business_units", u))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        Ok((since, units))
    }
}

impl Provisioner {
    /// The usage of this provisioner's account.
    pub(crate) async fn usage_here(
        &self,
        since: Since,
        units: Option<&[BusinessUnit]>,
    ) -> Result<UsageReport> {
        let log_group = self.usage_log_group().await?;
        let end = self.now();
        let start = since.start(end);
        self.check_retention(&log_group, start, &since).await?;
        let region = self.clients().await.region.clone();
        let (rows, notes) = self.priced_usage(&log_group, start, end, &region).await?;
        let rows: Vec<UsageRow> = rows
            .into_iter()
            .filter(|r| {
                units.is_none_or(|units| {
                    r.business_unit
                        .as_ref()
                        .is_some_and(|u| units.iter().any(|w| w.as_str() == u))
                })
            })
            .collect();
        let by_unit = by_unit(&rows);
        let mut notes = notes;
        let billed = self
            .billed_beside(&log_group, start, end, &region, &mut notes)
            .await;
        Ok(UsageReport {
            billed,
            since: since.label(),
            start: start.to_rfc3339(),
            end: end.to_rfc3339(),
            log_group,
            estimated_total_usd: by_unit.values().sum(),
            estimated_usd_by_business_unit: by_unit,
            rows,
            estimate: true,
            notes,
        })
    }

    /// The estimate beside Cost Explorer's bill for the window's whole past days (none when the window has
    /// none; a note when the bill cannot be read).
    async fn billed_beside(
        &self,
        log_group: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        region: &str,
        notes: &mut Vec<String>,
    ) -> Vec<BilledComparison> {
        let first = start.date_naive().succ_opt().unwrap_or(start.date_naive());
        let first = if start.time() == chrono::NaiveTime::MIN {
            start.date_naive()
        } else {
            first
        };
        let last = end.date_naive();
        if first >= last {
            return Vec::new();
        }
        let at = |d: chrono::NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
        let estimated = match self
            .priced_usage(log_group, at(first), at(last), region)
            .await
        {
            Ok((rows, _)) => by_unit(&rows),
            Err(error) => {
                notes.push(format!(
                    "The estimate over whole days could not be read: {error}"
                ));
                return Vec::new();
            }
        };
        let input = crate::core::costs::QueryCostsInput {
            start: Some(first.to_string()),
            end: Some(last.to_string()),
            ..Default::default()
        };
        let billed = match self.query_costs(&input).await {
            Ok(report) => report.totals_by_business_unit,
            Err(error) => {
                notes.push(format!("Cost Explorer's billed figure is not readable here ({error}); only estimates are shown."));
                return Vec::new();
            }
        };
        compare(&estimated, &billed, &first.to_string(), &last.to_string())
    }

    /// Every caller's usage in [start, end), priced; notes on what could not be priced.
    pub(crate) async fn priced_usage(
        &self,
        log_group: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        region: &str,
    ) -> Result<(Vec<UsageRow>, Vec<String>)> {
        let raw = self.run_query(log_group, start, end).await?;
        let prices = match self.price_table(region).await {
            Ok(prices) => prices,
            Err(error) => {
                tracing::warn!(%error, "prices unavailable");
                PriceTable::default()
            }
        };
        let mut notes = vec![format!(
            "Estimates: token counts from Bedrock's invocation logs (delivered about a minute after each call) times the Price List's on-demand prices in {region}; the bill (query_costs) is the reference, 24-48 h later."
        )];
        let mut rows: Vec<UsageRow> = raw.iter().map(|fields| row(fields, &prices)).collect();
        rows.sort_by(|a, b| {
            (&a.business_unit, &a.caller_arn, &a.model_id).cmp(&(
                &b.business_unit,
                &b.caller_arn,
                &b.model_id,
            ))
        });
        let unpriced: Vec<&str> = rows
            .iter()
            .filter(|r| r.estimated_usd.is_none())
            .map(|r| r.model_id.as_str())
            .collect();
        if !unpriced.is_empty() {
            notes.push(format!(
                "No list price found for {} in {region}: their calls are counted, not priced.",
                unpriced.join(", ")
            ));
        }
        Ok((rows, notes))
    }

    /// Run the Logs Insights query over [start, end) and wait for its rows.
    async fn run_query(
        &self,
        log_group: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<BTreeMap<String, String>>> {
        let logs = &self.clients().await.logs;
        let started = logs
            .start_query()
            .log_group_name(log_group)
            .start_time(start.timestamp())
            .end_time(end.timestamp())
            .query_string(QUERY)
            .send()
            .await
            .map_err(|e| sdk_error("logs:StartQuery", e))?;
        let id = started.query_id().unwrap_or_default().to_owned();
        let deadline = std::time::Instant::now() + QUERY_TIMEOUT;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            let page = logs
                .get_query_results()
                .query_id(&id)
                .send()
                .await
                .map_err(|e| sdk_error("logs:GetQueryResults", e))?;
            match page.status() {
                Some(QueryStatus::Complete) => return Ok(fields_of(page.results())),
                Some(QueryStatus::Scheduled | QueryStatus::Running) | None => {}
                Some(other) => {
                    return Err(Error::Aws {
                        action: "logs:GetQueryResults",
                        code: "QueryNotComplete".to_owned(),
                        message: format!("the usage query ended {}", other.as_str()),
                    });
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::Unreachable {
                    action: "logs:GetQueryResults",
                    detail: format!(
                        "the usage query did not finish within {} s",
                        QUERY_TIMEOUT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(1));
        }
    }

    /// Refuse a window that starts before the log group keeps events.
    async fn check_retention(
        &self,
        log_group: &str,
        start: DateTime<Utc>,
        since: &Since,
    ) -> Result<()> {
        let Some(days) = self.retention_days(log_group).await? else {
            return Ok(());
        };
        if start < self.now() - chrono::Duration::days(days.into()) {
            return Err(Error::refused(
                "since",
                format!(
                    "`{}` reaches further back than the log group {log_group} keeps events ({days} days)",
                    since.label()
                ),
            ));
        }
        Ok(())
    }
}

/// The query's rows as field maps.
fn fields_of(
    results: &[Vec<aws_sdk_cloudwatchlogs::types::ResultField>],
) -> Vec<BTreeMap<String, String>> {
    results
        .iter()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| Some((f.field()?.to_owned(), f.value()?.to_owned())))
                .collect()
        })
        .collect()
}

/// One result row of the query as a usage row, priced.
fn row(fields: &BTreeMap<String, String>, prices: &PriceTable) -> UsageRow {
    let number = |name: &str| {
        fields
            .get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v.max(0.0) as u64)
    };
    let caller_arn = fields.get("identity.arn").cloned().unwrap_or_default();
    let model_id = fields.get("modelId").cloned().unwrap_or_default();
    let tokens = Tokens {
        input: number("input_tokens"),
        output: number("output_tokens"),
        cache_read: number("cache_read"),
        cache_write: number("cache_write"),
    };
    UsageRow {
        business_unit: unit_of(&caller_arn),
        account: None,
        estimated_usd: prices.rates(&model_id).and_then(|r| r.cost(&tokens)),
        caller_arn,
        model_id,
        invocations: number("invocations"),
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        cache_read_tokens: tokens.cache_read,
        cache_write_tokens: tokens.cache_write,
    }
}

/// The business unit of a caller ARN: an IAM user named `<unit>-bedrock-user`.
pub fn unit_of(caller_arn: &str) -> Option<String> {
    let (_, resource) = caller_arn.split_once(":user/")?;
    let name = resource.rsplit('/').next()?;
    let unit = name.strip_suffix(USER_SUFFIX)?;
    BusinessUnit::parse("caller", unit)
        .ok()
        .map(|u| u.to_string())
}

/// Estimated USD per unit.
pub fn by_unit(rows: &[UsageRow]) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for row in rows {
        let unit = row
            .business_unit
            .clone()
            .unwrap_or_else(|| NOT_A_UNIT.to_owned());
        *sums.entry(unit).or_insert(0.0) += row.estimated_usd.unwrap_or(0.0);
    }
    sums
}

/// One report of the usage of every account: rows marked with their account, sums per unit over all.
pub(crate) fn merge(
    reports: Vec<(String, Vec<UsageReport>)>,
    unreachable: &[String],
) -> UsageReport {
    let mut merged: Option<UsageReport> = None;
    for (account, list) in reports {
        for mut report in list {
            for row in &mut report.rows {
                row.account = Some(account.clone());
            }
            match merged.as_mut() {
                None => merged = Some(report),
                Some(all) => {
                    all.rows.extend(report.rows);
                    all.billed.extend(report.billed);
                }
            }
        }
    }
    let mut all = merged.unwrap_or_else(|| UsageReport {
        since: String::new(),
        start: String::new(),
        end: String::new(),
        log_group: String::new(),
        rows: Vec::new(),
        estimated_usd_by_business_unit: BTreeMap::new(),
        estimated_total_usd: 0.0,
        estimate: true,
        billed: Vec::new(),
        notes: Vec::new(),
    });
    all.estimated_usd_by_business_unit = by_unit(&all.rows);
    all.estimated_total_usd = all.estimated_usd_by_business_unit.values().sum();
    all.notes
        .extend(unreachable.iter().map(|why| format!("not read: {why}")));
    all
}

/// Each unit's estimate beside its billed figure.
pub fn compare(
    estimated: &BTreeMap<String, f64>,
    billed: &BTreeMap<String, f64>,
    start: &str,
    end: &str,
) -> Vec<BilledComparison> {
    let units: std::collections::BTreeSet<&String> =
        estimated.keys().chain(billed.keys()).collect();
    units
        .into_iter()
        .map(|unit| {
            let (e, b) = (
                estimated.get(unit).copied().unwrap_or(0.0),
                billed.get(unit).copied().unwrap_or(0.0),
            );
            BilledComparison {
                business_unit: unit.clone(),
                start: start.to_owned(),
                end: end.to_owned(),
                estimated_usd: (e * 10_000.0).round() / 10_000.0,
                billed_usd: (b * 10_000.0).round() / 10_000.0,
                difference_pct: (b > 0.0).then(|| ((e - b) / b * 1000.0).round() / 10.0),
            }
        })
        .collect()
}

/// The foundation model of a row's model id, for grouping.
pub fn model_of(model_id: &str) -> &str {
    base_model(model_id).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_map_to_units_or_stay_callers() {
        assert_eq!(
            unit_of("arn:aws:iam::111122223333:user/bedrock-provisioner/marketing-bedrock-user")
                .as_deref(),
            Some("marketing")
        );
        assert_eq!(unit_of("arn:aws:iam::111122223333:user/jane"), None);
        assert_eq!(
            unit_of("arn:aws:sts::111122223333:assumed-role/Admin/jane"),
            None
        );
    }

    #[test]
    fn rows_are_read_from_the_querys_fields() {
        let fields: BTreeMap<String, String> = [
            (
                "identity.arn",
                "arn:aws:iam::1:user/bedrock-provisioner/sales-bedrock-user",
            ),
            ("modelId", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ("invocations", "3"),
            ("input_tokens", "1000"),
            ("output_tokens", "200"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let row = row(&fields, &PriceTable::default());
        assert_eq!(row.business_unit.as_deref(), Some("sales"));
        assert_eq!(
            (
                row.invocations,
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens
            ),
            (3, 1000, 200, 0)
        );
        assert_eq!(row.estimated_usd, None, "no price: counted, not priced");
    }
}
