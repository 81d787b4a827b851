//! `podmon stats`, `podmon pod` and `podmon events`.

use crate::common::*;
use crate::support::*;
use serde_json::Value;
use std::io::Read;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

/// stats ID: a table with the id, a CPU % and the memory limit.
fn check_stats_table(pod: &Pod) {
    let out = pod.cli_ok(&["stats", "c1"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one row: {out:?}");
    assert!(
        lines[0].starts_with("ID")
            && lines[0].contains("CPU %")
            && lines[0].contains("MEM USAGE / LIMIT"),
        "{out:?}"
    );
    let row = lines[1];
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[0], "c1", "{row:?}");
    let cpu = cells[1]
        .strip_suffix('%')
        .and_then(|p| p.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("CPU % is a percentage: {row:?}"));
    assert!(
        (0.0..=200.0).contains(&cpu),
        "CPU % {cpu} on 2 cores: {row:?}"
    );
    assert!(row.contains(" / 64.0MiB"), "memory limit 64 MiB: {row:?}");
    let usage = cells[2];
    assert!(
        usage.ends_with("iB") || usage.ends_with('B'),
        "memory usage before the limit: {row:?}"
    );
}

/// stats --json: one document with the numbers; pod: the name and
/// counts.
fn check_stats_json_and_pod(pod: &Pod) {
    let out = pod.cli_ok(&["stats", "--json", "c1"]);
    let r: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {out:?}"));
    assert_eq!(r["stats"]["id"], "c1", "{r}");
    assert_eq!(r["stats"]["memory"]["limit"], 64 << 20, "{r}");

    // pod: the name and counts.
    let out = pod.cli_ok(&["pod"]);
    let field = |key: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key}: line in {out:?}"))
            .to_owned()
    };
    assert_eq!(field("name"), "clistats");
    assert_eq!(field("containers"), "0 created, 1 running, 0 stopped");
    assert!(
        field("monitor").starts_with(&format!("pid {}", pod.pid)),
        "{out:?}"
    );
}

/// events: the current state, then created/started/exited of a container
/// (c2) run meanwhile.
fn check_events(pod: &Pod) {
    let mut cmd = podmon(pod, &["events"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut events = cmd.spawn().unwrap();
    let (lines, h) = Lines::collect(events.stdout.take().unwrap());
    let mut events_err = events.stderr.take().unwrap();
    assert!(
        lines
            .wait_for(Duration::from_secs(10), |l| l == "state c1 running")
            .is_some(),
        "events starts with the current state: {:?}",
        lines.texts()
    );
    cli_run(pod, "c2", &[], &["sh", "-c", "exit 4"]);
    let out = pod.cli(&["wait", "c2"]).assert_code(4);
    assert_eq!(out.stdout, "4\n");
    let exited = lines.wait_for(Duration::from_secs(5), |l| l.contains(" exited c2"));
    thread::sleep(Duration::from_millis(200));
    let _ = events.kill();
    let _ = events.wait();
    h.join().unwrap();
    let mut err = String::new();
    let _ = events_err.read_to_string(&mut err);
    let got = lines.texts();
    assert!(exited.is_some(), "no exited line: {got:?} (stderr {err:?})");
    let find = |kind: &str| {
        got.iter()
            .position(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 4 && w[2] == kind && w[3] == "c2"
            })
            .unwrap_or_else(|| panic!("no {kind} c2 line: {got:?}"))
    };
    let (created, started, exited) = (find("created"), find("started"), find("exited"));
    assert!(created < started && started < exited, "in order: {got:?}");
    assert!(got[exited].ends_with(" exit=4"), "{got:?}");
    let mut seqs = vec![];
    for i in [created, started, exited] {
        let w: Vec<&str> = got[i].split_whitespace().collect();
        let seq: u64 = w[0]
            .parse()
            .unwrap_or_else(|e| panic!("event line starts with its seq ({e}): {:?}", got[i]));
        seqs.push(seq);
        assert!(
            is_rfc3339_nano_utc(w[1]),
            "the seq is followed by the event's time: {:?}",
            got[i]
        );
    }
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "seqs in order: {got:?}"
    );
    assert_eq!(err, "", "events wrote nothing on stderr");
}

#[test]
fn stats_pod_and_events() {
    let pod = Pod::start("clistats");
    cli_run(&pod, "c1", &["--memory-max", "64M"], &["sh", "-c", IDLE]);

    check_stats_table(&pod);

    check_stats_json_and_pod(&pod);

    check_events(&pod);
}
