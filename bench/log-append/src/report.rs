//! The table, the ratios against the raw disk, and the PASS/FAIL verdicts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brook_model::Durability;

use crate::scenario::{Budget, Kind, Outcome};

/// Target 1: interval-batched payload bandwidth over dd's, at least this.
pub const INTERVAL_VS_DD_MIN: f64 = 0.70;
/// Target 2: N concurrent `always` appenders over one, at least this.
pub const GROUP_COMMIT_SPEEDUP_MIN: f64 = 10.0;

/// Raw-disk figures measured by `dd` in the same directory, one per run.
#[derive(Debug, Default, Clone)]
pub struct Baseline {
    pub dd_mb_per_s_runs: Vec<f64>,
    pub dd_bytes: Option<u64>,
    pub dsync_per_s_runs: Vec<f64>,
}

impl Baseline {
    pub fn dd_mb_per_s(&self) -> Option<f64> {
        median(&self.dd_mb_per_s_runs)
    }
    pub fn dsync_per_s(&self) -> Option<f64> {
        median(&self.dsync_per_s_runs)
    }
}

fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

/// "median X (runs: a, b, c)" when there were several runs.
fn runs_text(xs: &[f64], digits: usize) -> String {
    match xs {
        [] => String::new(),
        [_] => String::new(),
        _ => {
            let runs: Vec<String> = xs.iter().map(|x| format!("{x:.digits$}")).collect();
            format!(", median of {} runs: {}", xs.len(), runs.join(" / "))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Filesystem {
    pub fstype: String,
    pub source: String,
    pub mount_point: String,
}

/// The mount holding `dir` (longest matching mount point in /proc/self/mounts).
pub fn filesystem_of(dir: &Path) -> Filesystem {
    let unknown = Filesystem {
        fstype: "unknown".into(),
        source: "?".into(),
        mount_point: "?".into(),
    };
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return unknown;
    };
    let mut best: Option<Filesystem> = None;
    for line in mounts.lines() {
        let mut fields = line.split(' ');
        let (Some(source), Some(mount_point), Some(fstype)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mount_point = unescape_mount(mount_point);
        if !dir.starts_with(&mount_point) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|b| mount_point.len() >= b.mount_point.len())
        {
            best = Some(Filesystem {
                fstype: fstype.to_string(),
                source: source.to_string(),
                mount_point,
            });
        }
    }
    best.unwrap_or(unknown)
}

/// /proc/self/mounts escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = rest.get(i + 4..).unwrap_or_default();
            }
            None => {
                out.push('\\');
                rest = rest.get(i + 1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

pub struct Report {
    pub dir: PathBuf,
    pub fs: Filesystem,
    pub budget: Budget,
    pub baseline: Baseline,
    pub outcomes: Vec<Outcome>,
}

fn scenario_name(kind: Kind) -> String {
    match kind {
        Kind::Single { appenders: 1 } => "always, 1 appender thread".into(),
        Kind::Single { appenders } => format!("always, {appenders} appender threads"),
        Kind::Tasks { appenders } => format!("always, {appenders} tokio tasks"),
        Kind::Batched { durability } => match durability {
            Durability::Always => "always, batched".into(),
            Durability::Interval { ms } => format!("interval {ms} ms, batched"),
            Durability::Never => "never, batched (+final fsync)".into(),
        },
        Kind::KafkaBatched { durability } => match durability {
            Durability::Interval { ms } => format!("interval {ms} ms, Kafka batches"),
            other => format!("{other}, Kafka batches"),
        },
    }
}

fn fmt_latency(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} us")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn fmt_rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn fmt_size(bytes: usize) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

impl Report {
    /// The single-appender outcome with this record size, of the same round.
    fn single(&self, record_bytes: usize, round: usize) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| {
            o.record_bytes == record_bytes
                && o.round == round
                && matches!(o.kind, Kind::Single { appenders: 1 })
        })
    }

    /// The runs of one scenario with one record size (one per round).
    fn group(&self, o: &Outcome) -> Vec<&Outcome> {
        let name = scenario_name(o.kind);
        self.outcomes
            .iter()
            .filter(|x| x.record_bytes == o.record_bytes && scenario_name(x.kind) == name)
            .collect()
    }

    /// The table's rows, one per scenario and record size, scenarios in the order
    /// first run:
    /// of several rounds, the run with the median ratio (the median records/s for
    /// rows without a ratio); with the number of rounds.
    fn rows(&self) -> Vec<(&Outcome, usize)> {
        let mut rows: Vec<(&Outcome, usize)> = Vec::new();
        for o in &self.outcomes {
            let name = scenario_name(o.kind);
            if rows
                .iter()
                .any(|(r, _)| r.record_bytes == o.record_bytes && scenario_name(r.kind) == name)
            {
                continue;
            }
            let mut runs = self.group(o);
            let key = |x: &Outcome| self.ratio(x).1.unwrap_or_else(|| x.records_per_s());
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
            let n = runs.len();
            if let Some(mid) = runs.get((n.max(1) - 1) / 2) {
                rows.push((mid, n));
            }
        }
        // A scenario's sizes together (rounds run the sizes in turn).
        let first_run = |o: &Outcome| {
            let name = scenario_name(o.kind);
            self.outcomes
                .iter()
                .position(|x| scenario_name(x.kind) == name)
        };
        rows.sort_by_key(|(o, _)| (first_run(o), o.record_bytes));
        rows
    }

    /// The ratio of a row over its rounds (the median), as text, and the ratio.
    fn row_ratio(&self, o: &Outcome, rounds: usize) -> (String, Option<f64>) {
        let (text, ratio) = self.ratio(o);
        if rounds <= 1 || ratio.is_none() {
            return (text, ratio);
        }
        let ratios: Vec<f64> = self
            .group(o)
            .iter()
            .filter_map(|x| self.ratio(x).1)
            .collect();
        let r = median(&ratios);
        let text = match (o.kind, r) {
            (Kind::Single { appenders: 1 }, Some(r)) => {
                format!("{r:.2}x dd dsync writes/s, median of {rounds}")
            }
            (_, Some(r)) => format!("{r:.1}x 1 appender thread, median of {rounds}"),
            (_, None) => text,
        };
        (text, r)
    }

    /// What this run is compared with, as text, and the ratio.
    fn ratio(&self, o: &Outcome) -> (String, Option<f64>) {
        match o.kind {
            Kind::Single { appenders: 1 } => match self.baseline.dsync_per_s() {
                Some(b) if b > 0.0 => {
                    let r = o.records_per_s() / b;
                    (format!("{r:.2}x dd dsync writes/s"), Some(r))
                }
                _ => ("n/a (no --dd-dsync-per-s)".into(), None),
            },
            Kind::Single { .. } | Kind::Tasks { .. } => {
                match self.single(o.record_bytes, o.round) {
                    Some(one) if one.records_per_s() > 0.0 => {
                        let r = o.records_per_s() / one.records_per_s();
                        (format!("{r:.1}x 1 appender thread"), Some(r))
                    }
                    _ => ("n/a".into(), None),
                }
            }
            Kind::Batched { .. } | Kind::KafkaBatched { .. } => match self.baseline.dd_mb_per_s() {
                Some(b) if b > 0.0 => {
                    let r = o.payload_mb_per_s() / b;
                    (format!("{:.0}% of dd", r * 100.0), Some(r))
                }
                _ => ("n/a (no --dd-mbps)".into(), None),
            },
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let b = &self.budget;
        let _ = writeln!(
            s,
            "Brook log append benchmark (brook_log::Partition over FsStorage)"
        );
        let _ = writeln!(
            s,
            "  dir:        {} ({} on {}, mounted at {})",
            self.dir.display(),
            self.fs.fstype,
            self.fs.source,
            self.fs.mount_point
        );
        let _ = writeln!(
            s,
            "  budget:     {:.1} s per scenario; batched: {} KiB per append, at most {} MiB",
            b.duration.as_secs_f64(),
            b.batch_bytes >> 10,
            b.volume_bytes >> 20
        );
        let base = &self.baseline;
        let dd_bw = match (base.dd_mb_per_s(), base.dd_bytes) {
            (Some(mbps), Some(bytes)) => format!(
                "{mbps:.1} MB/s (dd bs=1M count={} conv=fdatasync{})",
                bytes >> 20,
                runs_text(&base.dd_mb_per_s_runs, 0)
            ),
            (Some(mbps), None) => format!(
                "{mbps:.1} MB/s (dd bs=1M conv=fdatasync{})",
                runs_text(&base.dd_mb_per_s_runs, 0)
            ),
            _ => "not measured".into(),
        };
        let dd_sync = match base.dsync_per_s() {
            Some(r) if r > 0.0 => format!(
                "{r:.0} writes/s = {} per write+fsync (dd bs=4k oflag=dsync{})",
                fmt_latency(Duration::from_secs_f64(1.0 / r)),
                runs_text(&base.dsync_per_s_runs, 0)
            ),
            _ => "not measured".into(),
        };
        let _ = writeln!(s, "  raw disk:   {dd_bw}");
        let _ = writeln!(s, "  raw fsync:  {dd_sync}");
        let _ = writeln!(s);

        let header = [
            "scenario",
            "record",
            "records/s",
            "MB/s",
            "disk MB/s",
            "p50",
            "p99",
            "fsyncs",
            "avg fsync",
            "appends/fsync",
            "vs baseline",
        ];
        let shown = self.rows();
        let mut rows: Vec<[String; 11]> = Vec::new();
        for &(o, rounds) in &shown {
            rows.push([
                scenario_name(o.kind),
                fmt_size(o.record_bytes),
                format!("{:.0}", o.records_per_s()),
                fmt_rate(o.payload_mb_per_s()),
                fmt_rate(o.disk_mb_per_s()),
                fmt_latency(o.p50),
                fmt_latency(o.p99),
                o.fsyncs.to_string(),
                o.fsync_avg().map_or_else(|| "-".into(), fmt_latency),
                o.appends_per_fsync()
                    .map_or_else(|| "-".into(), |a| format!("{a:.1}")),
                self.row_ratio(o, rounds).0,
            ]);
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |cells: &[String]| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                // Text columns left-aligned, numbers right-aligned.
                if i <= 1 || i == 10 {
                    let _ = write!(l, "{cell:<w$}");
                } else {
                    let _ = write!(l, "{cell:>w$}");
                }
                if i + 1 < cells.len() {
                    l.push_str(" | ");
                }
            }
            l.trim_end().to_string()
        };
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let header_line = line(&header);
        let _ = writeln!(s, "{header_line}");
        let _ = writeln!(s, "{}", "-".repeat(header_line.len()));
        let mut previous_kind = None;
        for (row, (o, _)) in rows.iter().zip(&shown) {
            let name = scenario_name(o.kind);
            if previous_kind.as_ref().is_some_and(|p| *p != name) {
                let _ = writeln!(s);
            }
            previous_kind = Some(name);
            let _ = writeln!(s, "{}", line(row));
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "  MB/s = record values (10^6 bytes/s) over wall time; disk MB/s = segment bytes written"
        );
        let _ = writeln!(
            s,
            "  (batch header, per-record framing, stream-ID trailer). p50/p99 are per append call:"
        );
        let _ = writeln!(
            s,
            "  1-record rows include the wait for durability; batched rows are one append of"
        );
        let _ = writeln!(
            s,
            "  {} KiB (under always: plus its fsync).",
            b.batch_bytes >> 10
        );
        let _ = writeln!(
            s,
            "  appends/fsync is the group-commit size (stats: appends_per_fsync_sum / fsyncs)."
        );
        let rounds = shown.iter().map(|(_, n)| *n).max().unwrap_or(1);
        if rounds > 1 {
            let _ = writeln!(
                s,
                "  Group-commit rows: each round ran 1 appender thread, N threads and N tasks one"
            );
            let _ = writeln!(
                s,
                "  after the other; a ratio divides by the 1-appender run of its own round. Rows"
            );
            let _ = writeln!(
                s,
                "  show the round with the median ratio (the 1-appender row: its median round,"
            );
            let _ = writeln!(
                s,
                "  not necessarily the divisor of the rows below). Per round:"
            );
            for &(o, _) in shown
                .iter()
                .filter(|(o, n)| *n > 1 && !matches!(o.kind, Kind::Single { appenders: 1 }))
            {
                let mut runs = self.group(o);
                runs.sort_by_key(|x| x.round);
                let per: Vec<String> = runs
                    .iter()
                    .map(|x| {
                        let one = self
                            .single(x.record_bytes, x.round)
                            .map_or(0.0, Outcome::records_per_s);
                        match self.ratio(x).1 {
                            Some(r) => format!("{r:.1}x ({:.0}/{one:.0})", x.records_per_s()),
                            None => "n/a".into(),
                        }
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "    {}, {}: {}",
                    scenario_name(o.kind),
                    fmt_size(o.record_bytes),
                    per.join(", ")
                );
            }
        }
        let _ = writeln!(
            s,
            "  Batched rows' wall time includes the final fsync, which took:"
        );
        let mut batched = self
            .outcomes
            .iter()
            .filter(|o| o.final_sync.is_some())
            .peekable();
        while let Some(o) = batched.next() {
            let name = scenario_name(o.kind);
            let mut parts = vec![format!(
                "{} {}",
                fmt_size(o.record_bytes),
                fmt_latency(o.final_sync.unwrap_or_default())
            )];
            while let Some(next) = batched.next_if(|n| scenario_name(n.kind) == name) {
                parts.push(format!(
                    "{} {}",
                    fmt_size(next.record_bytes),
                    fmt_latency(next.final_sync.unwrap_or_default())
                ));
            }
            let _ = writeln!(s, "    {name}: {}", parts.join(", "));
        }
        let _ = writeln!(s);
        s.push_str(&self.verdicts());
        s
    }

    fn verdicts(&self) -> String {
        let mut s = String::new();
        let rows = self.rows();
        let mut target = |title: String, pick: &dyn Fn(&Outcome) -> bool, min: f64| {
            let mut parts = Vec::new();
            let mut all = true;
            let mut any = false;
            for &(o, rounds) in rows.iter().filter(|(o, _)| pick(o)) {
                let (text, ratio) = self.row_ratio(o, rounds);
                match ratio {
                    Some(r) => {
                        any = true;
                        all &= r >= min;
                        parts.push(format!(
                            "{}: {} {}",
                            fmt_size(o.record_bytes),
                            text,
                            verdict(r >= min)
                        ));
                    }
                    None => {
                        all = false;
                        parts.push(format!("{}: {text}", fmt_size(o.record_bytes)));
                    }
                }
            }
            let overall = if any { verdict(all) } else { "N/A " };
            let _ = writeln!(s, "{overall}  {title}: {}", parts.join("; "));
        };
        target(
            format!(
                "interval, batched >= {:.0}% of dd bandwidth",
                INTERVAL_VS_DD_MIN * 100.0
            ),
            &|o| {
                matches!(
                    o.kind,
                    Kind::Batched {
                        durability: Durability::Interval { .. }
                    }
                )
            },
            INTERVAL_VS_DD_MIN,
        );
        target(
            format!(
                "interval, Kafka batches (append_kafka_batch) >= {:.0}% of dd bandwidth",
                INTERVAL_VS_DD_MIN * 100.0
            ),
            &|o| {
                matches!(
                    o.kind,
                    Kind::KafkaBatched {
                        durability: Durability::Interval { .. }
                    }
                )
            },
            INTERVAL_VS_DD_MIN,
        );
        let n = self
            .outcomes
            .iter()
            .find_map(|o| match o.kind {
                Kind::Single { appenders } if appenders > 1 => Some(appenders),
                _ => None,
            })
            .unwrap_or(0);
        target(
            format!(
                "always, {n} appender threads >= {GROUP_COMMIT_SPEEDUP_MIN:.0}x 1 appender thread (group commit; the target)"
            ),
            &|o| matches!(o.kind, Kind::Single { appenders } if appenders > 1),
            GROUP_COMMIT_SPEEDUP_MIN,
        );
        let tasks = self
            .outcomes
            .iter()
            .find_map(|o| match o.kind {
                Kind::Tasks { appenders } => Some(appenders),
                _ => None,
            })
            .unwrap_or(n);
        target(
            format!(
                "always, {tasks} tokio tasks >= {GROUP_COMMIT_SPEEDUP_MIN:.0}x 1 appender thread (extra check: the server's connections append as tasks)"
            ),
            &|o| matches!(o.kind, Kind::Tasks { .. }),
            GROUP_COMMIT_SPEEDUP_MIN,
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/plain"), "/plain");
        assert_eq!(unescape_mount("/odd\\x"), "/odd\\x");
    }

    #[test]
    fn median_of_runs() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    fn run(kind: Kind, round: usize, records: u64) -> Outcome {
        Outcome {
            kind,
            round,
            record_bytes: 100,
            records,
            payload_bytes: records * 100,
            disk_bytes: records * 200,
            elapsed: Duration::from_secs(1),
            final_sync: None,
            p50: Duration::from_micros(300),
            p99: Duration::from_micros(900),
            fsyncs: records,
            appends_per_fsync_sum: records,
            fsync_nanos: records * 300_000,
        }
    }

    #[test]
    fn group_commit_ratios_pair_the_runs_of_a_round_and_take_the_median() {
        let one = Kind::Single { appenders: 1 };
        let many = Kind::Single { appenders: 16 };
        let tasks = Kind::Tasks { appenders: 16 };
        // 16 appenders: round 1 is slow for both runs (12x), round 2 fast for both
        // (9x), round 3 pairs a fast single run with a slow group run (8x).
        let outcomes = vec![
            run(one, 0, 2000),
            run(many, 0, 24000),
            run(tasks, 0, 18000),
            run(one, 1, 3000),
            run(many, 1, 27000),
            run(tasks, 1, 36000),
            run(one, 2, 3000),
            run(many, 2, 24000),
            run(tasks, 2, 30000),
        ];
        let report = Report {
            dir: PathBuf::from("/x"),
            fs: filesystem_of(Path::new("/")),
            budget: Budget {
                duration: Duration::from_secs(1),
                volume_bytes: 1,
                batch_bytes: 1,
            },
            baseline: Baseline::default(),
            outcomes,
        };
        let rows = report.rows();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|(_, n)| *n == 3));
        // 16 appenders: 12x, 9x, 8x; the row shown is round 2 (9x).
        let (row, n) = rows[1];
        assert_eq!(row.round, 1);
        assert_eq!(report.row_ratio(row, n).1, Some(9.0));
        // Tasks: 9x, 12x, 10x: median 10x.
        let (row, n) = rows[2];
        assert_eq!(report.row_ratio(row, n).1, Some(10.0));
        let text = report.render();
        assert!(
            text.contains("FAIL  always, 16 appender threads >= 10x"),
            "{text}"
        );
        assert!(text.contains("PASS  always, 16 tokio tasks"), "{text}");
        assert!(
            text.contains("12.0x (24000/2000), 9.0x (27000/3000), 8.0x (24000/3000)"),
            "{text}"
        );
    }

    #[test]
    fn root_is_always_found() {
        let fs = filesystem_of(Path::new("/"));
        assert_ne!(fs.fstype, "unknown");
    }
}
