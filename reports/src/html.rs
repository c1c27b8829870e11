//! `report.html`: one self-contained page (no scripts, no external assets)
//! with the verdict, the checks, the violations, a latency percentile chart
//! and throughput over time with fault windows shaded. The markup is
//! well-formed XML, so tests can parse it.

use std::fmt::Write;

use crate::Report;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f3f3f3}.pass{color:#17702a;font-weight:bold}.fail{color:#b00020;font-weight:bold}.skipped{color:#8a6d00;font-weight:bold}\
.verdict{font-size:1.4em}svg{background:#fafafa;border:1px solid #ddd}code{font-size:.9em}";

/// Horizontal bars of p50/p90/p95/p99/max per measured path, with the SLA mark.
fn latency_chart(report: &Report) -> String {
    let (w, row_h, left, head) = (760.0_f64, 22.0_f64, 60.0_f64, 20.0_f64);
    let series = ["p50", "p90", "p95", "p99", "max"];
    let colours = ["#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08306b"];
    let max = report
        .latencies
        .iter()
        .flat_map(|l| [l.max_ms, l.sla_p99_ms.unwrap_or(0.0)])
        .fold(1e-3, f64::max);
    let h = 30.0 + report.latencies.len() as f64 * (head + row_h * 5.0 + 14.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="latency-chart" width="{w}" height="{h}" role="img"><title>Latency percentiles (ms)</title>"#
    );
    let scale = |v: f64| (v / max) * (w - left - 80.0);
    let mut y = 20.0;
    for l in &report.latencies {
        let _ = write!(
            svg,
            r#"<text x="4" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            y + 12.0,
            esc(&l.name)
        );
        y += head;
        for (i, (name, value)) in series
            .iter()
            .zip([l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms])
            .enumerate()
        {
            let yy = y + i as f64 * row_h;
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{name}</text><rect class="bar" x="{left}" y="{}" width="{:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}" font-size="11">{value:.1} ms</text>"#,
                left - 6.0,
                yy + 14.0,
                yy + 3.0,
                scale(value).max(1.0),
                row_h - 6.0,
                colours[i],
                left + scale(value).max(1.0) + 4.0,
                yy + 14.0,
            );
        }
        if let Some(sla) = l.sla_p99_ms {
            let x = left + scale(sla);
            let _ = write!(
                svg,
                r##"<line class="sla" x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#b00020" stroke-dasharray="4 3"/><text x="{x:.1}" y="{}" font-size="10" fill="#b00020">SLA p99 {sla:.0} ms</text>"##,
                y,
                y + row_h * 5.0,
                y - 2.0,
            );
        }
        y += row_h * 5.0 + 14.0;
    }
    svg.push_str("</svg>");
    svg
}

/// Exchanges per second over the run, fault windows shaded.
fn throughput_chart(report: &Report) -> String {
    let (w, h, left, bottom) = (760.0_f64, 220.0_f64, 50.0_f64, 30.0_f64);
    let bucket_ms = match report.throughput.as_slice() {
        [a, b, ..] => (b.at_ms - a.at_ms).max(1),
        _ => 250,
    } as f64;
    let end_ms = report
        .throughput
        .last()
        .map(|p| p.at_ms as f64 + bucket_ms)
        .unwrap_or(1.0)
        .max(report.duration_ms as f64)
        .max(1.0);
    let rate = |n: u64| n as f64 * 1000.0 / bucket_ms;
    let peak = report
        .throughput
        .iter()
        .map(|p| rate(p.exchanges))
        .fold(1.0, f64::max);
    let x = |ms: f64| left + ms / end_ms * (w - left - 10.0);
    let y = |r: f64| h - bottom - r / peak * (h - bottom - 20.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="throughput-chart" width="{w}" height="{h}" role="img"><title>Exchanges per second</title>"#
    );
    for win in &report.fault_windows {
        let (x0, x1) = (x(win.from_ms as f64), x(win.to_ms as f64));
        let _ = write!(
            svg,
            r##"<rect class="fault-window" x="{x0:.1}" y="10" width="{:.1}" height="{}" fill="#f4a261" fill-opacity="0.3"/><text x="{:.1}" y="22" font-size="10">{} on {}</text>"##,
            (x1 - x0).max(1.0),
            h - bottom - 10.0,
            x0 + 2.0,
            esc(&win.kind),
            esc(&win.role),
        );
    }
    let points: Vec<String> = report
        .throughput
        .iter()
        .map(|p| {
            format!(
                "{:.1},{:.1}",
                x(p.at_ms as f64 + bucket_ms / 2.0),
                y(rate(p.exchanges))
            )
        })
        .collect();
    let _ = write!(
        svg,
        r##"<polyline class="throughput" points="{}" fill="none" stroke="#2171b5" stroke-width="2"/><line x1="{left}" y1="{b}" x2="{}" y2="{b}" stroke="#888"/><line x1="{left}" y1="10" x2="{left}" y2="{b}" stroke="#888"/><text x="{left}" y="{}" font-size="11">0 s</text><text x="{}" y="{}" font-size="11" text-anchor="end">{:.1} s</text><text x="4" y="20" font-size="11">{peak:.0}/s</text>"##,
        points.join(" "),
        w - 10.0,
        h - 12.0,
        w - 10.0,
        h - 12.0,
        end_ms / 1000.0,
        b = h - bottom,
    );
    svg.push_str("</svg>");
    svg
}

/// The whole page.
pub fn render_html(report: &Report) -> String {
    let mut out = String::new();
    let verdict = if report.passed {
        r#"<span class="pass">PASSED</span>"#
    } else {
        r#"<span class="fail">FAILED</span>"#
    };
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/><title>crossdock: {name}</title><style>{STYLE}</style></head><body>
<h1>crossdock run: {name}</h1>
<p class="verdict">{verdict}</p>
<p>Scenario <code>{file}</code>, seed <code>{seed}</code>, started {started}, {duration} ms.</p>
"#,
        name = esc(&report.scenario),
        file = esc(&report.scenario_file),
        seed = report.seed,
        started = esc(&report.started_at),
        duration = report.duration_ms,
    );
    if !report.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul id=\"notes\">");
        for note in &report.notes {
            let _ = write!(out, "<li>{}</li>", esc(note));
        }
        out.push_str("</ul>");
    }
    out.push_str("<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>result</th><th>checked</th><th>violations</th><th>invariant</th></tr>");
    for c in &report.checks {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="{}">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&c.name),
            match c.status() {
                crate::CheckStatus::Pass => "pass",
                crate::CheckStatus::Fail => "fail",
                crate::CheckStatus::Skipped => "skipped",
            },
            c.status().label(),
            c.checked,
            c.violations_total,
            esc(&c.description),
        );
    }
    out.push_str("</table>");

    let violations: Vec<_> = report
        .checks
        .iter()
        .flat_map(|c| c.violations.iter().map(move |v| (c, v)))
        .collect();
    if !violations.is_empty() {
        out.push_str("<h2>Violations</h2><table id=\"violations\"><tr><th>check</th><th>business key</th><th>violation</th><th>witness</th></tr>");
        for (c, v) in violations {
            let witness: Vec<String> = v
                .witness
                .iter()
                .map(|w| format!("{}#{} {}", w.party, w.seq, w.endpoint))
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&v.key),
                esc(&v.message),
                esc(&witness.join("; ")),
            );
        }
        out.push_str("</table>");
    }

    out.push_str("<h2>Latency</h2>");
    out.push_str(&latency_chart(report));
    out.push_str("<table id=\"latencies\"><tr><th>path</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>SLA p99 ms</th></tr>");
    for l in &report.latencies {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&l.name),
            l.count,
            l.p50_ms,
            l.p90_ms,
            l.p95_ms,
            l.p99_ms,
            l.max_ms,
            l.sla_p99_ms
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    out.push_str("</table><p>Samples overlapping a fault window are left out of the percentiles.</p>");
    if !report.load.is_empty() {
        out.push_str("<h2>Load</h2><table id=\"load\"><tr><th>flow</th><th>sent</th><th>ok</th><th>failed</th><th>missed schedule</th><th>timed out</th><th>max in flight</th></tr>");
        for l in &report.load {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.name),
                l.sent,
                l.ok,
                l.failed,
                l.missed_schedule,
                l.timed_out,
                l.max_in_flight,
            );
        }
        out.push_str("</table><p>The driver's latency rows run from each send's intended time (open model); a send more than the tolerance late counts as missing its schedule.</p>");
    }

    out.push_str("<h2>Throughput</h2>");
    out.push_str(&throughput_chart(report));
    out.push_str("<h2>Counts</h2><table id=\"counts\">");
    for (k, v) in &report.counts {
        let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
    }
    out.push_str("</table>\n</body></html>\n");
    out
}
