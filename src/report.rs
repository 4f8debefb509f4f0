//! `report --html`: one self-contained HTML page over the run archive (contract, `report`).
//!
//! Everything is inline: the CSS in a `<style>`, the charts as inline SVG; no script, font or
//! image is loaded, and a Content-Security-Policy meta forbids them all the same, so that a
//! value that slipped through could not run. Every string that came from Canvas, the bundle
//! or the archive (SIS ids in messages, file names, run ids, profiles, plan reasons) goes
//! through [`esc`] before it is written, in text and in attributes alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::canvas::messages::Group;
use crate::record::Run;

/// Groups shown per run; the rest are counted in one line.
const GROUPS_SHOWN: usize = 20;

/// One run as the page shows it.
pub struct Entry<'a> {
    pub run: &'a Run,
    /// Its `errors.csv` rows by template (`canvas::messages::group`).
    pub groups: Vec<Group>,
    /// A held run's `plan.json`.
    pub plan: Option<Value>,
}

/// What the page is about.
pub struct Page<'a> {
    pub generated_at: jiff::Timestamp,
    /// The `--since` cut: runs submitted from then on.
    pub since: jiff::Timestamp,
    /// The archive dir, as the user would name it.
    pub archive: String,
    /// Oldest first.
    pub entries: Vec<Entry<'a>>,
}

/// HTML-escape text for an element's content or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline have no business in a page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The state a run is shown in: Canvas's final state, `held`, or `unfinished`.
fn shown_state(r: &Run) -> String {
    match &r.state {
        Some(s) => s.clone(),
        None if r.held => "held".into(),
        None if r.exit_code.is_some() => "upload failed".into(),
        None => "unfinished".into(),
    }
}

/// A colour per state (the same in the timeline, the bars and the badges).
fn state_color(state: &str) -> &'static str {
    match state {
        "imported" => "#2e7d32",
        "imported_with_messages" => "#d89b00",
        "failed" | "failed_with_messages" | "upload failed" => "#c62828",
        "aborted" => "#6d4c41",
        "held" => "#7b1fa2",
        _ => "#78909c",
    }
}

fn when(ts: &str) -> String {
    ts.parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

fn day(ts: &str) -> String {
    ts.parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%m-%d").to_string())
        .unwrap_or_default()
}

fn duration(s: Option<u64>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s < 60 => format!("{s}s"),
        Some(s) if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

const CSS: &str = r#"
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { font-size: 1.6rem; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 1.15rem; margin: 0 0 10px; }
h3 { font-size: 1rem; margin: 18px 0 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px;
  margin: 18px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card b { display: block; font-size: 1.5rem; }
.card span { color: var(--muted); font-size: .85rem; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; color: #fff;
  font-size: .8rem; white-space: nowrap; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: .85rem; color: var(--muted); margin-top: 6px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
.example, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .82rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.fix { color: var(--muted); font-size: .82rem; }
.empty { text-align: center; padding: 48px 20px; color: var(--muted); }
.run h3 .badge { margin-left: 8px; }
@media print {
  body { background: #fff; font-size: 10pt; }
  main { max-width: none; padding: 0; }
  section, .card { border-color: #bbb; break-inside: avoid; }
  .run { break-inside: auto; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The whole page.
pub fn render(p: &Page) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // No script of any kind, nothing fetched: styles inline, images only as data: URIs.
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<meta name=\"generator\" content=\"canvas-sis\">\n");
    h.push_str("<title>canvas-sis report</title>\n<style>");
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n<main>\n");
    let _ = writeln!(
        h,
        "<header><h1>SIS import report</h1><p>Runs since {} · generated {} · archive <code>{}</code></p></header>",
        esc(&p.since.strftime("%Y-%m-%d %H:%M UTC").to_string()),
        esc(&p.generated_at.strftime("%Y-%m-%d %H:%M UTC").to_string()),
        esc(&p.archive)
    );
    if p.entries.is_empty() {
        h.push_str("<section id=\"no-runs\" class=\"empty\"><h2>No runs in this period</h2><p>No run was recorded in the archive since then: either nothing was submitted from this host, or the archive is elsewhere (<code>[archive] dir</code>). Widen the period with <code>--since</code>.</p></section>\n");
        h.push_str("</main>\n</body>\n</html>\n");
        return h;
    }
    cards(&mut h, p);
    timeline(&mut h, p);
    durations(&mut h, p);
    rows_per_kind(&mut h, p);
    warnings_errors(&mut h, p);
    runs_table(&mut h, p);
    held(&mut h, p);
    grouped_errors(&mut h, p);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn cards(h: &mut String, p: &Page) {
    let n = p.entries.len();
    let count = |f: &dyn Fn(&Run) -> bool| p.entries.iter().filter(|e| f(e.run)).count();
    let ok = count(&|r| r.state.as_deref() == Some("imported"));
    let msgs = count(&|r| r.state.as_deref() == Some("imported_with_messages"));
    let failed = count(&|r| r.failed());
    let held = count(&|r| r.held && !r.ended());
    let mut ds: Vec<u64> = p.entries.iter().filter_map(|e| e.run.duration_s).collect();
    ds.sort_unstable();
    let median = ds.get(ds.len() / 2).copied();
    let last_ok = p
        .entries
        .iter()
        .rev()
        .find(|e| e.run.succeeded())
        .map(|e| when(&e.run.submitted_at))
        .unwrap_or_else(|| "none".into());
    h.push_str("<div class=\"cards\" id=\"summary\">");
    for (v, label) in [
        (n.to_string(), "runs"),
        (ok.to_string(), "imported"),
        (msgs.to_string(), "with messages"),
        (failed.to_string(), "failed"),
        (held.to_string(), "held"),
        (duration(median), "median duration"),
    ] {
        let _ = write!(
            h,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&v),
            label
        );
    }
    let _ = write!(
        h,
        "</div>\n<p class=\"muted\">Last successful import: {}</p>\n",
        esc(&last_ok)
    );
}

/// Geometry shared by the charts: one slot per run, oldest on the left.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    n: usize,
}

impl Frame {
    fn new(n: usize, h: f64) -> Frame {
        Frame {
            w: 1000.0,
            h,
            left: 56.0,
            right: 12.0,
            top: 12.0,
            bottom: 30.0,
            n: n.max(1),
        }
    }
    fn slot(&self) -> f64 {
        (self.w - self.left - self.right) / self.n as f64
    }
    fn x(&self, i: usize) -> f64 {
        self.left + self.slot() * (i as f64 + 0.5)
    }
    fn plot_h(&self) -> f64 {
        self.h - self.top - self.bottom
    }
    fn y(&self, v: f64, max: f64) -> f64 {
        self.top + self.plot_h() * (1.0 - v / max)
    }
    fn open(&self, h: &mut String, label: &str) {
        let _ = write!(
            h,
            "<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
            self.w,
            self.h,
            esc(label)
        );
    }
    /// Horizontal grid lines and their labels, up to `max`.
    fn grid(&self, h: &mut String, max: f64, fmt: &dyn Fn(f64) -> String) {
        // Whole, round steps: 2×10ⁿ in fours (20: 5, 10, 15), 1× and 5×10ⁿ in fives.
        let lead = max / 10f64.powf(max.log10().floor());
        let steps = if (lead - 2.0).abs() < 1e-9 && max >= 20.0 {
            4
        } else {
            5
        };
        for k in 0..=steps {
            let v = max * k as f64 / steps as f64;
            let y = self.y(v, max);
            let _ = write!(
                h,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7eb\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                self.left,
                self.w - self.right,
                self.left - 6.0,
                y + 4.0,
                esc(&fmt(v))
            );
        }
    }
    /// Day labels under the slots, thinned so that they never overlap.
    fn x_labels(&self, h: &mut String, entries: &[Entry]) {
        let every = ((self.n as f64 * 44.0) / (self.w - self.left - self.right)).ceil() as usize;
        let every = every.max(1);
        for (i, e) in entries.iter().enumerate() {
            if i % every == 0 || i + 1 == entries.len() && i % every > every / 2 {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    self.x(i),
                    self.h - 10.0,
                    esc(&day(&e.run.submitted_at))
                );
            }
        }
    }
}

/// An axis label for a count: 750, 12k, 1.5M.
fn count_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", (v / 1e5).round() / 10.0)
    } else if v >= 1e4 {
        format!("{}k", (v / 1e2).round() / 10.0)
    } else {
        format!("{v:.0}")
    }
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least 5 (so that
/// every grid step is a whole number).
fn nice_max(v: f64) -> f64 {
    if v <= 5.0 {
        return 5.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn legend(h: &mut String, items: &[(String, &str)]) {
    h.push_str("<div class=\"legend\">");
    for (label, color) in items {
        let _ = write!(
            h,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(label)
        );
    }
    h.push_str("</div>");
}

fn tooltip(r: &Run) -> String {
    format!(
        "{} · {} · import {} · {}",
        when(&r.submitted_at),
        shown_state(r),
        r.import_id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "–".into()),
        r.run_id
    )
}

fn timeline(h: &mut String, p: &Page) {
    let f = Frame {
        top: 8.0,
        bottom: 26.0,
        left: 12.0,
        ..Frame::new(p.entries.len(), 80.0)
    };
    h.push_str("<section id=\"timeline\"><h2>Each run's outcome</h2>");
    f.open(h, "state of each run, oldest on the left");
    let side = (f.slot() * 0.8).clamp(2.0, 40.0);
    for (i, e) in p.entries.iter().enumerate() {
        let state = shown_state(e.run);
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{side:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{}\"><title>{}</title></rect>",
            f.x(i) - side / 2.0,
            f.top,
            f.plot_h(),
            state_color(&state),
            esc(&tooltip(e.run))
        );
    }
    f.x_labels(h, &p.entries);
    h.push_str("</svg>");
    let mut seen: Vec<String> = Vec::new();
    for e in &p.entries {
        let s = shown_state(e.run);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    let items: Vec<(String, &str)> = seen.iter().map(|s| (s.clone(), state_color(s))).collect();
    legend(h, &items);
    h.push_str("</section>\n");
}

fn durations(h: &mut String, p: &Page) {
    let f = Frame::new(p.entries.len(), 200.0);
    let max = p
        .entries
        .iter()
        .filter_map(|e| e.run.duration_s)
        .max()
        .unwrap_or(0) as f64;
    // Minutes once a run takes more than two of them.
    let (unit, div) = if max > 120.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    };
    let top = nice_max(max / div);
    h.push_str("<section id=\"durations\"><h2>How long each import took</h2>");
    f.open(h, "duration of each import");
    f.grid(h, top, &|v| format!("{v:.0} {unit}"));
    let w = (f.slot() * 0.7).clamp(1.0, 36.0);
    for (i, e) in p.entries.iter().enumerate() {
        let Some(d) = e.run.duration_s else { continue };
        let y = f.y(d as f64 / div, top);
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
            f.x(i) - w / 2.0,
            (f.top + f.plot_h() - y).max(0.5),
            state_color(&shown_state(e.run)),
            esc(&format!("{} · {}", tooltip(e.run), duration(Some(d))))
        );
    }
    f.x_labels(h, &p.entries);
    h.push_str("</svg></section>\n");
}

const PALETTE: [&str; 8] = [
    "#1e88e5", "#43a047", "#f4511e", "#8e24aa", "#00897b", "#fdd835", "#6d4c41", "#546e7a",
];

fn rows_per_kind(h: &mut String, p: &Page) {
    let mut kinds: BTreeMap<&str, ()> = BTreeMap::new();
    for e in &p.entries {
        for k in e.run.rows.keys() {
            kinds.insert(k, ());
        }
    }
    h.push_str("<section id=\"rows\"><h2>Rows per kind</h2>");
    if kinds.is_empty() {
        h.push_str("<p class=\"muted\">No run in this period reported row counts.</p></section>\n");
        return;
    }
    let f = Frame::new(p.entries.len(), 220.0);
    let max = p
        .entries
        .iter()
        .flat_map(|e| e.run.rows.values().copied())
        .max()
        .unwrap_or(0) as f64;
    let top = nice_max(max);
    f.open(h, "rows per kind for each run");
    f.grid(h, top, &count_label);
    let mut items = Vec::new();
    for (ki, kind) in kinds.keys().enumerate() {
        let color = PALETTE[ki % PALETTE.len()];
        items.push((kind.to_string(), color));
        let pts: Vec<(usize, u64)> = p
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.run.rows.get(*kind).map(|v| (i, *v)))
            .collect();
        let path: Vec<String> = pts
            .iter()
            .map(|(i, v)| format!("{:.1},{:.1}", f.x(*i), f.y(*v as f64, top)))
            .collect();
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for (i, v) in &pts {
            let _ = write!(
                h,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}</title></circle>",
                f.x(*i),
                f.y(*v as f64, top),
                esc(&format!(
                    "{kind}: {v} · {}",
                    when(&p.entries[*i].run.submitted_at)
                ))
            );
        }
    }
    f.x_labels(h, &p.entries);
    h.push_str("</svg>");
    legend(h, &items);
    h.push_str("</section>\n");
}

fn warnings_errors(h: &mut String, p: &Page) {
    let f = Frame::new(p.entries.len(), 200.0);
    let max = p
        .entries
        .iter()
        .map(|e| e.run.warnings.max(e.run.errors))
        .max()
        .unwrap_or(0) as f64;
    let top = nice_max(max);
    h.push_str("<section id=\"messages\"><h2>Warnings and errors per run</h2>");
    f.open(h, "warnings and errors of each run");
    f.grid(h, top, &count_label);
    let w = (f.slot() * 0.35).clamp(1.0, 18.0);
    for (i, e) in p.entries.iter().enumerate() {
        for (k, (v, color, what)) in [
            (e.run.warnings, "#d89b00", "warnings"),
            (e.run.errors, "#c62828", "errors"),
        ]
        .into_iter()
        .enumerate()
        {
            if v == 0 {
                continue;
            }
            let y = f.y(v as f64, top);
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>",
                f.x(i) - w + k as f64 * w,
                (f.top + f.plot_h() - y).max(0.5),
                esc(&format!("{v} {what} · {}", when(&e.run.submitted_at)))
            );
        }
    }
    f.x_labels(h, &p.entries);
    h.push_str("</svg>");
    legend(
        h,
        &[
            ("warnings".to_string(), "#d89b00"),
            ("errors".to_string(), "#c62828"),
        ],
    );
    h.push_str("</section>\n");
}

fn badge(state: &str) -> String {
    format!(
        "<span class=\"badge\" style=\"background:{}\">{}</span>",
        state_color(state),
        esc(state)
    )
}

fn runs_table(h: &mut String, p: &Page) {
    h.push_str("<section id=\"runs\"><h2>Runs, newest first</h2><table><thead><tr><th>when</th><th>run</th><th>profile</th><th class=\"n\">import</th><th>state</th><th class=\"n\">duration</th><th>rows</th><th class=\"n\">warnings</th><th class=\"n\">errors</th></tr></thead><tbody>\n");
    for e in p.entries.iter().rev() {
        let r = e.run;
        let rows = r
            .rows
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&when(&r.submitted_at)),
            esc(&r.run_id),
            esc(r.profile.as_deref().unwrap_or("default")),
            r.import_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "–".into()),
            badge(&shown_state(r)),
            esc(&duration(r.duration_s)),
            esc(if rows.is_empty() { "–" } else { &rows }),
            r.warnings,
            r.errors
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn count_cell(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        _ => "–".into(),
    }
}

/// A held run's plan (the `plan --json` document: `kinds`, `guard.reasons`).
fn plan_html(h: &mut String, plan: &Value) {
    if let Some(reasons) = plan["guard"]["reasons"].as_array() {
        h.push_str("<ul class=\"reasons\">");
        for r in reasons {
            let _ = write!(h, "<li>{}</li>", esc(r.as_str().unwrap_or_default()));
        }
        h.push_str("</ul>");
    }
    let Some(kinds) = plan["kinds"].as_object() else {
        return;
    };
    let cols = ["create", "update", "delete", "unchanged", "absent"];
    h.push_str("<table><thead><tr><th>kind</th>");
    for c in cols {
        let _ = write!(h, "<th class=\"n\">{c}</th>");
    }
    h.push_str("</tr></thead><tbody>");
    for (kind, counts) in kinds {
        let _ = write!(h, "<tr><td>{}</td>", esc(kind));
        for c in cols {
            let _ = write!(h, "<td class=\"n\">{}</td>", count_cell(counts.get(c)));
        }
        h.push_str("</tr>");
        if let Some(terms) = counts["terms"].as_object() {
            for (term, tc) in terms {
                let _ = write!(
                    h,
                    "<tr><td class=\"muted\">&nbsp;&nbsp;term {}</td>",
                    esc(term)
                );
                for c in cols {
                    let _ = write!(h, "<td class=\"n\">{}</td>", count_cell(tc.get(c)));
                }
                h.push_str("</tr>");
            }
        }
    }
    h.push_str("</tbody></table>");
}

fn held(h: &mut String, p: &Page) {
    let held: Vec<&Entry> = p.entries.iter().rev().filter(|e| e.run.held).collect();
    if held.is_empty() {
        return;
    }
    h.push_str("<section id=\"held\"><h2>Held runs and their plans</h2>");
    for e in held {
        let r = e.run;
        let status = if r.ended() {
            "approved and sent"
        } else {
            "waiting for approve or discard"
        };
        let _ = write!(
            h,
            "<div class=\"run held-run\"><h3><code>{}</code> {}</h3><p class=\"muted\">{} · {} · bundle <code>{}</code></p>",
            esc(&r.run_id),
            badge(&shown_state(r)),
            esc(&when(&r.submitted_at)),
            status,
            esc(&r.bundle.path)
        );
        match &e.plan {
            Some(plan) => plan_html(h, plan),
            None => h.push_str("<p class=\"muted\">No plan.json in its folder.</p>"),
        }
        h.push_str("</div>");
    }
    h.push_str("</section>\n");
}

fn grouped_errors(h: &mut String, p: &Page) {
    h.push_str("<section id=\"errors\"><h2>Errors and warnings by message</h2>");
    let with: Vec<&Entry> = p
        .entries
        .iter()
        .rev()
        .filter(|e| !e.groups.is_empty())
        .collect();
    if with.is_empty() {
        h.push_str(
            "<p class=\"muted\">No run in this period kept error or warning rows.</p></section>\n",
        );
        return;
    }
    for e in with {
        let r = e.run;
        let _ = write!(
            h,
            "<div class=\"run\" id=\"run-{}\"><h3>{} · import {} {}</h3><table><thead><tr><th class=\"n\">rows</th><th>message</th><th>example</th></tr></thead><tbody>",
            esc(&r.run_id),
            esc(&when(&r.submitted_at)),
            r.import_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "–".into()),
            badge(&shown_state(r))
        );
        for g in e.groups.iter().take(GROUPS_SHOWN) {
            let ex = &g.example;
            let field = |k| crate::canvas::messages::field_str(ex, k);
            let loc = match (field("file"), field("row")) {
                (Some(f), Some(row)) => format!("{f}:{row}"),
                (Some(f), None) => f,
                (None, _) => "-".into(),
            };
            let _ = write!(
                h,
                "<tr><td class=\"n\">{}</td><td>{}",
                g.count,
                esc(&g.template)
            );
            if let Some(k) = g.known {
                let _ = write!(
                    h,
                    "<div class=\"fix\">cause: {} · fix: {}</div>",
                    esc(k.cause),
                    esc(k.fix)
                );
            }
            let _ = write!(
                h,
                "</td><td class=\"example\">{}: {}</td></tr>",
                esc(&loc),
                esc(&field("message").unwrap_or_default())
            );
        }
        if e.groups.len() > GROUPS_SHOWN {
            let rest: u64 = e.groups[GROUPS_SHOWN..].iter().map(|g| g.count).sum();
            let _ = write!(
                h,
                "<tr><td class=\"n\">{rest}</td><td colspan=\"2\" class=\"muted\">in {} more messages (<code>canvas-sis errors {} --group</code>)</td></tr>",
                e.groups.len() - GROUPS_SHOWN,
                r.import_id.map(|i| i.to_string()).unwrap_or_default()
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str =
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

    fn page_with(run: &Run, groups: Vec<Group>, plan: Option<Value>) -> String {
        render(&Page {
            generated_at: "2026-12-05T08:00:00Z".parse().unwrap(),
            since: "2026-11-05T08:00:00Z".parse().unwrap(),
            archive: "/var/lib/<runs>".into(),
            entries: vec![Entry { run, groups, plan }],
        })
    }

    #[test]
    fn esc_leaves_no_markup_and_no_attribute_break_out() {
        let e = esc(PAYLOAD);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert_eq!(
            esc("a&b <x> \"q\" 'y'\u{7}"),
            "a&amp;b &lt;x&gt; &quot;q&quot; &#39;y&#39;\u{FFFD}"
        );
    }

    #[test]
    fn values_from_canvas_the_bundle_and_the_archive_are_text_in_the_page() {
        let run = Run {
            run_id: format!("20261201T023000Z-1{PAYLOAD}"),
            submitted_at: "2026-12-01T02:30:00Z".into(),
            profile: Some(PAYLOAD.into()),
            import_id: Some(7),
            state: Some("imported_with_messages".into()),
            duration_s: Some(95),
            warnings: 1,
            rows: [(format!("user{PAYLOAD}"), 3)].into(),
            held: true,
            bundle: crate::record::Bundle {
                path: PAYLOAD.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let rows = vec![serde_json::json!({
            "file": format!("users{PAYLOAD}.csv"),
            "row": "2",
            "message": format!("Improper status for user {PAYLOAD}"),
        })];
        let plan = serde_json::json!({
            "kinds": {PAYLOAD: {"create": 1, "update": null, "delete": 9, "terms": {PAYLOAD: {"delete": 9}}}},
            "guard": {"tripped": true, "reasons": [PAYLOAD]},
        });
        let html = page_with(&run, crate::canvas::messages::group(&rows), Some(plan));
        // The page's own markup has no script, and none of the payload survives as markup.
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("onerror=\""), "{html}");
        assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
        assert!(html.contains("Content-Security-Policy"));
        assert!(html.contains("script-src 'none'"));
        for id in [
            "timeline",
            "durations",
            "rows",
            "messages",
            "runs",
            "held",
            "errors",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\"")), "no {id}");
        }
    }

    #[test]
    fn no_runs_is_a_page_that_says_so() {
        let html = render(&Page {
            generated_at: jiff::Timestamp::UNIX_EPOCH,
            since: jiff::Timestamp::UNIX_EPOCH,
            archive: "runs".into(),
            entries: vec![],
        });
        assert!(html.contains("id=\"no-runs\""));
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(0.0), 5.0);
        assert_eq!(nice_max(2.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(4100.0), 5000.0);
        assert_eq!(count_label(750.0), "750");
        assert_eq!(count_label(200000.0), "200k");
        assert_eq!(count_label(1500000.0), "1.5M");
    }
}
