//! Wrong, hostile and unusual input on the Varlink socket and the CLI.

mod common;

use common::*;
use serde_json::{Value, json};
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
fn unknown_method_and_interface() {
    let pod = Pod::start("bad-method");
    let r = pod.call("io.podmon.Pod.Nope", json!({}));
    let p = r.err("org.varlink.service.MethodNotFound");
    assert!(
        p["method"].as_str().is_some_and(|m| m.contains("Nope")),
        "{p}"
    );

    let r = pod.call("com.example.Other.Method", json!({}));
    let p = r.err("org.varlink.service.InterfaceNotFound");
    assert_eq!(p["interface"], json!("com.example.Other"), "{p}");

    let r = pod.call(
        "org.varlink.service.GetInterfaceDescription",
        json!({"interface": "com.example.Other"}),
    );
    r.err("org.varlink.service.InterfaceNotFound");
    // The connection is still usable after errors.
    let mut c = pod.client();
    c.call("io.podmon.Pod.Nope", json!({}))
        .err("org.varlink.service.MethodNotFound");
    c.call("org.varlink.service.GetInfo", json!({})).ok();
}

#[test]
fn unknown_container() {
    let pod = Pod::start("bad-nosuch");
    for m in [
        "GetContainer",
        "StartContainer",
        "KillContainer",
        "WaitContainer",
        "DeleteContainer",
    ] {
        let r = pod.call(&format!("{INTERFACE}.{m}"), json!({"id": "ghost"}));
        let p = r.err(NO_SUCH_CONTAINER);
        assert_eq!(p["id"], json!("ghost"), "{m}: {p}");
    }
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
fn missing_and_wrongly_typed_parameters() {
    let pod = Pod::start("bad-params");
    let rootfs = rootfs().display().to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("GetContainer", json!({}), "id"),
        ("GetContainer", Value::Null, "id"),
        (
            "CreateContainer",
            json!({"rootfs": rootfs, "command": ["true"]}),
            "id",
        ),
        ("GetContainer", json!({"id": 5}), "id"),
        ("GetContainer", json!({"id": null}), "id"),
        ("KillContainer", json!({"id": "x", "all": "yes"}), "all"),
        ("KillContainer", json!({"id": "x", "signal": 9}), "signal"),
        ("DeleteContainer", json!({"id": "x", "force": 1}), "force"),
        (
            "CreateContainer",
            json!({"id": "x", "rootfs": rootfs, "command": "true"}),
            "command",
        ),
        (
            "CreateContainer",
            json!({"id": "x", "rootfs": rootfs, "command": [1]}),
            "command",
        ),
        (
            "CreateContainer",
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "memoryMax": "64M"}),
            "memoryMax",
        ),
        (
            "CreateContainer",
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "pidsMax": 1.5}),
            "pidsMax",
        ),
        (
            "CreateContainer",
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "env": {"A": "1"}}),
            "env",
        ),
    ];
    let mut wrong = vec![];
    for (m, params, field) in cases {
        let r = pod.call(&format!("{INTERFACE}.{m}"), params.clone());
        let named = r.0["parameters"]["parameter"].as_str().unwrap_or("");
        // "command[0]" names the parameter as precisely as "command".
        let names_it = named == field
            || named.starts_with(&format!("{field}["))
            || named.starts_with(&format!("{field}."));
        if r.error() != Some("org.varlink.service.InvalidParameter") || !names_it {
            wrong.push(format!(
                "{m} {params}: want InvalidParameter {field:?}, got {}",
                r.0
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    // Parameters must be an object: an error reply, or the connection closed.
    let mut c = pod.client();
    c.send_raw(b"{\"method\":\"io.podmon.Pod.GetContainer\",\"parameters\":[\"x\"]}\0")
        .unwrap();
    if let Ok(Some(b)) = c.read_raw() {
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert!(v.get("error").is_some(), "array parameters accepted: {v}");
    }
    // Nothing was created by all that.
    let l = pod.client().call_more(LIST_CONTAINERS, json!({}));
    assert_eq!(l.len(), 1);
    assert!(!present(&l[0].ok(), "container"), "{l:?}");
}

#[test]
fn invalid_values() {
    let pod = Pod::start("bad-values");
    let rootfs = rootfs().display().to_string();
    let nonexist = pod.dir.join("no-such-dir").display().to_string();
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"id": "x"}), &["rootfs", "bundle"]),
        (
            json!({"id": "x", "rootfs": rootfs, "bundle": rootfs, "command": ["true"]}),
            &["rootfs", "bundle"],
        ),
        (json!({"id": "x", "rootfs": rootfs}), &["command"]),
        (
            json!({"id": "x", "rootfs": rootfs, "command": []}),
            &["command"],
        ),
        (
            json!({"id": "x", "rootfs": nonexist, "command": ["true"]}),
            &["rootfs"],
        ),
        (json!({"id": "x", "bundle": nonexist}), &["bundle"]),
        (
            json!({"id": "x", "rootfs": "relative/path", "command": ["true"]}),
            &["rootfs"],
        ),
        (
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "memoryMax": -1}),
            &["memoryMax"],
        ),
        (
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "pidsMax": -5}),
            &["pidsMax"],
        ),
        (
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "env": ["NOEQUALS"]}),
            &["env"],
        ),
        (
            json!({"id": "x", "rootfs": rootfs, "command": ["true"], "cwd": "relative"}),
            &["cwd"],
        ),
    ];
    let mut wrong = vec![];
    for (params, fields) in cases {
        let r = pod.call(CREATE_CONTAINER, params.clone());
        let f = r.0["parameters"]["parameter"].as_str().unwrap_or("");
        if r.error() != Some(INVALID_VALUE) || !fields.contains(&f) {
            wrong.push(format!(
                "{params}: want InvalidValue for one of {fields:?}, got {}",
                r.0
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    pod.run("k", &["sleep", "100"]);
    for sig in ["SIGFOO", "0x9", "99999", "-9", ""] {
        let r = pod.call(KILL_CONTAINER, json!({"id": "k", "signal": sig}));
        let p = r.err(INVALID_VALUE);
        assert_eq!(p["parameter"], json!("signal"), "signal {sig:?}: {p}");
    }
    assert_eq!(pod.get("k")["status"], json!("running"));
    for sig in ["TERM", "SIGTERM", "15"] {
        // Accepted forms (pid 1 of a PID namespace ignores them without a handler).
        pod.call(KILL_CONTAINER, json!({"id": "k", "signal": sig}))
            .ok();
    }
    pod.delete("k", true);
    // Nothing was left behind.
    let l = pod.client().call_more(LIST_CONTAINERS, json!({}));
    assert!(!present(&l[0].ok(), "container"), "{l:?}");
}

#[test]
fn malformed_json_closes_connection_and_server_goes_on() {
    let mut pod = Pod::start("bad-json");
    let mut c = pod.client();
    c.send_raw(b"{\"method\": \"io.podmon.Pod.GetContainer\", \0")
        .unwrap();
    c.expect_eof(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("malformed JSON: {e}"));
    pod.assert_alive();
    pod.call("org.varlink.service.GetInfo", json!({})).ok();

    // Other kinds of garbage: the server answers with an error or closes;
    // either way it keeps serving everybody else.
    let garbage: &[&[u8]] = &[
        b"[1,2]\0",
        b"\"just a string\"\0",
        b"{\"parameters\":{}}\0",
        b"{\"method\": 42}\0",
        b"{\"method\": \"GetInfo\"}\0",
        b"\xff\xfe\xfd\0",
        b"{\"method\":\"org.varlink.service.GetInfo\"}{\"x\":1}\0",
        b"\0",
    ];
    let mut other = pod.client();
    for g in garbage {
        let mut c = pod.client();
        c.send_raw(g).unwrap();
        c.set_read_timeout(Duration::from_secs(5));
        match c.read_raw() {
            Ok(None) => {}
            Ok(Some(b)) => {
                let v: Value = serde_json::from_slice(&b).unwrap_or_else(|e| {
                    panic!(
                        "reply to {g:?} is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&b)
                    )
                });
                assert!(
                    v.get("error").is_some(),
                    "garbage {g:?} got a non-error reply: {v}"
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "garbage {:?}: neither reply nor close within 5 s: {e}",
                String::from_utf8_lossy(g)
            ),
        }
        pod.assert_alive();
        other.call("org.varlink.service.GetInfo", json!({})).ok();
    }
}

#[test]
fn oversized_message_does_not_kill_server() {
    let mut pod = Pod::start("bad-huge");
    let mut c = pod.client();
    // 16 MiB without a NUL: the server must bound its buffer (close) or keep
    // reading; it must not die or stop serving others meanwhile.
    let chunk = vec![b'a'; 1 << 20];
    let mut other = pod.client();
    for _ in 0..16 {
        if c.send_raw(&chunk).is_err() {
            break; // closed by the server: fine
        }
        other.call("org.varlink.service.GetInfo", json!({})).ok();
    }
    drop(c);
    pod.assert_alive();
    pod.call("org.varlink.service.GetInfo", json!({})).ok();
    // Memory use stays sane (VmRSS under 256 MiB).
    let status = fs::read_to_string(format!("/proc/{}/status", pod.pid)).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        rss_kb < 256 * 1024,
        "podmon RSS {rss_kb} kB after a 16 MiB message"
    );
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
