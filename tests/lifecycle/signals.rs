//! Signals: KillContainer (by name, number, --all), bundles whose process
//! ends on SIGTERM, no zombies left, and SIGTERM to the monitor itself
//! with `--kill-on-exit` (without it: `exit.rs`).

use crate::common::*;
use crate::runc_list;
use serde_json::json;
use std::fs;
use std::path::Path;
use std::time::Duration;

#[test]
fn cli_kill_sigkill_gives_137() {
    let pod = Pod::start("cli-kill9");
    let rootfs = rootfs().display().to_string();
    pod.cli_ok(&["create", "k", "--rootfs", &rootfs, "--", "sleep", "100"]);
    pod.cli_ok(&["start", "k"]);
    assert_eq!(pod.get("k")["status"], json!("running"));
    pod.cli_ok(&["kill", "k", "KILL"]);
    let out = pod.cli(&["wait", "k"]).assert_code(137);
    assert_eq!(out.stdout.trim(), "137");
    let c = pod.get("k");
    assert_eq!(c["status"], json!("stopped"), "{c}");
    assert_eq!(c["exitCode"], json!(137), "{c}");
    assert_eq!(c["signal"], json!("SIGKILL"), "{c}");
    assert_eq!(pod.exit_file("k").as_deref().map(str::trim), Some("137"));
    pod.cli_ok(&["delete", "k"]);
}

/// A bundle written by the test (engine style) with no PID namespace, so
/// that the container's init is not a PID-namespace init, which ignores
/// SIGTERM when it has no handler.
fn write_bundle(dir: &Path, args: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    let config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": rootfs().display().to_string(), "readonly": true},
        "hostname": "bundled",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    });
    fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
}

#[test]
fn bundle_container_sigterm_gives_143() {
    let pod = Pod::start("bundle-term");
    let bundle = pod.dir.join("my-bundle");
    write_bundle(&bundle, &["sleep", "100"]);
    let r = pod.call(
        CREATE_CONTAINER,
        json!({"id": "t", "bundle": bundle.display().to_string()}),
    );
    let c = r.ok()["container"].clone();
    assert_eq!(c["bundle"], json!(bundle.display().to_string()), "{c}");
    assert_eq!(c["status"], json!("created"));
    let c = pod.start_container("t");
    let pid = c["pid"].as_u64().expect("pid") as u32;
    assert!(proc_alive(pid));
    // The CLI's default signal is SIGTERM; send it by name through Varlink.
    pod.kill("t", "SIGTERM");
    let w = pod.wait("t");
    assert_eq!(w["exitCode"], json!(143), "{w}");
    assert_eq!(w["signal"], json!("SIGTERM"), "{w}");
    assert_eq!(w["container"]["signal"], json!("SIGTERM"), "{w}");
    assert_eq!(pod.exit_file("t").as_deref().map(str::trim), Some("143"));
    pod.delete("t", false);
    // A caller's bundle is not the monitor's to remove.
    assert!(
        bundle.join("config.json").exists(),
        "DeleteContainer removed the caller's bundle"
    );
}

#[test]
fn cli_kill_default_signal_is_sigterm() {
    let pod = Pod::start("cli-killterm");
    let bundle = pod.dir.join("b");
    write_bundle(&bundle, &["sleep", "100"]);
    let b = bundle.display().to_string();
    pod.cli_ok(&["create", "d", "--bundle", &b]);
    pod.cli_ok(&["start", "d"]);
    pod.cli_ok(&["kill", "d"]);
    let out = pod.cli(&["wait", "d"]).assert_code(143);
    assert_eq!(out.stdout.trim(), "143");
    assert_eq!(pod.get("d")["signal"], json!("SIGTERM"));
}

#[test]
fn kill_signal_number_and_all() {
    let pod = Pod::start("kill-all");
    // A shell with children: --all must reach every process. The numeric
    // form "9" must work like "SIGKILL".
    pod.run("a", &["sh", "-c", "sleep 100 & sleep 100 & wait"]);
    let c = pod.get("a");
    let pid = c["pid"].as_u64().unwrap() as u32;
    assert!(wait_until(Duration::from_secs(5), || children_of(pid)
        .len()
        == 2));
    let kids = children_of(pid);
    pod.call(
        KILL_CONTAINER,
        json!({"id": "a", "signal": "9", "all": true}),
    )
    .ok();
    let w = pod.wait("a");
    assert_eq!(w["exitCode"], json!(137), "{w}");
    assert_eq!(w["signal"], json!("SIGKILL"));
    assert!(
        wait_until(Duration::from_secs(5), || kids
            .iter()
            .all(|k| !proc_alive(*k))),
        "children {kids:?} of the container survived kill --all"
    );
}

#[test]
fn no_zombie_children_afterwards() {
    let pod = Pod::start("zombies");
    for i in 0..4 {
        let id = format!("z{i}");
        pod.run(&id, &["sh", "-c", "sleep 0.1 & exit 2"]);
    }
    pod.run("zk", &["sleep", "100"]);
    pod.kill("zk", "KILL");
    for i in 0..4 {
        assert_eq!(pod.wait(&format!("z{i}"))["exitCode"], json!(2));
    }
    assert_eq!(pod.wait("zk")["exitCode"], json!(137));
    pod.run("zf", &["sleep", "100"]);
    pod.delete("zf", true);
    for i in 0..4 {
        pod.delete(&format!("z{i}"), false);
    }
    pod.delete("zk", false);
    let ok = wait_until(Duration::from_secs(3), || {
        zombie_children(pod.pid).is_empty()
    });
    assert!(
        ok,
        "zombie children of podmon {}: {:?}",
        pod.pid,
        zombie_children(pod.pid)
    );
    // Nothing of the containers is left running under the monitor either.
    let ok = wait_until(Duration::from_secs(3), || children_of(pod.pid).is_empty());
    let kids: Vec<String> = children_of(pod.pid)
        .into_iter()
        .map(|c| format!("{c} ({}) {:?}", proc_comm(c), proc_state(c)))
        .collect();
    assert!(
        ok,
        "podmon {} still has children after all deletes: {kids:?}",
        pod.pid
    );
}

/// With `--kill-on-exit` (which the harness passes unless told otherwise).
#[test]
fn sigterm_with_kill_on_exit_stops_and_deletes_containers() {
    let mut pod = Pod::start("stop-mon");
    let c = pod.run("s", &["sleep", "100"]);
    let pid = c["pid"].as_u64().unwrap() as u32;
    pod.create("cr", &["true"]);
    // `sleep` as PID 1 of its namespace ignores SIGTERM: podmon waits 10 s, then kills.
    let t0 = std::time::Instant::now();
    let status = pod.stop().expect("server was running");
    assert!(
        t0.elapsed() < Duration::from_secs(19),
        "stopping took {:?}",
        t0.elapsed()
    );
    assert!(status.success(), "podmon exited with {status} on SIGTERM");
    assert!(
        wait_until(Duration::from_secs(5), || !proc_alive(pid)),
        "container process {pid} outlived its monitor"
    );
    let left = runc_list(&pod);
    assert!(
        left.trim().is_empty(),
        "runc still lists after the monitor stopped: {}",
        left
    );
    assert!(!pod.socket.exists(), "socket file left behind");
    let records = pod.state_dir.join("containers");
    let kept: Vec<_> = std::fs::read_dir(&records).unwrap().flatten().collect();
    assert!(kept.is_empty(), "records left: {kept:?}");
    assert_eq!(pod.pod_cgroups_left(), Vec::<std::path::PathBuf>::new());
}
