//! Load: 100 containers in one pod, then 200 clients at once making 20 000
//! mixed calls (GetContainer, ListContainers, Stats, ExecSync) with no
//! failure, and the monitor's descriptors and memory back at their
//! baseline afterwards. Threads with the library's blocking client.

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const CONTAINERS: usize = 100;
const CLIENTS: usize = 200;
const CALLS_PER_CLIENT: usize = 100;
/// Memory the monitor may keep after the load, for the allocator's reuse:
/// 12 to 15 MiB stay on these machines (2 cores), measured before and after
/// fd passing changed the receive path; a receive that zeroed its whole
/// 64 KiB buffer per connection kept 28 MiB and must fail here.
const RSS_SLACK_KIB: u64 = 20 * 1024;

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn id(n: usize) -> String {
    format!("c{n}")
}

/// Creates and starts the containers from a few threads (runc is the slow
/// part). Their pid 1 ends on SIGTERM, so the pod stops quickly.
fn populate(pod: &Arc<Pod>) {
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let pod = pod.clone();
            thread::spawn(move || {
                for n in (w..CONTAINERS).step_by(4) {
                    pod.run(
                        &id(n),
                        &["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"],
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// One client's calls; returns what went wrong.
fn client(pod: &Pod, k: usize) -> Vec<String> {
    let mut c = pod.client();
    let mut wrong = vec![];
    for i in 0..CALLS_PER_CLIENT {
        let n = (k * 7 + i * 13) % CONTAINERS;
        if let Err(e) = one_call(&mut c, k, i, n) {
            wrong.push(format!("client {k} call {i}: {e}"));
        }
    }
    wrong
}

fn one_call(c: &mut Client, k: usize, i: usize, n: usize) -> Result<(), String> {
    if i == 0 && k.is_multiple_of(4) {
        let r = c.call(EXEC_SYNC, json!({"id": id(n), "command": ["echo", "hi"]}));
        let p = r.ok();
        if p["exitCode"] != json!(0) || p["stdout"] != json!("hi\n") {
            return Err(format!("ExecSync: {p}"));
        }
    } else if i % 50 == 25 {
        let replies = c.call_more(LIST_CONTAINERS, json!({}));
        if replies.len() != CONTAINERS || replies.iter().any(|r| r.error().is_some()) {
            return Err(format!("ListContainers: {} replies", replies.len()));
        }
    } else if i % 10 == 5 {
        let p = c.call(STATS, json!({"id": id(n)})).ok();
        if p["stats"]["id"] != json!(id(n)) || !p["monitor"]["pid"].is_number() {
            return Err(format!("Stats: {p}"));
        }
    } else {
        let p: Value = c.call(GET_CONTAINER, json!({"id": id(n)})).ok();
        if p["container"]["id"] != json!(id(n)) || p["container"]["status"] != json!("running") {
            return Err(format!("GetContainer: {p}"));
        }
    }
    Ok(())
}

#[test]
fn two_hundred_clients_and_a_hundred_containers() {
    let pod = Arc::new(Pod::start("load"));
    let t0 = Instant::now();
    populate(&pod);
    eprintln!("{CONTAINERS} containers in {:?}", t0.elapsed());
    // Warm up, then the baseline.
    for n in 0..CLIENTS.min(20) {
        one_call(&mut pod.client(), 1, 1, n % CONTAINERS).unwrap();
    }
    let (fds, rss) = (fd_count(pod.pid), rss_kib(pod.pid));
    let t1 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let pod = pod.clone();
            thread::spawn(move || client(&pod, k))
        })
        .collect();
    let wrong: Vec<String> = clients
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    eprintln!("{} calls in {:?}", CLIENTS * CALLS_PER_CLIENT, t1.elapsed());
    assert!(
        wrong.is_empty(),
        "{} failures:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let peak = rss_kib(pod.pid);
    let back = wait_until(Duration::from_secs(10), || fd_count(pod.pid) <= fds);
    assert!(
        back,
        "{} descriptors after the load, {fds} before",
        fd_count(pod.pid)
    );
    let after = rss_kib(pod.pid);
    eprintln!("RSS {rss} KiB before, {peak} KiB at the end, {after} KiB after");
    assert!(
        after <= rss + RSS_SLACK_KIB,
        "RSS {after} KiB after the load, {rss} KiB before"
    );
    // Every container is still running.
    let listed = pod.client().call_more(LIST_CONTAINERS, json!({}));
    let running = listed
        .iter()
        .filter(|r| r.ok()["container"]["status"] == json!("running"))
        .count();
    assert_eq!(running, CONTAINERS);
}
