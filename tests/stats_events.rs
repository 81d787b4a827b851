//! Stats, GetPod, WatchEvents and OOM reporting against real containers.
//!
//! Every test starts its own `podmon serve` (see tests/common) and checks
//! what podmon reports against what the containers really did: a container
//! that really runs out of memory, a busy loop, a shell holding memory, a
//! fork loop against a pids limit, a flood of output under a drop limit.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// A pod name unique to this test process, so parallel runs of the test
/// binary never share the cgroup parent /podmon/<pod>.
fn pod_name(base: &str) -> String {
    format!("se-{base}-{}", std::process::id())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A WatchEvents subscription.
struct Watch {
    client: Client,
    /// The first reply's `containers`.
    snapshot: Vec<Value>,
}

impl Watch {
    /// Subscribes (with `more`) and reads the first reply.
    #[track_caller]
    fn start(socket: &Path, params: Value) -> Watch {
        let mut client = Client::connect(socket);
        client.send_more("io.podmon.Pod.WatchEvents", params);
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
    fn next(&mut self, timeout: Duration) -> Option<Value> {
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
    fn collect_until(
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
    fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut got = vec![];
        while let Some(e) = self.next(quiet) {
            got.push(e);
        }
        got
    }
}

/// Checks the fields every Event has, and that none is undeclared.
#[track_caller]
fn assert_event_shape(e: &Value) {
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
    // The fields of `type Event(...)` in the IDL (idl_type_fields("Event")
    // would find `type EventKind` first).
    let fields = [
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

fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap_or("?")
}

fn eid(e: &Value) -> &str {
    e["id"].as_str().unwrap_or("?")
}

fn show(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("  {e}\n"))
        .collect::<String>()
}

fn of<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| eid(e) == id).collect()
}

fn kinds_of(events: &[Value], id: &str) -> Vec<String> {
    of(events, id).iter().map(|e| kind(e).to_string()).collect()
}

/// Stats of one container: (stats, monitor).
#[track_caller]
fn stats_of(socket: &Path, id: &str) -> (Value, Value) {
    let p = Client::connect(socket)
        .call("io.podmon.Pod.Stats", json!({ "id": id }))
        .ok();
    let s = p["stats"].clone();
    assert_eq!(s["id"], json!(id), "Stats of {id}: {p}");
    assert!(
        s["timestamp"].as_str().is_some_and(is_rfc3339_nano_utc),
        "Stats timestamp: {p}"
    );
    (s, p["monitor"].clone())
}

fn num(v: &Value) -> Option<u64> {
    v.as_u64()
}

/// Number field `path` ("memory.current") of `v`; panics showing `v` when absent.
#[track_caller]
fn must(v: &Value, path: &str) -> u64 {
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    num(cur).unwrap_or_else(|| panic!("{path} is not a number: {v}"))
}

/// Checks the monitor block of Stats/GetPod against the server process.
#[track_caller]
fn assert_monitor(m: &Value, server_pid: u32) {
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
fn v1_dir(controller: &str, pod: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("podmon")
        .join(pod)
        .join(id)
}

fn read_u64(p: &Path) -> u64 {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{} is not a number: {e}", p.display()))
}

/// A flat-keyed value ("usage_usec 123") of a cgroup file.
fn keyed(p: &Path, key: &str) -> u64 {
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
fn wait_log(pod: &Pod, id: &str, needle: &str, timeout: Duration) {
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
fn hold_memory_script(bytes: u64) -> String {
    format!(r#"x=$(head -c {bytes} /dev/zero | tr "\0" a); echo ready; sleep 100; echo ${{#x}}"#)
}

// ---------------------------------------------------------------------------
// 1. OOM and exit reasons
// ---------------------------------------------------------------------------

#[test]
fn oom_kill_is_reported_by_wait_get_stats_and_events() {
    let oom_dir = test_base().join(format!("oom-files.{}", std::process::id()));
    let _ = fs::remove_dir_all(&oom_dir);
    let pod = Pod::start_with(
        &pod_name("oom"),
        PodOptions {
            extra_args: vec!["--oom-dir".into(), oom_dir.display().to_string()],
            ..PodOptions::default()
        },
    );
    let mut w = Watch::start(&pod.socket, json!({}));
    assert!(
        w.snapshot.is_empty(),
        "a new pod has no containers: {:?}",
        w.snapshot
    );

    let limit = 32 * MIB;
    // The shell's command substitution reads 200 MB into memory: far over 32 MiB.
    pod.create_with(
        "hog",
        &[
            "sh",
            "-c",
            r#"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}"#,
        ],
        json!({ "memoryMax": limit }),
    );
    // The limit really is in place (v1 here: memory.limit_in_bytes).
    let mem_dir = v1_dir("memory", &pod.name, "hog");
    assert_eq!(
        read_u64(&mem_dir.join("memory.limit_in_bytes")),
        limit,
        "runc did not set the memory limit"
    );
    pod.start_container("hog");
    let wr = pod.wait("hog");
    // It really was the OOM killer: the kernel's own counter says so.
    let kernel_kills = keyed(&mem_dir.join("memory.oom_control"), "oom_kill");
    assert!(
        kernel_kills >= 1,
        "the container did not run out of memory (oom_kill {kernel_kills}); wait: {wr}; log: {}",
        pod.log("hog")
    );
    assert!(
        !pod.log("hog").contains("survived"),
        "the shell survived: {}",
        pod.log("hog")
    );

    assert_eq!(wr["exitCode"], json!(137), "WaitContainer: {wr}");
    assert_eq!(wr["signal"], json!("SIGKILL"), "WaitContainer: {wr}");
    assert_eq!(wr["oomKilled"], json!(true), "WaitContainer: {wr}");
    assert_eq!(wr["reason"], json!("OOMKilled"), "WaitContainer: {wr}");
    assert!(
        oom_dir.join("hog").is_file(),
        "--oom-dir holds a file for the OOM-killed container"
    );
    assert_eq!(
        wr["container"]["oomKilled"],
        json!(true),
        "WaitContainer: {wr}"
    );

    let c = pod.get("hog");
    assert_container_shape(&pod, &c, "hog");
    assert_eq!(c["status"], json!("stopped"), "{c}");
    assert_eq!(c["oomKilled"], json!(true), "GetContainer: {c}");
    assert_eq!(c["exitReason"], json!("OOMKilled"), "GetContainer: {c}");
    assert_eq!(c["exitCode"], json!(137), "GetContainer: {c}");
    assert_eq!(c["signal"], json!("SIGKILL"), "GetContainer: {c}");

    let (s, m) = stats_of(&pod.socket, "hog");
    assert_monitor(&m, pod.pid);
    assert_eq!(s["cgroupVersion"], json!(1), "{s}");
    let kills = must(&s, "memory.oomKills");
    assert!(kills >= 1, "Stats memory.oomKills after an OOM kill: {s}");
    assert_eq!(
        kills, kernel_kills,
        "Stats oomKills vs memory.oom_control: {s}"
    );
    assert_eq!(must(&s, "memory.limit"), limit, "{s}");
    let peak = must(&s, "memory.peak");
    assert!(
        peak >= limit - 2 * MIB && peak <= limit,
        "memory.peak {peak} should be near the {limit} limit it hit: {s}"
    );

    let ev = w.collect_until(Duration::from_secs(20), |got| {
        got.iter().any(|e| kind(e) == "exited")
    });
    let exited: Vec<&Value> = of(&ev, "hog")
        .into_iter()
        .filter(|e| kind(e) == "exited")
        .collect();
    assert_eq!(exited.len(), 1, "events:\n{}", show(&ev));
    let x = exited[0];
    assert_eq!(x["oomKilled"], json!(true), "exited event: {x}");
    assert_eq!(x["exitCode"], json!(137), "exited event: {x}");
    assert_eq!(x["signal"], json!("SIGKILL"), "exited event: {x}");
    // Anything late (an oom event must not come after exited, but look).
    let mut ev = ev;
    ev.extend(w.drain(Duration::from_millis(300)));
    let kinds = kinds_of(&ev, "hog");
    assert_eq!(
        kinds.iter().filter(|k| *k == "exited").count(),
        1,
        "events:\n{}",
        show(&ev)
    );

    // Last, the oom event: present, once per kill the kernel counted,
    // between started and exited.
    let ooms = kinds.iter().filter(|k| *k == "oom").count() as u64;
    assert!(
        ooms >= 1,
        "no oom event for a container the OOM killer killed ({kernel_kills} kill(s) in \
         memory.oom_control, oomKilled true everywhere else); events:\n{}",
        show(&ev)
    );
    assert!(
        ooms <= kernel_kills,
        "{ooms} oom events for {kernel_kills} kills:\n{}",
        show(&ev)
    );
    let want: Vec<&str> = ["created", "started"]
        .into_iter()
        .chain(std::iter::repeat_n("oom", ooms as usize))
        .chain(["exited"])
        .collect();
    assert_eq!(kinds, want, "order of hog's events:\n{}", show(&ev));
}

#[test]
fn exit_reasons_completed_error_and_plain_sigkill() {
    let pod = Pod::start(&pod_name("reasons"));
    pod.run("ok", &["true"]);
    pod.run("err", &["sh", "-c", "exit 3"]);
    // Has a memory limit (so an OOM watch is set up) but is killed by us.
    pod.create_with(
        "victim",
        &["sleep", "100"],
        json!({ "memoryMax": 64 * MIB }),
    );
    pod.start_container("victim");

    let ok = pod.wait("ok");
    assert_eq!(ok["exitCode"], json!(0), "{ok}");
    assert_eq!(ok["oomKilled"], json!(false), "{ok}");
    assert_eq!(ok["reason"], json!("Completed"), "{ok}");
    assert!(!present(&ok, "signal"), "{ok}");
    assert_eq!(pod.get("ok")["exitReason"], json!("Completed"));

    let err = pod.wait("err");
    assert_eq!(err["exitCode"], json!(3), "{err}");
    assert_eq!(err["oomKilled"], json!(false), "{err}");
    assert_eq!(err["reason"], json!("Error"), "{err}");
    assert_eq!(pod.get("err")["exitReason"], json!("Error"));

    pod.kill("victim", "KILL");
    let v = pod.wait("victim");
    assert_eq!(v["exitCode"], json!(137), "{v}");
    assert_eq!(v["signal"], json!("SIGKILL"), "{v}");
    assert_eq!(
        v["oomKilled"],
        json!(false),
        "SIGKILL from KillContainer is no OOM kill: {v}"
    );
    assert_eq!(v["reason"], json!("Error"), "{v}");
    let c = pod.get("victim");
    assert_eq!(c["oomKilled"], json!(false), "{c}");
    assert_eq!(c["exitReason"], json!("Error"), "{c}");
    let (s, _) = stats_of(&pod.socket, "victim");
    assert_eq!(must(&s, "memory.oomKills"), 0, "{s}");
}

// ---------------------------------------------------------------------------
// 2. Stats
// ---------------------------------------------------------------------------

#[test]
fn stats_cpu_usage_grows_with_a_busy_loop() {
    let pod = Pod::start(&pod_name("cpu"));
    pod.run("burn", &["sh", "-c", "while :; do :; done"]);
    let acct = v1_dir("cpuacct", &pod.name, "burn").join("cpuacct.usage");

    let (s1, m) = stats_of(&pod.socket, "burn");
    assert_monitor(&m, pod.pid);
    assert_eq!(s1["cgroupVersion"], json!(1), "{s1}");
    let u1 = must(&s1, "cpu.usageNs");
    thread::sleep(Duration::from_millis(1000));
    let before = read_u64(&acct);
    let (s2, _) = stats_of(&pod.socket, "burn");
    let after = read_u64(&acct);
    let u2 = must(&s2, "cpu.usageNs");
    assert!(
        u2 >= u1 + 200_000_000,
        "a busy loop for 1 s should add at least 0.2 s of CPU: {u1} -> {u2}"
    );
    assert!(
        before <= u2 && u2 <= after,
        "cpu.usageNs {u2} is not the cgroup's cpuacct.usage (between {before} and {after})"
    );
    let user = must(&s2, "cpu.userNs");
    let system = must(&s2, "cpu.systemNs");
    assert!(user > 0, "{s2}");
    // USER_HZ granularity: user+system is within 100 ms of usage... roughly.
    assert!(
        user + system <= u2 + 200_000_000,
        "user {user} + system {system} exceeds usage {u2} by far"
    );
    pod.kill("burn", "KILL");
    pod.wait("burn");
}

#[test]
fn stats_memory_pids_log_and_get_pod() {
    let pod = Pod::start(&pod_name("mem"));
    let limit = 256 * MIB;
    pod.create_with(
        "holder",
        &["sh", "-c", &hold_memory_script(50_000_000)],
        json!({ "memoryMax": limit }),
    );
    pod.start_container("holder");

    // A fork loop against pidsMax 20 (the shell itself counts).
    pod.create_with(
        "forker",
        &[
            "sh",
            "-c",
            // A failed fork ends the (sub)shell that tried it: the subshell
            // forks until it cannot, the outer shell stays.
            "(i=0; while [ $i -lt 40 ]; do sleep 10 & i=$((i+1)); done); echo spawned; exec sleep 100",
        ],
        json!({ "pidsMax": 20 }),
    );
    pod.start_container("forker");

    // One that writes, waits for the host, writes more.
    let gate = pod.gate("talker");
    pod.run(
        "talker",
        &[
            "sh",
            "-c",
            &gate.script(
                "i=0; while [ $i -lt 100 ]; do echo line $i of more output; i=$((i+1)); done",
            ),
        ],
    );
    // Never started, and one stopped.
    pod.create("idle", &["true"]);
    pod.run("done", &["sh", "-c", "exit 5"]);
    pod.wait("done");

    // --- pids: never above the limit, reaches it (or forks fail).
    let mut seen = vec![];
    let mut reached = false;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let (s, _) = stats_of(&pod.socket, "forker");
        assert_eq!(must(&s, "pids.limit"), 20, "{s}");
        let cur = must(&s, "pids.current");
        seen.push(cur);
        assert!(cur <= 20, "pids.current {cur} above pids.max 20: {s}");
        if cur == 20 {
            reached = true;
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let log = fs::read_to_string(pod.log_path("forker")).unwrap_or_default();
    let fork_failed = log.contains("can't fork");
    assert!(
        reached || fork_failed,
        "pids.current never reached 20 ({seen:?}) and no fork failed; log: {log}"
    );
    assert_eq!(
        read_u64(&v1_dir("pids", &pod.name, "forker").join("pids.max")),
        20,
        "runc's pids.max"
    );
    wait_log(&pod, "forker", "can't fork", Duration::from_secs(10));
    wait_log(&pod, "forker", "spawned", Duration::from_secs(10));
    let (s, _) = stats_of(&pod.socket, "forker");
    let cur = must(&s, "pids.current");
    assert!(
        (2..=20).contains(&cur),
        "pids.current of the forker's survivors: {s}"
    );

    // --- memory: ~50 MB held, under the 256 MiB limit.
    wait_log(&pod, "holder", "ready", Duration::from_secs(20));
    let (s, m) = stats_of(&pod.socket, "holder");
    assert_monitor(&m, pod.pid);
    assert_eq!(s["cgroupVersion"], json!(1), "{s}");
    let cur = must(&s, "memory.current");
    assert!(cur > 40_000_000, "memory.current with 50 MB held: {s}");
    assert!(cur < limit, "{s}");
    assert_eq!(
        must(&s, "memory.limit"),
        limit,
        "memory.limit is memoryMax: {s}"
    );
    assert!(must(&s, "memory.peak") >= cur, "{s}");
    assert!(
        must(&s, "memory.anon") > 40_000_000,
        "anon with 50 MB held: {s}"
    );
    assert_eq!(must(&s, "memory.oomKills"), 0, "{s}");
    let real = read_u64(&v1_dir("memory", &pod.name, "holder").join("memory.usage_in_bytes"));
    assert!(
        cur.abs_diff(real) < 4 * MIB,
        "memory.current {cur} vs memory.usage_in_bytes {real}"
    );
    // A container without a memory limit reports none.
    let (sf, _) = stats_of(&pod.socket, "forker");
    assert!(
        !present(&sf["memory"], "limit"),
        "unlimited memory has no limit: {sf}"
    );

    // --- log bytes grow with output.
    let (t1, _) = stats_of(&pod.socket, "talker");
    let b1 = must(&t1, "log.bytesWritten");
    assert_eq!(b1, 0, "nothing written yet: {t1}");
    gate.open();
    let tw = pod.wait("talker");
    assert_eq!(tw["exitCode"], json!(0), "{tw}");
    let (t2, _) = stats_of(&pod.socket, "talker");
    let b2 = must(&t2, "log.bytesWritten");
    let file_len = fs::metadata(pod.log_path("talker")).unwrap().len();
    assert!(
        b2 > b1 + 100 * 20,
        "log.bytesWritten {b1} -> {b2} after 100 lines"
    );
    assert_eq!(
        b2, file_len,
        "log.bytesWritten vs the log file's size: {t2}"
    );
    assert_eq!(must(&t2, "log.bytesDropped"), 0, "{t2}");
    assert_eq!(
        pod.get("talker")["logBytesWritten"],
        json!(b2),
        "ContainerInfo.logBytesWritten vs Stats"
    );

    // --- Stats of every container: one reply each with more.
    let replies = pod.client().call_more("io.podmon.Pod.Stats", json!({}));
    let mut ids: Vec<String> = vec![];
    for (i, r) in replies.iter().enumerate() {
        let p = r.ok();
        assert_eq!(
            r.continues(),
            i + 1 < replies.len(),
            "only the last Stats reply ends the call: {}",
            r.0
        );
        assert_monitor(&p["monitor"], pod.pid);
        ids.push(
            p["stats"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{p}"))
                .into(),
        );
    }
    ids.sort();
    assert_eq!(
        ids,
        ["done", "forker", "holder", "idle", "talker"],
        "Stats with more"
    );
    let no_more = pod.call("io.podmon.Pod.Stats", json!({}));
    no_more.err("org.varlink.service.ExpectedMore");
    let none = pod.call("io.podmon.Pod.Stats", json!({ "id": "nope" }));
    assert_eq!(
        none.err("io.podmon.Pod.NoSuchContainer")["id"],
        json!("nope")
    );

    // --- GetPod.
    let g = pod.call("io.podmon.Pod.GetPod", json!({})).ok();
    assert_eq!(g["name"], json!(pod.name), "{g}");
    assert_eq!(g["version"], json!(env!("CARGO_PKG_VERSION")), "{g}");
    assert_eq!(g["runtime"], json!(runc().display().to_string()), "{g}");
    assert_recent_timestamp("GetPod.startedAt", &g["startedAt"]);
    assert!(
        g["uptimeSeconds"]
            .as_f64()
            .is_some_and(|u| u > 0.0 && u < 120.0),
        "{g}"
    );
    // holder and forker run; idle is created; done and talker stopped.
    assert_eq!(
        (
            g["created"].clone(),
            g["running"].clone(),
            g["stopped"].clone()
        ),
        (json!(1), json!(2), json!(2)),
        "GetPod counts: {g}"
    );
    let mb = must(&g, "memoryBytes");
    assert!(
        mb > 40_000_000,
        "memoryBytes with 50 MB held by a running container: {g}"
    );
    assert_monitor(&g["monitor"], pod.pid);

    // After killing the holder its memory leaves the pod's sum.
    pod.kill("holder", "KILL");
    pod.wait("holder");
    let g2 = pod.call("io.podmon.Pod.GetPod", json!({})).ok();
    assert_eq!(g2["running"], json!(1), "{g2}");
    assert_eq!(g2["stopped"], json!(3), "{g2}");
    assert!(
        must(&g2, "memoryBytes") < 20_000_000,
        "holder stopped: {g2}"
    );

    pod.call(
        "io.podmon.Pod.KillContainer",
        json!({ "id": "forker", "signal": "KILL", "all": true }),
    )
    .ok();
    pod.wait("forker");
}

// ---------------------------------------------------------------------------
// 4. Events
// ---------------------------------------------------------------------------

#[test]
fn events_for_twenty_quick_containers_in_order_and_exactly_once() {
    let pod = Pod::start(&pod_name("ev20"));
    let mut w = Watch::start(&pod.socket, json!({}));
    assert!(w.snapshot.is_empty(), "{:?}", w.snapshot);

    let code = |i: usize| (i % 4) as i64 * 2; // 0, 2, 4, 6
    let ids: Vec<String> = (0..20).map(|i| format!("q{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        if code(i) == 0 {
            pod.create(id, &["true"]);
        } else {
            pod.create(id, &["sh", "-c", &format!("exit {}", code(i))]);
        }
        pod.start_container(id);
    }
    let mut infos = vec![];
    for (i, id) in ids.iter().enumerate() {
        let w = pod.wait(id);
        assert_eq!(w["exitCode"], json!(code(i)), "{id}: {w}");
        infos.push(w["container"].clone());
    }
    for id in &ids {
        pod.delete(id, false);
    }

    let want = ids.len() * 4;
    let ev = w.collect_until(Duration::from_secs(30), |got| got.len() >= want);
    let extra = w.drain(Duration::from_millis(500));
    assert!(
        extra.is_empty(),
        "events beyond the expected {want}:\n{}",
        show(&extra)
    );

    // The exact multiset of (kind, id): nothing missing, nothing twice.
    let mut got: Vec<(String, String)> = ev
        .iter()
        .map(|e| (kind(e).to_string(), eid(e).to_string()))
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .flat_map(|id| {
            ["created", "started", "exited", "deleted"].map(|k| (k.to_string(), id.clone()))
        })
        .collect();
    expected.sort();
    assert_eq!(got, expected, "events (in arrival order):\n{}", show(&ev));

    for (i, id) in ids.iter().enumerate() {
        let x = of(&ev, id)
            .into_iter()
            .find(|e| kind(e) == "exited")
            .unwrap();
        assert_eq!(x["exitCode"], json!(code(i)), "{x}");
        assert_eq!(x["oomKilled"], json!(false), "{x}");
        assert!(!present(x, "signal"), "{x}");
    }

    // Order: each container's events come as created, started, exited,
    // deleted, and the stream's timestamps never go back.
    let wrong: Vec<String> = ids
        .iter()
        .filter(|id| kinds_of(&ev, id) != ["created", "started", "exited", "deleted"])
        .map(|id| format!("{id}: {:?}", kinds_of(&ev, id)))
        .collect();
    let ts: Vec<(i64, u32)> = ev
        .iter()
        .map(|e| rfc3339_to_unix(e["timestamp"].as_str().unwrap()))
        .collect();
    let back = ts.windows(2).filter(|p| p[0] > p[1]).count();
    // And a container's startedAt is not after its finishedAt.
    let time_travel: Vec<String> = infos
        .iter()
        .filter(|c| {
            let s = rfc3339_to_unix(c["startedAt"].as_str().unwrap_or_else(|| panic!("{c}")));
            let f = rfc3339_to_unix(c["finishedAt"].as_str().unwrap_or_else(|| panic!("{c}")));
            s > f
        })
        .map(|c| {
            format!(
                "{}: startedAt {} > finishedAt {}",
                c["id"], c["startedAt"], c["finishedAt"]
            )
        })
        .collect();
    assert!(
        wrong.is_empty() && back == 0 && time_travel.is_empty(),
        "events out of order for {} of {} containers: {wrong:#?}\n\
         {back} times an event's timestamp is earlier than the one before;\n\
         startedAt after finishedAt: {time_travel:#?}\nall events:\n{}",
        wrong.len(),
        ids.len(),
        show(&ev)
    );
}

#[test]
fn exec_and_log_drop_events() {
    let pod = Pod::start(&pod_name("evx"));
    pod.run("runner", &["sleep", "100"]);
    let mut w = Watch::start(&pod.socket, json!({}));
    assert_eq!(w.snapshot.len(), 1, "{:?}", w.snapshot);
    assert_eq!(w.snapshot[0]["id"], json!("runner"));
    assert_eq!(w.snapshot[0]["status"], json!("running"));

    let r = pod
        .call(
            "io.podmon.Pod.ExecSync",
            json!({ "id": "runner", "command": ["sh", "-c", "echo hi; exit 4"] }),
        )
        .ok();
    assert_eq!(r["exitCode"], json!(4), "{r}");
    assert_eq!(r["stdout"], json!("hi\n"), "{r}");

    let ev = w.collect_until(Duration::from_secs(20), |got| {
        got.iter().any(|e| kind(e) == "execExited")
    });
    assert_eq!(
        ev.iter().map(kind).collect::<Vec<_>>(),
        ["execStarted", "execExited"],
        "events:\n{}",
        show(&ev)
    );
    let exec_id = ev[0]["execId"]
        .as_str()
        .unwrap_or_else(|| panic!("execStarted without execId: {}", ev[0]));
    assert!(!exec_id.is_empty());
    assert_eq!(
        ev[1]["execId"],
        json!(exec_id),
        "the same exec: {}",
        show(&ev)
    );
    assert_eq!(ev[1]["exitCode"], json!(4), "{}", ev[1]);
    assert!(ev.iter().all(|e| eid(e) == "runner"), "{}", show(&ev));

    // A flood through a 1 kB/s drop limit.
    pod.create_with(
        "flood",
        &[
            "sh",
            "-c",
            "yes 0123456789012345678901234567890123456789 | head -c 300000; echo end",
        ],
        json!({ "logRateLimit": { "bytesPerSecond": 1000, "burst": 1000, "policy": "drop" } }),
    );
    pod.start_container("flood");
    let fw = pod.wait("flood");
    assert_eq!(fw["exitCode"], json!(0), "{fw}");
    let c = pod.get("flood");
    let dropped_total = must(&c, "logBytesDropped");
    assert!(
        dropped_total > 0,
        "nothing dropped from a 300 kB flood at 1 kB/s: {c}"
    );
    assert!(
        pod.log("flood").contains("podmon: dropped"),
        "no drop marker in the log"
    );

    let ev = w.collect_until(Duration::from_secs(20), |got| {
        // Both: podmon may send them in either order (see the order check below).
        ["started", "exited"]
            .iter()
            .all(|k| got.iter().any(|e| kind(e) == *k))
    });
    let fk = kinds_of(&ev, "flood");
    for k in ["created", "started", "exited"] {
        assert_eq!(
            fk.iter().filter(|x| *x == k).count(),
            1,
            "one {k} event for flood:\n{}",
            show(&ev)
        );
    }
    let drops: Vec<&Value> = ev.iter().filter(|e| kind(e) == "logDropped").collect();
    assert!(!drops.is_empty(), "no logDropped event:\n{}", show(&ev));
    let mut sum = 0;
    for d in &drops {
        assert_eq!(eid(d), "flood", "{d}");
        let b = must(d, "bytesDropped");
        assert!(b > 0, "logDropped with bytesDropped 0: {d}");
        sum += b;
    }
    assert_eq!(
        sum,
        dropped_total,
        "logDropped events' bytes vs logBytesDropped; events:\n{}",
        show(&ev)
    );
    let (s, _) = stats_of(&pod.socket, "flood");
    assert_eq!(must(&s, "log.bytesDropped"), dropped_total, "{s}");
    assert!(
        w.drain(Duration::from_millis(300)).is_empty(),
        "unexpected further events"
    );
    pod.kill("runner", "KILL");
    pod.wait("runner");

    // Order: created, started, then drops, exited last.
    assert!(
        fk.len() >= 4 && fk[0] == "created" && fk[1] == "started" && fk[fk.len() - 1] == "exited",
        "flood's events out of order: {fk:?}; events:\n{}",
        show(&ev)
    );
}

// ---------------------------------------------------------------------------
// 5. Late subscribers, the id filter, ExpectedMore
// ---------------------------------------------------------------------------

#[test]
fn late_subscriber_gets_state_and_id_filter_works() {
    let pod = Pod::start(&pod_name("late"));
    pod.run("gone", &["sh", "-c", "exit 7"]);
    pod.wait("gone");
    pod.create("other", &["sh", "-c", "exit 1"]);

    let w_all = Watch::start(&pod.socket, json!({}));
    let snap: BTreeMap<String, Value> = w_all
        .snapshot
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    assert_eq!(snap.len(), 2, "{snap:?}");
    let g = &snap["gone"];
    assert_container_shape(&pod, g, "gone");
    assert_eq!(g["status"], json!("stopped"), "{g}");
    assert_eq!(g["exitCode"], json!(7), "{g}");
    assert_eq!(g["exitReason"], json!("Error"), "{g}");
    assert_eq!(
        snap["other"]["status"],
        json!("created"),
        "{}",
        snap["other"]
    );

    let mut w_gone = Watch::start(&pod.socket, json!({ "id": "gone" }));
    assert_eq!(w_gone.snapshot.len(), 1, "{:?}", w_gone.snapshot);
    assert_eq!(w_gone.snapshot[0]["id"], json!("gone"));
    assert_eq!(w_gone.snapshot[0]["exitCode"], json!(7));
    let mut w_other = Watch::start(&pod.socket, json!({ "id": "other" }));
    assert_eq!(w_other.snapshot.len(), 1, "{:?}", w_other.snapshot);
    assert_eq!(w_other.snapshot[0]["id"], json!("other"));

    pod.start_container("other");
    pod.wait("other");
    pod.delete("other", false);
    pod.delete("gone", false);

    let eo = w_other.collect_until(Duration::from_secs(10), |g| g.len() >= 3);
    let mut eo_sorted: Vec<(&str, &str)> = eo.iter().map(|e| (kind(e), eid(e))).collect();
    eo_sorted.sort();
    assert_eq!(
        eo_sorted,
        [
            ("deleted", "other"),
            ("exited", "other"),
            ("started", "other")
        ],
        "the id filter passes exactly other's events:\n{}",
        show(&eo)
    );
    let x = eo.iter().find(|e| kind(e) == "exited").unwrap();
    assert_eq!(x["exitCode"], json!(1), "{x}");
    let eg = w_gone.collect_until(Duration::from_secs(10), |g| !g.is_empty());
    assert_eq!(
        eg.iter().map(|e| (kind(e), eid(e))).collect::<Vec<_>>(),
        [("deleted", "gone")],
        "{}",
        show(&eg)
    );
    assert!(w_gone.drain(Duration::from_millis(300)).is_empty());
    assert!(w_other.drain(Duration::from_millis(100)).is_empty());

    // Without more.
    let r = pod.call("io.podmon.Pod.WatchEvents", json!({}));
    r.err("org.varlink.service.ExpectedMore");
    // An unknown id.
    let mut c = pod.client();
    c.send_more("io.podmon.Pod.WatchEvents", json!({ "id": "nope" }));
    let r = c.recv();
    assert_eq!(r.err("io.podmon.Pod.NoSuchContainer")["id"], json!("nope"));
    drop(w_all);

    // Order, last: started before exited.
    assert_eq!(
        eo.iter().map(kind).collect::<Vec<_>>(),
        ["started", "exited", "deleted"],
        "other's events out of order:\n{}",
        show(&eo)
    );
}

// ---------------------------------------------------------------------------
// 6. cgroup v2 on this hybrid host
// ---------------------------------------------------------------------------

/// A podmon server in its own mount namespace where the v1 memory hierarchy
/// is not mounted, so podmon locates containers in the cgroup2 hierarchy
/// (/sys/fs/cgroup/unified, where runc's hybrid mode also puts them).
struct NsPod {
    name: String,
    dir: PathBuf,
    socket: PathBuf,
    pid: u32,
    child: Child,
}

impl NsPod {
    fn start(name: &str) -> NsPod {
        let env_ = env();
        let dir = test_base().join(format!("{name}.{}.v2", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("logs")).unwrap();
        fs::create_dir_all(dir.join("exits")).unwrap();
        let socket = dir.join("pod.sock");
        let log = fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"umount /sys/fs/cgroup/memory || exit 99; exec "$0" "$@""#)
            .arg(podmon_bin())
            .arg("serve")
            .args(["--pod", name, "--runtime"])
            .arg(&env_.runc)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--log-dir")
            .arg(dir.join("logs"))
            .arg("--exit-dir")
            .arg(dir.join("exits"))
            .arg("--socket")
            .arg(&socket)
            .env("RUST_LOG", "info")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("PODMON_SOCKET")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut child = cmd.spawn().expect("unshare");
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                panic!(
                    "podmon in a mount namespace exited with {st}: {}",
                    fs::read_to_string(dir.join("server.log")).unwrap_or_default()
                );
            }
            if UnixStream::connect(&socket).is_ok() {
                break;
            }
            assert!(
                Instant::now() < end,
                "podmon in a mount namespace did not listen"
            );
            thread::sleep(Duration::from_millis(20));
        }
        NsPod {
            name: name.into(),
            dir,
            socket,
            pid: child.id(),
            child,
        }
    }

    #[track_caller]
    fn call(&self, method: &str, params: Value) -> Value {
        Client::connect(&self.socket).call(method, params).ok()
    }
}

impl Drop for NsPod {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        cleanup_runtime(runc(), &self.dir.join("state/runtime"));
        if thread::panicking() {
            eprintln!(
                "--- v2 pod {} dir kept: {}\n{}",
                self.name,
                self.dir.display(),
                fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn cgroup_v2_stats_from_the_unified_hierarchy() {
    assert!(
        Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists(),
        "this test expects a hybrid host with cgroup2 at /sys/fs/cgroup/unified"
    );
    let _ = env();
    let pod = NsPod::start(&pod_name("v2"));
    let c = pod.call(
        "io.podmon.Pod.CreateContainer",
        json!({
            "id": "burn",
            "rootfs": rootfs().display().to_string(),
            "command": ["sh", "-c", "while :; do :; done"],
        }),
    );
    let cpid = c["container"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{c}")) as u32;
    pod.call("io.podmon.Pod.StartContainer", json!({ "id": "burn" }));

    // runc (hybrid mode) put the container into the cgroup2 hierarchy too.
    let dir = Path::new("/sys/fs/cgroup/unified/podmon")
        .join(&pod.name)
        .join("burn");
    let procs = fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_else(|e| panic!("runc made no cgroup2 directory {}: {e}", dir.display()));
    assert!(
        procs.split_whitespace().any(|p| p == cpid.to_string()),
        "container pid {cpid} not in {}: {procs}",
        dir.display()
    );

    let stats = |pod: &NsPod| {
        let p = pod.call("io.podmon.Pod.Stats", json!({ "id": "burn" }));
        assert_monitor(&p["monitor"], pod.pid);
        p["stats"].clone()
    };
    let s1 = stats(&pod);
    assert_eq!(
        s1["cgroupVersion"],
        json!(2),
        "podmon should read cgroup v2 here: {s1}"
    );
    let u1 = must(&s1, "cpu.usageNs");
    thread::sleep(Duration::from_millis(800));
    let before = keyed(&dir.join("cpu.stat"), "usage_usec") * 1000;
    let s2 = stats(&pod);
    let after = keyed(&dir.join("cpu.stat"), "usage_usec") * 1000;
    let u2 = must(&s2, "cpu.usageNs");
    assert!(u2 >= u1 + 150_000_000, "busy loop, v2 usage {u1} -> {u2}");
    assert!(
        before <= u2 && u2 <= after,
        "cpu.usageNs {u2} is not cpu.stat usage_usec (between {before} and {after} ns)"
    );
    assert!(must(&s2, "cpu.userNs") > 0, "{s2}");
    // No controllers are enabled in this cgroup2 tree: memory and pids files
    // do not exist, and podmon reports them absent rather than zero.
    assert!(!dir.join("memory.current").exists());
    assert!(!present(&s2["memory"], "current"), "{s2}");
    assert!(!present(&s2["pids"], "current"), "{s2}");

    pod.call(
        "io.podmon.Pod.KillContainer",
        json!({ "id": "burn", "signal": "KILL" }),
    );
    let w = pod.call("io.podmon.Pod.WaitContainer", json!({ "id": "burn" }));
    assert_eq!(w["exitCode"], json!(137), "{w}");
    assert_eq!(w["oomKilled"], json!(false), "{w}");
}
