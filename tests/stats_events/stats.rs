//! Stats and GetPod against what the cgroups and /proc say.

use crate::common::*;
use crate::support::*;
use serde_json::json;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

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

/// The memory limit of "holder".
const HOLDER_LIMIT: u64 = 256 * MIB;

/// Starts the five containers of the stats test: holder (50 MB held),
/// forker (a fork loop against pidsMax 20), talker (writes once the
/// returned gate opens), idle (never started) and done (stopped, exit 5).
fn start_five(pod: &Pod) -> Gate {
    pod.create_with(
        "holder",
        &["sh", "-c", &hold_memory_script(50_000_000)],
        json!({ "memoryMax": HOLDER_LIMIT }),
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
    gate
}

/// pids: never above the limit, reaches it (or forks fail).
fn check_pids(pod: &Pod) {
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
    wait_log(pod, "forker", "can't fork", Duration::from_secs(10));
    wait_log(pod, "forker", "spawned", Duration::from_secs(10));
    let (s, _) = stats_of(&pod.socket, "forker");
    let cur = must(&s, "pids.current");
    assert!(
        (2..=20).contains(&cur),
        "pids.current of the forker's survivors: {s}"
    );
}

/// memory: ~50 MB held, under the 256 MiB limit.
fn check_memory(pod: &Pod) {
    let limit = HOLDER_LIMIT;
    wait_log(pod, "holder", "ready", Duration::from_secs(20));
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
}

/// log bytes grow with output (the talker writes once `gate` opens).
fn check_log_bytes(pod: &Pod, gate: &Gate) {
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
}

/// Stats of every container: one reply each with more; errors without more
/// and for an unknown id.
fn check_stats_of_all(pod: &Pod) {
    let replies = pod.client().call_more(STATS, json!({}));
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
    // Without more: one reply with every container's, in id order.
    let no_more = pod.call(STATS, json!({})).ok();
    let listed: Vec<&str> = no_more["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{no_more}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["done", "forker", "holder", "idle", "talker"]);
    assert_monitor(&no_more["monitor"], pod.pid);
    let none = pod.call(STATS, json!({ "id": "nope" }));
    assert_eq!(none.err(NO_SUCH_CONTAINER)["id"], json!("nope"));
}

/// GetPod: identity, uptime, counts by state, memory and the monitor.
fn check_get_pod(pod: &Pod) {
    let g = pod.call(GET_POD, json!({})).ok();
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
}

#[test]
fn stats_memory_pids_log_and_get_pod() {
    let pod = Pod::start(&pod_name("mem"));
    let gate = start_five(&pod);
    check_pids(&pod);
    check_memory(&pod);
    check_log_bytes(&pod, &gate);
    check_stats_of_all(&pod);
    check_get_pod(&pod);

    // After killing the holder its memory leaves the pod's sum.
    pod.kill("holder", "KILL");
    pod.wait("holder");
    let g2 = pod.call(GET_POD, json!({})).ok();
    assert_eq!(g2["running"], json!(1), "{g2}");
    assert_eq!(g2["stopped"], json!(3), "{g2}");
    assert!(
        must(&g2, "memoryBytes") < 20_000_000,
        "holder stopped: {g2}"
    );

    pod.call(
        KILL_CONTAINER,
        json!({ "id": "forker", "signal": "KILL", "all": true }),
    )
    .ok();
    pod.wait("forker");
}
