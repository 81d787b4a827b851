//! The records and their store: round trips, what is refused, and that a
//! write cut short (a power cut, a crash) leaves the old record readable.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::pidstat::{parse_start_time, start_time};
use super::record::ExecRecord;
use super::*;
use crate::logs::driver::DriverKind;
use crate::logs::ratelimit::{Limit, Policy};
use crate::pod::Status;
use crate::sys::process::ExitInfo;

/// A fresh state directory with `containers/` in it.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("podmon-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("containers")).unwrap();
    d
}

/// Makes `STATE/containers/ID`, as a create does.
fn container_dir(state: &Path, id: &str) -> PathBuf {
    let d = state.join("containers").join(id);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, 123_456_789)
}

fn record(id: &str) -> ContainerRecord {
    ContainerRecord {
        version: SCHEMA_VERSION,
        id: id.into(),
        bundle: PathBuf::from("/b").join(id),
        log: LogRecord {
            driver: DriverKind::Cri,
            path: Some(PathBuf::from(format!("/logs/{id}.log"))),
            limit: Some(Limit {
                bytes_per_second: 1000,
                burst: 4000,
                policy: Policy::Drop,
            }),
            max_line: Some(4096),
            max_size: Some(1 << 20),
            max_files: 3,
            sync: crate::logs::sync::LogSync::Interval,
            tag: None,
        },
        stdin: true,
        stdin_once: false,
        terminal: false,
        created_at: at(1_700_000_000),
        status: Status::Running,
        pid: Some(4242),
        pid_start_time: Some(987_654),
        started_at: Some(at(1_700_000_001)),
        finished_at: None,
        exit: None,
    }
}

fn stopped(id: &str) -> ContainerRecord {
    ContainerRecord {
        status: Status::Stopped,
        finished_at: Some(at(1_700_000_002)),
        exit: Some(ExitRecord::seen(
            ExitInfo {
                code: None,
                signal: Some(libc::SIGKILL),
            },
            true,
        )),
        ..record(id)
    }
}

#[test]
fn records_round_trip_through_their_files() {
    let d = scratch("roundtrip");
    let store = Store::new(d.clone());
    let pod = PodRecord {
        version: SCHEMA_VERSION,
        name: "web".into(),
        runtime: "/usr/bin/runc".into(),
        runtime_root: d.join("runtime"),
        log_dir: "/logs".into(),
        exit_dir: Some("/exits".into()),
        oom_dir: None,
    };
    store.save_pod(&pod).unwrap();
    container_dir(&d, "b");
    std::fs::create_dir_all(container_dir(&d, "a").join("execs/exec-1")).unwrap();
    store.save_container(&record("a")).unwrap();
    store.save_container(&record("b")).unwrap();
    // A later change replaces the whole record.
    store.save_container(&stopped("b")).unwrap();
    let exec = ExecRecord {
        version: SCHEMA_VERSION,
        exec_id: "exec-1".into(),
        container: "a".into(),
        pid: 4300,
        pid_start_time: 990_000,
        terminal: true,
        started_at: at(1_700_000_005),
        exit: None,
    };
    store.save_exec(&exec).unwrap();

    let loaded = store.load_all().unwrap();
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    assert_eq!(loaded.pod, Some(pod));
    assert_eq!(loaded.containers, vec![record("a"), stopped("b")]);
    assert_eq!(loaded.execs, vec![exec]);
    let file = d.join("containers/b/state.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(r#""reason": "OOMKilled""#), "{text}");
    assert!(
        text.contains(r#""finishedAt": "2023-11-14T22:13:22.123456789Z""#),
        "{text}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600);
    assert!(!d.join("containers/b/.state.json.tmp").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_newer_schema_is_refused_by_name_and_a_corrupt_record_skipped() {
    let d = scratch("versions");
    let store = Store::new(d.clone());
    let write = |id: &str, text: &str| {
        std::fs::write(container_dir(&d, id).join("state.json"), text).unwrap();
    };
    let mut future = serde_json::to_value(record("new")).unwrap();
    future["version"] = 2.into();
    future["someFieldOfVersion2"] = true.into();
    write("new", &future.to_string());
    write("garbage", "{\"version\": 1, \"id\": \"garb");
    write("noversion", r#"{"id": "noversion"}"#);
    let mut bad = serde_json::to_value(record("badstatus")).unwrap();
    bad["status"] = "paused".into();
    write("badstatus", &bad.to_string());
    store.save_container(&record("good")).unwrap_err();
    container_dir(&d, "good");
    store.save_container(&record("good")).unwrap();

    let loaded = store.load_all().unwrap();
    assert_eq!(loaded.containers, vec![record("good")]);
    let texts: Vec<String> = loaded.skipped.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    let about = |id: &str| {
        let p = d.join("containers").join(id).join("state.json");
        let e = loaded
            .skipped
            .iter()
            .find(|e| e.to_string().starts_with(&p.display().to_string()));
        e.unwrap_or_else(|| panic!("{id} not skipped: {texts:?}"))
    };
    match about("new") {
        StateError::FutureVersion {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (2, SCHEMA_VERSION))
        }
        e => panic!("{e}"),
    }
    assert!(about("new").to_string().contains("newer podmon"));
    assert!(matches!(about("garbage"), StateError::Corrupt { .. }));
    assert!(about("noversion").to_string().contains("no schema version"));
    // The error names the field.
    let e = about("badstatus").to_string();
    assert!(e.contains("status") && e.contains("paused"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn foreign_entries_are_skipped_and_kept() {
    let d = scratch("foreign");
    let store = Store::new(d.clone());
    container_dir(&d, "c1");
    store.save_container(&record("c1")).unwrap();
    // A record copied under another container's name.
    let other = container_dir(&d, "c2");
    std::fs::copy(d.join("containers/c1/state.json"), other.join("state.json")).unwrap();
    // A name no container can have, and a directory without a record.
    container_dir(&d, "not an id");
    container_dir(&d, "empty");
    let loaded = store.load_all().unwrap();
    assert_eq!(loaded.containers, vec![record("c1")]);
    assert_eq!(loaded.skipped.len(), 3, "{:?}", loaded.skipped);
    assert!(
        loaded
            .skipped
            .iter()
            .all(|e| matches!(e, StateError::Foreign { .. }))
    );
    assert!(
        other.join("state.json").exists(),
        "nothing foreign is removed"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn links_planted_in_the_state_dir_are_not_followed() {
    let d = scratch("links");
    let store = Store::new(d.clone());
    let victim = d.join("victim");
    let theirs = serde_json::to_string(&record("c1")).unwrap();
    std::fs::write(&victim, &theirs).unwrap();
    let dir = container_dir(&d, "c1");
    symlink(&victim, dir.join("state.json")).unwrap();
    // Loading does not read through the link.
    let loaded = store.load_all().unwrap();
    assert!(loaded.containers.is_empty());
    assert!(
        loaded.skipped[0].to_string().contains("symbolic link"),
        "{:?}",
        loaded.skipped
    );
    // A link at the temporary name goes; a link at the record is replaced.
    symlink(&victim, dir.join(".state.json.tmp")).unwrap();
    store.save_container(&stopped("c1")).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), theirs);
    assert!(
        std::fs::symlink_metadata(dir.join("state.json"))
            .unwrap()
            .is_file()
    );
    assert!(std::fs::symlink_metadata(dir.join(".state.json.tmp")).is_err());
    // A link at the temporary name found when loading is removed, not followed.
    symlink(&victim, dir.join(".state.json.tmp")).unwrap();
    assert_eq!(store.load_all().unwrap().containers, vec![stopped("c1")]);
    assert!(std::fs::symlink_metadata(dir.join(".state.json.tmp")).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), theirs);
    // A container directory that is a link is neither read nor written.
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("state.json"),
        serde_json::to_string(&record("c2")).unwrap(),
    )
    .unwrap();
    symlink(&elsewhere, d.join("containers/c2")).unwrap();
    let loaded = store.load_all().unwrap();
    assert_eq!(loaded.containers, vec![stopped("c1")]);
    assert!(
        loaded.skipped[0].to_string().contains("symbolic link"),
        "{:?}",
        loaded.skipped
    );
    let e = store.save_container(&record("c2")).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    let kept = std::fs::read_to_string(elsewhere.join("state.json")).unwrap();
    assert_eq!(kept, serde_json::to_string(&record("c2")).unwrap());
    std::fs::remove_dir_all(&d).unwrap();
}

/// A store whose writes put `n` bytes into the file, then `stop` (a
/// failed write, or a panic standing in for the power going).
fn cut_short(d: &Path, n: usize, panic: bool) -> Store {
    Store::with_writer(
        d.to_owned(),
        Box::new(move |f, bytes| {
            std::io::Write::write_all(f, &bytes[..n.min(bytes.len())])?;
            if panic {
                panic!("power cut");
            }
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        }),
    )
}

#[test]
fn a_write_cut_short_leaves_the_old_record() {
    let d = scratch("powercut");
    let dir = container_dir(&d, "c1");
    Store::new(d.clone()).save_container(&record("c1")).unwrap();

    // The write fails (disk full): the error names it, nothing is left.
    let e = cut_short(&d, 40, false)
        .save_container(&stopped("c1"))
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "writing {}",
            dir.join(".state.json.tmp").display()
        )),
        "{text}"
    );
    assert!(!dir.join(".state.json.tmp").exists());

    // The process dies in the middle of the write: the half-written
    // temporary file stays behind, the record is the old one.
    let store = cut_short(&d, 40, true);
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = store.save_container(&stopped("c1"));
    }));
    assert!(died.is_err());
    let left = std::fs::read(dir.join(".state.json.tmp")).unwrap();
    assert_eq!(left.len(), 40);

    let loaded = Store::new(d.clone()).load_all().unwrap();
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    assert_eq!(loaded.containers, vec![record("c1")]);
    assert!(
        !dir.join(".state.json.tmp").exists(),
        "the leftover is cleaned"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn removing_a_record_leaves_the_container_unlisted() {
    let d = scratch("remove");
    let store = Store::new(d.clone());
    container_dir(&d, "c1");
    store.save_container(&record("c1")).unwrap();
    store.remove_container("c1").unwrap();
    store.remove_container("c1").unwrap();
    store.remove_container("never-made").unwrap();
    let loaded = store.load_all().unwrap();
    assert!(loaded.containers.is_empty());
    assert!(loaded.skipped[0].to_string().contains("no state.json"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn exit_records_say_why() {
    let exit = |code, signal| ExitInfo { code, signal };
    assert_eq!(
        ExitRecord::seen(exit(Some(0), None), false).reason,
        ExitReason::Completed
    );
    assert_eq!(
        ExitRecord::seen(exit(Some(3), None), false).reason,
        ExitReason::Error
    );
    let killed = ExitRecord::seen(exit(None, Some(9)), true);
    assert_eq!(
        (killed.reason, killed.signal),
        (ExitReason::OomKilled, Some(9))
    );
    let down = ExitRecord::monitor_down();
    assert_eq!(
        (down.code, down.signal, down.reason),
        (None, None, ExitReason::MonitorDown)
    );
    let text = serde_json::to_string(&down).unwrap();
    assert_eq!(
        text,
        r#"{"code":null,"signal":null,"oomKilled":false,"reason":"MonitorDown"}"#
    );
}

#[test]
fn start_time_is_counted_after_the_last_parenthesis() {
    let line = "1234 (a) (b) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1 2\n";
    assert_eq!(parse_start_time(line), Some(98765));
    assert_eq!(parse_start_time("1234 (sleep) S 1 2 3"), None);
    assert_eq!(parse_start_time("no parenthesis at all"), None);
    assert_eq!(parse_start_time(&line.replace("98765", "x")), None);
}

#[test]
fn start_time_of_a_process_named_with_parentheses() {
    let d = scratch("pidstat");
    // The kernel names the process after the file it executed.
    let exe = d.join("a) (b");
    symlink("/bin/sleep", &exe).unwrap();
    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let comm_ok = stat.contains("(a) (b)");
    let theirs = start_time(pid);
    let ours = start_time(std::process::id() as i32).unwrap();
    child.kill().unwrap();
    // Another test's stray reaper may have reaped it first.
    let _ = child.wait();
    assert!(comm_ok, "{stat}");
    let theirs = theirs.unwrap();
    assert!(theirs >= ours, "started after us: {theirs} < {ours}");
    assert_eq!(stat.split_whitespace().nth(22).unwrap(), theirs.to_string());
    let gone = start_time(pid).unwrap_err();
    assert_eq!(gone.errno, Some(libc::ENOENT), "{gone}");
    std::fs::remove_dir_all(&d).unwrap();
}
