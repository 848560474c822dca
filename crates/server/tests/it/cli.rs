//! The `brook` client commands (`topic`, `produce`, `consume`, `group`, `status`,
//! `completions`) against a running server: exit codes, `--json` output parsed,
//! the human tables checked for what people look for.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{command, free_ports, Server, TIMEOUT};

/// A server with every listener on a free port, and its data in a temp dir.
struct Target {
    server: Server,
    http: SocketAddr,
    _dir: tempfile::TempDir,
}

fn start() -> Target {
    let dir = tempfile::tempdir().unwrap();
    let args = free_ports(&dir.path().join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    let http = server.http_addr();
    Target {
        server,
        http,
        _dir: dir,
    }
}

/// What a `brook` client command did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect()
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    #[track_caller]
    fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stderr.starts_with("brook: error: "), "{self:?}");
        self
    }
}

fn brook_command(server: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brook"));
    command
        .args(args)
        .env("BROOK_SERVER", server)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY");
    command
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `brook ARGS` against `server` with `stdin` as its input.
fn brook_in(server: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = brook_command(server, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    finish(wait_output(child))
}

/// Waits for a child's output (read as it comes, so a full pipe cannot stall
/// it); kills it and panics after [`TIMEOUT`].
fn wait_output(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            let output = rx.recv().unwrap().unwrap();
            panic!("brook did not exit within {TIMEOUT:?}: {output:?}");
        }
    }
}

impl Target {
    fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    fn brook(&self, args: &[&str]) -> Run {
        brook_in(&self.url(), args, b"")
    }

    fn brook_in(&self, args: &[&str], stdin: &[u8]) -> Run {
        brook_in(&self.url(), args, stdin)
    }
}

#[test]
fn cli_status_shows_the_server() {
    let mut t = start();
    let status = t.brook(&["status", "--json"]).ok().json();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        status["listeners"]["http"].as_str(),
        Some(t.http.to_string().as_str())
    );
    let resp = t.server.resp_addr().to_string();
    assert_eq!(status["listeners"]["resp"].as_str(), Some(resp.as_str()));
    assert!(status["uptime_seconds"].as_f64().unwrap() >= 0.0);

    let human = t.brook(&["status"]).ok().stdout;
    for label in [
        "version",
        "uptime",
        "resp",
        "kafka",
        "data dir",
        "disk",
        "topics",
        "connections",
    ] {
        assert!(
            human.lines().any(|l| l.starts_with(label)),
            "{label}: {human}"
        );
    }
    // The global options also go before the subcommand's own.
    t.brook(&["status", "--server", &t.url()]).ok();
}

#[test]
fn cli_without_a_server_exits_5_with_a_hint() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    for args in [
        &["status"][..],
        &["topic", "list"],
        &["group", "list", "--json"],
    ] {
        let run = brook_in(&server, args, b"").fails(5);
        assert!(run.stderr.contains("is `brook server` running?"), "{run:?}");
        assert!(run.stderr.contains("BROOK_SERVER"), "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    // --server beats the environment.
    let run = finish(
        brook_command("127.0.0.1:9", &["status", "--server", &server])
            .output()
            .unwrap(),
    );
    assert!(run.stderr.contains(&server), "{run:?}");
}

#[test]
fn cli_usage_errors_exit_2() {
    for args in [
        &["topic", "create", "t", "--retention", "7w"][..],
        &["topic", "create", "t", "--fsync", "sometimes"],
        &["topic", "create", "t", "--retention-bytes", "lots"],
        &["topic", "create", "t", "--partitions", "0"],
        &["topic", "create", "t", "--db", "16"],
        &["topic", "alter", "t", "--reset-config", "colour"],
        &["consume", "t", "--from", "yesterday"],
        &["consume", "t", "--format", "xml"],
        &["produce", "t", "--header", "novalue"],
        &["group", "reset", "g"],
        &[
            "group", "reset", "g", "--to", "earliest", "--topic", "t", "--stream", "s",
        ],
        &["completions", "tcsh"],
        &["status", "--server", "https://127.0.0.1:9644"],
    ] {
        let run = brook_in("127.0.0.1:9", args, b"");
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
}

#[test]
fn cli_completions_for_bash_zsh_fish() {
    for (shell, needle) in [
        ("bash", "_brook()"),
        ("zsh", "#compdef brook"),
        ("fish", "complete -c brook"),
    ] {
        let run = brook_in("127.0.0.1:9", &["completions", shell], b"").ok();
        assert!(run.stdout.contains(needle), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("consume"), "{shell}");
    }
}

#[test]
fn cli_topic_create_list_describe_alter_delete() {
    let t = start();
    let created = t
        .brook(&[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--preset",
            "store-and-replay",
            "--retention-bytes",
            "1GiB",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(created["name"], "orders");
    assert_eq!(created["partitions"], 3);
    assert_eq!(created["preset"], "store-and-replay");
    assert_eq!(created["effective"]["fsync"], "always");
    assert_eq!(created["effective"]["retention_ms"], 604_800_000u64);
    assert_eq!(created["effective"]["retention_bytes"], 1u64 << 30);
    assert_eq!(created["effective"]["trim_acked"], false);

    // Again: a conflict.
    let run = t.brook(&["topic", "create", "orders"]).fails(4);
    assert!(run.stderr.contains("orders"), "{run:?}");

    t.brook(&[
        "topic",
        "create",
        "jobs",
        "--preset",
        "process-and-forget",
        "--fsync",
        "100ms",
    ])
    .ok();
    t.brook(&[
        "topic",
        "create",
        "events:eu",
        "--db",
        "2",
        "--retention",
        "12h",
    ])
    .ok();

    let list = t.brook(&["topic", "list", "--json"]).ok().json();
    let mut names: Vec<&str> = list["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["events:eu", "jobs", "orders"]);
    let db2 = t
        .brook(&["topic", "list", "--db", "2", "--json"])
        .ok()
        .json();
    assert_eq!(db2["topics"].as_array().unwrap().len(), 1);
    let human = t.brook(&["topic", "list"]).ok().stdout;
    let header = human.lines().next().unwrap();
    assert!(header.starts_with("NAME"), "{human}");
    assert!(header.contains("PARTITIONS"), "{human}");
    // jobs overrides its preset's fsync: it no longer has the preset's settings.
    let jobs = human.lines().find(|l| l.starts_with("jobs ")).unwrap();
    assert!(jobs.contains("100ms"), "{human}");
    assert!(jobs.contains(" 1d"), "{human}");
    let orders = human.lines().find(|l| l.starts_with("orders ")).unwrap();
    assert!(orders.contains("store-and-replay"), "{human}");

    // describe: the preset's expansion, where each setting comes from, partitions.
    let described = t
        .brook(&["topic", "describe", "orders", "--json"])
        .ok()
        .json();
    assert_eq!(described["partition_details"].as_array().unwrap().len(), 3);
    let human = t.brook(&["topic", "describe", "orders"]).ok().stdout;
    assert!(
        human.contains("store-and-replay = fsync always, retention 7d, trim-acked false"),
        "{human}"
    );
    let line = |name: &str| {
        human
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {human}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("fsync "),
        ["fsync", "always", "preset", "store-and-replay"]
    );
    assert_eq!(
        line("retention-bytes"),
        ["retention-bytes", "1.0", "GiB", "topic"]
    );
    assert_eq!(
        line("retention-records"),
        ["retention-records", "unlimited", "default"]
    );
    assert!(human.contains("HIGH-WATERMARK"), "{human}");
    let jobs = t.brook(&["topic", "describe", "jobs"]).ok().stdout;
    assert!(
        jobs.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["fsync", "100ms", "topic"]),
        "{jobs}"
    );
    t.brook(&["topic", "describe", "events:eu", "--db", "2"])
        .ok();

    // alter: set, reset to the default, grow partitions.
    let altered = t
        .brook(&[
            "topic",
            "alter",
            "orders",
            "--retention",
            "12h",
            "--reset-config",
            "retention-bytes",
            "--partitions",
            "4",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(altered["effective"]["retention_ms"], 43_200_000u64);
    assert_eq!(altered["config"]["retention_ms"], 43_200_000u64);
    assert_eq!(altered["effective"]["retention_bytes"], Value::Null);
    assert_eq!(altered["config"].get("retention_bytes"), None);
    assert_eq!(altered["partitions"], 4);
    t.brook(&["topic", "alter", "orders"]).fails(2);
    t.brook(&["topic", "alter", "nope", "--retention", "1d"])
        .fails(3);
    // Partitions never shrink: the server refuses.
    let run = t.brook(&["topic", "alter", "orders", "--partitions", "2"]);
    assert!(matches!(run.code, 2 | 4), "{run:?}");

    // delete: refused without --yes when nobody can be asked.
    let run = t.brook(&["topic", "delete", "jobs"]).fails(4);
    assert!(run.stderr.contains("--yes"), "{run:?}");
    t.brook(&["topic", "describe", "jobs"]).ok();
    let deleted = t
        .brook(&["topic", "delete", "jobs", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(deleted["deleted"], "jobs");
    t.brook(&["topic", "describe", "jobs"]).fails(3);
    t.brook(&["topic", "delete", "jobs", "--yes"]).fails(3);
    t.brook(&["topic", "delete", "events:eu", "--db", "2", "-y"])
        .ok();
}

#[test]
fn cli_produce_then_consume_in_every_format() {
    let t = start();
    t.brook(&["topic", "create", "orders"]).ok();
    let input = b"o-1:{\"total\":12}\no-2:{\"total\":3}\nno key here\n\xff\xfe:binary\n";
    let produced = t
        .brook_in(
            &["produce", "orders", "-K", ":", "-H", "source=cli", "--json"],
            input,
        )
        .ok()
        .json();
    let records = produced["records"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["partition"], 0);
        assert_eq!(record["offset"], i as u64);
        assert!(record["id"].as_str().unwrap().contains('-'), "{record}");
    }

    // Human output: a table of partition, offset, ID; a summary on stderr.
    let run = t.brook_in(&["produce", "orders"], b"plain\r\n").ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[0].contains("PARTITION") && lines[0].contains("OFFSET"),
        "{run:?}"
    );
    assert_eq!(
        lines[1].split_whitespace().take(2).collect::<Vec<_>>(),
        ["0", "4"]
    );
    assert!(
        run.stderr.contains("produced 1 record to orders"),
        "{run:?}"
    );

    let all = t.brook(&["consume", "orders", "--json"]).ok().json_lines();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["key"], "o-1");
    assert_eq!(all[0]["value"], "{\"total\":12}");
    assert_eq!(all[0]["headers"], serde_json::json!([["source", "cli"]]));
    assert_eq!(all[2].get("key"), None);
    assert_eq!(all[2]["value"], "no key here");
    assert_eq!(all[3]["key_base64"], "//4=");
    assert_eq!(all[3]["value"], "binary");
    assert_eq!(all[4]["value"], "plain");
    let format_json = t.brook(&["consume", "orders", "--format", "json"]).ok();
    assert_eq!(format_json.json_lines(), all);

    let text = t.brook(&["consume", "orders", "--count", "2"]).ok().stdout;
    let first: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
    assert_eq!(first[..2], ["0", "0"]);
    assert_eq!(first[2], all[0]["id"].as_str().unwrap());
    assert_eq!(first[3..], ["o-1", "{\"total\":12}"]);
    assert_eq!(text.lines().count(), 2);

    let raw = t
        .brook(&["consume", "orders", "--format", "raw", "--from", "offset:1"])
        .ok()
        .stdout;
    assert_eq!(raw, "{\"total\":3}\nno key here\nbinary\nplain\n");

    // Positions: by stream ID, by time, the end.
    let id = all[3]["id"].as_str().unwrap();
    let from_id = t
        .brook(&["consume", "orders", "--json", "--from", &format!("id:{id}")])
        .ok()
        .json_lines();
    assert_eq!(from_id.len(), 2);
    let from_time = t
        .brook(&[
            "consume",
            "orders",
            "--json",
            "--from",
            "time:2000-01-01T00:00:00Z",
        ])
        .ok()
        .json_lines();
    assert_eq!(from_time.len(), 5);
    let future = t
        .brook(&[
            "consume",
            "orders",
            "--json",
            "--from",
            "time:2999-01-01T00:00:00Z",
        ])
        .ok();
    assert_eq!(future.stdout, "");
    assert_eq!(
        t.brook(&["consume", "orders", "--from", "end"]).ok().stdout,
        ""
    );

    // Errors: unknown topic, unknown partition, a bad time the server refuses.
    t.brook(&["consume", "nope"]).fails(3);
    t.brook(&["consume", "orders", "--partition", "5"]).fails(3);
    t.brook(&["consume", "orders", "--from", "time:noon"])
        .fails(2);
    let file = t._dir.path().join("lines.txt");
    std::fs::write(&file, "from a file\n").unwrap();
    let run = t
        .brook(&[
            "produce",
            "orders",
            "--file",
            file.to_str().unwrap(),
            "--json",
        ])
        .ok();
    assert_eq!(run.json()["records"][0]["offset"], 5);
    t.brook(&["produce", "orders", "--file", "/nonexistent/file"])
        .fails(2);
}

#[test]
fn cli_produce_batches_large_inputs() {
    let t = start();
    t.brook(&["topic", "create", "bulk", "--partitions", "2"])
        .ok();
    let input: String = (0..2500).map(|i| format!("k{i}\tvalue {i}\n")).collect();
    let produced = t
        .brook_in(
            &[
                "produce",
                "bulk",
                "--key-separator",
                "\t",
                "--batch",
                "700",
                "--json",
            ],
            input.as_bytes(),
        )
        .ok()
        .json();
    let records = produced["records"].as_array().unwrap();
    assert_eq!(records.len(), 2500);
    let on_1 = records.iter().filter(|r| r["partition"] == 1).count();
    assert!(
        on_1 > 0 && on_1 < 2500,
        "keys spread over partitions: {on_1}"
    );

    let all = t.brook(&["consume", "bulk", "--json"]).ok().json_lines();
    assert_eq!(all.len(), 2500);
    let p1 = t
        .brook(&["consume", "bulk", "--partition", "1", "--json"])
        .ok()
        .json_lines();
    assert_eq!(p1.len(), on_1);
    assert!(p1.iter().all(|r| r["partition"] == 1));
    let some = t
        .brook(&["consume", "bulk", "--count", "1234", "--json"])
        .ok();
    assert_eq!(some.json_lines().len(), 1234);
    // A pipe closed early is not an error.
    let mut child = brook_command(&t.url(), &["consume", "bulk"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run = finish(wait_output(child));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
}

#[test]
fn cli_consume_follow_waits_for_new_records() {
    let t = start();
    t.brook(&["topic", "create", "live", "--partitions", "2"])
        .ok();
    let follower = brook_command(
        &t.url(),
        &[
            "consume", "live", "--follow", "--from", "end", "--count", "3", "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    t.brook_in(&["produce", "live", "--partition", "1"], b"a\n")
        .ok();
    std::thread::sleep(Duration::from_millis(200));
    t.brook_in(&["produce", "live", "--partition", "0"], b"b\nc\n")
        .ok();
    let run = finish(wait_output(follower)).ok();
    let mut values: Vec<String> = run
        .json_lines()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    assert_eq!(values, ["a", "b", "c"]);
}

#[test]
fn cli_consume_group_on_one_partition_then_reset_and_delete() {
    let t = start();
    t.brook(&["topic", "create", "tasks"]).ok();
    let lines: String = (0..6).map(|i| format!("t{i}\n")).collect();
    t.brook_in(&["produce", "tasks"], lines.as_bytes()).ok();

    let first = t
        .brook(&[
            "consume", "tasks", "-g", "workers", "-n", "2", "--format", "raw",
        ])
        .ok();
    assert_eq!(first.stdout, "t0\nt1\n");
    let rest = t
        .brook(&["consume", "tasks", "-g", "workers", "--format", "raw"])
        .ok();
    assert_eq!(rest.stdout, "t2\nt3\nt4\nt5\n");
    assert_eq!(
        t.brook(&["consume", "tasks", "-g", "workers"]).ok().stdout,
        ""
    );
    // Without the group: from the beginning, nothing committed.
    assert_eq!(
        t.brook(&["consume", "tasks", "--json"])
            .ok()
            .json_lines()
            .len(),
        6
    );

    let detail = t
        .brook(&["group", "describe", "workers", "--json"])
        .ok()
        .json();
    assert_eq!(detail["kind"], "kafka");
    assert_eq!(detail["partitions"][0]["committed"], 6);
    assert_eq!(detail["partitions"][0]["lag"], 0);
    let human = t.brook(&["group", "describe", "workers"]).ok().stdout;
    let row = human
        .lines()
        .find(|l| l.starts_with("tasks"))
        .unwrap_or_else(|| panic!("{human}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["tasks", "0", "6", "6", "0"]
    );

    let plan = t
        .brook(&["group", "reset", "workers", "--to", "earliest"])
        .ok()
        .stdout;
    assert!(plan.contains("dry run"), "{plan}");
    let row = plan.lines().find(|l| l.starts_with("tasks")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["tasks", "0", "6", "0"]
    );
    t.brook(&["group", "reset", "workers", "--to", "offset:4", "--execute"])
        .ok();
    let again = t
        .brook(&["consume", "tasks", "-g", "workers", "--format", "raw"])
        .ok();
    assert_eq!(again.stdout, "t4\nt5\n");
    t.brook(&["group", "reset", "workers", "--to", "offset:x"])
        .fails(2);
    t.brook(&[
        "group", "reset", "workers", "--to", "earliest", "--topic", "nope",
    ])
    .fails(3);

    t.brook(&["group", "delete", "workers", "--json"]).ok();
    t.brook(&["group", "describe", "workers"]).fails(3);
    t.brook(&["group", "delete", "workers"]).fails(3);
}

/// Commits one partition at a time: needs the server to honour `partition` in a
/// Kafka group reset (`ResetGroup::partition`); until it does, `--group` on a topic
/// of several partitions refuses to start rather than move every partition.
#[test]
#[ignore = "needs ResetGroup.partition honoured by the server (admin-http api/groups.rs kafka_reset)"]
fn cli_consume_group_commits_what_it_printed() {
    let t = start();
    t.brook(&["topic", "create", "work", "--partitions", "2"])
        .ok();
    let lines: String = (0..10).map(|i| format!("v{i}\n")).collect();
    t.brook_in(&["produce", "work", "--partition", "0"], lines.as_bytes())
        .ok();
    t.brook_in(&["produce", "work", "--partition", "1"], b"w0\nw1\n")
        .ok();

    let first = t
        .brook(&[
            "consume",
            "work",
            "--group",
            "billing",
            "--partition",
            "0",
            "--count",
            "4",
            "--json",
        ])
        .ok()
        .json_lines();
    assert_eq!(first.len(), 4);
    // Continues where the group committed, partition by partition.
    let rest = t
        .brook(&["consume", "work", "--group", "billing", "--json"])
        .ok()
        .json_lines();
    let offsets: Vec<(u64, u64)> = rest
        .iter()
        .map(|r| {
            (
                r["partition"].as_u64().unwrap(),
                r["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offsets,
        [
            (0, 4),
            (0, 5),
            (0, 6),
            (0, 7),
            (0, 8),
            (0, 9),
            (1, 0),
            (1, 1)
        ]
    );
    assert_eq!(
        t.brook(&["consume", "work", "--group", "billing"])
            .ok()
            .stdout,
        ""
    );

    // The group is listed and described with its committed offsets.
    let list = t.brook(&["group", "list", "--json"]).ok().json();
    let billing = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "billing")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(billing["kind"], "kafka");
    assert_eq!(billing["lag"], 0);
    let human = t.brook(&["group", "list"]).ok().stdout;
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("kafka") && l.contains("billing")),
        "{human}"
    );

    let detail = t
        .brook(&["group", "describe", "billing", "--json"])
        .ok()
        .json();
    let mut committed: Vec<(u64, u64)> = detail["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().unwrap(),
                p["committed"].as_u64().unwrap(),
            )
        })
        .collect();
    committed.sort();
    assert_eq!(committed, [(0, 10), (1, 2)]);
    let human = t.brook(&["group", "describe", "billing"]).ok().stdout;
    assert!(human.contains("COMMITTED"), "{human}");

    // reset: a dry run changes nothing; --execute does.
    let plan = t
        .brook(&[
            "group", "reset", "billing", "--to", "earliest", "--topic", "work", "--json",
        ])
        .ok()
        .json();
    assert_eq!(plan["executed"], false);
    let mut moves: Vec<(u64, u64, u64)> = plan["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().unwrap(),
                p["from"].as_u64().unwrap(),
                p["to"].as_u64().unwrap(),
            )
        })
        .collect();
    moves.sort();
    assert_eq!(moves, [(0, 10, 0), (1, 2, 0)]);
    let human = t
        .brook(&["group", "reset", "billing", "--to", "offset:1"])
        .ok()
        .stdout;
    assert!(human.contains("dry run"), "{human}");
    assert_eq!(
        t.brook(&["consume", "work", "--group", "billing"])
            .ok()
            .stdout,
        ""
    );
    let done = t
        .brook(&[
            "group",
            "reset",
            "billing",
            "--to",
            "offset:8",
            "--execute",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(done["executed"], true);
    let again = t
        .brook(&[
            "consume",
            "work",
            "--group",
            "billing",
            "--partition",
            "0",
            "--json",
        ])
        .ok()
        .json_lines();
    assert_eq!(again.len(), 2);
    assert_eq!(again[0]["offset"], 8);

    // delete; then it is gone.
    t.brook(&["group", "delete", "billing"]).ok();
    t.brook(&["group", "describe", "billing"]).fails(3);
    t.brook(&["group", "delete", "billing"]).fails(3);
    t.brook(&["group", "reset", "nobody", "--to", "earliest"])
        .fails(3);
}

#[test]
fn cli_sees_redis_groups_and_redis_written_entries() {
    let mut t = start();
    let resp = t.server.resp_addr();
    let client = redis::Client::open(format!("redis://{resp}/0")).unwrap();
    let mut con = client.get_connection_with_timeout(TIMEOUT).unwrap();
    let id1: String = redis::cmd("XADD")
        .arg("clicks")
        .arg("*")
        .arg("user")
        .arg("ann")
        .arg("page")
        .arg("/home")
        .query(&mut con)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg("clicks")
        .arg("*")
        .arg("key")
        .arg("k1")
        .arg("value")
        .arg("v1")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("clicks")
        .arg("audit")
        .arg("0")
        .query(&mut con)
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("audit")
        .arg("c1")
        .arg("COUNT")
        .arg("1")
        .arg("STREAMS")
        .arg("clicks")
        .arg(">")
        .query(&mut con)
        .unwrap();

    // Redis entries read like Kafka records.
    let records = t.brook(&["consume", "clicks", "--json"]).ok().json_lines();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["id"], id1.as_str());
    assert_eq!(
        records[0]["fields"],
        serde_json::json!([["user", "ann"], ["page", "/home"]])
    );
    assert_eq!(records[1]["key"], "k1");
    assert_eq!(records[1]["value"], "v1");
    let text = t
        .brook(&["consume", "clicks", "--from", &format!("id:{id1}")])
        .ok()
        .stdout;
    assert!(text.lines().nth(1).unwrap().ends_with("\tk1\tv1"), "{text}");

    let list = t.brook(&["group", "list", "--json"]).ok().json();
    let audit = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "audit")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(audit["kind"], "redis");
    assert_eq!(audit["stream"], "clicks");
    assert_eq!(audit["pending"], 1);

    let detail = t
        .brook(&["group", "describe", "audit", "--stream", "clicks", "--json"])
        .ok()
        .json();
    assert_eq!(detail["last_delivered_id"], id1.as_str());
    assert_eq!(detail["pending"], 1);
    assert_eq!(detail["members"][0]["name"], "c1");
    let human = t
        .brook(&["group", "describe", "audit", "--stream", "clicks"])
        .ok()
        .stdout;
    assert!(human.contains("oldest pending idle"), "{human}");
    // Without --stream the name is a Kafka group: none by that name.
    t.brook(&["group", "describe", "audit"]).fails(3);

    // The consumer was active just now: a reset is refused.
    let run = t
        .brook(&[
            "group",
            "reset",
            "audit",
            "--stream",
            "clicks",
            "--to",
            "earliest",
            "--execute",
        ])
        .fails(4);
    assert!(run.stderr.contains("active"), "{run:?}");
    let plan = t
        .brook(&[
            "group", "reset", "audit", "--stream", "clicks", "--to", "latest", "--json",
        ])
        .ok()
        .json();
    assert_eq!(plan["executed"], false);

    t.brook(&["group", "delete", "audit", "--stream", "clicks"])
        .ok();
    let groups: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg("clicks")
        .query(&mut con)
        .unwrap();
    assert!(groups.is_empty(), "{groups:?}");
    t.brook(&["group", "describe", "audit", "--stream", "clicks"])
        .fails(3);
}

#[test]
fn cli_bench_produce_then_consume_over_kafka() {
    let mut t = start();
    let kafka = t.server.addr("kafka").unwrap().to_string();
    t.brook(&["topic", "create", "load", "--partitions", "3"])
        .ok();
    let produced = t
        .brook(&[
            "bench",
            "produce",
            "load",
            "--kafka",
            &kafka,
            "-n",
            "2000",
            "--batch",
            "100",
            "-c",
            "2",
            "--record-bytes",
            "64",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(produced["operation"], "produce");
    assert_eq!(produced["records"], 2000);
    assert_eq!(produced["bytes"], 2000 * 64);
    assert_eq!(produced["partitions"], 3);
    assert_eq!(produced["requests"], 20);
    let latency = &produced["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() <= latency["max"].as_f64().unwrap());
    let buckets: u64 = produced["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 20);
    // What the bench produced is there for the other tools too.
    let topic = t
        .brook(&["topic", "describe", "load", "--json"])
        .ok()
        .json();
    assert_eq!(topic["records"], 2000);

    let consumed = t
        .brook(&["bench", "consume", "load", "--kafka", &kafka, "--json"])
        .ok()
        .json();
    assert_eq!(consumed["records"], 2000);
    assert_eq!(consumed["bytes"], 2000 * 64);

    let human = t
        .brook(&["bench", "produce", "load", "--kafka", &kafka, "-n", "300"])
        .ok()
        .stdout;
    assert!(human.starts_with("produced 300 records"), "{human}");
    assert!(human.contains("p99"), "{human}");

    let run = t
        .brook(&["bench", "produce", "--kafka", "127.0.0.1:9", "-n", "1"])
        .fails(5);
    assert!(run.stderr.contains("--kafka"), "{run:?}");
    assert_eq!(t.brook(&["bench", "produce", "--acks", "0"]).code, 2);
}
