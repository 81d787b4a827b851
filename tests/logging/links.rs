//! Links planted in the log directory are never followed (by the log
//! file, its rotation or ReopenLog), and rotation with the most files
//! allowed keeps exactly that many while the monitor stays responsive.

use crate::common::*;
use crate::support::*;
use podmon::proto::errors::{self, ProtoError};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

const SYSTEM_ERROR: &str = <errors::SystemError as ProtoError>::ERROR;
const ELOOP: i64 = 40;

/// A file outside the log directory that a planted link points to.
fn target(pod: &Pod) -> PathBuf {
    let t = pod.dir.join("precious");
    fs::write(&t, b"precious\n").unwrap();
    t
}

#[track_caller]
fn assert_untouched(t: &Path) {
    assert_eq!(
        fs::read(t).unwrap(),
        b"precious\n",
        "{} was written",
        t.display()
    );
}

fn create_params(id: &str, command: &[&str]) -> Value {
    json!({"id": id, "rootfs": rootfs().display().to_string(), "command": command})
}

#[test]
fn a_link_at_the_log_path_fails_create_and_leaves_its_target() {
    let pod = Pod::start("lg-link");
    let t = target(&pod);
    let link = pod.log_path("ln");
    symlink(&t, &link).unwrap();
    let r = pod.call(CREATE_CONTAINER, create_params("ln", &["echo", "leak"]));
    let p = r.err(SYSTEM_ERROR);
    assert_eq!(p["errno"], json!(ELOOP), "{p}");
    assert_eq!(p["path"], json!(link.display().to_string()), "{p}");
    assert!(
        p["operation"].as_str().is_some_and(|o| !o.is_empty()),
        "{p}"
    );
    assert_untouched(&t);
    pod.call(GET_CONTAINER, json!({"id": "ln"}))
        .err(NO_SUCH_CONTAINER);
    // A dangling link: O_CREAT does not create its target either.
    fs::remove_file(&t).unwrap();
    pod.call(CREATE_CONTAINER, create_params("ln", &["true"]))
        .err(SYSTEM_ERROR);
    assert!(!t.exists(), "the dangling link's target was created");
    // Without the link the same id works.
    fs::remove_file(&link).unwrap();
    pod.run("ln", &["echo", "fine"]);
    pod.wait("ln");
    assert!(pod.log("ln").contains("fine"));
}

#[test]
fn reopen_log_refuses_a_link_planted_at_the_log_path() {
    let pod = Pod::start("lg-relink");
    let t = target(&pod);
    let script = "i=0; while :; do i=$((i+1)); printf 'relink %08d\\n' $i; usleep 20000; done";
    pod.run("rl", &["sh", "-c", script]);
    thread::sleep(Duration::from_millis(300));
    let path = pod.log_path("rl");
    let aside = PathBuf::from(format!("{}.aside", path.display()));
    fs::rename(&path, &aside).unwrap();
    symlink(&t, &path).unwrap();
    let p = pod.call(REOPEN_LOG, json!({"id": "rl"})).err(SYSTEM_ERROR);
    assert_eq!(p["errno"], json!(ELOOP), "{p}");
    assert_eq!(p["path"], json!(path.display().to_string()), "{p}");
    thread::sleep(Duration::from_millis(300));
    assert_untouched(&t);
    // Output keeps going to the renamed file; with the link gone ReopenLog works.
    let before = fs::metadata(&aside).unwrap().len();
    thread::sleep(Duration::from_millis(300));
    assert!(
        fs::metadata(&aside).unwrap().len() > before,
        "output stopped"
    );
    fs::remove_file(&path).unwrap();
    pod.call(REOPEN_LOG, json!({"id": "rl"})).ok();
    assert!(wait_until(Duration::from_secs(5), || {
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() > 0)
    }));
    pod.kill("rl", "SIGKILL");
    pod.wait("rl");
    assert_untouched(&t);
    let mut recs = parse(&read_bytes(&aside));
    recs.extend(parse(&read_bytes(&path)));
    let nums = check_numbered(&rebuild(&recs, "stdout"), "relink ", "", "relinked log");
    assert_sequence(
        &nums,
        nums.len() as u64,
        "the old file, then the reopened one",
    );
}

/// A `sh` loop printing `n` numbered lines of about 2 KiB, one write each,
/// with a pause so that the writer writes (and rotates) often.
fn paced_lines(n: u64) -> (String, String) {
    let pad = "x".repeat(2000);
    let script = format!(
        "i=0; while [ $i -lt {n} ]; do i=$((i+1)); printf '%08d{pad}\\n' $i; \
         [ $((i % 20)) -eq 0 ] && usleep 10000; done; true"
    );
    (script, pad)
}

#[test]
fn rotation_keeps_the_most_files_allowed_and_stays_responsive() {
    let _h = heavy();
    let pod = Pod::start("lg-maxfiles");
    let (max_size, max_files) = (16_384u64, 32u32);
    // A link planted at a rotated name is replaced, never written through.
    let t = target(&pod);
    let base = pod.log_path("mf");
    let rotated = |k: u32| PathBuf::from(format!("{}.{k}", base.display()));
    symlink(&t, rotated(1)).unwrap();
    // 1500 lines of 2 KiB: about 3 MB of log, far more than 32 files of 16 KiB.
    let n = 1500;
    let (script, pad) = paced_lines(n);
    pod.create_with(
        "mf",
        &["sh", "-c", &script],
        json!({ "logMaxSize": max_size, "logMaxFiles": max_files }),
    );
    pod.start_container("mf");
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    while pod.get("mf")["status"] == json!("running") {
        let (_, took) = timed_get(&pod, "mf");
        slowest = slowest.max(took);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "container runs for a minute"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let w = pod.wait("mf");
    assert_eq!(w["exitCode"], json!(0), "{w}");
    eprintln!("rotation with {max_files} files: slowest GetContainer {slowest:?}");
    assert!(
        slowest < Duration::from_millis(500),
        "GetContainer took {slowest:?}"
    );
    assert_untouched(&t);
    for k in 1..=max_files {
        let m = fs::symlink_metadata(rotated(k))
            .unwrap_or_else(|e| panic!("{} is missing: {e}", rotated(k).display()));
        assert!(
            m.is_file(),
            "{} is not a regular file",
            rotated(k).display()
        );
    }
    assert!(
        !rotated(max_files + 1).exists(),
        "more than {max_files} rotated files"
    );
    // The oldest output was rotated away; what is left is one unbroken run
    // of lines ending at the last one.
    let mut all = Vec::new();
    for k in (1..=max_files).rev() {
        all.extend(parse(&read_bytes(&rotated(k))));
    }
    all.extend(parse(&read_bytes(&base)));
    let nums = check_numbered(&rebuild(&all, "stdout"), "", &pad, "rotated files");
    assert!(nums.len() < n as usize, "nothing was rotated away");
    let first = nums[0];
    for (k, &x) in nums.iter().enumerate() {
        assert_eq!(x, first + k as u64, "line {k} of the kept files");
    }
    assert_eq!(*nums.last().unwrap(), n, "the last line is missing");
}
