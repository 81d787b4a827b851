//! The log file itself: rotation under load, ReopenLog after a rename, a full disk.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn rotation_under_load_keeps_every_line_in_order() {
    let _h = heavy();
    let pod = Pod::start("lg-rotate");
    let (max_size, max_files) = (200_000u64, 32u32);
    // 60000 lines of 50 bytes: 3 MB; with record prefixes about 5.4 MB of log.
    let n = 60_000u64;
    let suffix = " rotation under load abcdefghijklmnopqrstuvw";
    pod.create_with(
        "rot",
        &["sh", "-c", &numbered_awk(n, "", suffix)],
        json!({ "logMaxSize": max_size, "logMaxFiles": max_files }),
    );
    pod.start_container("rot");
    let w = pod.wait("rot");
    assert_eq!(w["exitCode"], json!(0), "{w}");

    let base = pod.log_path("rot");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", base.display()));
    let count = (1..=max_files + 1)
        .take_while(|&k| rotated(k).exists())
        .count() as u32;
    let listing: Vec<String> = fs::read_dir(&pod.log_dir)
        .unwrap()
        .flatten()
        .map(|e| {
            format!(
                "{} ({} bytes)",
                e.file_name().to_string_lossy(),
                e.metadata().map(|m| m.len()).unwrap_or(0)
            )
        })
        .collect();
    eprintln!("rotation: {count} rotated files: {listing:?}");
    assert!(count >= 2, "no rotation happened: {listing:?}");
    assert!(
        count <= max_files,
        "more than {max_files} rotated files: {listing:?}"
    );
    let mut all = Vec::new();
    for k in (1..=count).rev() {
        let data = read_bytes(&rotated(k));
        // Rotation happens once a file reached the size, between records.
        assert!(
            data.len() as u64 >= max_size,
            "{}.{k} has only {} bytes, below logMaxSize",
            base.display(),
            data.len()
        );
        // And at most one record (about 90 bytes here) past it.
        assert!(
            data.len() as u64 <= max_size + 100,
            "{}.{k} has {} bytes, more than a record over logMaxSize",
            base.display(),
            data.len()
        );
        let recs = parse(&data);
        all.extend(recs);
    }
    assert!(base.exists(), "{} is gone after rotation", base.display());
    all.extend(parse(&read_bytes(&base)));
    let nums = check_numbered(&rebuild(&all, "stdout"), "", suffix, "rotation");
    assert_sequence(&nums, n, "rotated files .log.N … .log.1, .log");
}

// ---------------------------------------------------------------------------
// 6. ReopenLog
// ---------------------------------------------------------------------------

#[test]
fn reopen_log_after_outside_rename() {
    let pod = Pod::start("lg-reopen");
    let script = "i=0; while :; do i=$((i+1)); printf 'reopen %08d\\n' $i; usleep 20000; done";
    pod.run("ro", &["sh", "-c", script]);
    thread::sleep(Duration::from_millis(1000));
    let path = pod.log_path("ro");
    let outside = PathBuf::from(format!("{}.outside", path.display()));
    fs::rename(&path, &outside).unwrap();
    // Output read between the rename and the call still goes to the old file.
    thread::sleep(Duration::from_millis(200));
    let r = pod.call(REOPEN_LOG, json!({ "id": "ro" }));
    r.ok();
    assert!(
        path.exists(),
        "ReopenLog did not create a new {}",
        path.display()
    );
    thread::sleep(Duration::from_millis(1000));
    assert!(
        fs::metadata(&path).unwrap().len() > 0,
        "nothing written to the new log within 1 s of ReopenLog"
    );
    pod.kill("ro", "SIGKILL");
    pod.wait("ro");
    // A stopped container's log is complete: ReopenLog answers at once.
    let t = Instant::now();
    pod.call(REOPEN_LOG, json!({ "id": "ro" })).ok();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    let old = parse(&read_bytes(&outside));
    let new = parse(&read_bytes(&path));
    let old_nums = check_numbered(&rebuild(&old, "stdout"), "reopen ", "", "renamed log");
    let new_nums = check_numbered(&rebuild(&new, "stdout"), "reopen ", "", "reopened log");
    eprintln!(
        "reopen: {} lines in the renamed file, {} in the new one",
        old_nums.len(),
        new_nums.len()
    );
    assert!(
        old_nums.len() >= 20,
        "renamed file has few lines: {old_nums:?}"
    );
    assert!(new_nums.len() >= 20, "new file has few lines: {new_nums:?}");
    let mut all = old_nums.clone();
    all.extend(&new_nums);
    let n = all.len() as u64;
    assert_sequence(&all, n, "renamed log followed by the reopened log");
    // The new file holds records read after the reopen: later timestamps.
    assert!(
        old.last().unwrap().ts <= new.first().unwrap().ts,
        "new file's first record ({}) is older than the old file's last ({})",
        new.first().unwrap().ts,
        old.last().unwrap().ts
    );
}

#[test]
fn full_disk_blocks_then_resumes_without_loss() {
    let _h = heavy();
    let pod = Pod::start("lg-enospc");
    // The harness's log directory, with a 1 MiB tmpfs mounted over it
    // before the container (and so its log file) exists.
    let mnt = TmpfsMount::mount(&pod.log_dir, "1m");
    // 300000 lines of 21 bytes: 6.3 MB of output, about 19 MB of log: more
    // than the tmpfs, podmon's buffers and the pipe hold together, so the
    // container must block.
    let n = 300_000u64;
    let suffix = " enospc line";
    pod.create("full", &["sh", "-c", &numbered_awk(n, "", suffix)]);
    pod.start_container("full");

    let mut c = Value::Null;
    let ok = wait_until(Duration::from_secs(15), || {
        c = pod.get("full");
        present(&c, "logError")
    });
    assert!(ok, "no logError within 15 s of filling a 1 MiB disk: {c}");
    let err = c["logError"].as_str().unwrap().to_string();
    assert!(
        err.contains("No space left") || err.contains("ENOSPC") || err.contains("os error 28"),
        "logError does not say the disk is full: {err:?}"
    );
    // The container stays blocked on its pipe; podmon keeps answering.
    thread::sleep(Duration::from_millis(1500));
    let (c2, t_get) = timed_get(&pod, "full");
    let t = Instant::now();
    let p = pod.call(GET_POD, json!({})).ok();
    let t_pod = t.elapsed();
    eprintln!("full disk: logError {err:?}; GetContainer {t_get:?}, GetPod {t_pod:?}");
    assert_eq!(
        c2["status"],
        json!("running"),
        "container did not stay blocked: {c2}"
    );
    assert!(
        present(&c2, "logError"),
        "logError went away on a full disk: {c2}"
    );
    assert_eq!(p["running"], json!(1), "{p}");
    assert!(
        t_get < Duration::from_secs(1),
        "GetContainer took {t_get:?}"
    );
    assert!(t_pod < Duration::from_secs(1), "GetPod took {t_pod:?}");
    let pid = c2["pid"].as_u64().unwrap() as u32;
    assert!(proc_alive(pid), "container process {pid} is gone");

    // Room again: writing resumes, the container finishes.
    mnt.resize("64m");
    let t = Instant::now();
    let w = pod.wait("full");
    eprintln!(
        "full disk: WaitContainer {:?} after the remount",
        t.elapsed()
    );
    assert_eq!(w["exitCode"], json!(0), "{w}");
    assert!(!present(&w["container"], "logError"), "logError stays: {w}");
    assert!(!present(&pod.get("full"), "logError"));
    let recs = parse(&read_bytes(&pod.log_path("full")));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "", suffix, "full disk");
    assert_sequence(&nums, n, "log written across a full disk");
    drop(mnt);
}
