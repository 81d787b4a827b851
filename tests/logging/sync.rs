//! logSync, observed in the page cache with cachestat(2) (Linux 6.5): with
//! "exit" (the default) the log has no dirty or writeback page left when
//! WaitContainer answers; with "never" the same output is still dirty
//! then (so the check does see unsynced data); with "interval" the data a
//! container wrote is clean about a second later while it still runs.

use crate::common::*;
use serde_json::{Value, json};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// (pages cached, dirty, under writeback) of the file at `path`.
fn cachestat(path: &Path) -> (u64, u64, u64) {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    const SYS_CACHESTAT: libc::c_long = 451;
    let f = std::fs::File::open(path).unwrap();
    let range = Range { off: 0, len: 0 };
    let mut st = Stat::default();
    // SAFETY: cachestat reads `range` and writes `st`, both alive and of
    // the kernel's layout (include/uapi/linux/mman.h).
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            f.as_raw_fd(),
            &range as *const Range,
            &mut st as *mut Stat,
            0u32,
        )
    };
    assert_eq!(rc, 0, "cachestat: {}", std::io::Error::last_os_error());
    (st.cache, st.dirty, st.writeback)
}

/// 8 MiB of output in 8 KiB lines, then `then`.
fn writer(then: &str) -> String {
    format!(
        "dd if=/dev/zero bs=8192 count=1024 2>/dev/null | tr '\\0' 'x' | fold -w 8191; echo; {then}"
    )
}

fn run(pod: &Pod, id: &str, sync: Option<&str>, then: &str) {
    let mut extra = json!({});
    if let Some(s) = sync {
        extra["logSync"] = Value::from(s);
    }
    pod.create_with(id, &["sh", "-c", &writer(then)], extra);
    pod.start_container(id);
}

#[test]
fn exit_syncs_before_wait_answers_and_never_does_not() {
    let pod = Pod::start("lg-sync");
    run(&pod, "exit", None, "true");
    assert_eq!(pod.wait("exit")["exitCode"], json!(0));
    let (cache, dirty, writeback) = cachestat(&pod.log_path("exit"));
    assert!(cache > 1000, "the log is in the page cache ({cache} pages)");
    assert_eq!((dirty, writeback), (0, 0), "logSync exit: on disk at Wait");

    run(&pod, "never", Some("never"), "true");
    assert_eq!(pod.wait("never")["exitCode"], json!(0));
    let (_, dirty, writeback) = cachestat(&pod.log_path("never"));
    assert!(
        dirty + writeback > 0,
        "logSync never: the same output is still unwritten at Wait"
    );
}

#[test]
fn interval_syncs_in_the_background_while_it_runs() {
    let pod = Pod::start("lg-sync-iv");
    run(&pod, "iv", Some("interval"), "echo done; sleep 30");
    run(&pod, "nv", Some("never"), "echo done; sleep 30");
    for id in ["iv", "nv"] {
        let written = wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(pod.log_path(id)).is_ok_and(|t| t.contains(" F done\n"))
        });
        assert!(written, "{id} never finished writing");
    }
    // A sync comes within a second of the writes, and takes a moment.
    std::thread::sleep(Duration::from_millis(2500));
    let (_, dirty, writeback) = cachestat(&pod.log_path("iv"));
    assert_eq!((dirty, writeback), (0, 0), "interval: synced while running");
    let (_, dirty, writeback) = cachestat(&pod.log_path("nv"));
    assert!(dirty + writeback > 0, "never: still unwritten");
    let invalid = pod.call(
        CREATE_CONTAINER,
        json!({"id": "bad", "rootfs": rootfs(), "command": ["true"], "logSync": "sometimes"}),
    );
    assert!(invalid.error().is_some(), "{invalid:?}");
}

/// Write-behind (src/logs/writebehind.rs): on io_uring a container that
/// writes 48 MiB leaves at most a few 8 MiB windows of its log in the page
/// cache, the rest written and dropped while it ran; the log is whole.
/// The epoll backend has no write-behind: there the log stays cached, which
/// also shows that the check would see pages that were not dropped.
#[test]
fn write_behind_bounds_the_cache_a_big_log_holds() {
    const MIB: usize = 48;
    const WINDOW_PAGES: u64 = (8 << 20) / 4096;
    let pod = Pod::start("lg-behind");
    let script =
        format!("dd if=/dev/zero bs=1048576 count={MIB} 2>/dev/null | tr '\\0' 'y' | fold -w 1023");
    pod.create_with("big", &["sh", "-c", &script], json!({"logSync": "never"}));
    pod.start_container("big");
    assert_eq!(pod.wait("big")["exitCode"], json!(0));
    let path = pod.log_path("big");
    // Before anything reads the file (reading caches it again).
    let (cache, _, _) = cachestat(&path);
    let text = std::fs::read(&path).unwrap();
    let pages = text.len() as u64 / 4096;
    if epoll_run() {
        assert!(
            cache * 10 >= pages * 9,
            "epoll: {cache} of {pages} pages cached"
        );
    } else {
        assert!(
            cache <= 3 * WINDOW_PAGES,
            "io_uring: {cache} of {pages} pages cached, more than 3 windows"
        );
    }
    let content: usize = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit(|&b| b == b' ').next().unwrap().len())
        .sum();
    assert_eq!(content, MIB << 20, "every byte of output is in the log");
}
