//! What a test's server leaves of the processes it started: runtime wrapper
//! scripts to make the runtime hang, fail or report its environment; the
//! server's zombie children; runtime containers the server does not know;
//! its open descriptors.

use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{
    LIST_CONTAINERS, Pod, children_of, proc_comm, proc_state, runc, test_base, wait_until,
};

static WRAPPER_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A runtime wrapper script around the real runc, for `--runtime`; its
/// directory goes when it is dropped.
pub struct Wrapper {
    /// The script.
    pub path: PathBuf,
    /// Its directory, where the script may leave files for the test.
    pub dir: PathBuf,
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes a `/bin/sh` runtime that runs `body` with `$verb` (the runtime
/// subcommand: create, start, exec, kill, delete, state), `$id` (its last
/// argument, the container id), `$dir` (the wrapper's directory) and
/// `$RUNC` set, then execs runc with its arguments unchanged.
pub fn wrapper_runtime(name: &str, body: &str) -> Wrapper {
    let n = WRAPPER_COUNTER.fetch_add(1, Ordering::SeqCst);
    // The pid after the first dot: dead runs' leftovers are removed.
    let dir = test_base().join(format!("wrapper-{name}.{}.{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("runtime");
    let script = format!(
        "#!/bin/sh\nRUNC='{runc}'\ndir='{dir}'\nverb=\nfor a in \"$@\"; do\n  case \"$a\" in create|start|exec|kill|delete|state) verb=$a; break;; esac\ndone\nfor id in \"$@\"; do :; done\n{body}\nexec \"$RUNC\" \"$@\"\n",
        runc = runc().display(),
        dir = dir.display(),
    );
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    Wrapper { path, dir }
}

/// Zombie children of the server, as "PID (comm)".
pub fn server_zombies(pod: &Pod) -> Vec<String> {
    children_of(pod.pid)
        .into_iter()
        .filter(|c| proc_state(*c) == Some('Z'))
        .map(|c| format!("{c} ({})", proc_comm(c)))
        .collect()
}

/// Asserts that no child of the server stays a zombie (within `within`).
#[track_caller]
pub fn assert_no_zombies(pod: &Pod, within: Duration) {
    let clean = wait_until(within, || server_zombies(pod).is_empty());
    assert!(
        clean,
        "zombie children of podmon after {within:?}: {:?}",
        server_zombies(pod)
    );
}

/// Container ids runc holds for the pod (`runc --root STATE/runtime list`).
pub fn runtime_ids(pod: &Pod) -> Vec<String> {
    let root = pod.state_dir.join("runtime");
    if !root.exists() {
        return vec![];
    }
    let out = Command::new(runc())
        .arg("--root")
        .arg(&root)
        .args(["list", "-q"])
        .output()
        .unwrap_or_else(|e| panic!("runc list: {e}"));
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    ids.sort();
    ids
}

/// Container ids ListContainers reports.
pub fn listed_ids(pod: &Pod) -> Vec<String> {
    let mut ids: Vec<String> = pod
        .client()
        .call_more(LIST_CONTAINERS, json!({}))
        .iter()
        .filter_map(|r| r.ok()["container"]["id"].as_str().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// Asserts that runc holds exactly the containers podmon lists (within
/// `within`, for operations still finishing): none it does not know.
#[track_caller]
pub fn assert_runtime_matches_list(pod: &Pod, within: Duration) {
    let same = wait_until(within, || runtime_ids(pod) == listed_ids(pod));
    assert!(
        same,
        "runc holds {:?} but ListContainers says {:?}",
        runtime_ids(pod),
        listed_ids(pod)
    );
}

/// Open descriptors of a process.
pub fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Asserts that the server's descriptors come back to `baseline` (within `within`).
#[track_caller]
pub fn assert_fds_back_to(pod: &Pod, baseline: usize, within: Duration) {
    let back = wait_until(within, || open_fds(pod.pid) <= baseline);
    assert!(
        back,
        "podmon has {} open descriptors, {baseline} before: {:?}",
        open_fds(pod.pid),
        fs::read_dir(format!("/proc/{}/fd", pod.pid))
            .map(|d| d
                .flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .collect::<Vec<_>>())
            .unwrap_or_default()
    );
}

/// The `Sig*` lines of a /proc/PID/status text, as (name, mask) pairs.
pub fn signal_masks(status: &str) -> Vec<(String, u64)> {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            if !matches!(k, "SigBlk" | "SigIgn") {
                return None;
            }
            Some((k.to_string(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

/// Live processes (not zombies) anywhere on the host whose command line is
/// exactly `args`: pick arguments no other test uses (`sleep 3141`).
pub fn live_with_cmdline(args: &[&str]) -> Vec<u32> {
    let mut want = Vec::new();
    for a in args {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    let Ok(dir) = fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).ok().as_deref() == Some(&want[..]))
        .filter(|pid| super::proc_alive(*pid))
        .collect()
}

/// Connects, sends `method` (with `more` when asked), waits `after` and
/// hangs up without reading a reply.
pub fn hang_up(pod: &Pod, method: &str, params: serde_json::Value, more: bool, after: Duration) {
    let mut c = pod.client();
    if more {
        c.send_more(method, params);
    } else {
        c.send(method, params);
    }
    std::thread::sleep(after);
    drop(c);
}
