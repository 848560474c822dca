//! `brook-bench-kafka`: the librdkafka load generator of `bench/kafka.sh`.
//!
//! Against a running Brook (the script starts it), in one run:
//! 1. the loopback TCP bandwidth (one connection on 127.0.0.1, 1 MiB writes);
//! 2. produce 100 B and 1 KiB records at acks=1 and acks=-1, each row in two phases
//!    on fresh topics (see [`produce`]): as fast as librdkafka takes them, no
//!    consumer (records/s, MB/s); then paced at a fraction of that rate with a
//!    concurrent consumer measuring end-to-end latency (p50/p99/max);
//! 3. consume the last 1 KiB topic from offset 0, right after it was written (page
//!    cache) (see [`consume`]);
//! 4. with `--bootstrap-everysec`, 1 KiB acks=1 against a second Brook running
//!    `--fsync everysec`, for comparison;
//!
//! The two target rows (1 KiB acks=1 produce, consume) run `--target-runs` times
//! (the produce row's throughput phase only) and show their median run. It then
//! prints one table with the ratios to the disk bandwidth (measured by the
//! script with `dd` and passed in) and to the loopback bandwidth, and a PASS/FAIL
//! line per target (see [`report`]). With `--resp`, each row's topics are deleted
//! through Brook's RESP listener once done with (see [`resp`]).
//!
//! librdkafka is the one the `rdkafka` crate builds from its vendored source.

mod client;
mod consume;
mod loopback;
mod produce;
mod report;
mod resp;

use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::client::Settings;
use crate::report::{Against, Baselines, Figures, Row, Target};

const USAGE: &str = "\
usage: brook-bench-kafka [options]

  --bootstrap HOST:PORT          Brook's Kafka listener (required unless --loopback-only)
  --bootstrap-everysec HOST:PORT a second Brook running --fsync everysec: adds a
                                 1 KiB acks=1 comparison row
  --resp HOST:PORT               the first Brook's RESP listener: each row's topics
                                 are deleted (DEL) once done with, to save disk
  --resp-everysec HOST:PORT      the same for the everysec Brook
  --policy TEXT                  the first Brook's fsync policy, for the header
                                 (default: always (server default))
  --dd-mbps X[,Y..]              disk sequential write bandwidth in MB/s (10^6 B), from
                                 dd on the data directory's file system; median used
  --disk TEXT                    what was measured, for the header
  --label TEXT                   a line printed first (e.g. the brook version)
  --quick                        smoke run: 0.5 s per produce row, short loopback
  --seconds S                    time of each row's throughput phase (default 4)
  --producers N                  producer instances (connections) per row (default 4)
  --loopback-seconds S           time per loopback run (default 2)
  --loopback-runs N              loopback runs, median used (default 5)
  --loopback-only                print the loopback MB/s and exit
  --target-runs N                runs of the two target rows (1 KiB acks=1 produce,
                                 consume), each row showing its median run (odd;
                                 default 3, 1 with --quick)
  --e2e-seconds S                time of each row's latency phase (default 4)
  --e2e-load F                   the latency phase sends at this fraction of the
                                 row's throughput (default 0.25)
  --no-e2e                       skip the latency phases (no latency figures)
  --verbose                      progress once a second during produce rows (stderr)
  --set KEY=VALUE                a librdkafka producer property (repeatable)
  --consumer-set KEY=VALUE       a librdkafka consumer property (repeatable)
  --only A,B                     run only rows whose name contains A or B (the
                                 consume row needs a 1 KiB produce row before it,
                                 or --consume-topic)
  --consume-topic NAME           the consume row reads this (existing) topic
  -h, --help                     this text
";

/// Bounds on the arguments.
const PRODUCERS_MAX: usize = 64;
const SECONDS_MAX: f64 = 600.0;

#[derive(Debug)]
struct Args {
    bootstrap: Option<String>,
    bootstrap_everysec: Option<String>,
    resp: Option<String>,
    resp_everysec: Option<String>,
    policy: String,
    dd_mb_per_s_runs: Vec<f64>,
    disk: String,
    label: Option<String>,
    seconds: f64,
    producers: usize,
    e2e: bool,
    e2e_seconds: f64,
    e2e_load: f64,
    verbose: bool,
    loopback_seconds: f64,
    loopback_runs: usize,
    loopback_only: bool,
    target_runs: usize,
    producer: Settings,
    consumer: Settings,
    only: Vec<String>,
    consume_topic: Option<String>,
}

fn parse<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| anyhow!("{flag} {v:?}: {e}"))
}

fn key_value(flag: &str, v: &str) -> Result<(String, String)> {
    let (k, val) = v
        .split_once('=')
        .ok_or_else(|| anyhow!("{flag} {v:?}: expected KEY=VALUE"))?;
    Ok((k.to_owned(), val.to_owned()))
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        bootstrap: None,
        bootstrap_everysec: None,
        resp: None,
        resp_everysec: None,
        policy: "always (server default)".into(),
        dd_mb_per_s_runs: Vec::new(),
        disk: "?".into(),
        label: None,
        seconds: 4.0,
        producers: 4,
        e2e: true,
        e2e_seconds: 4.0,
        e2e_load: 0.25,
        verbose: false,
        loopback_seconds: 2.0,
        loopback_runs: 5,
        loopback_only: false,
        target_runs: 3,
        producer: client::producer_defaults(),
        consumer: client::consumer_defaults(),
        only: Vec::new(),
        consume_topic: None,
    };
    let mut quick = false;
    let mut seconds = None;
    let mut loopback_seconds = None;
    let mut e2e_seconds = None;
    let mut loopback_runs = None;
    let mut target_runs = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--bootstrap" => args.bootstrap = Some(value()?),
            "--bootstrap-everysec" => args.bootstrap_everysec = Some(value()?),
            "--resp" => args.resp = Some(value()?),
            "--resp-everysec" => args.resp_everysec = Some(value()?),
            "--policy" => args.policy = value()?,
            "--dd-mbps" => {
                let v = value()?;
                args.dd_mb_per_s_runs = v
                    .split(',')
                    .map(|x| parse::<f64>(&flag, x.trim()))
                    .collect::<Result<_>>()?;
                if args
                    .dd_mb_per_s_runs
                    .iter()
                    .any(|x| x.is_nan() || *x <= 0.0)
                {
                    bail!("{flag} {v:?}: values must be positive");
                }
            }
            "--disk" => args.disk = value()?,
            "--label" => args.label = Some(value()?),
            "--quick" => quick = true,
            "--seconds" => seconds = Some(parse::<f64>(&flag, &value()?)?),
            "--producers" => args.producers = parse(&flag, &value()?)?,
            "--loopback-seconds" => loopback_seconds = Some(parse::<f64>(&flag, &value()?)?),
            "--loopback-runs" => loopback_runs = Some(parse::<usize>(&flag, &value()?)?),
            "--loopback-only" => args.loopback_only = true,
            "--target-runs" => target_runs = Some(parse::<usize>(&flag, &value()?)?),
            "--no-e2e" => args.e2e = false,
            "--e2e-seconds" => e2e_seconds = Some(parse::<f64>(&flag, &value()?)?),
            "--e2e-load" => args.e2e_load = parse(&flag, &value()?)?,
            "--verbose" => args.verbose = true,
            "--set" => {
                let (k, v) = key_value(&flag, &value()?)?;
                args.producer.set(&k, &v);
            }
            "--consumer-set" => {
                let (k, v) = key_value(&flag, &value()?)?;
                args.consumer.set(&k, &v);
            }
            "--consume-topic" => args.consume_topic = Some(value()?),
            "--only" => args.only.extend(value()?.split(',').map(str::to_owned)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if quick {
        args.seconds = 0.5;
        args.e2e_seconds = 0.5;
        args.loopback_seconds = 0.2;
        args.loopback_runs = 1;
        args.target_runs = 1;
    }
    args.seconds = seconds.unwrap_or(args.seconds);
    args.loopback_seconds = loopback_seconds.unwrap_or(args.loopback_seconds);
    args.e2e_seconds = e2e_seconds.unwrap_or(args.e2e_seconds);
    args.loopback_runs = loopback_runs.unwrap_or(args.loopback_runs);
    args.target_runs = target_runs.unwrap_or(args.target_runs);
    for (flag, s) in [
        ("--seconds", args.seconds),
        ("--loopback-seconds", args.loopback_seconds),
        ("--e2e-seconds", args.e2e_seconds),
    ] {
        if !(s > 0.0 && s <= SECONDS_MAX) {
            bail!("{flag} must be in (0, {SECONDS_MAX}]");
        }
    }
    if !(args.e2e_load > 0.0 && args.e2e_load <= 1.0) {
        bail!("--e2e-load must be in (0, 1]");
    }
    if !(1..=PRODUCERS_MAX).contains(&args.producers) {
        bail!("--producers must be in [1, {PRODUCERS_MAX}]");
    }
    if !(1..=99).contains(&args.loopback_runs) {
        bail!("--loopback-runs must be in [1, 99]");
    }
    if !(1..=99).contains(&args.target_runs) || args.target_runs.is_multiple_of(2) {
        bail!("--target-runs must be odd and in [1, 99]");
    }
    if args.bootstrap.is_none() && !args.loopback_only {
        bail!("--bootstrap is required\n\n{USAGE}");
    }
    Ok(args)
}

/// A produce row: the throughput phase (as fast as possible, no consumer), `runs`
/// times (each to a fresh topic; the first is `plan.topic`, the others are deleted
/// through `resp` once measured), then, unless `--no-e2e`, the latency phase (paced
/// at `--e2e-load` of the median run's throughput, with the concurrent consumer) on
/// a topic of its own. Returns the figures (throughput of the median run) and every
/// run's MB/s, in the order run.
fn produce_row(
    args: &Args,
    plan: &produce::Plan,
    name: &str,
    runs: usize,
    resp: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(Figures, Vec<f64>)> {
    let add_notes = |notes: &mut Vec<String>, phase: &str, o: &produce::Outcome| {
        for n in &o.notes {
            notes.push(format!("{name} ({phase}): {n}"));
        }
        if o.repeats > 0 || o.gaps > 0 {
            notes.push(format!(
                "{name} ({phase}): the consumer saw {} repeated and {} skipped sequence numbers",
                o.repeats, o.gaps
            ));
        }
    };
    let mut measured = Vec::with_capacity(runs);
    for run in 1..=runs {
        let run_plan = match run {
            1 => plan.clone(),
            _ => produce::Plan {
                topic: format!("{}-run{run}", plan.topic),
                ..plan.clone()
            },
        };
        let o = produce::run(&run_plan);
        if run > 1 {
            // Measured or failed, the extra runs' topics go (the first is the caller's).
            delete_topics(resp, std::slice::from_ref(&run_plan.topic), notes);
        }
        let o = o?;
        add_notes(notes, &format!("throughput{}", run_of(run, runs)), &o);
        let seconds = o.seconds.max(f64::MIN_POSITIVE);
        eprintln!(
            "  throughput{}: {} records acknowledged in {seconds:.2} s",
            run_of(run, runs),
            o.records
        );
        measured.push(Figures {
            records_per_s: o.records as f64 / seconds,
            mb_per_s: (o.records * plan.record_bytes as u64) as f64 / seconds / 1e6,
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
        });
    }
    let (mut figures, runs_mb_per_s) = median_run(measured)?;
    let records_per_s = figures.records_per_s;
    if !args.e2e {
        return Ok((figures, runs_mb_per_s));
    }
    let rate = records_per_s * args.e2e_load;
    let paced = produce::Plan {
        topic: e2e_topic(&plan.topic),
        duration: Duration::from_secs_f64(args.e2e_seconds),
        rate: Some(rate),
        e2e: true,
        ..plan.clone()
    };
    let o = produce::run(&paced)?;
    add_notes(notes, "latency", &o);
    // Records over the sending time (the flush at the end is not paced).
    let achieved = o.records as f64 / args.e2e_seconds;
    eprintln!(
        "  latency: {} records at {achieved:.0}/s (target {rate:.0}/s), {} read by the consumer",
        o.records, o.consumed
    );
    if achieved < rate * 0.9 {
        notes.push(format!(
            "{name} (latency): sent {achieved:.0} records/s of the {rate:.0}/s planned"
        ));
    }
    figures.p50_ms = report::percentile_ms(&o.latencies_us, 0.50);
    figures.p99_ms = report::percentile_ms(&o.latencies_us, 0.99);
    figures.max_ms = report::percentile_ms(&o.latencies_us, 1.0);
    Ok((figures, runs_mb_per_s))
}

/// The consume row: reads `plan.topic` from offset 0 to its end `runs` times (all
/// from the page cache: the first run finds it there, right after it was written).
/// Returns the figures of the median run and every run's MB/s, in the order run.
fn consume_row(
    plan: &consume::Plan,
    name: &str,
    runs: usize,
    notes: &mut Vec<String>,
) -> Result<(Figures, Vec<f64>)> {
    let mut measured = Vec::with_capacity(runs);
    for run in 1..=runs {
        let o = consume::run(plan)?;
        for n in &o.notes {
            notes.push(format!("{name}: {n}"));
        }
        eprintln!(
            "  {} records read in {:.2} s{}",
            o.records,
            o.seconds,
            run_of(run, runs)
        );
        let s = o.seconds.max(f64::MIN_POSITIVE);
        measured.push(Figures {
            records_per_s: o.records as f64 / s,
            mb_per_s: o.value_bytes as f64 / s / 1e6,
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
        });
    }
    median_run(measured)
}

/// ", run N of M" when a row runs more than once, for progress lines and notes.
fn run_of(run: usize, runs: usize) -> String {
    if runs > 1 {
        format!(", run {run} of {runs}")
    } else {
        String::new()
    }
}

/// The run with the median MB/s (of an odd number of runs), and every run's MB/s in
/// the order run.
fn median_run(mut runs: Vec<Figures>) -> Result<(Figures, Vec<f64>)> {
    let mb_per_s: Vec<f64> = runs.iter().map(|f| f.mb_per_s).collect();
    runs.sort_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s));
    let median = runs.get(runs.len() / 2).cloned().context("no run")?;
    Ok((median, mb_per_s))
}

/// The topic of a produce row's latency phase.
fn e2e_topic(topic: &str) -> String {
    format!("{topic}-e2e")
}

/// Deletes `topics` through the RESP listener at `resp` (when given), so the run
/// keeps only what is still to be read on disk, and waits until their files are gone
/// (the server frees them in the background) so the next row has the disk to itself.
fn delete_topics(resp: Option<&str>, topics: &[String], notes: &mut Vec<String>) {
    let Some(addr) = resp else {
        return;
    };
    for topic in topics {
        if let Err(e) = resp::del(addr, topic) {
            notes.push(format!("deleting {topic}: {e:#}"));
        }
    }
    match resp::wait_for_removals(addr) {
        Ok(took) if took > Duration::from_millis(500) => notes.push(format!(
            "waited {:.1} s for the server to free the deleted topics' files",
            took.as_secs_f64()
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!(
            "waiting for the deleted topics' files to go: {e:#}"
        )),
    }
}

/// One row to run.
#[derive(Debug, Clone)]
enum Scenario {
    Produce {
        record_bytes: usize,
        acks: i32,
        everysec: bool,
    },
    /// Reads the topic of the last 1 KiB produce row (fsync always) before it.
    Consume,
}

impl Scenario {
    fn name(&self) -> String {
        match self {
            Scenario::Produce {
                record_bytes,
                acks,
                everysec,
            } => {
                let size = if *record_bytes == 1024 {
                    "1 KiB".to_owned()
                } else {
                    format!("{record_bytes} B")
                };
                let policy = if *everysec { ", fsync everysec" } else { "" };
                format!("produce {size} acks={acks}{policy}")
            }
            Scenario::Consume => "consume 1 KiB from offset 0".into(),
        }
    }
}

fn loopback_runs(args: &Args) -> Result<Vec<f64>> {
    (0..args.loopback_runs)
        .map(|i| {
            eprintln!(
                "measuring loopback TCP bandwidth ({} s, {} MiB writes), run {}/{} ...",
                args.loopback_seconds,
                loopback::CHUNK_BYTES >> 20,
                i + 1,
                args.loopback_runs
            );
            loopback::measure(Duration::from_secs_f64(args.loopback_seconds))
        })
        .collect()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if args.loopback_only {
        let runs = loopback_runs(&args)?;
        println!(
            "{:.1}",
            report::median(&runs).ok_or_else(|| anyhow!("no run"))?
        );
        return Ok(());
    }
    let bootstrap = args
        .bootstrap
        .clone()
        .ok_or_else(|| anyhow!("--bootstrap is required"))?;
    let load_before = loadavg();
    let baselines = Baselines {
        disk_mb_per_s_runs: args.dd_mb_per_s_runs.clone(),
        loopback_mb_per_s_runs: loopback_runs(&args)?,
    };

    let mut scenarios = vec![
        Scenario::Produce {
            record_bytes: 100,
            acks: 1,
            everysec: false,
        },
        Scenario::Produce {
            record_bytes: 100,
            acks: -1,
            everysec: false,
        },
        Scenario::Produce {
            record_bytes: 1024,
            acks: 1,
            everysec: false,
        },
        Scenario::Produce {
            record_bytes: 1024,
            acks: -1,
            everysec: false,
        },
        Scenario::Consume,
    ];
    if args.bootstrap_everysec.is_some() {
        scenarios.push(Scenario::Produce {
            record_bytes: 1024,
            acks: 1,
            everysec: true,
        });
    }
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let selected = |s: &Scenario| {
        let name = s.name();
        args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()))
    };
    // The consume row reads the topic of the last 1 KiB produce row (fsync always)
    // before it, unless --consume-topic names one.
    let consume_at = scenarios
        .iter()
        .position(|s| matches!(s, Scenario::Consume))
        .filter(|&i| scenarios.get(i).is_some_and(selected));
    let consume_source = match (&args.consume_topic, consume_at) {
        (None, Some(at)) => scenarios.get(..at).and_then(|before| {
            before.iter().rposition(|s| {
                selected(s)
                    && matches!(
                        s,
                        Scenario::Produce {
                            record_bytes: 1024,
                            everysec: false,
                            ..
                        }
                    )
            })
        }),
        _ => None,
    };

    let mut rows = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut consume_topic: Option<String> = args.consume_topic.clone();
    // "ROW, median of N runs: ..." for the rows run more than once.
    let mut run_lines: Vec<String> = Vec::new();
    let mut failed = false;
    for (index, scenario) in scenarios.iter().enumerate() {
        if !selected(scenario) {
            continue;
        }
        let name = scenario.name();
        eprintln!("{name} ...");
        let row = match scenario {
            Scenario::Produce {
                record_bytes,
                acks,
                everysec,
            } => {
                let (server, resp) = if *everysec {
                    (
                        args.bootstrap_everysec.clone().unwrap_or_default(),
                        args.resp_everysec.as_deref(),
                    )
                } else {
                    (bootstrap.clone(), args.resp.as_deref())
                };
                let topic = format!(
                    "bench-{record_bytes}B-acks{}{}-{run_id}",
                    if *acks == -1 { "all" } else { "1" },
                    if *everysec { "-everysec" } else { "" }
                );
                let plan = produce::Plan {
                    bootstrap: server,
                    topic: topic.clone(),
                    record_bytes: *record_bytes,
                    acks: *acks,
                    duration: Duration::from_secs_f64(args.seconds),
                    producers: args.producers,
                    rate: None,
                    e2e: false,
                    verbose: args.verbose,
                    producer: args.producer.clone(),
                    consumer: args.consumer.clone(),
                };
                let is_target = *record_bytes == 1024 && *acks == 1 && !*everysec;
                let runs = if is_target { args.target_runs } else { 1 };
                let result = produce_row(&args, &plan, &name, runs, resp, &mut notes).map(
                    |(figures, runs_mb_per_s)| {
                        if runs_mb_per_s.len() > 1 {
                            run_lines.push(format!("{name}{}", report::runs_text(&runs_mb_per_s)));
                        }
                        figures
                    },
                );
                let keep = consume_source == Some(index) && result.is_ok();
                if keep {
                    consume_topic = Some(topic.clone());
                }
                let mut done = vec![e2e_topic(&topic)];
                if !keep {
                    done.push(topic);
                }
                delete_topics(resp, &done, &mut notes);
                Row {
                    name,
                    against: Against::Disk,
                    target: is_target.then_some(Target::ProduceVsDisk),
                    result: result.map_err(|e| format!("{e:#}")),
                }
            }
            Scenario::Consume => {
                let result = match &consume_topic {
                    None => Err(anyhow!("no 1 KiB topic was written before")),
                    Some(topic) => {
                        eprintln!("  reading {topic}");
                        let plan = consume::Plan {
                            bootstrap: bootstrap.clone(),
                            topic: topic.clone(),
                            consumer: args.consumer.clone(),
                            timeout: Duration::from_secs(300),
                        };
                        let result = consume_row(&plan, &name, args.target_runs, &mut notes).map(
                            |(figures, runs_mb_per_s)| {
                                if runs_mb_per_s.len() > 1 {
                                    run_lines.push(format!(
                                        "{name}{}",
                                        report::runs_text(&runs_mb_per_s)
                                    ));
                                }
                                figures
                            },
                        );
                        // A topic named with --consume-topic is not ours to delete.
                        if args.consume_topic.is_none() {
                            delete_topics(
                                args.resp.as_deref(),
                                std::slice::from_ref(topic),
                                &mut notes,
                            );
                        }
                        result
                    }
                };
                Row {
                    name,
                    against: Against::Loopback,
                    target: Some(Target::ConsumeVsLoopback),
                    result: result.map_err(|e| format!("{e:#}")),
                }
            }
        };
        if let Err(e) = &row.result {
            eprintln!("  failed: {e}");
            failed = true;
        }
        rows.push(row);
    }

    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    println!();
    if let Some(label) = &args.label {
        println!("{label}");
    }
    println!(
        "Brook's Kafka front end driven by librdkafka {librdkafka} (rdkafka crate, vendored) on 127.0.0.1; {} cores; fsync policy: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.policy,
    );
    match baselines.disk() {
        Some(d) => println!(
            "disk sequential write: {d:.1} MB/s ({}{})",
            args.disk,
            report::runs_text(&baselines.disk_mb_per_s_runs)
        ),
        None => println!("disk sequential write: not measured"),
    }
    println!(
        "loopback TCP: {:.1} MB/s (one connection, {} MiB writes, {} s{})",
        baselines.loopback().unwrap_or(f64::NAN),
        loopback::CHUNK_BYTES >> 20,
        args.loopback_seconds,
        report::runs_text(&baselines.loopback_mb_per_s_runs)
    );
    println!(
        "produce rows: records/s and MB/s: {} s as fast as librdkafka accepts, {} producer instances (one connection each) to partition 0 of a fresh topic, no consumer, one value per producer sent without a copy (msgflags 0, as rdkafka_performance); {}",
        args.seconds,
        args.producers,
        args.producer.describe()
    );
    if args.e2e {
        println!(
            "  e2e p50/p99: then {} s paced at {:.0}% of that records/s, same producers, to another fresh topic, with one consumer (same process) reading it concurrently in batches (librdkafka hands a batch over within 1 ms); a record carries its scheduled send time, latency = delivery to the consumer - that time, nearest-rank over every record (max: the slowest one)",
            args.e2e_seconds,
            args.e2e_load * 100.0
        );
    } else {
        println!("  e2e latency: not measured (--no-e2e)");
    }
    println!(
        "consume row: one consumer, partition 0 of {} from offset 0 to its end, right after it was written (page cache); {}",
        consume_topic.as_deref().unwrap_or("-"),
        args.consumer.describe()
    );
    println!(
        "MB/s counts record values (10^6 B/s); ratios: produce rows / disk, consume / loopback"
    );
    println!(
        "load average before the run: {load_before}, after: {} (other load on this machine skews the figures)",
        loadavg()
    );
    println!();
    print!("{}", report::render(&rows, &baselines));
    if !run_lines.is_empty() {
        println!();
        println!("target rows, MB/s of each run (the row shows the median run):");
        for line in &run_lines {
            println!("  {line}");
        }
    }
    if !notes.is_empty() {
        println!();
        println!("reported during the run:");
        for n in &notes {
            println!("  {n}");
        }
    }
    if failed {
        bail!("some scenarios failed to run");
    }
    Ok(())
}
