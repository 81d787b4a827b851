//! Mistakes: unknown ids, no monitor, bad arguments; the messages name what
//! is wrong and the exit statuses tell them apart.

use crate::common::*;
use crate::support::*;
use serde_json::Value;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// An unknown container, for every subcommand that takes one: exit 1 and
/// one `podmon: ...ghost...` line.
fn check_unknown_ids(pod: &Pod) {
    let cases: &[&[&str]] = &[
        &["start", "ghost"],
        &["kill", "ghost"],
        &["kill", "ghost", "KILL", "--all"],
        &["wait", "ghost"],
        &["delete", "ghost"],
        &["delete", "--force", "ghost"],
        &["state", "ghost"],
        &["exec", "ghost", "--", "true"],
        &["exec", "--sync", "ghost", "--", "true"],
        &["exec", "--timeout", "1", "ghost", "--", "true"],
        &["exec", "-i", "ghost", "--", "cat"],
        &["exec", "-it", "ghost", "--", "sh"],
        &["attach", "ghost"],
        &["attach", "--no-stdin", "ghost"],
        &["logs", "ghost"],
        &["logs", "-f", "ghost"],
        &["logs", "--tail", "1", "--timestamps", "ghost"],
        &["stats", "ghost"],
        &["events", "ghost"],
        &["set-log-limit", "ghost", "--rate", "1M"],
        &["set-log-limit", "ghost", "--off"],
        &["reopen-log", "ghost"],
        &["resize", "ghost", "80", "24"],
    ];
    let mut failures = vec![];
    for args in cases {
        let t = Instant::now();
        let out = pod.cli(args);
        let took = t.elapsed();
        let ok = out.code() == 1
            && out.stderr.starts_with("podmon: ")
            && out.stderr.contains("ghost")
            && out.stderr.lines().count() == 1
            && out.stdout.is_empty()
            && took < Duration::from_secs(5);
        if !ok {
            failures.push(format!(
                "{args:?}: exit {} after {took:?}, stdout {:?}, stderr {:?}",
                out.code(),
                out.stdout,
                out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "an unknown id must fail with exit 1 and one `podmon: ...ghost...` line:\n{}",
        failures.join("\n")
    );
    let out = pod.cli(&["state", "ghost"]);
    assert_eq!(out.stderr, "podmon: no such container: ghost\n");
    // A seq no event has had yet.
    let out = pod.cli(&["events", "--since", "999999"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("podmon: invalid value for since: 999999 is after"),
        "{out:?}"
    );
}

/// No monitor at the socket path (given, through PODMON_SOCKET, stale, or
/// none at all): the message names the path or says how to give one.
fn check_no_monitor(pod: &Pod) {
    let missing = pod.dir.join("nobody-here.sock");
    let missing_s = missing.display().to_string();
    for args in [
        &["ps"][..],
        &["state", "c1"],
        &["exec", "c1", "--", "true"],
        &["exec", "--sync", "c1", "--", "true"],
        &["attach", "c1"],
        &["logs", "c1"],
        &["stats"],
        &["events"],
        &["pod"],
    ] {
        let out = run_with_timeout(
            Command::new(podmon_bin())
                .arg("--socket")
                .arg(&missing)
                .args(args)
                .env_remove("PODMON_SOCKET"),
            Duration::from_secs(10),
        );
        assert_eq!(out.code(), 1, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("podmon: ") && out.stderr.contains(&missing_s),
            "{args:?}: the message names {missing_s}: {out:?}"
        );
    }
    // The same through PODMON_SOCKET.
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("ps")
            .env("PODMON_SOCKET", &missing),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains(&missing_s), "{out:?}");
    // A socket file nobody listens on any more.
    let stale = pod.dir.join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("--socket")
            .arg(&stale)
            .arg("ps")
            .env_remove("PODMON_SOCKET"),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("podmon: ") && out.stderr.contains(&stale.display().to_string()),
        "{out:?}"
    );
    // No socket at all: say how to give one.
    let out = run_with_timeout(
        Command::new(podmon_bin())
            .arg("ps")
            .env_remove("PODMON_SOCKET"),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("--socket") && out.stderr.contains("PODMON_SOCKET"),
        "{out:?}"
    );
}

/// Usage errors: exit 2, before anything reaches the monitor (`r` is a
/// rootfs path).
fn check_usage_errors(pod: &Pod, r: &str) {
    let out = pod.cli(&[
        "create",
        "c9",
        "--rootfs",
        r,
        "--memory-max",
        "12Q",
        "--",
        "true",
    ]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("12Q") && out.stderr.contains("--memory-max"),
        "{out:?}"
    );
    let out = pod.cli(&["create", "c9", "--bundle", r, "--rootfs", r, "--", "true"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("cannot be used with") && out.stderr.contains("Usage:"),
        "{out:?}"
    );
    let out = pod.cli(&["exec", "-i", "--timeout", "5", "c1", "--", "cat"]);
    assert_eq!(out.code(), 2, "{out:?}");
    let out = pod.cli(&["logs", "--since", "yesterday", "c1"]);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("yesterday"), "{out:?}");
    let out = pod.cli_ok(&["ps", "--json"]);
    let ps: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = ps["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1"], "usage errors created nothing");
}

#[test]
fn errors_name_what_is_wrong() {
    let pod = Pod::start("clierr");

    check_unknown_ids(&pod);

    // A container that exists: creating it again names it.
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);
    let r = rootfs().display().to_string();
    let out = pod.cli(&["create", "c1", "--rootfs", &r, "--", "true"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stderr, "podmon: container already exists: c1\n");
    let out = pod.cli(&["delete", "c1"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with("podmon: ")
            && out.stderr.contains("c1")
            && out.stderr.contains("running"),
        "{out:?}"
    );

    check_no_monitor(&pod);

    check_usage_errors(&pod, &r);
}
