//! Configuration precedence as seen from outside: flag > env > file > default.

use crate::util::{command, Server};

fn base(data_dir: &str) -> Vec<&str> {
    vec![
        "--data-dir",
        data_dir,
        "--resp-listen",
        "127.0.0.1:0",
        "--kafka-listen",
        "127.0.0.1:0",
    ]
}

#[test]
fn env_can_disable_http_and_the_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = base(data.to_str().unwrap());
    let mut server = Server::start(command(dir.path(), &args, &[("BROOK_HTTP_LISTEN", "off")]));
    let line = server.wait_for_line("listener disabled");
    assert!(line.contains("protocol=http"), "{line}");
    assert_eq!(server.addr("http"), None, "log:\n{}", server.log());
    assert!(server.addr("resp").is_some());
}

#[test]
fn flag_beats_env() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = base(data.to_str().unwrap());
    args.extend(["--http-listen", "127.0.0.1:0"]);
    let mut server = Server::start(command(dir.path(), &args, &[("BROOK_HTTP_LISTEN", "off")]));
    assert!(server.addr("http").is_some(), "log:\n{}", server.log());
    assert!(!server.log().contains("listener disabled"));
}

#[test]
fn env_beats_file_and_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("brook.toml");
    let data = dir.path().join("file-data");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nresp_listen = \"127.0.0.1:0\"\nkafka_listen = \"off\"\nhttp_listen = \"off\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let env = [
        ("BROOK_CONFIG", file.to_str().unwrap()),
        ("BROOK_HTTP_LISTEN", "127.0.0.1:0"),
    ];
    let mut server = Server::start(command(dir.path(), &[], &env));
    // From the environment, over the file's "off".
    assert!(server.addr("http").is_some(), "log:\n{}", server.log());
    // From the file, over the defaults.
    assert!(server.addr("resp").is_some());
    assert_eq!(server.addr("kafka"), None);
    assert!(
        data.join("LOCK").exists(),
        "data_dir from the file was not used"
    );
    assert!(!dir.path().join("brook-data").exists());
}

#[test]
fn unknown_config_key_fails_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("brook.toml");
    std::fs::write(&file, "data_dir = \"d\"\nfsink = \"always\"\n").unwrap();
    let mut server = Server::spawn(command(
        dir.path(),
        &["--config", file.to_str().unwrap()],
        &[],
    ));
    let (status, log) = server.wait_exit_and_log();
    assert!(!status.success());
    assert!(
        log.contains("fsink") && log.contains("brook.toml"),
        "log:\n{log}"
    );
}

#[test]
fn json_log_format_writes_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = base(data.to_str().unwrap());
    args.extend(["--http-listen", "off"]);
    let mut server = Server::start(command(dir.path(), &args, &[("BROOK_LOG_FORMAT", "json")]));
    let line = server.wait_for_line("\"protocol\":\"resp\"");
    assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
    assert!(line.contains("\"message\":\"listening\""), "{line}");
    assert!(line.contains("\"addr\":\"127.0.0.1:"), "{line}");
}
