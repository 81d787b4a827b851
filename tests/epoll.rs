//! The epoll fallback backend in every normal run: a pod served with
//! PODMON_REACTOR=epoll (as on a host where io_uring is disabled) creates,
//! starts, waits for, logs and execs into a container like the io_uring one,
//! and sleeps just as soundly when idle. (`PODMON_TEST_REACTOR=epoll cargo
//! test` runs the whole suite on it.)

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn epoll_pod(name: &str) -> Pod {
    let pod = Pod::start_with(
        name,
        PodOptions {
            env: vec![("PODMON_REACTOR".into(), "epoll".into())],
            ..PodOptions::default()
        },
    );
    let log = pod.server_log_text();
    assert!(
        log.contains("epoll backend"),
        "the server does not say it uses epoll; its log:\n{log}"
    );
    pod
}

#[test]
fn epoll_backend_runs_a_container() {
    let pod = epoll_pod("epoll");
    pod.create(
        "c1",
        &["sh", "-c", "echo out-line; echo err-line >&2; exit 3"],
    );
    pod.start_container("c1");
    let w = pod.wait("c1");
    assert_eq!(w["exitCode"], json!(3), "wait: {w}");
    let log = pod.log("c1");
    assert!(log.contains(" stdout F out-line\n"), "log: {log}");
    assert!(log.contains(" stderr F err-line\n"), "log: {log}");
    pod.delete("c1", false);

    // Execs: synchronous, streamed through the CLI, and with stdin.
    pod.run("c2", &["sleep", "60"]);
    let r = pod
        .call(
            EXEC_SYNC,
            json!({ "id": "c2", "command": ["sh", "-c", "echo synced; exit 4"] }),
        )
        .ok();
    assert_eq!(r["exitCode"], json!(4), "ExecSync: {r}");
    assert!(r.to_string().contains("synced"), "ExecSync: {r}");

    let out = pod
        .cli(&[
            "exec",
            "c2",
            "--",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2",
        ])
        .assert_code(0);
    assert_eq!(out.stdout, "to-out\n", "{out:?}");
    assert_eq!(out.stderr, "to-err\n", "{out:?}");

    // 1 MiB through stdin and back: pipes fill up and wait for EPOLLOUT.
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let mut child = Command::new(podmon_bin())
        .arg("--socket")
        .arg(&pod.socket)
        .args(["exec", "-i", "c2", "--", "cat"])
        .env_remove("PODMON_SOCKET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut si = child.stdin.take().unwrap();
    let input = data.clone();
    let feeder = std::thread::spawn(move || si.write_all(&input));
    let mut got = vec![];
    child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    feeder.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        got == data,
        "exec -i cat returned {} bytes, not the input",
        got.len()
    );

    pod.delete("c2", true);
}

#[test]
fn epoll_backend_idle_has_no_wakeups() {
    let pod = epoll_pod("epoll-idle");
    pod.run("sleeper", &["sleep", "60"]);
    let mut client = pod.client();
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    assert_no_wakeups_for_10s(&pod);
    assert_eq!(pod.get("sleeper")["status"], json!("running"));
    client.call("org.varlink.service.GetInfo", json!({})).ok();
    pod.delete("sleeper", true);
}
