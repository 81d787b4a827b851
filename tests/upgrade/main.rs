//! Live upgrade: `podmon upgrade` (Reexec) and SIGHUP make the monitor
//! exec its binary in place while containers run and write. Same pid, so
//! it stays their parent: an exit during the upgrade keeps its real code;
//! the log is byte-exact; the event journal goes on without a gap or a
//! repeat; new containers work afterwards.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Lines the flooding container writes (about 20 MB), in two floods with a
/// pause between them, so it is still running (and maybe writing) when
/// the upgrade comes.
const LINES: u32 = 3_000_000;

/// The numbers of the log's stdout records, joined across partial ones.
fn numbers(log: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut line = String::new();
    for l in log.lines() {
        let mut f = l.splitn(4, ' ');
        let (_, stream, tag, text) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap_or(""),
        );
        assert_eq!(stream, "stdout", "{l}");
        line.push_str(text);
        if tag == "F" {
            out.push(
                line.parse()
                    .unwrap_or_else(|_| panic!("not a number: {line:?}")),
            );
            line.clear();
        }
    }
    out
}

fn started_at(pod: &Pod) -> Value {
    pod.call("io.podmon.Pod.GetPod", json!({})).ok()["startedAt"].clone()
}

/// Every event from the first, as WatchEvents(since: 0) replays them.
fn replayed(pod: &Pod, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut c = pod.client();
    c.set_read_timeout(Duration::from_secs(10));
    c.send_more("io.podmon.Pod.WatchEvents", json!({"since": 0}));
    let _state = c.recv();
    let mut events = Vec::new();
    while !until(&events) {
        events.push(c.recv().ok()["event"].clone());
    }
    events
}

#[test]
fn upgrade_keeps_the_log_the_exit_codes_and_the_events() {
    let pod = Pod::start("upgrade");
    let before = started_at(&pod);
    let half = LINES / 2;
    let flood = format!("seq 0 {}; sleep 2; seq {half} {}", half - 1, LINES - 1);
    pod.run("flood", &["sh", "-c", &flood]);
    std::thread::sleep(Duration::from_millis(50));
    pod.run("late", &["sh", "-c", "sleep 0.3; exit 7"]);
    let out = pod.cli_ok(&["upgrade"]);
    assert!(
        out.stdout.starts_with("upgraded: podmon "),
        "{}",
        out.stdout
    );
    assert_ne!(started_at(&pod), before, "the monitor was not exec'd");
    let log = pod.server_log_text();
    assert!(log.contains("re-adopted container flood"), "{log}");

    let late = pod.wait("late");
    assert_eq!(late["exitCode"], json!(7), "{late}");
    let flood = pod.wait("flood");
    assert_eq!(flood["exitCode"], json!(0), "{flood}");
    let want: Vec<u32> = (0..LINES).collect();
    assert!(
        numbers(&pod.log("flood")) == want,
        "the log lost or repeated lines"
    );

    // A container made after the upgrade works as any other.
    pod.run("after", &["sh", "-c", "echo hello; exit 2"]);
    assert_eq!(pod.wait("after")["exitCode"], json!(2));
    assert_eq!(pod.log("after").lines().count(), 1);

    let events = replayed(&pod, |e| {
        e.iter().filter(|e| e["kind"] == json!("exited")).count() == 3
    });
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    for id in ["flood", "late", "after"] {
        for kind in ["created", "started", "exited"] {
            let n = events
                .iter()
                .filter(|e| e["id"] == json!(id) && e["kind"] == json!(kind))
                .count();
            assert_eq!(n, 1, "{kind} of {id}: {events:?}");
        }
    }
}

#[test]
fn sighup_upgrades_in_place() {
    let pod = Pod::start("upgrade-hup");
    pod.run("sleeper", &["sleep", "1000"]);
    let before = started_at(&pod);
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(pod.pid as i32, libc::SIGHUP) };
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        // A connection the old image took just before it stopped is
        // closed by the exec: retried, as a client would.
        let out = pod.cli(&["--json", "pod"]);
        let now: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        if out.status.success() && now["startedAt"] != before {
            assert_eq!(now["monitor"]["pid"], json!(pod.pid), "{now}");
            break;
        }
        assert!(
            Instant::now() < end,
            "no upgrade after SIGHUP:\n{}",
            pod.server_log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pod.get("sleeper")["status"], json!("running"));
    pod.kill("sleeper", "KILL");
    assert_eq!(pod.wait("sleeper")["exitCode"], json!(137));
}

#[test]
fn an_exit_while_the_monitor_upgrades_keeps_its_code() {
    let pod = Pod::start("upgrade-exit");
    pod.run("quick", &["sleep", "1000"]);
    let pid = pod.get("quick")["pid"].as_i64().expect("pid") as i32;
    let before = started_at(&pod);
    // Stopped, the monitor cannot see the exit before it is told to
    // upgrade: both reach it at once when it goes on, and whichever it
    // handles first, the exit code is the real one.
    // SAFETY: plain kill(2) on our own child and on the container's init.
    unsafe {
        libc::kill(pod.pid as i32, libc::SIGSTOP);
        libc::kill(pid, libc::SIGKILL);
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: as above.
    unsafe {
        libc::kill(pod.pid as i32, libc::SIGHUP);
        libc::kill(pod.pid as i32, libc::SIGCONT);
    }
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let out = pod.cli(&["--json", "pod"]);
        let now: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        if out.status.success() && now["startedAt"] != before {
            break;
        }
        assert!(
            Instant::now() < end,
            "no upgrade:\n{}",
            pod.server_log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let w = pod.wait("quick");
    assert_eq!(w["exitCode"], json!(137), "{w}");
    assert_eq!(w["signal"], json!("SIGKILL"), "{w}");
}
