//! Hang-ups during ExecSync, Exec with `more` and Exec with `upgrade`: the
//! exec and everything it started are killed and reaped, so the container's
//! init can still exit, be waited for and deleted.

use crate::common::*;
use crate::{IDLE, STEPS_MS, assert_clean, assert_kill_and_wait};
use serde_json::{Value, json};
use std::thread;
use std::time::Duration;

/// An exec that starts a child and a grandchild and waits: a tree to kill.
fn tree(tag: &str) -> Value {
    json!([
        "sh",
        "-c",
        format!("sleep {tag} & sh -c 'sleep {tag}' & wait")
    ])
}

#[track_caller]
fn assert_tree_gone(tag: &str) {
    let gone = wait_until(Duration::from_secs(10), || {
        live_with_cmdline(&["sleep", tag]).is_empty()
    });
    assert!(
        gone,
        "processes of the abandoned exec still run: {:?}",
        live_with_cmdline(&["sleep", tag])
    );
}

/// The scenario of the report: the client of a long exec goes away, then
/// the container is killed. The exec is gone, its exit reaped, and the
/// container's exit is seen and it can be deleted.
fn abandon_then_kill(name: &str, tag: &str, call: impl FnOnce(&Pod)) {
    let pod = Pod::start(name);
    pod.run("c1", &["sh", "-c", IDLE]);
    let baseline = open_fds(pod.pid);
    call(&pod);
    assert_tree_gone(tag);
    assert_clean(&pod, baseline);
    assert_eq!(pod.get("c1")["status"], json!("running"));
    assert_kill_and_wait(&pod, "c1");
    pod.delete("c1", false);
    assert_eq!(runtime_ids(&pod), Vec::<String>::new());
    assert_no_zombies(&pod, Duration::from_secs(5));
}

#[test]
fn exec_sync_client_gone() {
    abandon_then_kill("hu-execsync", "3141", |pod| {
        hang_up(
            pod,
            EXEC_SYNC,
            json!({ "id": "c1", "command": tree("3141") }),
            false,
            Duration::from_secs(1),
        );
    });
}

#[test]
fn exec_more_client_gone() {
    abandon_then_kill("hu-execmore", "3142", |pod| {
        let mut c = pod.client();
        c.send_more(EXEC, json!({ "id": "c1", "command": tree("3142") }));
        let first = c.recv();
        assert!(first.continues(), "{first:?}");
        thread::sleep(Duration::from_millis(500));
    });
}

#[test]
fn exec_upgrade_client_gone() {
    abandon_then_kill("hu-execup", "3143", |pod| {
        let (reply, stream, _) = pod.client().upgrade(
            EXEC,
            json!({ "id": "c1", "command": tree("3143"), "interactive": true }),
        );
        reply.ok();
        thread::sleep(Duration::from_millis(500));
        drop(stream);
    });
}

#[test]
fn exec_hang_up_at_every_step() {
    let pod = Pod::start("hu-execsteps");
    pod.run("c1", &["sh", "-c", IDLE]);
    let baseline = open_fds(pod.pid);
    for ms in STEPS_MS {
        let after = Duration::from_millis(ms);
        let cmd = tree("3144");
        hang_up(
            &pod,
            EXEC_SYNC,
            json!({ "id": "c1", "command": cmd }),
            false,
            after,
        );
        hang_up(
            &pod,
            EXEC,
            json!({ "id": "c1", "command": cmd }),
            true,
            after,
        );
        let (_, stream, _) = {
            let c = pod.client();
            c.set_read_timeout(Duration::from_secs(10));
            // The upgrade's reply is read by `upgrade`: hang up right after.
            c.upgrade(EXEC, json!({ "id": "c1", "command": cmd }))
        };
        thread::sleep(after);
        drop(stream);
    }
    assert_tree_gone("3144");
    assert_clean(&pod, baseline);
    // Execs that finish on their own still work.
    let r = pod.call(EXEC_SYNC, json!({ "id": "c1", "command": ["echo", "hi"] }));
    assert_eq!(r.ok()["stdout"], json!("hi\n"));
    assert_kill_and_wait(&pod, "c1");
    pod.delete("c1", false);
    assert_clean(&pod, baseline);
}
