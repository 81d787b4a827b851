//! The command line as clap reads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use clap::CommandFactory;
use clap::error::ErrorKind;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("podmon").chain(args.iter().copied()))
}

fn client(args: &[&str]) -> ClientCommand {
    match parse(args).unwrap().command {
        Command::Client(c) => c,
        Command::Serve(_) => panic!("serve"),
    }
}

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn kill_signal_is_optional() {
    assert_eq!(
        client(&["kill", "web"]),
        ClientCommand::Kill {
            id: "web".into(),
            signal: None,
            all: false
        }
    );
    assert_eq!(
        client(&["kill", "web", "KILL", "--all"]),
        ClientCommand::Kill {
            id: "web".into(),
            signal: Some("KILL".into()),
            all: true
        }
    );
    assert_eq!(
        client(&["kill", "--all", "web", "9"]),
        ClientCommand::Kill {
            id: "web".into(),
            signal: Some("9".into()),
            all: true
        }
    );
}

#[test]
fn create_with_rootfs_and_command_after_dashes() {
    let ClientCommand::Create(args) = client(&[
        "create",
        "web",
        "--rootfs",
        "/tmp/root",
        "--env",
        "A=1",
        "-e",
        "B=",
        "--memory-max",
        "64M",
        "--pids-max",
        "10",
        "--cwd",
        "/srv",
        "--hostname",
        "h",
        "--",
        "sh",
        "-c",
        "echo --not-an-option",
    ]) else {
        panic!("not create")
    };
    assert_eq!(args.id, "web");
    assert_eq!(args.rootfs, Some(PathBuf::from("/tmp/root")));
    assert_eq!(args.bundle, None);
    assert_eq!(args.env, vec!["A=1".to_owned(), "B=".to_owned()]);
    assert_eq!(args.memory_max, Some(64 << 20));
    assert_eq!(args.pids_max, Some(10));
    assert_eq!(args.cwd.as_deref(), Some("/srv"));
    assert_eq!(args.hostname.as_deref(), Some("h"));
    assert_eq!(args.command, vec!["sh", "-c", "echo --not-an-option"]);
}

#[test]
fn create_log_and_terminal_options() {
    let ClientCommand::Create(args) = client(&[
        "create",
        "web",
        "--bundle",
        "b",
        "-i",
        "--stdin-once",
        "--log-driver",
        "none",
        "--log-max-line",
        "16K",
        "--log-max-size",
        "10M",
        "--log-max-files",
        "3",
        "--log-rate",
        "1M",
        "--log-burst",
        "4M",
        "--log-policy",
        "drop",
    ]) else {
        panic!("not create")
    };
    assert!(args.stdin && args.stdin_once && !args.terminal);
    assert_eq!(args.log_driver, ["none"]);
    assert_eq!(args.log_max_line, Some(16 << 10));
    assert_eq!(args.log_max_size, Some(10 << 20));
    assert_eq!(args.log_max_files, Some(3));
    assert_eq!(args.log_rate, Some(1 << 20));
    assert_eq!(args.log_burst, Some(4 << 20));
    assert_eq!(args.log_policy.as_deref(), Some("drop"));
    let ClientCommand::Create(args) = client(&[
        "create",
        "web",
        "--bundle",
        "b",
        "--log-driver",
        "cri,journald",
        "--log-tag",
        "t",
    ]) else {
        panic!("not create")
    };
    assert_eq!(args.log_driver, ["cri", "journald"]);
    assert_eq!(args.log_tag.as_deref(), Some("t"));
    let ClientCommand::Create(args) = client(&["create", "web", "--rootfs", "r", "-t", "--", "sh"])
    else {
        panic!("not create")
    };
    assert!(args.terminal);
}

#[test]
fn create_with_bundle() {
    let ClientCommand::Create(args) = client(&["create", "web", "--bundle", "b"]) else {
        panic!("not create")
    };
    assert_eq!(args.bundle, Some(PathBuf::from("b")));
    assert!(args.command.is_empty());
}

#[test]
fn create_argument_errors_are_usage_errors() {
    for args in [
        &["create", "web"][..],
        &[
            "create", "web", "--bundle", "b", "--rootfs", "r", "--", "sh",
        ],
        &["create", "web", "--rootfs", "r"],
        &["create", "web", "--bundle", "b", "--env", "A=1"],
        &["create", "web", "--bundle", "b", "--", "sh"],
        &[
            "create", "web", "--rootfs", "r", "--env", "NOVALUE", "--", "sh",
        ],
        &["create", "web", "--rootfs", "r", "--env", "=x", "--", "sh"],
        &[
            "create",
            "web",
            "--rootfs",
            "r",
            "--memory-max",
            "64X",
            "--",
            "sh",
        ],
        &[
            "create",
            "web",
            "--rootfs",
            "r",
            "--pids-max",
            "-1",
            "--",
            "sh",
        ],
        &["create", "web", "--bundle", "b", "--terminal"],
        &["create", "web", "--bundle", "b", "--stdin-once"],
        &["create", "web", "--bundle", "b", "--log-driver", "syslog"],
        &["create", "web", "--bundle", "b", "--log-rate", "1M"],
        &["create", "web", "--bundle", "b", "--log-burst", "1M"],
        &["create", "web", "--bundle", "b", "--log-policy", "drop"],
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
    }
    let err = parse(&[
        "create",
        "web",
        "--rootfs",
        "r",
        "--memory-max",
        "lots",
        "--",
        "sh",
    ])
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueValidation);
    assert!(err.to_string().contains("invalid size"), "{err}");
}

#[test]
fn other_client_commands() {
    assert_eq!(
        client(&["start", "a"]),
        ClientCommand::Start { id: "a".into() }
    );
    assert_eq!(
        client(&["wait", "a"]),
        ClientCommand::Wait { id: "a".into() }
    );
    assert_eq!(
        client(&["state", "a"]),
        ClientCommand::State { id: "a".into() }
    );
    assert_eq!(client(&["ps"]), ClientCommand::Ps);
    assert_eq!(
        client(&["delete", "--force", "a"]),
        ClientCommand::Delete {
            id: "a".into(),
            force: true
        }
    );
    assert!(parse(&["start"]).is_err());
    assert_eq!(client(&["kill", "k"]).id(), Some("k"));
    assert_eq!(client(&["ps"]).id(), None);
}

#[test]
fn exec_arguments() {
    let ClientCommand::Exec(args) = client(&[
        "exec", "-i", "-t", "-e", "A=1", "--env", "B=", "-w", "/srv", "-u", "1000:100", "web",
        "--", "sh", "-c", "echo --x",
    ]) else {
        panic!("not exec")
    };
    assert!(args.interactive && args.tty && !args.sync);
    assert_eq!(args.id, "web");
    assert_eq!(args.env, vec!["A=1", "B="]);
    assert_eq!(args.cwd.as_deref(), Some("/srv"));
    assert_eq!(args.user.as_deref(), Some("1000:100"));
    assert_eq!(args.command, vec!["sh", "-c", "echo --x"]);
    let ClientCommand::Exec(args) = client(&["exec", "--timeout", "2.5", "web", "--", "true"])
    else {
        panic!("not exec")
    };
    assert_eq!(args.timeout, Some(Duration::from_millis(2500)));
    assert!(args.uses_sync(false));
    let ClientCommand::Exec(args) = client(&["exec", "-it", "web", "--", "sh"]) else {
        panic!("not exec")
    };
    assert!(args.interactive && args.tty);
    for bad in [
        &["exec", "web"][..],
        &["exec", "web", "--"],
        &["exec", "-u", "root", "web", "--", "id"],
        &["exec", "-u", "1:", "web", "--", "id"],
        &["exec", "--timeout", "0", "web", "--", "id"],
        &["exec", "--timeout", "soon", "web", "--", "id"],
        &["exec", "-i", "--timeout", "5", "web", "--", "id"],
        &["exec", "-t", "--sync", "web", "--", "id"],
        &["exec", "-e", "NOVALUE", "web", "--", "id"],
    ] {
        assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
    }
}

#[test]
fn streaming_subcommands() {
    assert_eq!(
        client(&["attach", "--no-stdin", "web"]),
        ClientCommand::Attach {
            id: "web".into(),
            no_stdin: true
        }
    );
    assert_eq!(
        client(&[
            "logs",
            "-f",
            "--tail",
            "10",
            "--since",
            "5m",
            "--timestamps",
            "web"
        ]),
        ClientCommand::Logs(LogsArgs {
            id: "web".into(),
            follow: true,
            tail: Some(10),
            since: Some("5m".into()),
            timestamps: true
        })
    );
    assert!(parse(&["logs", "--since", "2024-05-01T10:00:00Z", "web"]).is_ok());
    assert_eq!(
        parse(&["logs", "--since", "5 minutes", "web"])
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        parse(&["logs", "--tail", "-1", "web"])
            .unwrap_err()
            .exit_code(),
        2
    );
    assert_eq!(
        client(&["stats"]),
        ClientCommand::Stats {
            id: None,
            watch: false
        }
    );
    assert_eq!(
        client(&["stats", "--watch", "web"]),
        ClientCommand::Stats {
            id: Some("web".into()),
            watch: true
        }
    );
    assert_eq!(
        client(&["events"]),
        ClientCommand::Events {
            id: None,
            since: None
        }
    );
    assert_eq!(
        client(&["events", "--since", "12"]),
        ClientCommand::Events {
            id: None,
            since: Some(12)
        }
    );
    assert_eq!(client(&["events", "web"]).id(), Some("web"));
    assert_eq!(client(&["pod"]), ClientCommand::Pod);
    assert_eq!(client(&["pod"]).id(), None);
}

#[test]
fn small_subcommands() {
    assert_eq!(
        client(&[
            "set-log-limit",
            "web",
            "--rate",
            "1M",
            "--burst",
            "4M",
            "--policy",
            "drop"
        ]),
        ClientCommand::SetLogLimit(LogLimitArgs {
            id: "web".into(),
            rate: Some(1 << 20),
            burst: Some(4 << 20),
            policy: Some("drop".into()),
            off: false
        })
    );
    assert_eq!(
        client(&["set-log-limit", "web", "--off"]),
        ClientCommand::SetLogLimit(LogLimitArgs {
            id: "web".into(),
            off: true,
            ..LogLimitArgs::default()
        })
    );
    for bad in [
        &["set-log-limit", "web"][..],
        &["set-log-limit", "web", "--off", "--rate", "1M"],
        &["set-log-limit", "web", "--burst", "1M"],
        &["set-log-limit", "web", "--rate", "1Q"],
        &["set-log-limit", "web", "--rate", "1M", "--policy", "queue"],
        &["resize", "web", "80"],
        &["resize", "web", "80", "70000"],
    ] {
        assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
    }
    assert_eq!(
        client(&["reopen-log", "web"]),
        ClientCommand::ReopenLog { id: "web".into() }
    );
    assert_eq!(
        client(&["purge-log", "web"]),
        ClientCommand::PurgeLog { id: "web".into() }
    );
    assert_eq!(
        client(&["resize", "web", "120", "40"]),
        ClientCommand::Resize {
            id: "web".into(),
            cols: 120,
            rows: 40
        }
    );
}

#[test]
fn global_options_anywhere() {
    let cli = parse(&["ps", "--json", "--socket", "/tmp/p.sock"]).unwrap();
    assert!(cli.json);
    assert_eq!(cli.client_socket().unwrap(), Path::new("/tmp/p.sock"));
    let cli = parse(&["--socket", "/tmp/q.sock", "state", "x"]).unwrap();
    assert!(!cli.json);
    assert_eq!(cli.socket.as_deref(), Some(Path::new("/tmp/q.sock")));
}

#[test]
fn client_without_socket_is_a_clear_error() {
    let cli = Cli {
        socket: None,
        json: false,
        command: Command::Client(ClientCommand::Ps),
    };
    let err = cli.client_socket().unwrap_err().to_string();
    assert!(
        err.contains("--socket") && err.contains("PODMON_SOCKET"),
        "{err}"
    );
}

#[test]
fn serve_defaults() {
    let cli = parse(&["serve", "--pod", "p1"]).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    assert_eq!(args.pod, "p1");
    assert_eq!(
        args.socket_path(cli.socket.as_deref()),
        PathBuf::from("/run/podmon/p1.sock")
    );
    assert_eq!(args.state_dir(), PathBuf::from("/run/podmon/p1"));
    assert_eq!(args.log_dir(), PathBuf::from("/run/podmon/p1/logs"));
    assert_eq!(args.exit_dir, None);
    assert!(parse(&["serve"]).is_err(), "--pod is required");
}

#[test]
fn serve_explicit_paths() {
    let cli = parse(&[
        "serve",
        "--pod",
        "p1",
        "--socket",
        "/s.sock",
        "--runtime",
        "/usr/bin/crun",
        "--state-dir",
        "/st",
        "--exit-dir",
        "/ex",
    ])
    .unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    assert_eq!(
        args.socket_path(cli.socket.as_deref()),
        PathBuf::from("/s.sock")
    );
    assert_eq!(args.runtime, Some(PathBuf::from("/usr/bin/crun")));
    assert_eq!(args.log_dir(), PathBuf::from("/st/logs"));
    assert_eq!(args.exit_dir, Some(PathBuf::from("/ex")));
}

#[test]
fn json_flag_is_seen_only_before_dashes() {
    let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
    let has = |v: &[&str]| before_dashes(&os(v)).any(|a| a == "--json");
    assert!(has(&["podmon", "exec", "--json", "c", "--", "x"]));
    assert!(!has(&["podmon", "exec", "c", "--", "echo", "--json"]));
}
