//! Property test: random appends, reads, trims, restarts and crashes against a simple
//! in-memory model give the same answers.

use brook_model::{Durability, IdSpec, Record, StreamId};
use bytes::Bytes;
use proptest::prelude::*;

use crate::{config, Sim};

#[derive(Debug, Clone)]
enum Op {
    Append {
        sizes: Vec<usize>,
        explicit_gap: Option<u64>,
    },
    Read {
        from: u64,
        max: usize,
    },
    Trim {
        to: u64,
    },
    KeepLast {
        n: u64,
    },
    SeekId {
        ms: u64,
    },
    CleanRestart,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (proptest::collection::vec(0usize..300, 1..5), proptest::option::of(0u64..3))
            .prop_map(|(sizes, explicit_gap)| Op::Append { sizes, explicit_gap }),
        3 => (0u64..200, 1usize..50).prop_map(|(from, max)| Op::Read { from, max }),
        1 => (0u64..200).prop_map(|to| Op::Trim { to }),
        1 => (0u64..100).prop_map(|n| Op::KeepLast { n }),
        2 => (0u64..400).prop_map(|ms| Op::SeekId { ms }),
        1 => Just(Op::CleanRestart),
        1 => Just(Op::Crash),
    ]
}

#[derive(Default)]
struct Model {
    records: Vec<(StreamId, Vec<u8>)>,
    log_start: u64,
    last_id: Option<StreamId>,
    now: u64,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let sim = Sim::new();
        let cfg = config(Durability::Always, 700);
        let mut p = sim.open(cfg);
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Append { sizes, explicit_gap } => {
                    m.now += 1;
                    let mut recs = Vec::new();
                    let mut ids = Vec::new();
                    let mut last = m.last_id;
                    for (i, size) in sizes.iter().enumerate() {
                        let spec = match explicit_gap {
                            Some(gap) if i == 0 => {
                                let base = last.unwrap_or_default();
                                IdSpec::Explicit(StreamId::new(base.ms + gap, base.seq + 1))
                            }
                            _ => IdSpec::Auto,
                        };
                        let id = spec.assign(last, m.now * 3).unwrap();
                        last = Some(id);
                        ids.push(id);
                        let value = vec![(i % 251) as u8; *size];
                        recs.push((spec, Record {
                            timestamp_ms: m.now as i64,
                            value: Some(Bytes::from(value)),
                            ..Record::default()
                        }));
                    }
                    let a = p.append(&recs, m.now * 3).unwrap();
                    p.wait_durable_blocking(a.next_offset).unwrap();
                    prop_assert_eq!(a.base_offset, m.records.len() as u64);
                    prop_assert_eq!(&a.ids, &ids);
                    for (id, size) in ids.iter().zip(sizes.iter()) {
                        let i = m.records.len() - a.base_offset as usize;
                        let _ = i;
                        m.records.push((*id, Vec::new()));
                        let _ = size;
                    }
                    // Fill the values in the same order as appended.
                    let n = sizes.len();
                    let start = m.records.len() - n;
                    for (i, size) in sizes.iter().enumerate() {
                        m.records[start + i].1 = vec![(i % 251) as u8; *size];
                    }
                    m.last_id = last;
                }
                Op::Read { from, max } => {
                    let got = p.read_records(from, max, usize::MAX).unwrap();
                    let from = from.max(m.log_start) as usize;
                    let want: Vec<_> = m.records.iter().enumerate().skip(from).take(max).collect();
                    prop_assert_eq!(got.len(), want.len());
                    for (g, (off, (id, value))) in got.iter().zip(want) {
                        prop_assert_eq!(g.offset, off as u64);
                        prop_assert_eq!(g.stream_id, *id);
                        prop_assert_eq!(g.value.as_deref(), Some(&value[..]));
                    }
                }
                Op::Trim { to } => {
                    let got = p.trim_to(to).unwrap();
                    let end = m.records.len() as u64;
                    m.log_start = m.log_start.max(to.min(end));
                    prop_assert_eq!(got, m.log_start);
                }
                Op::KeepLast { n } => {
                    let mut c = cfg;
                    c.retention.records = Some(n);
                    p.set_config(c);
                    p.enforce_retention(0).unwrap();
                    p.set_config(cfg);
                    let end = m.records.len() as u64;
                    m.log_start = m.log_start.max(end.saturating_sub(n));
                }
                Op::SeekId { ms } => {
                    let id = StreamId::new(ms, 0);
                    let want = m.records.iter().enumerate()
                        .skip(m.log_start as usize)
                        .find(|(_, (rid, _))| *rid >= id)
                        .map_or(m.records.len() as u64, |(i, _)| i as u64);
                    prop_assert_eq!(p.offset_for_stream_id(id).unwrap(), want);
                }
                Op::CleanRestart => {
                    p.close().unwrap();
                    drop(p);
                    p = sim.open(cfg);
                }
                Op::Crash => {
                    drop(p);
                    sim.storage.crash();
                    p = sim.open(cfg);
                }
            }
            let marks = p.marks();
            prop_assert_eq!(marks.log_end, m.records.len() as u64);
            prop_assert_eq!(marks.log_start, m.log_start);
            prop_assert_eq!(p.last_id(), m.last_id);
        }
    }
}
