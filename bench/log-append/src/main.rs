//! `brook-bench-log`: append throughput of Brook's log (`brook_log::Partition` over
//! the real file system) under each durability policy, for 100 B and 1 KiB records,
//! printed as one table next to the raw disk figures measured by `dd` in the same
//! directory (see `bench/log-append.sh`, which measures them and passes them in).
//!
//! Targets (from the foundations issue):
//! 1. batched appends under `interval` reach at least 70% of the raw sequential write
//!    bandwidth (`dd bs=1M conv=fdatasync`);
//! 2. under `always`, 16 concurrent appenders reach at least 10x the throughput of a
//!    single appender (group commit working).
//!
//! A batched row appends the same prepared records (256 KiB of values) on every
//! call, as `Partition::append` takes them by reference: building records is the
//! caller's work (the RESP front end builds them while parsing), so it is not
//! counted. Encoding, checksumming and writing them are.

mod report;
mod scenario;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use brook_model::Durability;

use crate::report::{Baseline, Report};
use crate::scenario::{Budget, Kind, Outcome, Runner};

const USAGE: &str = "\
usage: brook-bench-log [options]

  --dir PATH             where partitions are created (default: a fresh directory
                         under ./target/); must be on the disk you want to measure
  --quick                smoke run: ~0.5 s and at most 32 MiB per scenario
  --seconds S            time budget per scenario (default 4)
  --volume-mib N         byte budget per batched scenario (default 1024)
  --batch-kib N          payload per append call in batched scenarios (default 256)
  --appenders N          concurrent appenders in the group-commit scenario (default 16)
  --rounds N             rounds of the group-commit scenarios (always-1, always-n,
                         always-tasks), run one after the other in each round so
                         that every ratio compares runs of one round; the table
                         shows the median round (odd, so the median is one round's;
                         default 3, 1 with --quick)
  --interval-ms N        fsync interval of the `interval` scenario (default 1000)
  --only A,B             run only scenarios whose name contains A or B (always-1,
                         always-n, always-tasks, always-batched, interval-batched, never-batched)
  --dd-mbps X[,Y..]      raw sequential write bandwidth in MB/s (10^6 bytes), from
                         `dd bs=1M conv=fdatasync` in the same directory; with
                         several runs the median is the baseline
  --dd-bytes N           how many bytes each dd run wrote (for the header)
  --dd-dsync-per-s X[,Y..]  4 KiB `dd oflag=dsync` writes per second (single-writer
                         fsync rate, the baseline of the single `always` appender)
  -h, --help             this text
";

/// Record sizes measured, in bytes.
const RECORD_SIZES: [usize; 2] = [100, 1024];

#[derive(Debug)]
struct Args {
    dir: Option<PathBuf>,
    budget: Budget,
    appenders: usize,
    rounds: usize,
    interval_ms: u64,
    baseline: Baseline,
    /// Run only the scenarios whose name contains one of these.
    only: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        dir: None,
        budget: Budget {
            duration: Duration::from_secs(4),
            volume_bytes: 1024 << 20,
            batch_bytes: 256 << 10,
        },
        appenders: 16,
        rounds: 0,
        interval_ms: 1000,
        baseline: Baseline::default(),
        only: Vec::new(),
    };
    let mut quick = false;
    let mut seconds = None;
    let mut volume_mib = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            "--quick" => quick = true,
            "--seconds" => seconds = Some(parse::<f64>(&flag, &value()?)?),
            "--volume-mib" => volume_mib = Some(parse::<u64>(&flag, &value()?)?),
            "--batch-kib" => args.budget.batch_bytes = parse::<usize>(&flag, &value()?)? << 10,
            "--appenders" => args.appenders = parse(&flag, &value()?)?,
            "--rounds" => {
                args.rounds = parse(&flag, &value()?)?;
                if args.rounds == 0 {
                    bail!("--rounds must be odd, in [1, 99]");
                }
            }
            "--interval-ms" => args.interval_ms = parse(&flag, &value()?)?,
            "--only" => args.only.extend(value()?.split(',').map(str::to_string)),
            "--dd-mbps" => args.baseline.dd_mb_per_s_runs = parse_list(&flag, &value()?)?,
            "--dd-bytes" => args.baseline.dd_bytes = Some(parse(&flag, &value()?)?),
            "--dd-dsync-per-s" => args.baseline.dsync_per_s_runs = parse_list(&flag, &value()?)?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if quick {
        args.budget.duration = Duration::from_millis(500);
        args.budget.volume_bytes = 32 << 20;
    }
    if args.rounds == 0 {
        args.rounds = if quick { 1 } else { 3 };
    } else if args.rounds > 99 || args.rounds.is_multiple_of(2) {
        bail!("--rounds must be odd, in [1, 99]");
    }
    if let Some(s) = seconds {
        if !(s > 0.0 && s <= 600.0) {
            bail!("--seconds must be in (0, 600]");
        }
        args.budget.duration = Duration::from_secs_f64(s);
    }
    if let Some(v) = volume_mib {
        args.budget.volume_bytes = v << 20;
    }
    if args.appenders < 2 || args.appenders > 1024 {
        bail!("--appenders must be in [2, 1024] (one appender is the baseline)");
    }
    let batch_max = brook_model::BATCH_BYTES_MAX / 2;
    if args.budget.batch_bytes == 0 || args.budget.batch_bytes > batch_max {
        bail!("--batch-kib must be in [1, {}]", batch_max >> 10);
    }
    Ok(args)
}

fn parse<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| anyhow::anyhow!("{flag} {v:?}: {e}"))
}

fn parse_list(flag: &str, v: &str) -> Result<Vec<f64>> {
    let list = v
        .split(',')
        .map(|x| parse::<f64>(flag, x.trim()))
        .collect::<Result<Vec<f64>>>()?;
    if list.iter().any(|x| !x.is_finite() || *x <= 0.0) {
        bail!("{flag} {v:?}: values must be positive");
    }
    Ok(list)
}

/// The directory the partitions go in, and whether we created it (and so remove it).
fn bench_dir(dir: Option<PathBuf>) -> Result<(PathBuf, bool)> {
    let (dir, ours) = match dir {
        Some(d) => (d, false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = format!("brook-bench-log.{}.{nanos}", std::process::id());
            (PathBuf::from("target").join(name), true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    Ok((dir, ours))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let (dir, ours) = bench_dir(args.dir.clone())?;
    let fs = report::filesystem_of(&dir);
    if fs.fstype == "tmpfs" || fs.fstype == "ramfs" {
        eprintln!(
            "warning: {} is on {}, not a disk; fsync costs nothing there",
            dir.display(),
            fs.fstype
        );
    }
    let runner = Runner::new(dir.clone(), args.budget)?;
    let interval = Durability::Interval {
        ms: args.interval_ms,
    };
    let scenarios: [(&str, Kind); 7] = [
        ("always-1", Kind::Single { appenders: 1 }),
        (
            "always-n",
            Kind::Single {
                appenders: args.appenders,
            },
        ),
        (
            "always-tasks",
            Kind::Tasks {
                appenders: args.appenders,
            },
        ),
        (
            "always-batched",
            Kind::Batched {
                durability: Durability::Always,
            },
        ),
        (
            "interval-batched",
            Kind::Batched {
                durability: interval,
            },
        ),
        (
            "never-batched",
            Kind::Batched {
                durability: Durability::Never,
            },
        ),
        (
            "interval-kafka",
            Kind::KafkaBatched {
                durability: interval,
            },
        ),
    ];
    let selected: Vec<(&str, Kind)> = scenarios
        .into_iter()
        .filter(|(name, _)| {
            args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()))
        })
        .collect();
    // The group-commit scenarios run in rounds, each round all of them one after the
    // other: a ratio compares the runs of one round, close in time, so a change in
    // the device's speed between rounds shows as spread rather than as a bias.
    let group_commit = |kind: &Kind| matches!(kind, Kind::Single { .. } | Kind::Tasks { .. });
    let mut plan: Vec<(usize, &str, Kind, usize)> = Vec::new();
    for round in 0..args.rounds {
        for size in RECORD_SIZES {
            for (name, kind) in selected.iter().filter(|(_, k)| group_commit(k)) {
                plan.push((round, name, *kind, size));
            }
        }
    }
    for (name, kind) in selected.iter().filter(|(_, k)| !group_commit(k)) {
        for size in RECORD_SIZES {
            plan.push((0, name, *kind, size));
        }
    }
    let mut outcomes = Vec::new();
    let mut failure = None;
    for (round, name, kind, size) in plan {
        let of = if group_commit(&kind) {
            format!(", round {} of {}", round + 1, args.rounds)
        } else {
            String::new()
        };
        eprintln!("running {name} with {size} B records{of} ...");
        match runner.run(name, kind, size) {
            Ok(o) => outcomes.push(Outcome { round, ..o }),
            Err(e) => {
                failure = Some(e.context(format!("scenario {name}, {size} B records")));
                break;
            }
        }
    }
    runner.shutdown();
    if ours {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!("warning: cannot remove {}: {e}", dir.display());
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let report = Report {
        dir,
        fs,
        budget: args.budget,
        baseline: args.baseline,
        outcomes,
    };
    print!("{}", report.render());
    Ok(())
}
