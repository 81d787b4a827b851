//! Bounds that hold while a call runs: bytes sent during a long call
//! (WaitContainer, WatchEvents), pipelined calls, a huge message between
//! calls, and an Attach stream to a client that reads too slowly. Each ends
//! with `LimitExceeded` naming the bound, then the close; other clients are
//! served throughout and the monitor's memory stays bounded.

use serde_json::{Value, json};
use std::io::ErrorKind;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::table::{GET_INFO, LIMIT_EXCEEDED};
use crate::{Footprint, MAX_BUFFERED, MAX_MESSAGE, RSS_SLACK_KIB, rss_kib};

/// Sends `total` bytes of `fill` (no NUL) on `c` in 1 MiB writes until the
/// server stops taking them; checks that another client is served in
/// between and that the monitor's RSS stays within the slack of `base`.
fn flood(pod: &Pod, c: &mut Client, total: usize, fill: u8, base: &Footprint) {
    let chunk = vec![fill; 1 << 20];
    let mut other = pod.client();
    let mut peak = 0;
    for _ in 0..total / chunk.len() {
        if c.send_raw(&chunk).is_err() {
            break; // closed by the server
        }
        other.call(GET_INFO, json!({})).ok();
        peak = peak.max(rss_kib(pod.pid));
    }
    // A bounded buffer is one message and the allowance, not the flood.
    let bound = base.rss_kib + RSS_SLACK_KIB + (MAX_BUFFERED as u64 >> 10);
    assert!(
        peak <= bound,
        "RSS peaked at {peak} KiB (bound {bound} KiB)"
    );
}

/// The connection's last message is LimitExceeded for `limit` (= `max`),
/// then it is closed.
#[track_caller]
fn cut_off(c: &mut Client, limit: &str, max: usize) {
    let r = c.recv();
    let p = r.err(LIMIT_EXCEEDED);
    assert_eq!(p, json!({"limit": limit, "max": max}), "{:?}", r.0);
    match c.read_raw() {
        Ok(None) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("want the close after LimitExceeded, got {other:?}"),
    }
}

fn long_running(pod: &Pod, id: &str) {
    pod.run(
        id,
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
}

#[test]
fn bytes_sent_during_wait_container_are_bounded() {
    let pod = Pod::start("bad-during-wait");
    long_running(&pod, "w");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.send(WAIT_CONTAINER, json!({"id": "w"}));
    // 256 MiB without a NUL, as in the issue.
    flood(&pod, &mut c, 256 << 20, b'a', &base);
    cut_off(&mut c, "bufferedInput", MAX_BUFFERED);
    // The call was cut off, not the container.
    assert_eq!(pod.get("w")["status"], json!("running"));
    base.assert_back(&pod, "256 MiB during WaitContainer");
}

#[test]
fn bytes_sent_during_watch_events_are_bounded() {
    let pod = Pod::start("bad-during-watch");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.send_more(WATCH_EVENTS, json!({}));
    let first = c.recv();
    assert!(first.continues(), "{:?}", first.0);
    flood(&pod, &mut c, 64 << 20, b' ', &base);
    cut_off(&mut c, "bufferedInput", MAX_BUFFERED);
    base.assert_back(&pod, "64 MiB during WatchEvents");
}

#[test]
fn pipelined_calls_beyond_the_allowance_are_cut_off() {
    let pod = Pod::start("bad-pipeline-flood");
    long_running(&pod, "w");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.send(WAIT_CONTAINER, json!({"id": "w"}));
    // Complete calls this time: 10 MiB of GetInfo, never answered while
    // WaitContainer runs.
    let one = Client::encode(GET_INFO, Value::Null, false, false);
    let batch: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 20_000)
        .collect();
    let mut sent = 0;
    while sent <= MAX_BUFFERED + batch.len() && c.send_raw(&batch).is_ok() {
        sent += batch.len();
    }
    cut_off(&mut c, "bufferedInput", MAX_BUFFERED);
    base.assert_back(&pod, "pipelined calls during WaitContainer");
}

#[test]
fn pipelined_calls_within_the_allowance_are_answered_in_order() {
    let pod = Pod::start("bad-pipeline-ok");
    let gate = pod.gate("g");
    pod.run("g", &["sh", "-c", &gate.script("exit 3")]);
    let mut c = pod.client();
    c.send(WAIT_CONTAINER, json!({"id": "g"}));
    let mut calls = vec![];
    for i in 0..200 {
        calls.extend(Client::encode(
            GET_CONTAINER,
            json!({"id": format!("n{i}")}),
            false,
            false,
        ));
    }
    c.send_raw(&calls).unwrap();
    thread::sleep(Duration::from_millis(200));
    gate.open();
    assert_eq!(c.recv().ok()["exitCode"], json!(3));
    for i in 0..200 {
        assert_eq!(
            c.recv().err(NO_SUCH_CONTAINER)["id"],
            json!(format!("n{i}"))
        );
    }
}

#[test]
fn a_huge_message_between_calls_is_refused_with_its_bound() {
    let pod = Pod::start("bad-huge");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.call(GET_INFO, json!({})).ok();
    flood(&pod, &mut c, 256 << 20, b'{', &base);
    cut_off(&mut c, "messageSize", MAX_MESSAGE);
    base.assert_back(&pod, "a 256 MiB message");
}

#[test]
fn a_slow_attach_client_with_more_is_cut_off_with_an_error() {
    let pod = Pod::start("bad-slow-attach");
    // Output as fast as the pipe takes it, kept out of the disk.
    pod.create_with(
        "f",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
        json!({"logDriver": "none"}),
    );
    pod.start_container("f");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.send_more(ATTACH, json!({"id": "f"}));
    // Not reading: the container's output piles up past the 4 MiB bound.
    thread::sleep(Duration::from_secs(2));
    let end = Instant::now() + Duration::from_secs(20);
    let last = loop {
        assert!(Instant::now() < end, "no end to the stream within 20 s");
        let r = c.recv();
        if !r.continues() {
            break r;
        }
    };
    let p = last.err(LIMIT_EXCEEDED);
    assert_eq!(p, json!({"limit": "output", "max": 4 << 20}));
    match c.read_raw() {
        Ok(None) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("want the close after the cut-off, got {other:?}"),
    }
    // The container and other clients did not notice.
    assert_eq!(pod.get("f")["status"], json!("running"));
    base.assert_back(&pod, "a slow attach client");
}

#[test]
fn read_logs_without_more_is_bounded_to_one_reply() {
    let pod = Pod::start("bad-big-log");
    pod.run(
        "big",
        &[
            "sh",
            "-c",
            "yes 0123456789012345678901234567890123456789 | head -c 12000000",
        ],
    );
    pod.wait("big");
    let mut c = pod.client();
    c.send(READ_LOGS, json!({"id": "big"}));
    cut_off(&mut c, "replySize", 8 << 20);
    // With `tail`, or with `more`, the log is read.
    let r = pod.call(READ_LOGS, json!({"id": "big", "tail": 3}));
    assert_eq!(r.ok()["records"].as_array().map(Vec::len), Some(3));
    let replies = pod.client().call_more(READ_LOGS, json!({"id": "big"}));
    let records: usize = replies
        .iter()
        .map(|r| r.ok()["records"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(records > 12_000_000 / 41, "{records} records");
}

#[test]
fn a_more_stream_to_a_client_that_never_reads_is_given_up() {
    let pod = Pod::start("bad-never-reads");
    pod.create_with(
        "f",
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
        json!({"logDriver": "none"}),
    );
    pod.start_container("f");
    let base = Footprint::of(&pod);
    let mut c = pod.client();
    c.send_more(ATTACH, json!({"id": "f"}));
    let t0 = Instant::now();
    // The client never reads: the monitor gives the connection up (and
    // says so) holding at most its bounded queue meanwhile: at once with
    // LimitExceeded if the output overflowed while the socket still took
    // replies, else when a reply stalls for the 30 s bound.
    let mut peak = 0;
    let closed = wait_until(Duration::from_secs(45), || {
        peak = peak.max(rss_kib(pod.pid));
        let log = pod.server_log_text();
        log.contains("took no reply") || log.contains("Attach was cut off")
    });
    assert!(
        closed,
        "the connection of a client that never reads is still open"
    );
    eprintln!("given up after {:?}", t0.elapsed());
    let bound = base.rss_kib + RSS_SLACK_KIB + (4 << 10);
    assert!(
        peak <= bound,
        "RSS peaked at {peak} KiB (bound {bound} KiB)"
    );
    // What was sent before ends in the close (after LimitExceeded, or
    // mid-reply where no error fits).
    let end = Instant::now() + Duration::from_secs(20);
    while c.read_raw().is_ok_and(|m| m.is_some()) {
        assert!(Instant::now() < end, "the stream does not end");
    }
    assert_eq!(pod.get("f")["status"], json!("running"));
    drop(c);
    base.assert_back(&pod, "a client that never reads");
}
