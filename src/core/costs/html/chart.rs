//! The chart's model, apart from its markup: the periods of a report (every day or month of its range, also
//! those without spend), its series (business units, or the other grouping) largest first with untagged
//! spend last, the amount of each series in each period, and a y axis of round steps.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::super::{CostReport, CostRow, UNTAGGED};

/// The granularity a report's rows show (a report does not carry the one it was asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Day,
    Month,
}

/// One bar: a day or a calendar month, clipped to the report's range.
#[derive(Debug)]
pub(super) struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Day after the last.
    pub end: NaiveDate,
    /// Whether any of its figures is estimated.
    pub estimated: bool,
}

impl Period {
    /// The short label under its bar: `2026-11` for a month, `2026-11-05` for a day.
    pub fn label(&self, step: Step) -> String {
        match step {
            Step::Month => self.start.format("%Y-%m").to_string(),
            Step::Day => self.start.to_string(),
        }
    }

    /// Its days in words, the last one inclusive.
    pub fn span(&self) -> String {
        match self.end.pred_opt().filter(|last| *last > self.start) {
            Some(last) => format!("{} to {last}", self.start),
            None => self.start.to_string(),
        }
    }
}

/// One stacked series: a business unit (or a model, service or usage type).
#[derive(Debug)]
pub(super) struct Series {
    /// Its name, as Cost Explorer returned it (not escaped).
    pub name: String,
    /// Its spend over the whole range.
    pub total: f64,
}

/// Everything the chart shows, in the order it shows it.
#[derive(Debug)]
pub(super) struct Chart {
    /// Days or months.
    pub step: Step,
    /// Every period of the range, in order.
    pub periods: Vec<Period>,
    /// The series, largest first, untagged spend last.
    pub series: Vec<Series>,
    /// `amounts[period][series]`.
    pub amounts: Vec<Vec<f64>>,
}

/// What a row is stacked by: its business unit, else the other key it was grouped by.
pub(super) fn series_key(row: &CostRow) -> Option<&str> {
    row.business_unit
        .as_deref()
        .or(row.model.as_deref())
        .or(row.service.as_deref())
        .or(row.usage_type.as_deref())
}

impl Chart {
    /// The chart of `report`; `None` when it has no rows or its range does not parse.
    pub fn of(report: &CostReport) -> Option<Self> {
        let start = day(&report.start)?;
        let end = day(&report.end)?;
        if report.rows.is_empty() {
            return None;
        }
        let step = if report.rows.iter().any(spans_days) {
            Step::Month
        } else {
            Step::Day
        };
        let periods = periods(start, end, step);
        let series = ordered_series(report);
        let index: BTreeMap<String, usize> = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let mut chart = Self {
            step,
            amounts: vec![vec![0.0; series.len()]; periods.len()],
            periods,
            series,
        };
        for row in &report.rows {
            let (Some(at), Some(key)) = (day(&row.start), series_key(row)) else {
                continue;
            };
            // The period holding the row's first day (rows start where their period starts).
            let p = chart.periods.partition_point(|p| p.end <= at);
            if let (Some(period), Some(&s)) = (chart.periods.get_mut(p), index.get(key)) {
                period.estimated |= row.estimated;
                chart.amounts[p][s] += row.amount;
            }
        }
        Some(chart)
    }

    /// The largest stack: the sum of a period's amounts.
    pub fn tallest(&self) -> f64 {
        self.amounts
            .iter()
            .map(|a| a.iter().sum::<f64>())
            .fold(0.0, f64::max)
    }
}

fn day(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

fn spans_days(row: &CostRow) -> bool {
    match (day(&row.start), day(&row.end)) {
        (Some(start), Some(end)) => (end - start).num_days() > 1,
        _ => false,
    }
}

/// Every day, or every calendar month clipped to `[start, end)`, as Cost Explorer's periods are.
fn periods(start: NaiveDate, end: NaiveDate, step: Step) -> Vec<Period> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let next = match step {
            Step::Day => at.succ_opt(),
            Step::Month => at
                .with_day(1)
                .and_then(|first| first.checked_add_months(Months::new(1))),
        };
        let next = next.map_or(end, |n| n.min(end));
        out.push(Period {
            start: at,
            end: next,
            estimated: false,
        });
        at = next;
    }
    out
}

/// The series with their totals: the largest at the bottom of each stack, untagged spend on top.
fn ordered_series(report: &CostReport) -> Vec<Series> {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for row in &report.rows {
        if let Some(key) = series_key(row) {
            *totals.entry(key).or_default() += row.amount;
        }
    }
    let mut series: Vec<Series> = totals
        .into_iter()
        .map(|(name, total)| Series {
            name: name.to_owned(),
            total: report
                .totals_by_business_unit
                .get(name)
                .copied()
                .unwrap_or(total),
        })
        .collect();
    series.sort_by(|a, b| {
        (a.name == UNTAGGED)
            .cmp(&(b.name == UNTAGGED))
            .then(b.total.total_cmp(&a.total))
            .then(a.name.cmp(&b.name))
    });
    series
}

/// A y axis of round steps (1, 2, 2.5 or 5 times a power of ten) from zero to at least `max`:
/// `(top, step)`.
pub(super) fn axis(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 0.25);
    }
    let raw = max / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil().max(1.0) * step, step)
}

/// The fill of series `index` (of `count`): ten distinct colours, then hues a golden angle apart;
/// untagged spend is grey.
pub(super) fn color(index: usize, name: &str) -> String {
    const PALETTE: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#2f4b7c",
    ];
    if name == UNTAGGED {
        return "#9a9a9a".to_owned();
    }
    match PALETTE.get(index) {
        Some(color) => (*color).to_owned(),
        None => {
            let hue = (index as f64 * 137.508) % 360.0;
            let light = if index.is_multiple_of(2) { 42 } else { 62 };
            format!("hsl({hue:.0},55%,{light}%)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_take_round_steps() {
        for (max, top, step) in [
            (0.0, 1.0, 0.25),
            (237.25, 250.0, 50.0),
            (1000.0, 1000.0, 200.0),
            (0.42, 0.5, 0.1),
            (12.0, 12.0, 2.0),
            (13.0, 15.0, 2.5),
            (1294.5, 1500.0, 250.0),
        ] {
            let (t, s) = axis(max);
            assert!(
                (t - top).abs() < 1e-9 && (s - step).abs() < 1e-9,
                "{max}: {t} {s}"
            );
        }
    }

    #[test]
    fn months_are_clipped_to_the_range() {
        let d = |s: &str| day(s).unwrap();
        let months = periods(d("2026-01-15"), d("2026-03-10"), Step::Month);
        let spans: Vec<(String, String)> = months
            .iter()
            .map(|p| (p.start.to_string(), p.end.to_string()))
            .collect();
        assert_eq!(
            spans,
            [
                ("2026-01-15", "2026-02-01"),
                ("2026-02-01", "2026-03-01"),
                ("2026-03-01", "2026-03-10")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(months[1].span(), "2026-02-01 to 2026-02-28");
        assert_eq!(
            periods(d("2026-01-30"), d("2026-02-02"), Step::Day).len(),
            3
        );
    }
}
