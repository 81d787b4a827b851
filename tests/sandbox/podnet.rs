//! RunInPod and PortForward reach the network namespace the monitor made
//! for the pod (`--namespaces net`): a host program there sees the pod's
//! `lo` alone, and a forwarded connection reaches a container's listener.

use std::io::{Read, Write};

use super::*;

#[test]
fn run_in_pod_and_port_forward_use_the_pods_own_netns() {
    let (pod, _base) = sandboxed("podnet", "net,ipc,uts", &[]);
    let r = pod.call(
        "io.podmon.Pod.RunInPod",
        json!({"command": ["cat", "/proc/net/dev"]}),
    );
    let out = r.ok();
    assert_eq!(out["exitCode"], json!(0), "{out}");
    let devs: Vec<String> = out["stdout"]
        .as_str()
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|d| d.trim().to_owned()))
        .collect();
    assert_eq!(devs, ["lo"], "{out}");

    // A container of the pod listens; the forward from the host reaches it.
    pod.create_with(
        "server",
        &["sh", "-c", "echo from-pod | nc -l -p 8080"],
        json!({}),
    );
    pod.start_container("server");
    let listening = eventually(Duration::from_secs(10), || {
        let r = pod.call(
            "io.podmon.Pod.ExecSync",
            json!({"id": "server", "command": ["sh", "-c", "netstat -ltn | grep -q :8080"]}),
        );
        r.ok()["exitCode"] == 0
    });
    assert!(listening, "nc never listened");
    let (reply, mut s, leftover) = pod
        .client()
        .upgrade("io.podmon.Pod.PortForward", json!({"port": 8080}));
    reply.ok();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hi\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = leftover;
    s.read_to_end(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "from-pod\n");
    assert_eq!(pod.wait("server")["exitCode"], json!(0));
}
