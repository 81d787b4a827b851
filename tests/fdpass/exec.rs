//! Exec with `fds`: the caller gets the process's pipe ends and does its
//! own I/O; the monitor still reports the exit.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use serde_json::json;

use crate::FdClient;
use crate::common::*;
use crate::settled_fds;

#[test]
fn exec_hands_out_its_pipes_and_reports_the_exit() {
    let pod = Pod::start("fd-exec");
    pod.run(
        "e1",
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    let mut c = FdClient::connect(&pod);
    let before = settled_fds(pod.pid);
    let script = "read x; echo got-$x; echo oops >&2; exit 4";
    c.send(
        EXEC,
        json!({"id": "e1", "command": ["sh", "-c", script], "fds": true}),
        true,
        &[],
    );
    let (first, fds) = c.recv().unwrap();
    let p = &first["parameters"];
    assert_eq!(first["continues"], true, "{first}");
    assert!(p["execId"].is_string() && p["pid"].is_i64(), "{first}");
    assert_eq!(
        (
            &p["stdinFileDescriptor"],
            &p["stdoutFileDescriptor"],
            &p["stderrFileDescriptor"]
        ),
        (&json!(0), &json!(1), &json!(2)),
        "{first}"
    );
    let [stdin, stdout, stderr]: [OwnedFd; 3] = fds.try_into().expect("three descriptors");
    // The monitor keeps no copy of them (it closes its own right after
    // the send, which we may have seen first).
    let none_kept = wait_until(Duration::from_secs(5), || {
        [&stdin, &stdout, &stderr]
            .iter()
            .all(|f| !crate::holds_pipe(pod.pid, f))
    });
    assert!(none_kept, "the monitor holds a pipe it handed out");
    let mut stdin = std::fs::File::from(stdin);
    stdin.write_all(b"hello\n").unwrap();
    drop(stdin);
    let (mut out, mut err) = (String::new(), String::new());
    std::fs::File::from(stdout)
        .read_to_string(&mut out)
        .unwrap();
    std::fs::File::from(stderr)
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("got-hello\n", "oops\n"));
    let (last, fds) = c.recv().unwrap();
    assert!(fds.is_empty());
    assert_eq!(last["parameters"], json!({"exitCode": 4}), "{last}");
    assert!(last.get("continues").is_none_or(|c| c == false), "{last}");
    // Refused combinations name `fds`.
    for extra in [json!({"stdin": "x"}), json!({"terminal": true})] {
        let mut params = json!({"id": "e1", "command": ["true"], "fds": true});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        c.send(EXEC, params, true, &[]);
        let (reply, _) = c.recv().unwrap();
        assert_eq!(reply["error"], INVALID_VALUE, "{reply}");
        assert_eq!(reply["parameters"]["parameter"], "fds", "{reply}");
    }
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
    pod.kill("e1", "TERM");
    pod.wait("e1");
}

#[test]
fn hanging_up_kills_an_exec_whose_pipes_were_handed_out() {
    let pod = Pod::start("fd-exec-hup");
    pod.run(
        "e2",
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    let before = settled_fds(pod.pid);
    let mut c = FdClient::connect(&pod);
    c.send(
        EXEC,
        json!({"id": "e2", "command": ["sleep", "1000"], "fds": true}),
        true,
        &[],
    );
    let (first, fds) = c.recv().unwrap();
    assert_eq!(fds.len(), 3, "{first}");
    let pid = first["parameters"]["pid"].as_i64().unwrap();
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive());
    // The client goes, its pipe ends with it.
    drop(c);
    drop(fds);
    assert!(
        wait_until(Duration::from_secs(10), || !alive()),
        "exec {pid} lives on"
    );
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
    pod.kill("e2", "TERM");
    pod.wait("e2");
}

#[test]
fn a_missing_command_with_fds_gets_pipes_and_exit_code_127() {
    let pod = Pod::start("fd-exec-127");
    pod.run(
        "e3",
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    let mut c = FdClient::connect(&pod);
    let before = settled_fds(pod.pid);
    c.send(
        EXEC,
        json!({"id": "e3", "command": ["/no/such/command"], "fds": true}),
        true,
        &[],
    );
    let (first, fds) = c.recv().unwrap();
    let [_stdin, stdout, stderr]: [OwnedFd; 3] = fds.try_into().expect("three descriptors");
    assert_eq!(first["parameters"]["stderrFileDescriptor"], 2, "{first}");
    let (mut out, mut err) = (String::new(), String::new());
    std::fs::File::from(stdout)
        .read_to_string(&mut out)
        .unwrap();
    std::fs::File::from(stderr)
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(out, "");
    assert!(err.contains("/no/such/command"), "{err:?}");
    let (last, _) = c.recv().unwrap();
    assert_eq!(last["parameters"], json!({"exitCode": 127}), "{last}");
    assert_fds_back_to(&pod, before, Duration::from_secs(5));
    pod.kill("e3", "TERM");
    pod.wait("e3");
}
