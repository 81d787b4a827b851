//! Memory and pids limits, as written into the bundle and as enforced.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;

fn bundle_config(c: &Value) -> Value {
    let path = Path::new(c["bundle"].as_str().unwrap()).join("config.json");
    serde_json::from_slice(&fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn memory_and_pids_limits_varlink() {
    let pod = Pod::start("limits-vl");
    let c = pod.create_with(
        "m",
        &["sleep", "100"],
        json!({"memoryMax": 64 * 1024 * 1024, "pidsMax": 42}),
    );
    // The generated OCI configuration carries the limits.
    let cfg = bundle_config(&c);
    let res = &cfg["linux"]["resources"];
    assert_eq!(
        res["memory"]["limit"],
        json!(64 * 1024 * 1024),
        "resources: {res}"
    );
    assert_eq!(res["pids"]["limit"], json!(42), "resources: {res}");
    // And the kernel has them: the container's own cgroup files (v1 or v2).
    let c = pod.start_container("m");
    let pid = c["pid"].as_u64().unwrap() as u32;
    let (p, v) = cgroup_limit(pid, "pids");
    assert_eq!(v, "42", "{}", p.display());
    let (p, v) = cgroup_limit(pid, "memory");
    assert_eq!(v, (64u64 * 1024 * 1024).to_string(), "{}", p.display());
    pod.delete("m", true);

    // Without limits the configuration sets none.
    let c = pod.create("n", &["true"]);
    let res = &bundle_config(&c)["linux"]["resources"];
    assert!(res["memory"]["limit"].is_null(), "{res}");
    assert!(res["pids"]["limit"].is_null(), "{res}");
}

#[test]
fn memory_and_pids_limits_cli() {
    let pod = Pod::start("limits-cli");
    let rootfs = rootfs().display().to_string();
    pod.cli_ok(&[
        "create",
        "m",
        "--rootfs",
        &rootfs,
        "--memory-max",
        "64M",
        "--pids-max",
        "42",
        "--",
        "sleep",
        "100",
    ]);
    let res = bundle_config(&pod.get("m"))["linux"]["resources"].clone();
    assert_eq!(
        res["memory"]["limit"],
        json!(64 * 1024 * 1024),
        "resources: {res}"
    );
    assert_eq!(res["pids"]["limit"], json!(42), "resources: {res}");
    pod.cli_ok(&["start", "m"]);
    let pid = pod.get("m")["pid"].as_u64().unwrap() as u32;
    let (p, v) = cgroup_limit(pid, "memory");
    assert_eq!(v, (64u64 * 1024 * 1024).to_string(), "{}", p.display());
    pod.cli_ok(&["delete", "--force", "m"]);
}

#[test]
fn pids_limit_is_enforced() {
    let pod = Pod::start("pids-enf");
    // With pids.max 3 the shell and two children fit; later forks fail and
    // the shell says so on stderr.
    pod.create_with(
        "p",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo done",
        ],
        json!({"pidsMax": 3}),
    );
    pod.start_container("p");
    let w = pod.wait("p");
    let log = pod.log("p");
    assert!(
        log.lines()
            .any(|l| l.contains(" stderr ") && l.contains("fork")),
        "no fork failure with pidsMax 3 (exit {}): {log}",
        w["exitCode"]
    );
}
