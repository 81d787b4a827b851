//! `podmon logs`: streams, --tail, --timestamps, -f, and the order across
//! streams on one terminal.

use crate::common::*;
use crate::pty::*;
use crate::support::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs c1 to its end through the command line: it writes o1 e1 o2 e2 o3,
/// the o lines to stdout and the e lines to stderr, 100 ms apart.
fn run_interleaved(pod: &Pod) {
    cli_run(
        pod,
        "c1",
        &[],
        &[
            "sh",
            "-c",
            "echo o1; usleep 100000; echo e1 >&2; usleep 100000; echo o2; usleep 100000; \
             echo e2 >&2; usleep 100000; echo o3",
        ],
    );
    pod.cli(&["wait", "c1"]).assert_code(0);
}

/// -f on a running container (c2): lines as they come, exit when it exits.
fn check_follow(pod: &Pod) {
    let g1 = pod.gate("f1");
    let g2 = pod.gate("f2");
    let script = format!(
        "echo first; {}",
        g1.script(&format!(
            "echo second; echo second-err >&2; {}",
            g2.script("echo last; exit 0")
        ))
    );
    cli_run(pod, "c2", &[], &["sh", "-c", &script]);
    let mut cmd = podmon(pod, &["logs", "-f", "c2"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (out_lines, h1) = Lines::collect(child.stdout.take().unwrap());
    let (err_lines, h2) = Lines::collect(child.stderr.take().unwrap());
    assert!(
        out_lines
            .wait_for(Duration::from_secs(10), |l| l == "first")
            .is_some(),
        "logs -f shows the first line: {:?}",
        out_lines.texts()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "logs -f goes on while c2 runs"
    );
    g1.open();
    assert!(
        out_lines
            .wait_for(Duration::from_secs(10), |l| l == "second")
            .is_some(),
        "logs -f shows a line written later: {:?}",
        out_lines.texts()
    );
    assert!(
        err_lines
            .wait_for(Duration::from_secs(10), |l| l == "second-err")
            .is_some(),
        "stderr lines go to stderr: {:?}",
        err_lines.texts()
    );
    thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "logs -f still follows");
    g2.open();
    let w = pod.wait("c2");
    let exited = Instant::now();
    assert_eq!(w["exitCode"], 0, "{w}");
    let status = wait_child(&mut child, Duration::from_secs(10), "podmon logs -f");
    let lag = exited.elapsed();
    h1.join().unwrap();
    h2.join().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "logs -f exits 0 when the container has exited"
    );
    assert!(
        lag < Duration::from_secs(1),
        "logs -f ended {lag:?} after the container's exit"
    );
    assert_eq!(out_lines.texts(), ["first", "second", "last"]);
    assert_eq!(err_lines.texts(), ["second-err"]);
}

#[test]
fn logs_streams_tail_timestamps_and_follow() {
    let pod = Pod::start("clilogs");
    run_interleaved(&pod);

    // Each record on the stream it was written to, in order.
    let out = pod.cli_ok(&["logs", "c1"]);
    assert_eq!(out.stdout, "o1\no2\no3\n", "{out:?}");
    assert_eq!(out.stderr, "e1\ne2\n", "{out:?}");

    // --tail 2: the last two records, e2 (stderr) and o3 (stdout).
    let out = pod.cli_ok(&["logs", "--tail", "2", "c1"]);
    assert_eq!(out.stdout, "o3\n", "{out:?}");
    assert_eq!(out.stderr, "e2\n", "{out:?}");

    // --timestamps: an RFC 3339 time, a space, the line; times never go back.
    let out = pod.cli_ok(&["logs", "--timestamps", "c1"]);
    let mut times = vec![];
    for (stream, text, want) in [
        ("stdout", &out.stdout, ["o1", "o2", "o3"].as_slice()),
        ("stderr", &out.stderr, ["e1", "e2"].as_slice()),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), want.len(), "{stream}: {text:?}");
        for (line, w) in lines.iter().zip(want) {
            let (ts, rest) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("no timestamp: {line:?}"));
            assert_recent_timestamp(&format!("{stream} timestamp"), &Value::from(ts));
            assert_eq!(rest, *w, "{line:?}");
            times.push((rfc3339_to_unix(ts), *w));
        }
    }
    times.sort();
    let order: Vec<&str> = times.iter().map(|(_, w)| *w).collect();
    assert_eq!(
        order,
        ["o1", "e1", "o2", "e2", "o3"],
        "timestamps follow the output order"
    );

    check_follow(&pod);
}

#[test]
fn logs_keep_the_order_across_streams_on_one_terminal() {
    let pod = Pod::start("clilogorder");
    run_interleaved(&pod);
    let want = "o1\ne1\no2\ne2\no3\n";

    // At a terminal (stdout and stderr both the user's screen).
    let pty = Pty::open(24, 80);
    let mut child = pty.spawn(podmon(&pod, &["logs", "c1"]));
    let status = wait_child(
        &mut child,
        Duration::from_secs(20),
        "podmon logs at a terminal",
    );
    pty.wait_for("o3", Duration::from_secs(2));
    pty.wait_for("e2", Duration::from_secs(2));
    let screen = pty.text().replace("\r\n", "\n");
    assert_eq!(status.code(), Some(0), "{screen:?}");

    // Both streams into one (2>&1): the lines in the order they were written.
    let out = run_with_timeout(
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(podmon_bin())
            .arg("--socket")
            .arg(&pod.socket)
            .args(["logs", "c1"]),
        TIMEOUT,
    )
    .assert_ok();
    assert!(
        screen == want && out.stdout == want,
        "the log's records (o1 e1 o2 e2 o3, in this order in the CRI log) come out \
         in another order when stdout and stderr are one place:\n\
         at a terminal: {screen:?}\n`podmon logs c1 2>&1`: {:?}\nCRI log:\n{}",
        out.stdout,
        pod.log("c1")
    );
}
