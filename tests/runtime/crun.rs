//! podmon driving crun (`--runtime` naming it): create, start, exec,
//! stats, kill, wait, delete. crun 1.8 refuses hybrid-cgroup hosts, so
//! each crun run goes through a wrapper (named `crun`, as podmon's quirks
//! key on the name) that unmounts /sys/fs/cgroup/unified in a mount
//! namespace of its own: crun then sees the v1 hierarchies only, as runc
//! uses them here. The crun binary is the one scripts/install-deps unpacks.

use super::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where scripts/install-deps unpacks crun.
const CRUN: &str = "/opt/podmon-tools/crun/bin/crun";

/// A `crun` wrapper script in a fresh directory; removed on drop.
struct CrunWrapper {
    dir: PathBuf,
    path: PathBuf,
}

impl Drop for CrunWrapper {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn crun_wrapper(name: &str) -> CrunWrapper {
    assert!(
        Path::new(CRUN).exists(),
        "{CRUN} is missing: run scripts/install-deps"
    );
    let dir = test_base().join(format!("crun-{name}.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crun");
    // Hybrid hosts only: elsewhere there is nothing at unified to unmount.
    let script = format!(
        "#!/bin/sh\nexec unshare -m sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec {CRUN} \"$@\"' crun \"$@\"\n"
    );
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    CrunWrapper { dir, path }
}

/// What `crun list` shows in the pod's runtime root.
fn crun_list(pod: &Pod) -> Vec<String> {
    let out = Command::new(CRUN)
        .arg("--root")
        .arg(pod.state_dir.join("runtime"))
        .args(["list", "-q"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn crun_runs_the_whole_lifecycle() {
    let w = crun_wrapper("life");
    let mut pod = Pod::start_with(
        "crun-life",
        PodOptions {
            runtime: Some(w.path.clone()),
            ..PodOptions::default()
        },
    );
    let c = pod.run("c1", &["sleep", "1000"]);
    assert_eq!(c["status"], json!("running"), "{c}");
    assert_eq!(crun_list(&pod), ["c1"], "crun keeps the record");

    let r = pod
        .call(
            "io.podmon.Pod.ExecSync",
            json!({"id": "c1", "command": ["sh", "-c", "echo out; exit 3"]}),
        )
        .ok();
    assert_eq!(
        (r["exitCode"].clone(), r["stdout"].clone()),
        (json!(3), json!("out\n")),
        "{r}"
    );

    let s = pod.call("io.podmon.Pod.Stats", json!({"id": "c1"})).ok();
    let pids = s["stats"]["pids"]["current"].as_i64().unwrap_or(0);
    assert!(pids >= 1, "the container's pids are counted: {s}");

    pod.kill("c1", "KILL");
    let waited = pod.wait("c1");
    assert_eq!(waited["exitCode"], json!(137), "{waited}");
    pod.delete("c1", false);
    assert_eq!(crun_list(&pod), Vec::<String>::new());
    assert!(!pod.state_dir.join("containers/c1").exists());
    assert_eq!(pod.exit_file("c1").unwrap_or_default().trim(), "137");
    let status = pod.stop().expect("no exit");
    assert!(status.success(), "{status}");
}

#[test]
fn crun_teardown_deletes_every_container() {
    let w = crun_wrapper("down");
    let mut pod = Pod::start_with(
        "crun-down",
        PodOptions {
            runtime: Some(w.path.clone()),
            ..PodOptions::default()
        },
    );
    for i in 0..5 {
        pod.run(&format!("c{i}"), &["sh", "-c", IDLE]);
    }
    assert_eq!(crun_list(&pod).len(), 5);
    let status = pod.stop().expect("no exit");
    assert!(status.success(), "{status}");
    assert_eq!(crun_list(&pod), Vec::<String>::new());
    for i in 0..5 {
        assert_eq!(
            pod.exit_file(&format!("c{i}")).unwrap_or_default().trim(),
            "0"
        );
    }
}
