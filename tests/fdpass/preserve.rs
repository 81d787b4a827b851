//! `preserveFds`: descriptors passed into the container as fds 3, 4, ...

use std::os::fd::AsFd;
use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::settled_fds;
use crate::{FdClient, create_params, holds_pipe, pipe, read_now, read_until, set_nonblocking};

#[test]
fn preserved_descriptors_are_the_containers_fds_3_and_4() {
    let pod = Pod::start("fd-preserve");
    let before = settled_fds(pod.pid);
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut c = FdClient::connect(&pod);
    // Sent in the order w2, w1: preserveFds puts index 1 (w1) at fd 3.
    let script =
        "echo three >&3; echo four >&4; exec 3>&- 4>&-; [ -e /proc/self/fd/5 ] || echo no-five";
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        create_params("p1", &["sh", "-c", script], json!({"preserveFds": [1, 0]})),
        &[w2.as_fd(), w1.as_fd()],
    );
    assert_eq!(
        reply["parameters"]["container"]["status"], "created",
        "{reply}"
    );
    // The monitor kept no copy: only the container's own are open.
    drop((w1, w2));
    assert!(!holds_pipe(pod.pid, &r1) && !holds_pipe(pod.pid, &r2));
    pod.start_container("p1");
    assert_eq!(
        read_until(r1.as_fd(), "three", Duration::from_secs(10)),
        "three\n"
    );
    assert_eq!(
        read_until(r2.as_fd(), "four", Duration::from_secs(10)),
        "four\n"
    );
    assert_eq!(pod.wait("p1")["exitCode"], 0);
    assert!(pod.log("p1").contains("no-five"), "{}", pod.log("p1"));
    // Every writer is gone: EOF on both.
    for r in [&r1, &r2] {
        set_nonblocking(r.as_fd());
        assert!(matches!(read_now(r.as_fd()), Ok(b) if b.is_empty()));
    }
    pod.delete("p1", false);
    drop(c);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}

#[test]
fn preserved_descriptors_reach_a_bundle_container_too() {
    let pod = Pod::start("fd-preserve-bundle");
    // A bundle: the one the monitor writes for a rootfs container, copied.
    let tmpl = pod.create("tmpl", &["sh", "-c", "echo bundled >&3"]);
    let dir = pod.dir.join("bundle-b1");
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::path::Path::new(tmpl["bundle"].as_str().unwrap()).join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    if let Some(p) = spec["linux"]["cgroupsPath"].as_str() {
        spec["linux"]["cgroupsPath"] = json!(p.replace("tmpl", "b1"));
    }
    std::fs::write(dir.join("config.json"), spec.to_string()).unwrap();
    pod.delete("tmpl", true);
    let before = settled_fds(pod.pid);
    let (r, w) = pipe();
    let mut c = FdClient::connect(&pod);
    let (reply, _) = c.call(
        CREATE_CONTAINER,
        json!({"id": "b1", "bundle": dir.display().to_string(), "preserveFds": [0]}),
        &[w.as_fd()],
    );
    assert_eq!(
        reply["parameters"]["container"]["status"], "created",
        "{reply}"
    );
    drop(w);
    assert!(!holds_pipe(pod.pid, &r));
    pod.start_container("b1");
    assert_eq!(
        read_until(r.as_fd(), "bundled", Duration::from_secs(10)),
        "bundled\n"
    );
    assert_eq!(pod.wait("b1")["exitCode"], 0);
    pod.delete("b1", false);
    drop(c);
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
}
