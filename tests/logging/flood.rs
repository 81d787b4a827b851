//! A flooding container does not starve a quiet neighbour or the API.

use crate::common::*;
use crate::support::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Calls GetContainer of `id` every 50 ms on a new connection from another
/// thread until the flag is set; the thread returns each call's time.
fn poll_get_container(pod: &Pod, id: &str) -> (Arc<AtomicBool>, JoinHandle<Vec<Duration>>) {
    let socket = pod.socket.clone();
    let id = id.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let poller = thread::spawn(move || {
        let mut times = Vec::new();
        while !stop2.load(Ordering::SeqCst) {
            let t = Instant::now();
            let mut c = Client::connect(&socket);
            c.call(GET_CONTAINER, json!({ "id": id })).ok();
            times.push(t.elapsed());
            thread::sleep(Duration::from_millis(50));
        }
        times
    });
    (stop, poller)
}

#[test]
fn flood_does_not_starve_quiet_container_or_api() {
    let _h = heavy();
    let pod = Pod::start("lg-flood");
    // Unlimited flood; rotation keeps the disk use bounded (two 32 MB files).
    pod.create_with(
        "flood",
        &[
            "yes",
            "flood flood flood flood flood flood flood flood flood flood",
        ],
        json!({ "logMaxSize": 32 << 20, "logMaxFiles": 1 }),
    );
    pod.start_container("flood");
    thread::sleep(Duration::from_millis(500));
    let w0 = pod.get("flood")["logBytesWritten"].as_u64().unwrap();

    let quiet = "i=0; while [ $i -lt 10 ]; do i=$((i+1)); echo \"quiet $i\"; usleep 100000; done";
    pod.create("quiet", &["sh", "-c", quiet]);
    // Poll the API from another thread while the quiet container runs.
    let (stop, poller) = poll_get_container(&pod, "flood");
    let t0 = Instant::now();
    pod.start_container("quiet");
    let w = pod.wait("quiet");
    let quiet_time = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    let times = poller.join().unwrap();
    let flood = pod.get("flood");
    let w1 = flood["logBytesWritten"].as_u64().unwrap();
    let max_get = times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "flood: quiet container start..WaitContainer {quiet_time:?}; {} GetContainer calls, \
         slowest {max_get:?}; flood wrote {} MB meanwhile",
        times.len(),
        (w1 - w0) >> 20
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert_eq!(
        flood["status"],
        json!("running"),
        "the flood stopped: {flood}"
    );
    assert!(
        w1 > w0 + (10 << 20),
        "the flood hardly flooded: {w0} -> {w1}"
    );
    assert!(
        quiet_time < Duration::from_millis(1500),
        "the quiet container (1 s of work) took {quiet_time:?} from start to WaitContainer"
    );
    assert!(
        max_get < Duration::from_millis(200),
        "GetContainer took up to {max_get:?} during the flood: {times:?}"
    );
    // Its lines were read as they came: ~100 ms apart, not bunched up.
    let recs = parse(&read_bytes(&pod.log_path("quiet")));
    let texts: Vec<String> = recs.iter().map(Rec::text).collect();
    let want: Vec<String> = (1..=10).map(|i| format!("quiet {i}")).collect();
    assert_eq!(texts, want);
    let gaps: Vec<f64> = recs
        .windows(2)
        .map(|p| ts_secs(&p[1].ts) - ts_secs(&p[0].ts))
        .collect();
    // Bunched lines (held back behind the flood) would show gaps near 0.
    // One late read on a loaded machine makes one long gap and one short
    // one after it (0.17 s then 0.03 s was seen): that is not bunching.
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let short = gaps.iter().filter(|&&g| g < 0.05).count();
    assert!(
        (0.08..0.15).contains(&median) && short <= 1 && gaps.iter().all(|&g| g < 0.3),
        "the quiet lines were not read as written (gaps in s: {gaps:?})"
    );
    pod.kill("flood", "SIGKILL");
    pod.wait("flood");
}
