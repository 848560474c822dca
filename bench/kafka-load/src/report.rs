//! The table, the ratios against the baselines, and the PASS/FAIL verdicts.

use std::fmt::Write as _;

/// Target 1: 1 KiB produce at acks=1 (server default fsync policy) over the disk's
/// sequential write bandwidth, at least this.
pub const PRODUCE_VS_DISK_MIN: f64 = 0.60;
/// Target 2: consume from the page cache over the loopback TCP bandwidth, at least
/// this.
pub const CONSUME_VS_LOOPBACK_MIN: f64 = 0.50;

/// What a row's MB/s is divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    Disk,
    Loopback,
}

/// Which target a row is judged by, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    ProduceVsDisk,
    ConsumeVsLoopback,
}

#[derive(Debug, Clone)]
pub struct Figures {
    pub records_per_s: f64,
    /// Record values only, 10^6 bytes per second.
    pub mb_per_s: f64,
    /// End-to-end latency percentiles in milliseconds (produce rows).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub against: Against,
    pub target: Option<Target>,
    /// The figures, or why there are none.
    pub result: Result<Figures, String>,
}

/// Baselines measured in the same run, one value per run (the median is used).
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    pub disk_mb_per_s_runs: Vec<f64>,
    pub loopback_mb_per_s_runs: Vec<f64>,
}

impl Baselines {
    pub fn disk(&self) -> Option<f64> {
        median(&self.disk_mb_per_s_runs)
    }
    pub fn loopback(&self) -> Option<f64> {
        median(&self.loopback_mb_per_s_runs)
    }
    fn of(&self, against: Against) -> Option<f64> {
        match against {
            Against::Disk => self.disk(),
            Against::Loopback => self.loopback(),
        }
    }
}

pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us.get(rank - 1).map(|&us| f64::from(us) / 1000.0)
}

/// "a / b / c" of the runs, when there were several.
pub fn runs_text(xs: &[f64]) -> String {
    match xs {
        [] | [_] => String::new(),
        _ => {
            let runs: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
            format!(", median of {} runs: {}", xs.len(), runs.join(" / "))
        }
    }
}

fn fmt_ms(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}"),
        Some(x) if x < 1000.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.0}"),
    }
}

fn fmt_mb(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn ratio(row: &Row, baselines: &Baselines) -> Option<f64> {
    let figures = row.result.as_ref().ok()?;
    let base = baselines.of(row.against)?;
    (base > 0.0).then(|| figures.mb_per_s / base)
}

/// The table and one verdict line per target.
pub fn render(rows: &[Row], baselines: &Baselines) -> String {
    let name_width = rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<name_width$} | {:>10} | {:>8} | {:>10} | {:>10} | {:>10} | ratio of MB/s",
        "scenario", "records/s", "MB/s", "e2e p50 ms", "e2e p99 ms", "e2e max ms"
    );
    let _ = writeln!(
        out,
        "{}-+-{}-+-{}-+-{}-+-{}-+-{}-+-{}",
        "-".repeat(name_width),
        "-".repeat(10),
        "-".repeat(8),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(16)
    );
    for row in rows {
        match &row.result {
            Ok(f) => {
                let ratio = match ratio(row, baselines) {
                    None => "n/a".to_owned(),
                    Some(r) => format!(
                        "{r:.2} of {}",
                        match row.against {
                            Against::Disk => "disk",
                            Against::Loopback => "loopback",
                        }
                    ),
                };
                let _ = writeln!(
                    out,
                    "{:<name_width$} | {:>10.0} | {:>8} | {:>10} | {:>10} | {:>10} | {ratio}",
                    row.name,
                    f.records_per_s,
                    fmt_mb(f.mb_per_s),
                    fmt_ms(f.p50_ms),
                    fmt_ms(f.p99_ms),
                    fmt_ms(f.max_ms),
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<name_width$} | failed: {e}", row.name);
            }
        }
    }
    out.push('\n');
    for (target, text, min, base_name) in [
        (
            Target::ProduceVsDisk,
            "1 KiB produce at acks=1 (server default fsync policy) >= 60% of the disk bandwidth",
            PRODUCE_VS_DISK_MIN,
            "disk",
        ),
        (
            Target::ConsumeVsLoopback,
            "consume from the page cache >= 50% of the loopback TCP bandwidth",
            CONSUME_VS_LOOPBACK_MIN,
            "loopback",
        ),
    ] {
        let row = rows.iter().find(|r| r.target == Some(target));
        let verdict = match row {
            None => "FAIL (not run)".to_owned(),
            Some(row) => match (&row.result, ratio(row, baselines)) {
                (Err(_), _) => "FAIL (the scenario failed)".to_owned(),
                (Ok(_), None) => "FAIL (no baseline)".to_owned(),
                (Ok(f), Some(r)) => format!(
                    "{} ({} MB/s = {r:.2} of {} MB/s {base_name})",
                    if r >= min { "PASS" } else { "FAIL" },
                    fmt_mb(f.mb_per_s),
                    fmt_mb(baselines.of(row.against).unwrap_or(f64::NAN)),
                ),
            },
        };
        let _ = writeln!(out, "target: {text}: {verdict}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), Some(50.0));
        assert_eq!(percentile_ms(&v, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&[7000], 0.99), Some(7.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
    }

    #[test]
    fn median_of_odd_and_even_runs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn verdicts_follow_the_ratios() {
        let figures = |mb| {
            Ok(Figures {
                records_per_s: mb * 1000.0,
                mb_per_s: mb,
                p50_ms: Some(1.0),
                p99_ms: Some(2.0),
                max_ms: Some(3.0),
            })
        };
        let rows = [
            Row {
                name: "produce".into(),
                against: Against::Disk,
                target: Some(Target::ProduceVsDisk),
                result: figures(70.0),
            },
            Row {
                name: "consume".into(),
                against: Against::Loopback,
                target: Some(Target::ConsumeVsLoopback),
                result: figures(400.0),
            },
        ];
        let baselines = Baselines {
            disk_mb_per_s_runs: vec![100.0],
            loopback_mb_per_s_runs: vec![1000.0],
        };
        let text = render(&rows, &baselines);
        assert!(text.contains("0.70 of disk"), "{text}");
        assert!(text.contains("0.40 of loopback"), "{text}");
        assert!(text.contains("disk bandwidth: PASS"), "{text}");
        assert!(text.contains("loopback TCP bandwidth: FAIL"), "{text}");
        let none = render(&rows, &Baselines::default());
        assert!(none.contains("FAIL (no baseline)"), "{none}");
    }
}
