//! Hostile input that needs more than one message to say: ids that must
//! not touch files, hang-ups during a call, pipelining, oneway, many
//! clients, and the CLI's errors.

use crate::common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn all_paths(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p.clone());
            }
            out.insert(p);
        }
    }
    out
}

#[test]
fn bad_ids_rejected_and_nothing_written_outside() {
    let pod = Pod::start("bad-id");
    let rootfs = rootfs().display().to_string();
    // One good container first, so every directory the server makes exists.
    pod.create("good", &["true"]);
    // The longest valid id is accepted (its log and exit file stay after delete).
    let max = "b".repeat(64);
    pod.create(&max, &["true"]);
    pod.delete(&max, false);
    let before = all_paths(&pod.dir);
    let long = "a".repeat(65);
    for id in [
        "../x", "..", ".", "a/b", "/abs", "", ".hidden", "-dash", "x y", "x\ny", "é", &long,
    ] {
        let r = pod.call(
            CREATE_CONTAINER,
            json!({"id": id, "rootfs": rootfs, "command": ["true"]}),
        );
        let p = r.err(INVALID_VALUE);
        assert_eq!(p["parameter"], json!("id"), "id {id:?}: {p}");
        assert!(
            p["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "id {id:?}: {p}"
        );
    }
    let after = all_paths(&pod.dir);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.is_empty(), "rejected creates left files: {new:?}");
    for p in [
        pod.dir.join("x"),
        pod.dir.join("x.log"),
        pod.state_dir.join("x"),
        test_base().join("x"),
    ] {
        assert!(!p.exists(), "{} was created", p.display());
    }
    // The other methods reject such ids too (or do not find them), never touch files.
    for m in ["GetContainer", "DeleteContainer", "WaitContainer"] {
        let r = pod.call(&format!("{INTERFACE}.{m}"), json!({"id": "../x"}));
        let e = r
            .error()
            .unwrap_or_else(|| panic!("{m} ../x succeeded: {:?}", r.0));
        assert!(
            e == INVALID_VALUE || e == NO_SUCH_CONTAINER,
            "{m}: {:?}",
            r.0
        );
    }
}

#[test]
fn client_disconnects_during_wait() {
    let mut pod = Pod::start("bad-disc");
    let gate = pod.gate("w");
    pod.run("w", &["sh", "-c", &gate.script("exit 9")]);
    for _ in 0..3 {
        let mut c = pod.client();
        c.send(WAIT_CONTAINER, json!({"id": "w"}));
        std::thread::sleep(Duration::from_millis(100));
        drop(c);
    }

    std::thread::sleep(Duration::from_millis(200));
    pod.assert_alive();
    pod.call("org.varlink.service.GetInfo", json!({})).ok();
    assert_eq!(pod.get("w")["status"], json!("running"));
    gate.open();
    let w = pod.wait("w");
    assert_eq!(w["exitCode"], json!(9));
    assert!(
        wait_until(Duration::from_secs(5), || pod.exit_file("w").is_some()),
        "no exit file"
    );
    assert_eq!(pod.exit_file("w").as_deref().map(str::trim), Some("9"));
    pod.assert_alive();
}

#[test]
fn pipelined_calls_in_one_write() {
    let pod = Pod::start("pipeline");
    pod.create("a", &["true"]);
    pod.create("b", &["true"]);
    let mut bytes = vec![];
    bytes.extend(Client::encode(
        GET_CONTAINER,
        json!({"id": "a"}),
        false,
        false,
    ));
    bytes.extend(Client::encode(
        GET_CONTAINER,
        json!({"id": "nope"}),
        false,
        false,
    ));
    bytes.extend(Client::encode(LIST_CONTAINERS, json!({}), true, false));
    bytes.extend(Client::encode(
        GET_CONTAINER,
        json!({"id": "b"}),
        false,
        false,
    ));
    bytes.extend(Client::encode(
        "org.varlink.service.GetInfo",
        json!({}),
        false,
        false,
    ));
    let mut c = pod.client();
    c.send_raw(&bytes).unwrap();
    assert_eq!(c.recv().ok()["container"]["id"], json!("a"));
    assert_eq!(c.recv().err(NO_SUCH_CONTAINER)["id"], json!("nope"));
    let l1 = c.recv();
    assert!(l1.continues(), "{:?}", l1.0);
    let l2 = c.recv();
    assert!(!l2.continues(), "{:?}", l2.0);
    assert_eq!(c.recv().ok()["container"]["id"], json!("b"));
    assert!(c.recv().ok()["interfaces"].is_array());

    // Byte by byte works as well.
    let msg = Client::encode(GET_CONTAINER, json!({"id": "b"}), false, false);
    for b in &msg {
        c.send_raw(&[*b]).unwrap();
    }
    assert_eq!(c.recv().ok()["container"]["id"], json!("b"));
}

#[test]
fn oneway_gets_no_reply() {
    let pod = Pod::start("oneway");
    pod.run("o", &["sleep", "100"]);
    let mut c = pod.client();
    c.send_oneway(KILL_CONTAINER, json!({"id": "o", "signal": "KILL"}));
    c.send_oneway(GET_CONTAINER, json!({"id": "nope"}));
    // The next reply on this connection answers the next normal call.
    let r = c.call("org.varlink.service.GetInfo", json!({}));
    assert!(
        r.ok()["interfaces"].is_array(),
        "oneway call got a reply: {:?}",
        r.0
    );
    // And the oneway call took effect.
    assert_eq!(pod.wait("o")["exitCode"], json!(137));
    // Nothing more arrives.
    c.set_read_timeout(Duration::from_millis(500));
    let extra = c.read_raw();
    assert!(
        matches!(&extra, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "unexpected data: {extra:?}"
    );
}

#[test]
fn many_clients_at_once() {
    let pod = Pod::start("many");
    pod.create("m", &["true"]);
    let mut clients: Vec<Client> = (0..64).map(|_| pod.client()).collect();
    for c in clients.iter_mut() {
        c.send(GET_CONTAINER, json!({"id": "m"}));
    }
    for c in clients.iter_mut().rev() {
        assert_eq!(c.recv().ok()["container"]["id"], json!("m"));
    }
}

#[test]
fn cli_errors_are_clear() {
    let pod = Pod::start("cli-err");
    let out = pod.cli(&["state", "nosuch"]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stdout.trim().is_empty() || !out.stdout.contains("running"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("nosuch"),
        "stderr should name the id: {out:?}"
    );
    assert!(
        out.stderr.lines().count() <= 5,
        "no backtraces please: {out:?}"
    );

    let rootfs = rootfs().display().to_string();
    let out = pod.cli(&["create", "../x", "--rootfs", &rootfs, "--", "true"]);
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("id"), "{out:?}");

    let out = pod.cli(&["kill", "nosuch", "KILL"]);
    assert!(!out.success() && out.stderr.contains("nosuch"), "{out:?}");
    let out = pod.cli(&["wait", "nosuch"]);
    assert!(!out.success() && out.stderr.contains("nosuch"), "{out:?}");

    // No server on the socket.
    let mut cmd = std::process::Command::new(podmon_bin());
    cmd.args(["--socket", "/nonexistent/podmon.sock", "ps"]);
    let out = run_with_timeout(&mut cmd, TIMEOUT);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains("/nonexistent/podmon.sock"),
        "stderr should name the socket: {out:?}"
    );

    // PODMON_SOCKET works like --socket.
    let mut cmd = std::process::Command::new(podmon_bin());
    cmd.arg("ps").env("PODMON_SOCKET", &pod.socket);
    run_with_timeout(&mut cmd, TIMEOUT).assert_ok();

    // Usage errors.
    let out = pod.cli(&["frobnicate"]);
    assert!(!out.success() && !out.stderr.is_empty(), "{out:?}");
    let out = pod.cli(&["create", "y"]);
    assert!(
        !out.success() && !out.stderr.is_empty(),
        "create without --rootfs/--bundle: {out:?}"
    );
}
