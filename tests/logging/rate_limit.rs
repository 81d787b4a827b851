//! Log rate limits: the block and drop policies, and SetLogRateLimit at run time.

use crate::common::*;
use crate::support::*;
use serde_json::json;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn rate_limit_block_paces_output_and_loses_nothing() {
    let pod = Pod::start("lg-block");
    let (rate, burst) = (200_000u64, 20_000u64);
    // 12000 lines of 100 bytes: 1.2 MB, written as fast as the pipe takes it.
    let n = 12_000u64;
    let pad = "x".repeat(90);
    let script = numbered_awk(n, "", &format!(" {pad}"));
    let total = n * 100;
    let c = pod.create_with(
        "b",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(rate, burst, "block") }),
    );
    assert_eq!(c["logRateLimit"]["bytesPerSecond"], json!(rate), "{c}");
    assert_eq!(c["logRateLimit"]["burst"], json!(burst), "{c}");
    let t0 = Instant::now();
    pod.start_container("b");
    // While it runs, the limit holds the log back.
    thread::sleep(Duration::from_secs(2));
    let mid = content_bytes_now(&pod.log_path("b"), "stdout");
    let mid_t = t0.elapsed().as_secs_f64();
    let w = pod.wait("b");
    let elapsed = t0.elapsed().as_secs_f64();
    assert_eq!(w["exitCode"], json!(0), "{w}");
    // WaitContainer promises every byte is in the log when it answers. The
    // container itself exits early (the 1 MiB pipe holds most of its output),
    // so podmon goes on draining at the limited rate for seconds after the exit.
    let at_wait = content_bytes_now(&pod.log_path("b"), "stdout");
    let exited_after = ts_secs(w["container"]["finishedAt"].as_str().unwrap())
        - ts_secs(w["container"]["startedAt"].as_str().unwrap());
    if at_wait != total {
        let t = Instant::now();
        let mut later = at_wait;
        wait_until(Duration::from_secs(8), || {
            later = content_bytes_now(&pod.log_path("b"), "stdout");
            later >= total
        });
        panic!(
            "WaitContainer answered {elapsed:.3} s after the start with only {at_wait} of \
             {total} bytes in the log (the container exited {exited_after:.3} s after its \
             start); {:.2} s later the log held {later} bytes",
            t.elapsed().as_secs_f64()
        );
    }
    let measured = (total - burst) as f64 / elapsed;
    eprintln!(
        "block: {total} bytes in {elapsed:.3} s: {measured:.0} B/s after the burst \
         (limit {rate}); {mid} bytes after {mid_t:.2} s"
    );
    assert!(
        (measured - rate as f64).abs() <= rate as f64 * 0.10,
        "block policy: {total} bytes took {elapsed:.3} s, i.e. {measured:.0} B/s after the \
         {burst}-byte burst; want {rate} B/s ±10%"
    );
    let mid_limit = (rate as f64 * mid_t + burst as f64) * 1.10;
    assert!(
        (mid as f64) <= mid_limit,
        "after {mid_t:.2} s the log already held {mid} bytes, more than rate*t+burst ({:.0})",
        mid_limit / 1.1
    );
    assert_eq!(w["container"]["logBytesDropped"], json!(0), "{w}");
    let recs = parse(&read_bytes(&pod.log_path("b")));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", &format!(" {pad}"), "block");
    assert_sequence(&nums, n, "block policy");
    assert!(
        recs.iter().all(|r| r.dropped_marker().is_none()),
        "block policy wrote a drop marker"
    );
}

/// The container's own count of what it wrote: the "total=N" line on stderr.
fn total_line(recs: &[Rec]) -> u64 {
    recs.iter()
        .filter(|r| r.stream == "stderr")
        .find_map(|r| {
            r.text()
                .strip_prefix("total=")
                .map(|t| t.trim().parse().unwrap())
        })
        .unwrap_or_else(|| {
            panic!(
                "no total=N line on stderr; stderr records: {:?}",
                recs.iter()
                    .filter(|r| r.stream == "stderr")
                    .map(Rec::text)
                    .collect::<Vec<_>>()
            )
        })
}

/// The bytes kept on stdout (content plus the newline of F records), the
/// drop markers' counts on stdout and on both streams, and the markers'
/// texts. Both streams, because the shell may print "Terminated" (11 bytes)
/// on stderr when `timeout` ends the flood: with the bucket empty that line
/// is dropped, counted in logBytesDropped and reported by a stderr marker.
fn kept_and_markers(recs: &[Rec]) -> (u64, u64, u64, Vec<String>) {
    let (mut kept, mut stdout_dropped, mut marker_sum) = (0u64, 0u64, 0u64);
    let mut markers = Vec::new();
    for r in recs {
        if let Some(n) = r.dropped_marker() {
            marker_sum += n;
            if r.stream == "stdout" {
                stdout_dropped += n;
            }
            markers.push(r.text());
        } else if r.stream == "stdout" {
            kept += r.content.len() as u64 + u64::from(!r.partial);
        }
    }
    (kept, stdout_dropped, marker_sum, markers)
}

#[test]
fn rate_limit_drop_keeps_the_rate_and_reports_drops() {
    let _h = heavy();
    let pod = Pod::start("lg-drop");
    let (rate, burst) = (200_000u64, 20_000u64);
    let secs = 5u64;
    // Floods stdout for 5 s; `tee` copies the flood to stdout and `wc`
    // counts it, so the test learns how much the container wrote. The count
    // goes to stderr after a pause that refills the bucket.
    let line = "drop policy flood line 0123456789 abcdefghijklmnopqrstuvwxyz";
    let script = format!(
        "exec 3>&1; n=$(timeout {secs} yes '{line}' | tee /proc/self/fd/3 | wc -c); \
         sleep 1; echo \"total=$n\" >&2"
    );
    pod.create_with(
        "d",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(rate, burst, "drop") }),
    );
    pod.start_container("d");
    let w = pod.wait("d");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    let c = pod.get("d");
    let dropped = c["logBytesDropped"].as_u64().unwrap();
    let recs = parse(&read_bytes(&pod.log_path("d")));

    let total = total_line(&recs);
    let (kept, stdout_dropped, marker_sum, markers) = kept_and_markers(&recs);
    let expect = (rate * secs + burst) as f64;
    eprintln!(
        "drop: container wrote {total} bytes in {secs} s; kept {kept} (expected ~{expect:.0}), \
         logBytesDropped {dropped}, {} markers summing to {marker_sum}; first markers: {:?}",
        markers.len(),
        &markers[..markers.len().min(3)]
    );
    assert!(dropped > 0, "nothing dropped: {c}");
    assert!(
        !markers.is_empty(),
        "no 'podmon: dropped N bytes' marker record"
    );
    assert_eq!(
        marker_sum, dropped,
        "markers report {marker_sum} dropped bytes, logBytesDropped says {dropped}"
    );
    assert_eq!(
        kept + stdout_dropped,
        total,
        "kept ({kept}) + dropped on stdout ({stdout_dropped}) is not what the container wrote ({total})"
    );
    assert!(
        (kept as f64 - expect).abs() <= expect * 0.10,
        "drop policy kept {kept} bytes of a {secs} s flood; want rate*{secs}+burst = {expect:.0} ±10%"
    );
    // What was kept is pieces of the flood: every record holds (part of) the line.
    let bad = recs
        .iter()
        .filter(|r| r.stream == "stdout" && r.dropped_marker().is_none())
        .map(Rec::text)
        .filter(|t| !line.contains(t.as_str()))
        .take(3)
        .collect::<Vec<_>>();
    assert!(bad.is_empty(), "kept output has foreign text: {bad:?}");
}

#[test]
fn set_log_rate_limit_changes_and_removes_the_limit() {
    let _h = heavy();
    let pod = Pod::start("lg-setrl");
    // 20000 lines of 1000 bytes: 20 MB, as fast as the pipe takes it.
    let n = 20_000u64;
    let pad = "y".repeat(990);
    let suffix = format!(" {pad}");
    let script = numbered_awk(n, "", &suffix);
    let total = n * 1000;
    pod.create_with(
        "r",
        &["sh", "-c", &script],
        json!({ "logRateLimit": limit(100_000, 10_000, "block") }),
    );
    let path = pod.log_path("r");
    pod.start_container("r");

    // Rate over a window: content bytes in the file per second.
    let measure = |settle: f64, window: f64| -> f64 {
        thread::sleep(Duration::from_secs_f64(settle));
        let (a, ta) = (content_bytes_now(&path, "stdout"), Instant::now());
        thread::sleep(Duration::from_secs_f64(window));
        let (b, tb) = (content_bytes_now(&path, "stdout"), Instant::now());
        (b - a) as f64 / (tb - ta).as_secs_f64()
    };
    let r1 = measure(0.5, 2.0);
    let c = pod
        .call(
            SET_LOG_RATE_LIMIT,
            json!({ "id": "r", "limit": limit(400_000, 40_000, "block") }),
        )
        .ok()["container"]
        .clone();
    assert_eq!(c["logRateLimit"]["bytesPerSecond"], json!(400_000), "{c}");
    assert_eq!(pod.get("r")["logRateLimit"]["burst"], json!(40_000));
    let r2 = measure(0.3, 1.5);
    let before_removal = content_bytes_now(&path, "stdout");
    let c = pod.call(SET_LOG_RATE_LIMIT, json!({ "id": "r" })).ok()["container"].clone();
    assert!(!present(&c, "logRateLimit"), "limit still shown: {c}");
    let t = Instant::now();
    let w = pod.wait("r");
    let rest = t.elapsed().as_secs_f64();
    let r3 = (total - before_removal) as f64 / rest;
    eprintln!(
        "SetLogRateLimit: {r1:.0} B/s at 100000, {r2:.0} B/s at 400000, {r3:.0} B/s without \
         a limit ({} bytes in {rest:.3} s)",
        total - before_removal
    );
    assert!(
        (r1 - 100_000.0).abs() <= 15_000.0,
        "under a 100000 B/s limit the log grew at {r1:.0} B/s"
    );
    assert!(
        (r2 - 400_000.0).abs() <= 60_000.0,
        "after SetLogRateLimit to 400000 B/s the log grew at {r2:.0} B/s"
    );
    assert!(
        r3 > 2_000_000.0,
        "after removing the limit the log grew at only {r3:.0} B/s"
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(!present(&w["container"], "logRateLimit"), "{w}");
    let recs = parse(&read_bytes(&path));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", &suffix, "SetLogRateLimit");
    assert_sequence(&nums, n, "SetLogRateLimit");
}
