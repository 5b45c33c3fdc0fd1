//! A cost report as one self-contained HTML page: a stacked bar chart of spend per business unit per day or
//! month (inline SVG), the totals table, the period, the notes and when it was made. No script, font, image
//! or anything else from the network; every string is escaped (unit names come from tags); print-friendly.
//!
//! Every bar segment is a `<rect>` with `data-unit`, `data-period` (its first day), `data-amount` and an
//! accessible `<title>`, so a browser test (or a person's inspector) can find it.

mod chart;

use std::fmt::{self, Display, Write};

use chrono::{DateTime, Utc};

use super::{CostReport, UNTAGGED};
use chart::{Chart, Step, axis, color};

/// Height of the plot area, in CSS pixels.
const PLOT_HEIGHT: f64 = 320.0;
/// Room above the plot (the axis's top label, a full stack's total).
const TOP: f64 = 20.0;
/// Room left of the plot, for the amounts on the y axis.
const LEFT: f64 = 76.0;
/// Room right of the plot.
const RIGHT: f64 = 12.0;
/// Width the bars share (the chart grows beyond it only when bars would get thinner than [`MIN_SLOT`]).
const PLOT_WIDTH: f64 = 880.0;
/// The narrowest slot of a bar (a day over 13 months).
const MIN_SLOT: f64 = 14.0;
/// The widest bar.
const MAX_BAR: f64 = 64.0;
/// The narrowest slot above which each stack shows its total.
const TOTAL_SLOT: f64 = 44.0;

/// The page of `report`, made at `made_at`: a pure function of both.
pub fn render(report: &CostReport, made_at: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(16 * 1024 + report.rows.len() * 256);
    // Writing into a String cannot fail.
    let _ = page(&mut out, report, made_at);
    out
}

/// Text made safe for HTML content and double-quoted attribute values.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// An amount with thousands separators and two decimals: `12,345.68`.
fn money(amount: f64) -> String {
    let fixed = format!("{:.2}", amount.abs());
    let (whole, cents) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0.0 && fixed != "0.00" {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped}.{cents}")
}

/// An amount for a label: whole from 100 on (`2,365`), else with cents (`82.40`).
fn short_money(amount: f64) -> String {
    if amount.abs() >= 100.0 {
        money(amount.round()).trim_end_matches(".00").to_owned()
    } else {
        money(amount)
    }
}

/// What the series are: business units, unless the report was grouped by something else.
fn series_noun(report: &CostReport) -> &'static str {
    let first = report.rows.first();
    match first {
        Some(row) if row.business_unit.is_some() => "business unit",
        Some(row) if row.model.is_some() => "model",
        Some(row) if row.service.is_some() => "billing service",
        Some(row) if row.usage_type.is_some() => "usage type",
        _ => "business unit",
    }
}

fn page(out: &mut String, report: &CostReport, made_at: DateTime<Utc>) -> fmt::Result {
    let chart = Chart::of(report);
    let noun = series_noun(report);
    let last = chrono::NaiveDate::parse_from_str(&report.end, "%Y-%m-%d")
        .ok()
        .and_then(|end| end.pred_opt())
        .map_or_else(|| report.end.clone(), |d| d.to_string());
    let title = format!("Bedrock spend per {noun}, {} to {last}", report.start);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>Bedrock spend per {noun}</h1>\n",
        Esc(&title)
    )?;
    let every = match chart.as_ref().map(|c| c.step) {
        Some(Step::Day) => ", per day",
        Some(Step::Month) => ", per month",
        None => "",
    };
    writeln!(
        out,
        "<p class=\"sub\"><span class=\"period\">{} to {} (inclusive)</span>{every} &middot; {} in {} \
         &middot; tag <code>{}</code>{}</p>\n</header>",
        Esc(&report.start),
        Esc(&last),
        Esc(&format!("{:?}", report.metric)),
        Esc(&report.currency),
        Esc(&report.tag_key),
        if report.estimated {
            " &middot; <strong>estimated</strong>"
        } else {
            ""
        },
    )?;
    match &chart {
        Some(chart) => figure(out, report, chart, noun)?,
        None => out.push_str("<p class=\"empty\">No Bedrock spend in this period.</p>\n"),
    }
    totals(out, report, chart.as_ref(), noun)?;
    notes(out, report)?;
    footer(out, report, made_at)
}

/// The chart and its legend.
fn figure(out: &mut String, report: &CostReport, chart: &Chart, noun: &str) -> fmt::Result {
    let n = chart.periods.len().max(1) as f64;
    let slot = (PLOT_WIDTH / n).max(MIN_SLOT);
    let width = LEFT + slot * n + RIGHT;
    let longest = match chart.step {
        Step::Month => 7.0,
        Step::Day => 10.0,
    };
    // Labels turn when they do not fit under their bar, and then need room below it.
    let turned = slot < longest * 6.5 + 6.0;
    let bottom = if turned { longest * 5.0 + 18.0 } else { 28.0 };
    let height = TOP + PLOT_HEIGHT + bottom;
    let (top, step) = axis(chart.tallest());
    let scale = PLOT_HEIGHT / top;
    let every = if chart.step == Step::Month {
        "month"
    } else {
        "day"
    };
    writeln!(
        out,
        "<figure>\n<svg class=\"chart\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-labelledby=\"chart-title\" \
         data-currency=\"{}\" data-axis-top=\"{top}\" data-plot-height=\"{PLOT_HEIGHT}\">\n\
         <title id=\"chart-title\">Bedrock spend per {noun} and {every}, in {}</title>",
        Esc(&report.currency),
        Esc(&report.currency),
    )?;
    grid(out, top, step, scale, width)?;
    bars(out, report, chart, slot, scale)?;
    labels(out, chart, slot, turned)?;
    out.push_str("</svg>\n");
    legend(out, chart)?;
    out.push_str("</figure>\n");
    Ok(())
}

/// Horizontal grid lines with their amounts, and the base line.
fn grid(out: &mut String, top: f64, step: f64, scale: f64, width: f64) -> fmt::Result {
    out.push_str("<g class=\"grid\" aria-hidden=\"true\">");
    let ticks = (top / step).round() as u32;
    let base = TOP + PLOT_HEIGHT;
    for i in 0..=ticks {
        let value = step * f64::from(i);
        let y = base - value * scale;
        let class = if i == 0 { " class=\"base\"" } else { "" };
        write!(
            out,
            "<line{class} x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.2}\" y2=\"{y:.2}\"/>\
             <text x=\"{:.0}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
            width - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            money(value).trim_end_matches(".00"),
        )?;
    }
    out.push_str("</g>\n");
    Ok(())
}

/// One stack per period, one `<rect>` per series with spend in it, the largest series at the bottom.
fn bars(
    out: &mut String,
    report: &CostReport,
    chart: &Chart,
    slot: f64,
    scale: f64,
) -> fmt::Result {
    out.push_str("<g class=\"bars\">\n");
    let bar = (slot * 0.72).clamp(MIN_SLOT - 4.0, MAX_BAR);
    let base = TOP + PLOT_HEIGHT;
    for (p, period) in chart.periods.iter().enumerate() {
        let x = LEFT + slot * p as f64 + (slot - bar) / 2.0;
        let mut below = 0.0;
        let span = period.span();
        let estimated = if period.estimated { ", estimated" } else { "" };
        for (s, series) in chart.series.iter().enumerate() {
            let amount = chart.amounts[p][s];
            if amount == 0.0 {
                continue;
            }
            let y = base - (below + amount) * scale;
            below += amount;
            writeln!(
                out,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bar:.2}\" height=\"{:.2}\" fill=\"{}\" \
                 data-unit=\"{}\" data-period=\"{}\" data-amount=\"{}\"{}><title>{}, {span}: {} {}{estimated}</title></rect>",
                amount * scale,
                color(s, &series.name),
                Esc(&series.name),
                period.start,
                (amount * 1e6).round() / 1e6,
                if period.estimated {
                    " data-estimated=\"true\""
                } else {
                    ""
                },
                Esc(&series.name),
                money(amount),
                Esc(&report.currency),
            )?;
        }
        if below > 0.0 && slot >= TOTAL_SLOT {
            writeln!(
                out,
                "<text class=\"total\" x=\"{:.1}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                base - below * scale - 5.0,
                short_money(below),
            )?;
        }
    }
    out.push_str("</g>\n");
    Ok(())
}

/// The periods under their bars (every few when they crowd), estimated ones marked `*`.
fn labels(out: &mut String, chart: &Chart, slot: f64, turned: bool) -> fmt::Result {
    out.push_str("<g class=\"periods\">");
    let every = (16.0 / slot).ceil().max(1.0) as usize;
    let y = TOP + PLOT_HEIGHT + 14.0;
    for (p, period) in chart.periods.iter().enumerate() {
        if p % every != 0 {
            continue;
        }
        let x = LEFT + slot * (p as f64 + 0.5);
        let mark = if period.estimated { "*" } else { "" };
        let label = period.label(chart.step);
        if turned {
            write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" transform=\"rotate(-45 {x:.1} {y:.1})\">{label}{mark}</text>"
            )?;
        } else {
            write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{label}{mark}</text>"
            )?;
        }
    }
    out.push_str("</g>\n");
    Ok(())
}

/// A small square of a series' colour (an SVG, so it prints without "background graphics").
fn swatch(out: &mut String, index: usize, name: &str) -> fmt::Result {
    write!(
        out,
        "<svg class=\"swatch\" width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"{}\"/></svg>",
        color(index, name)
    )
}

fn legend(out: &mut String, chart: &Chart) -> fmt::Result {
    out.push_str("<figcaption><ul class=\"legend\">\n");
    for (s, series) in chart.series.iter().enumerate() {
        write!(out, "<li data-unit=\"{}\">", Esc(&series.name))?;
        swatch(out, s, &series.name)?;
        writeln!(out, "{}</li>", Esc(&series.name))?;
    }
    if chart.periods.iter().any(|p| p.estimated) {
        out.push_str("<li class=\"mark\">* estimated</li>\n");
    }
    out.push_str("</ul></figcaption>\n");
    Ok(())
}

/// Totals per series (the report's own totals per business unit), their share, and the total.
fn totals(out: &mut String, report: &CostReport, chart: Option<&Chart>, noun: &str) -> fmt::Result {
    let currency = Esc(&report.currency);
    let (first, rest) = noun.split_at(1);
    let heading = format!("{}{rest}", first.to_uppercase());
    writeln!(
        out,
        "<table class=\"totals\">\n<caption>Totals</caption>\n<thead><tr><th scope=\"col\">{heading}</th>\
         <th scope=\"col\" class=\"num\">Spend ({currency})</th><th scope=\"col\" class=\"num\">Share</th></tr></thead>\n<tbody>"
    )?;
    for (s, series) in chart
        .map(|c| c.series.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let share = if report.total > 0.0 {
            series.total / report.total * 100.0
        } else {
            0.0
        };
        write!(out, "<tr data-unit=\"{}\"><td>", Esc(&series.name))?;
        swatch(out, s, &series.name)?;
        writeln!(
            out,
            " {}</td><td class=\"num\">{}</td><td class=\"num\">{share:.1} %</td></tr>",
            Esc(&series.name),
            money(series.total),
        )?;
    }
    writeln!(
        out,
        "</tbody>\n<tfoot><tr><td>Total</td><td class=\"num\" data-total=\"{}\">{}</td><td class=\"num\"></td></tr></tfoot>\n</table>",
        report.total,
        money(report.total),
    )
}

fn notes(out: &mut String, report: &CostReport) -> fmt::Result {
    let mut notes: Vec<&str> = report.notes.iter().map(String::as_str).collect();
    let untagged = report.totals_by_business_unit.contains_key(UNTAGGED);
    if untagged && !notes.iter().any(|n| n.contains(UNTAGGED)) {
        notes.push("Spend without the business-unit tag is shown as (untagged).");
    }
    if notes.is_empty() {
        return Ok(());
    }
    out.push_str("<section class=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
    for note in notes {
        writeln!(out, "<li>{}</li>", Esc(note))?;
    }
    out.push_str("</ul>\n</section>\n");
    Ok(())
}

fn footer(out: &mut String, report: &CostReport, made_at: DateTime<Utc>) -> fmt::Result {
    let services: Vec<String> = report.services.iter().map(|s| Esc(s).to_string()).collect();
    writeln!(
        out,
        "<footer>\n<p>Made <time datetime=\"{}\">{}</time> by bedrock-provisioner {} from AWS Cost Explorer.</p>\n\
         <p>Billing services counted: {}.</p>\n</footer>\n</body>\n</html>",
        made_at.format("%Y-%m-%dT%H:%M:%SZ"),
        made_at.format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION"),
        if services.is_empty() {
            "none".to_owned()
        } else {
            services.join(", ")
        },
    )
}

/// The page's style: system fonts only, light colours, and a print layout (landscape, nothing split
/// across pages, colours kept).
const CSS: &str = "
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', Arial, sans-serif;
  color: #1f2328; background: #fff; max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 6px; }
.sub { color: #57606a; margin: 0 0 16px; }
code { font: 13px ui-monospace, 'Liberation Mono', monospace; }
figure { margin: 0 0 24px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-size: 11px; fill: #57606a; }
svg.chart text.total { fill: #1f2328; font-weight: 600; }
.grid line { stroke: #e1e4e8; }
.grid line.base { stroke: #57606a; }
.bars rect { stroke: #fff; stroke-width: 0.5; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; margin: 10px 0 0 76px;
  font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { flex: none; vertical-align: -1px; }
table.totals { border-collapse: collapse; min-width: 420px; }
caption { text-align: left; font-weight: 600; font-size: 16px; padding-bottom: 6px; }
th, td { padding: 4px 12px 4px 0; border-bottom: 1px solid #e1e4e8; text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 600; border-top: 2px solid #57606a; border-bottom: none; }
.notes ul { padding-left: 20px; margin: 0; }
.empty { padding: 24px; border: 1px dashed #d0d7de; color: #57606a; }
footer { margin-top: 28px; color: #57606a; font-size: 12px; }
footer p { margin: 2px 0; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { max-width: none; margin: 0; padding: 0; font-size: 10px; }
  h1 { font-size: 16px; }
  h2, caption { font-size: 12px; margin-top: 10px; }
  svg.chart { width: 100%; max-height: 88mm; }
  figure { margin-bottom: 8px; }
  th, td { padding: 1px 12px 1px 0; }
  footer { margin-top: 10px; font-size: 9px; }
  figure, table, tr, .notes { break-inside: avoid; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
";

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use regex::Regex;

    use super::*;
    use crate::core::costs::{CostMetric, CostRow};

    const ODD: &str = "<script>alert('x')</script>&\"r&d\"";

    fn row(start: &str, end: &str, unit: &str, amount: f64, estimated: bool) -> CostRow {
        CostRow {
            start: start.into(),
            end: end.into(),
            business_unit: Some(unit.into()),
            service: None,
            usage_type: None,
            model: None,
            amount,
            estimated,
        }
    }

    /// A report as `query_costs` makes it: rows, totals per unit, the total.
    fn report(rows: Vec<CostRow>, start: &str, end: &str) -> CostReport {
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        for r in &rows {
            *totals.entry(r.business_unit.clone().unwrap()).or_default() += r.amount;
        }
        CostReport {
            start: start.into(),
            end: end.into(),
            metric: CostMetric::UnblendedCost,
            currency: "USD".into(),
            tag_key: "iamPrincipal/business-unit".into(),
            services: vec!["Claude Sonnet 4.5 (Amazon Bedrock Edition)".into()],
            total: totals.values().sum(),
            estimated: rows.iter().any(|r| r.estimated),
            totals_by_business_unit: totals,
            rows,
            notes: vec![
                "Figures for the current period are estimated until the month closes.".into(),
            ],
        }
    }

    fn three_months() -> CostReport {
        report(
            vec![
                row("2026-01-01", "2026-02-01", "marketing", 120.5, false),
                row("2026-01-01", "2026-02-01", "sales", 30.0, false),
                row("2026-01-01", "2026-02-01", UNTAGGED, 4.25, false),
                row("2026-03-01", "2026-03-20", "marketing", 60.0, true),
                row("2026-03-01", "2026-03-20", ODD, 1234.5, true),
            ],
            "2026-01-01",
            "2026-03-20",
        )
    }

    fn made() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    /// `(unit, period, amount, y, height)` of every bar segment, unescaped.
    fn segments(html: &str) -> Vec<(String, String, f64, f64, f64)> {
        let rect = Regex::new(
            r#"<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="[^"]+" data-unit="([^"]*)" data-period="([\d-]+)" data-amount="([\d.]+)""#,
        )
        .unwrap();
        rect.captures_iter(html)
            .map(|c| {
                let unit = c[3]
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&");
                let number = |i: usize| c[i].parse::<f64>().unwrap();
                (unit, c[4].to_owned(), number(5), number(1), number(2))
            })
            .collect()
    }

    #[test]
    fn every_row_is_a_segment_of_proportional_height_stacked_from_the_base() {
        let report = three_months();
        let html = render(&report, made());
        let segments = segments(&html);
        assert_eq!(segments.len(), report.rows.len(), "{html}");
        for r in &report.rows {
            let unit = r.business_unit.as_deref().unwrap();
            let s = segments
                .iter()
                .find(|s| s.0 == unit && s.1 == r.start)
                .unwrap();
            assert!((s.2 - r.amount).abs() < 1e-9, "{s:?}");
        }
        let (top, _) = axis(1294.5);
        let scale = PLOT_HEIGHT / top;
        for s in &segments {
            assert!((s.4 - s.2 * scale).abs() < 0.01, "{s:?}");
        }
        // January: marketing at the base, then sales, untagged on top.
        let january: Vec<_> = segments.iter().filter(|s| s.1 == "2026-01-01").collect();
        let units: Vec<&str> = january.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(units, ["marketing", "sales", UNTAGGED]);
        let mut base = TOP + PLOT_HEIGHT;
        for s in january {
            assert!((s.3 + s.4 - base).abs() < 0.02, "{s:?} not on {base}");
            base = s.3;
        }
        // February has no spend and no segment, but its slot and label.
        assert!(!segments.iter().any(|s| s.1 == "2026-02-01"));
        assert!(html.contains(">2026-02</text>"));
        assert!(
            html.contains(">2026-03*</text>"),
            "estimated March is marked"
        );
    }

    #[test]
    fn strings_from_tags_are_escaped_and_nothing_comes_from_the_network() {
        let mut report = three_months();
        report.notes.push(format!("note {ODD}"));
        report.tag_key = ODD.into();
        let html = render(&report, made());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert('x')"));
        assert!(
            html.contains(
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;r&amp;d&quot;"
            )
        );
        for remote in [
            "http:",
            "https:",
            "//",
            "<link",
            "<img",
            "@import",
            "url(",
            "@font-face",
        ] {
            let outside_css = html.replace(CSS, "");
            assert!(
                !outside_css.contains(remote) && !CSS.contains(remote),
                "{remote}"
            );
        }
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn the_page_has_the_period_totals_notes_and_time() {
        let html = render(&three_months(), made());
        assert!(html.contains("2026-01-01 to 2026-03-19 (inclusive)"));
        assert!(html.contains(", per month"));
        assert!(
            html.contains("<td class=\"num\" data-total=\"1449.25\">1,449.25</td>"),
            "{html}"
        );
        assert!(html.contains(">1,234.50</td><td class=\"num\">85.2 %</td>"));
        assert!(html.contains("estimated until the month closes"));
        assert!(html.contains("shown as (untagged)"));
        assert!(
            html.contains("<time datetime=\"2026-09-21T14:13:20Z\">2026-09-21 14:13 UTC</time>")
        );
        let legend = html.find("class=\"legend\"").unwrap();
        let order: Vec<usize> = ["&lt;script&gt;", "marketing", "sales", UNTAGGED]
            .iter()
            .map(|u| html[legend..].find(&format!("data-unit=\"{u}")).unwrap())
            .collect();
        assert!(order.is_sorted(), "largest first, untagged last: {order:?}");
    }

    #[test]
    fn days_and_an_empty_report() {
        let days = report(
            vec![
                row("2026-01-30", "2026-01-31", "a", 1.0, false),
                row("2026-02-01", "2026-02-02", "a", 2.0, false),
            ],
            "2026-01-30",
            "2026-02-02",
        );
        let html = render(&days, made());
        assert!(html.contains(", per day"));
        assert_eq!(segments(&html).len(), 2);
        assert!(html.contains("data-period=\"2026-02-01\""));
        let empty = report(Vec::new(), "2026-01-01", "2026-02-01");
        let html = render(&empty, made());
        assert!(html.contains("No Bedrock spend in this period."));
        assert!(!html.contains("<svg class=\"chart\""));
    }

    #[test]
    fn amounts_read_with_separators() {
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(1234567.891), "1,234,567.89");
        assert_eq!(money(999.999), "1,000.00");
        assert_eq!(money(-12.5), "-12.50");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(short_money(2364.6), "2,365");
        assert_eq!(short_money(82.4), "82.40");
    }

    #[test]
    fn fifty_units_over_thirteen_months_stay_small() {
        let mut rows = Vec::new();
        for m in 0..13u32 {
            let start =
                chrono::NaiveDate::from_ymd_opt(2025, 11, 1).unwrap() + chrono::Months::new(m);
            let end = start + chrono::Months::new(1);
            for u in 0..50u32 {
                let amount = f64::from((u * 37 + m * 11) % 500) + 0.37;
                let unit = format!("business-unit-{u:02}");
                rows.push(row(
                    &start.to_string(),
                    &end.to_string(),
                    &unit,
                    amount,
                    m == 12,
                ));
            }
        }
        let report = report(rows, "2025-11-01", "2026-12-01");
        let began = std::time::Instant::now();
        let html = render(&report, made());
        let took = began.elapsed();
        println!(
            "50 units x 13 months: {} bytes, rendered in {took:?}",
            html.len()
        );
        assert!(html.len() < 300 * 1024, "{} bytes", html.len());
        assert_eq!(segments(&html).len(), 650);
    }
}
