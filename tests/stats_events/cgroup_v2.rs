//! cgroup v2 on this hybrid host: a server that finds containers in the
//! unified hierarchy.

use crate::common::*;
use crate::support::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
            .arg("--kill-on-exit")
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
        CREATE_CONTAINER,
        json!({
            "id": "burn",
            "rootfs": rootfs().display().to_string(),
            "command": ["sh", "-c", "while :; do :; done"],
        }),
    );
    let cpid = c["container"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{c}")) as u32;
    pod.call(START_CONTAINER, json!({ "id": "burn" }));

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
        let p = pod.call(STATS, json!({ "id": "burn" }));
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

    pod.call(KILL_CONTAINER, json!({ "id": "burn", "signal": "KILL" }));
    let w = pod.call(WAIT_CONTAINER, json!({ "id": "burn" }));
    assert_eq!(w["exitCode"], json!(137), "{w}");
    assert_eq!(w["oomKilled"], json!(false), "{w}");
}
