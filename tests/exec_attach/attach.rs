//! Attach: two clients sharing output, a client that stops reading, and
//! stdinOnce.

use crate::common::*;
use crate::support::*;
use crate::upgraded::*;
use serde_json::json;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn attach_two_clients_share_output_one_gets_stdin() {
    let pod = Pod::start("at-two");
    let script = "echo early; while read l; do [ \"$l\" = quit ] && exit 0; echo got:$l; done";
    pod.create_with("c1", &["sh", "-c", script], json!({ "stdin": true }));
    pod.start_container("c1");
    assert!(
        wait_until(Duration::from_secs(10), || pod.log("c1").contains("early")),
        "log: {}",
        pod.log("c1")
    );

    let (fa, mut a) = Upgraded::open(&pod, ATTACH, json!({ "id": "c1", "stdin": true }));
    assert_no_error(&fa);
    assert_eq!(
        params_of(&fa)["stdin"],
        json!(true),
        "first client gets stdin: {fa}"
    );
    let mut ca = Collected::default();
    a.stdin(b"one\n");
    a.wait_stdout(&mut ca, "got:one", Duration::from_secs(10));

    let (fb, mut b) = Upgraded::open(&pod, ATTACH, json!({ "id": "c1", "stdin": true }));
    assert_no_error(&fb);
    assert_eq!(
        params_of(&fb)["stdin"],
        json!(false),
        "stdin is taken: {fb}"
    );
    let mut cb = Collected::default();
    // B has no stdin: what it sends must not reach the container.
    b.stdin(b"fromb\n");
    thread::sleep(Duration::from_millis(200));

    a.stdin(b"x\n");
    a.wait_stdout(&mut ca, "got:x", Duration::from_secs(10));
    b.wait_stdout(&mut cb, "got:x", Duration::from_secs(10));

    a.stdin(b"quit\n");
    a.collect(&mut ca, Duration::from_secs(10));
    b.collect(&mut cb, Duration::from_secs(10));
    assert_eq!(ca.exit, Some(0), "A: {ca:?}");
    assert_eq!(cb.exit, Some(0), "B: {cb:?}");
    assert_eq!(pod.wait("c1")["exitCode"], json!(0));

    let (sa, sb) = (ca.stdout_text(), cb.stdout_text());
    assert!(
        !sa.contains("early"),
        "A got output from before it attached: {sa:?}"
    );
    assert!(
        !sb.contains("early"),
        "B got output from before it attached: {sb:?}"
    );
    assert!(
        !sb.contains("got:one"),
        "B got output from before it attached: {sb:?}"
    );
    assert_eq!(sa, "got:one\ngot:x\n", "A's output");
    assert_eq!(sb, "got:x\n", "B's output");
    let log = pod.log("c1");
    assert!(
        !log.contains("fromb"),
        "stdin of a client without stdin reached the container: {log}"
    );
}

/// The bytes the stuck-client test's container floods its output with.
const FLOOD: usize = 50_000_000;

/// Opens `gate` (the flood) and probes GetPod and GetContainer every 100 ms
/// until the whole flood is in the log: none may take 2 s.
fn flood_while_probing(pod: &Pod, gate: &Gate) {
    let t0 = Instant::now();
    gate.open();
    let mut max_latency = Duration::ZERO;
    let mut probes_while_flooding = 0;
    let mut flooded = false;
    while t0.elapsed() < Duration::from_secs(20) {
        let t = Instant::now();
        let gp = pod.call(GET_POD, json!({})).ok();
        let c = pod.get("c1");
        max_latency = max_latency.max(t.elapsed());
        assert_eq!(gp["running"], json!(1), "{gp}");
        let written = c["logBytesWritten"].as_u64().unwrap_or(0) as usize;
        if written >= FLOOD {
            flooded = true;
            break;
        }
        if written > 0 {
            probes_while_flooding += 1;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let flood_time = t0.elapsed();
    assert!(
        flooded,
        "the container's {FLOOD} bytes did not reach the log within 20 s (logBytesWritten {})",
        pod.get("c1")["logBytesWritten"]
    );
    assert!(
        max_latency < Duration::from_secs(2),
        "GetPod/GetContainer took up to {max_latency:?} during the flood"
    );
    eprintln!(
        "flood of {FLOOD} bytes logged in {flood_time:?}; {probes_while_flooding} probes during it, max latency {max_latency:?}"
    );
}

/// The stuck client, reading at last, finds it was cut off: an error
/// frame or EOF, never the whole output nor the exit frame.
fn assert_cut_off(stuck: &mut Upgraded) {
    let mut cs = Collected::default();
    stuck.collect(&mut cs, Duration::from_secs(10));
    assert!(
        cs.error.is_some() || cs.eof,
        "stuck client: neither error frame nor EOF: {:?}",
        (cs.stdout.len(), &cs.error, cs.exit, cs.eof)
    );
    assert_eq!(
        cs.exit, None,
        "the stuck client was not cut off: got the exit frame"
    );
    assert!(
        cs.stdout.len() < FLOOD,
        "the stuck client received all {} bytes",
        cs.stdout.len()
    );
    eprintln!(
        "stuck client: {} bytes, error {:?}, eof {}",
        cs.stdout.len(),
        cs.error,
        cs.eof
    );
}

#[test]
fn attach_stuck_client_does_not_block() {
    let pod = Pod::start("at-stuck");
    let g1 = pod.gate("flood");
    let g2 = pod.gate("end");
    let script = format!(
        "{}; {}",
        g1.script(&format!("head -c {FLOOD} /dev/zero | tr '\\000' a")),
        g2.script("echo; echo end; exit 0")
    );
    pod.run("c1", &["sh", "-c", &script]);

    // The stuck client: attaches, then never reads.
    let (fs_, mut stuck) = Upgraded::open(&pod, ATTACH, json!({ "id": "c1" }));
    assert_no_error(&fs_);

    flood_while_probing(&pod, &g1);

    // A client that reads, attached after the flood, sees the end and the exit frame.
    let (fr, mut reader) = Upgraded::open(&pod, ATTACH, json!({ "id": "c1" }));
    assert_no_error(&fr);
    assert_eq!(params_of(&fr)["stdin"], json!(false), "{fr}");
    let t1 = Instant::now();
    g2.open();
    let w = pod.wait("c1");
    assert!(
        t1.elapsed() < Duration::from_secs(10),
        "WaitContainer took {:?}",
        t1.elapsed()
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    let mut cr = Collected::default();
    reader.collect(&mut cr, Duration::from_secs(10));
    assert!(
        cr.stdout_text().ends_with("end\n"),
        "reader: {:?}",
        trunc(&cr.stdout_text())
    );
    assert_eq!(cr.exit, Some(0), "reader sees the exit frame: {cr:?}");
    assert_eq!(cr.error, None);

    // The log has every byte.
    let log = pod.log("c1");
    let (text, records) = cri_text_len(&log);
    assert_eq!(
        text,
        FLOOD + "end".len(),
        "log text bytes ({records} records)"
    );
    assert_cut_off(&mut stuck);
}

#[test]
fn attach_stdin_once_closes_stdin_when_the_client_leaves() {
    let pod = Pod::start("at-once");
    // `cat` ends when its stdin reaches end of file.
    pod.create_with(
        "c1",
        &["sh", "-c", "cat; echo stdin-closed"],
        json!({ "stdin": true, "stdinOnce": true }),
    );
    pod.start_container("c1");
    let (first, mut a) = Upgraded::open(&pod, ATTACH, json!({ "id": "c1", "stdin": true }));
    assert_eq!(params_of(&first)["stdin"], json!(true), "{first}");
    let mut ca = Collected::default();
    a.stdin(b"line\n");
    a.wait_stdout(&mut ca, "line", Duration::from_secs(10));
    assert_eq!(pod.get("c1")["status"], json!("running"));
    // The client leaves without closing stdin itself: with stdinOnce the
    // container's stdin closes, cat ends, the container exits.
    drop(a);
    let w = pod.wait("c1");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(pod.log("c1").contains("stdin-closed"), "{}", pod.log("c1"));
}
