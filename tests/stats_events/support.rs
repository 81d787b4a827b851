//! Helpers of the stats and events tests: a WatchEvents subscription, the
//! Event and monitor checks, and readers of cgroup files.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const MIB: u64 = 1024 * 1024;

/// A pod name unique to this test process, so parallel runs of the test
/// binary never share the cgroup parent /podmon/<pod>.
pub fn pod_name(base: &str) -> String {
    format!("se-{base}-{}", std::process::id())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A WatchEvents subscription.
pub struct Watch {
    client: Client,
    /// The first reply's `containers`.
    pub snapshot: Vec<Value>,
}

impl Watch {
    /// Subscribes (with `more`) and reads the first reply.
    #[track_caller]
    pub fn start(socket: &Path, params: Value) -> Watch {
        let mut client = Client::connect(socket);
        client.send_more(WATCH_EVENTS, params);
        let first = client.recv();
        let p = first.ok();
        assert!(
            first.continues(),
            "the first WatchEvents reply must continue: {}",
            first.0
        );
        assert!(
            !present(&p, "event"),
            "the first WatchEvents reply carries the state, not an event: {p}"
        );
        let snapshot = p["containers"]
            .as_array()
            .unwrap_or_else(|| panic!("the first WatchEvents reply has no containers: {p}"))
            .clone();
        Watch { client, snapshot }
    }

    /// The next event, or None if none arrives within `timeout`.
    #[track_caller]
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        self.client.set_read_timeout(timeout);
        match self.client.read_raw() {
            Ok(Some(b)) => {
                let v: Value = serde_json::from_slice(&b).unwrap_or_else(|e| {
                    panic!("reply is not JSON ({e}): {:?}", String::from_utf8_lossy(&b))
                });
                let r = Reply(v);
                let p = r.ok();
                assert!(r.continues(), "an event reply must continue: {}", r.0);
                assert!(
                    !present(&p, "containers"),
                    "only the first reply carries containers: {p}"
                );
                let e = p["event"].clone();
                assert!(e.is_object(), "a later reply without event: {p}");
                assert_event_shape(&e);
                Some(e)
            }
            Ok(None) => panic!("the server closed the WatchEvents connection"),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("reading an event failed: {e}"),
        }
    }

    /// Reads events until `done` says the list is complete; panics after `timeout`.
    #[track_caller]
    pub fn collect_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> Vec<Value> {
        let end = Instant::now() + timeout;
        let mut got = vec![];
        while !done(&got) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "events did not complete within {timeout:?}; got {}:\n{}",
                    got.len(),
                    show(&got)
                );
            }
            if let Some(e) = self.next(left.min(Duration::from_secs(1))) {
                got.push(e);
            }
        }
        got
    }

    /// Events that arrive within `quiet` (to show nothing more comes).
    pub fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut got = vec![];
        while let Some(e) = self.next(quiet) {
            got.push(e);
        }
        got
    }
}

/// Checks the fields every Event has, and that none is undeclared.
#[track_caller]
pub fn assert_event_shape(e: &Value) {
    let kinds = [
        "created",
        "started",
        "exited",
        "oom",
        "execStarted",
        "execExited",
        "deleted",
        "logDropped",
    ];
    assert!(
        e["kind"].as_str().is_some_and(|k| kinds.contains(&k)),
        "event kind: {e}"
    );
    assert!(
        e["id"].as_str().is_some_and(|s| !s.is_empty()),
        "event id: {e}"
    );
    assert!(
        e["timestamp"].as_str().is_some_and(is_rfc3339_nano_utc),
        "event timestamp: {e}"
    );
    assert!(e["seq"].as_u64().is_some_and(|s| s > 0), "event seq: {e}");
    // The fields of `type Event(...)` in the IDL (idl_type_fields("Event")
    // would find `type EventKind` first).
    let fields = [
        "seq",
        "kind",
        "id",
        "timestamp",
        "exitCode",
        "signal",
        "oomKilled",
        "execId",
        "bytesDropped",
    ];
    let extra: Vec<&String> = e
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !fields.contains(&k.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "Event has undeclared fields {extra:?}: {e}"
    );
}

pub fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap_or("?")
}

pub fn eid(e: &Value) -> &str {
    e["id"].as_str().unwrap_or("?")
}

pub fn show(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("  {e}\n"))
        .collect::<String>()
}

pub fn of<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| eid(e) == id).collect()
}

pub fn kinds_of(events: &[Value], id: &str) -> Vec<String> {
    of(events, id).iter().map(|e| kind(e).to_string()).collect()
}

/// Stats of one container: (stats, monitor).
#[track_caller]
pub fn stats_of(socket: &Path, id: &str) -> (Value, Value) {
    let p = Client::connect(socket)
        .call(STATS, json!({ "id": id }))
        .ok();
    let s = p["stats"].clone();
    assert_eq!(s["id"], json!(id), "Stats of {id}: {p}");
    assert!(
        s["timestamp"].as_str().is_some_and(is_rfc3339_nano_utc),
        "Stats timestamp: {p}"
    );
    (s, p["monitor"].clone())
}

pub fn num(v: &Value) -> Option<u64> {
    v.as_u64()
}

/// Number field `path` ("memory.current") of `v`; panics showing `v` when absent.
#[track_caller]
pub fn must(v: &Value, path: &str) -> u64 {
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    num(cur).unwrap_or_else(|| panic!("{path} is not a number: {v}"))
}

/// Checks the monitor block of Stats/GetPod against the server process.
#[track_caller]
pub fn assert_monitor(m: &Value, server_pid: u32) {
    assert_eq!(
        m["pid"],
        json!(server_pid),
        "monitor.pid is not the server's pid: {m}"
    );
    let rss = must(m, "rssBytes");
    assert!(rss > 0, "monitor.rssBytes: {m}");
    // Within a factor of the kernel's own view (VmRSS moves a little).
    let status = fs::read_to_string(format!("/proc/{server_pid}/status")).unwrap();
    let vmrss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let real = vmrss_kb * 1024;
    assert!(
        rss >= real / 2 && rss <= real * 2,
        "monitor.rssBytes {rss} far from the server's VmRSS {real}: {m}"
    );
    let fds = must(m, "openFds");
    assert!(fds > 0, "monitor.openFds: {m}");
    let real_fds = fs::read_dir(format!("/proc/{server_pid}/fd"))
        .unwrap()
        .count() as u64;
    assert!(
        fds.abs_diff(real_fds) <= 16,
        "monitor.openFds {fds} far from /proc/{server_pid}/fd ({real_fds}): {m}"
    );
}

/// A v1 controller's directory of container `id` in pod `pod` (runc's cgroupsPath).
pub fn v1_dir(controller: &str, pod: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("podmon")
        .join(pod)
        .join(id)
}

pub fn read_u64(p: &Path) -> u64 {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{} is not a number: {e}", p.display()))
}

/// A flat-keyed value ("usage_usec 123") of a cgroup file.
pub fn keyed(p: &Path, key: &str) -> u64 {
    let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {key} in {}: {text}", p.display()))
}

/// Waits until the container's log contains `needle`.
#[track_caller]
pub fn wait_log(pod: &Pod, id: &str, needle: &str, timeout: Duration) {
    let ok = wait_until(timeout, || {
        fs::read_to_string(pod.log_path(id)).is_ok_and(|l| l.contains(needle))
    });
    assert!(
        ok,
        "{id}'s log never contained {needle:?}: {:?}",
        fs::read_to_string(pod.log_path(id)).unwrap_or_default()
    );
}

/// Script that holds about `bytes` bytes in a shell variable, says "ready", then sleeps.
pub fn hold_memory_script(bytes: u64) -> String {
    format!(r#"x=$(head -c {bytes} /dev/zero | tr "\0" a); echo ready; sleep 100; echo ${{#x}}"#)
}
