//! The spend report as a picture (`query-costs --html FILE`), in headless Chromium from Debian's `chromium`
//! package (scripts/chromium installs it; `make browser` runs these tests, plain `cargo test` skips them):
//! the page is rendered from the emulator's Cost Explorer data by the built binary, screenshotted, and its
//! laid-out DOM read back: every unit's bar segment in every month has the independently summed amount and
//! a rendered height proportional to it (within 1 px), the segments of a month stack from the base line, the
//! legend names the units (escaped names included) in the bars' colours. Printed, it is one page. The page's
//! own CSP lets no script run. 50 units over 13 months: its size and render time, printed and bounded.
//!
//! Pictures and pages are left in target/report-html/ to look at.

use crate::common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use base64::Engine;
use chrono::{Datelike, Months, NaiveDate, Utc};
use common::{Account, emulator};
use serde_json::{Value, json};

const UNITS: [Option<&str>; 5] = [
    Some("marketing"),
    Some("sales"),
    Some("research"),
    Some("r&d <lab> \"x\""),
    None,
];
const SERVICE: &str = "Claude Sonnet 4.5 (Amazon Bedrock Edition)";

/// Where pages and screenshots are kept.
fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/report-html");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Debian's Chromium, installed by the project's script when missing.
pub(crate) fn chromium() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/chromium");
    let output = Command::new(script).output().expect("run scripts/chromium");
    assert!(
        output.status.success(),
        "scripts/chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Headless Chromium on `page` with `args` (its own profile, so runs never share one): stdout and the
/// wall time of the whole run.
pub(crate) fn headless(page: &Path, args: &[&str]) -> (String, Duration) {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let profile = std::env::temp_dir().join(format!(
        "bp-chromium-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::SeqCst)
    ));
    let began = Instant::now();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let took = began.elapsed();
    std::fs::remove_dir_all(&profile).ok();
    assert!(
        output.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), took)
}

/// The first day of this month (UTC): the months the built binary reports on end with it (the binary runs
/// on the system's clock, so these tests compute their dates from the day they run).
fn this_month() -> NaiveDate {
    Utc::now().date_naive().with_day(1).unwrap()
}

/// Seed one line item per unit per month (two in past months) over `months` months ending with the one
/// that starts on `first`, and the business-unit tag as active; returns the independent sums per (unit,
/// first day of month).
pub(crate) fn seed(
    account: &Account,
    units: &[Option<String>],
    months: u32,
    first: NaiveDate,
) -> BTreeMap<(String, String), f64> {
    let mut items = Vec::new();
    let mut sums = BTreeMap::new();
    for m in 0..months {
        let month = first - Months::new(months - 1 - m);
        let days: &[u32] = if month == first { &[1] } else { &[1, 15] };
        for (u, unit) in units.iter().enumerate() {
            for day in days {
                let cost =
                    f64::from((u as u32 * 37 + m * 53 + day * 7) % 400) + 0.25 * f64::from(m + 1);
                let tags = unit
                    .as_ref()
                    .map_or_else(|| json!({}), |u| json!({"business-unit": u}));
                let date = month.with_day(*day).unwrap().to_string();
                items.push(
                    json!({"date": date, "service": SERVICE, "usage_type": "USE1-tokens",
                                  "region": "us-east-1", "tags": tags, "cost": cost}),
                );
                let name = unit.clone().unwrap_or_else(|| "(untagged)".into());
                *sums.entry((name, month.to_string())).or_insert(0.0) += cost;
            }
        }
    }
    let items = json!({"account": account.id, "items": items, "page_size": 1000});
    emulator().control("POST", "ce/line-items", &items.to_string());
    let tags =
        json!({"account": account.id, "tags": [{"key": "business-unit", "status": "Active"}]});
    emulator().control("POST", "ce/tags", &tags.to_string());
    sums
}

/// `query-costs --html FILE` over the seeded months, by the built binary: the page's text.
fn render_with_cli(account: &Account, months: u32, file: &Path) -> String {
    let first = this_month();
    let start = first - Months::new(months - 1);
    let end = first + Months::new(1);
    let output = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args([
            "query-costs",
            "--output",
            "json",
            "--start",
            &start.to_string(),
        ])
        .args(["--end", &end.to_string(), "--html"])
        .arg(file)
        .env_clear()
        .envs(account.binary_env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("HTML report written to {}", file.display())),
        "{stderr}"
    );
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON report alone");
    assert_eq!(report["start"], start.to_string());
    std::fs::read_to_string(file).unwrap()
}

/// A copy of the page without its CSP and with a script that lays it out, times that, measures every bar
/// segment, the base line and the legend, and leaves the figures (base64 JSON) in `<pre id="measured">`.
fn measuring_copy(html: &str, file: &Path) -> PathBuf {
    let csp = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let csp_end = csp + html[csp..].find('>').unwrap() + 1;
    let page = format!(
        "{}{}<script>{MEASURE}</script>",
        &html[..csp],
        &html[csp_end..]
    );
    let copy = file.with_extension("measured.html");
    std::fs::write(&copy, page).unwrap();
    copy
}

const MEASURE: &str = r"
(() => {
  document.body.getBoundingClientRect();
  const rendered = document.querySelector('svg.chart').getBoundingClientRect().height > 0 ? performance.now() : -1;
  const box = (e) => { const r = e.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, height: r.height }; };
  const segments = [...document.querySelectorAll('svg.chart rect[data-unit]')].map((r) => ({
    unit: r.dataset.unit, period: r.dataset.period, amount: Number(r.dataset.amount),
    fill: getComputedStyle(r).fill, title: r.querySelector('title').textContent, ...box(r) }));
  const legend = [...document.querySelectorAll('.legend li[data-unit]')].map((li) => ({
    unit: li.dataset.unit, text: li.textContent.trim(), fill: getComputedStyle(li.querySelector('rect')).fill,
    visible: box(li).height > 0 }));
  const base = box(document.querySelector('svg.chart line.base'));
  const figures = { rendered_ms: rendered, segments, legend, base };
  const pre = document.createElement('pre');
  pre.id = 'measured';
  const bytes = new TextEncoder().encode(JSON.stringify(figures));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  pre.textContent = btoa(binary);
  document.body.append(pre);
})();
";

/// What the measuring script found in the laid-out page.
pub(crate) fn measured(dom: &str) -> Value {
    let start = dom
        .find("<pre id=\"measured\">")
        .expect("the measuring script ran")
        + 19;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = base64::engine::general_purpose::STANDARD
        .decode(dom[start..end].trim())
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// Every expected (unit, month) is one segment with the independent sum, as tall as its amount says.
fn assert_bars(figures: &Value, sums: &BTreeMap<(String, String), f64>) {
    let segments = figures["segments"].as_array().unwrap();
    assert_eq!(segments.len(), sums.len(), "one segment per unit and month");
    let heights: f64 = segments.iter().map(|s| s["height"].as_f64().unwrap()).sum();
    let amounts: f64 = sums.values().sum();
    let px_per_usd = heights / amounts;
    for ((unit, month), want) in sums {
        let found: Vec<&Value> = segments
            .iter()
            .filter(|s| s["unit"] == unit.as_str() && s["period"] == month.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{unit} {month}");
        let s = found[0];
        assert!(
            (s["amount"].as_f64().unwrap() - want).abs() < 1e-6,
            "{s}: want {want}"
        );
        let height = s["height"].as_f64().unwrap();
        assert!(
            (height - want * px_per_usd).abs() <= 1.0,
            "{s}: want {} px",
            want * px_per_usd
        );
        let title = s["title"].as_str().unwrap();
        assert!(title.starts_with(&format!("{unit}, ")), "{title}");
    }
}

/// Each month's segments touch one another, the lowest on the base line.
fn assert_stacked(figures: &Value) {
    let base = figures["base"]["top"].as_f64().unwrap();
    let mut months: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for s in figures["segments"].as_array().unwrap() {
        let edges = (s["top"].as_f64().unwrap(), s["bottom"].as_f64().unwrap());
        months
            .entry(s["period"].as_str().unwrap())
            .or_default()
            .push(edges);
    }
    for (month, mut edges) in months {
        edges.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert!(
            (edges[0].1 - base).abs() <= 1.0,
            "{month}: {edges:?} base {base}"
        );
        for pair in edges.windows(2) {
            assert!((pair[0].0 - pair[1].1).abs() <= 1.0, "{month}: {edges:?}");
        }
    }
}

/// The legend names every unit, visibly, in the colour of its bars.
fn assert_legend(figures: &Value, units: &[String]) {
    let legend = figures["legend"].as_array().unwrap();
    let mut named: Vec<&str> = legend.iter().map(|l| l["text"].as_str().unwrap()).collect();
    named.sort_unstable();
    let mut want: Vec<&str> = units.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(named, want);
    for entry in legend {
        assert_eq!(entry["visible"], true, "{entry}");
        for s in figures["segments"].as_array().unwrap() {
            if s["unit"] == entry["unit"] {
                assert_eq!(s["fill"], entry["fill"], "{s} / {entry}");
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs Chromium (scripts/chromium installs it): make browser"]
async fn the_report_in_chromium_has_a_bar_per_unit_and_month_proportional_to_its_spend() {
    let account = Account::new();
    let units: Vec<Option<String>> = UNITS.iter().map(|u| u.map(str::to_owned)).collect();
    let sums = seed(&account, &units, 4, this_month());
    let file = out_dir().join("spend.html");
    let html = render_with_cli(&account, 4, &file);
    assert!(
        html.contains("r&amp;d &lt;lab&gt; &quot;x&quot;"),
        "the tag value is escaped"
    );

    let shot = out_dir().join("spend.png");
    std::fs::remove_file(&shot).ok();
    headless(&file, &[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    // Printed, it fits one landscape A4 page.
    let pdf = out_dir().join("spend.pdf");
    headless(
        &file,
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    let pdf = std::fs::read(&pdf).unwrap();
    let pages = regex::bytes::Regex::new(r"/Type\s*/Page[^s]").unwrap();
    assert_eq!(
        pages.find_iter(&pdf).count(),
        1,
        "pages of the printed report"
    );

    let (dom, _) = headless(&measuring_copy(&html, &file), &["--dump-dom"]);
    let figures = measured(&dom);
    assert_bars(&figures, &sums);
    assert_stacked(&figures);
    let names: Vec<String> = sums
        .keys()
        .map(|(u, _)| u.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_legend(&figures, &names);

    // The report itself runs no script: the same measuring script under the page's own CSP does nothing.
    let guarded = out_dir().join("spend.guarded.html");
    std::fs::write(&guarded, format!("{html}<script>{MEASURE}</script>")).unwrap();
    let (dom, _) = headless(&guarded, &["--dump-dom"]);
    assert!(
        !dom.contains("id=\"measured\""),
        "a script ran despite the page's CSP"
    );
    println!("screenshot: {}", shot.display());
}

#[tokio::test]
#[ignore = "needs Chromium (scripts/chromium installs it): make browser"]
async fn fifty_units_over_thirteen_months_render_in_under_a_second_and_300_kb() {
    let account = Account::new();
    let units: Vec<Option<String>> = (0..50)
        .map(|u| Some(format!("business-unit-{u:02}")))
        .collect();
    let sums = seed(&account, &units, 13, this_month());
    let file = out_dir().join("spend-50x13.html");
    let html = render_with_cli(&account, 13, &file);
    let shot = out_dir().join("spend-50x13.png");
    let (_, shot_wall) = headless(&file, &[&format!("--screenshot={}", shot.display())]);
    let (dom, wall) = headless(&measuring_copy(&html, &file), &["--dump-dom"]);
    let figures = measured(&dom);
    let rendered = figures["rendered_ms"].as_f64().unwrap();
    println!(
        "50 units x 13 months: {} bytes ({:.1} KB), {} bar segments; parsed and laid out {rendered:.0} ms \
         after navigation start; Chromium run (start to exit) {:.2} s for the DOM, {:.2} s for the screenshot",
        html.len(),
        html.len() as f64 / 1024.0,
        figures["segments"].as_array().unwrap().len(),
        wall.as_secs_f64(),
        shot_wall.as_secs_f64(),
    );
    assert!(html.len() < 300 * 1024, "{} bytes", html.len());
    assert!(rendered > 0.0 && rendered < 1000.0, "{rendered} ms");
    assert_bars(&figures, &sums);
    assert_stacked(&figures);
    let first = this_month() - Months::new(12);
    assert!(html.contains(&format!("data-period=\"{first}\"")));
}
