//! Exec, ExecSync and Attach errors: wrong state, unknown container, a
//! binary that does not exist.

use crate::common::*;
use crate::support::*;
use crate::upgraded::*;
use serde_json::json;
use std::io::Write;
use std::time::Duration;

/// Exec of an unknown container on a connection asking for an upgrade:
/// the error, then the connection stays a Varlink connection.
fn unknown_over_an_upgraded_connection(pod: &Pod) {
    let (reply, mut u) = Upgraded::open(
        pod,
        EXEC,
        json!({ "id": "nope", "command": ["true"], "interactive": true }),
    );
    assert_eq!(reply["error"], json!(NO_SUCH_CONTAINER), "{reply}");
    assert_eq!(params_of(&reply)["id"], json!("nope"), "{reply}");
    let mut msg = serde_json::to_vec(&json!({ "method": GET_POD })).unwrap();
    msg.push(0);
    u.stream.write_all(&msg).unwrap();
    let gp = u.read_message().expect("GetPod after a failed upgrade");
    assert!(
        gp.get("error").is_none() && params_of(&gp)["name"] == json!("ex-err"),
        "{gp}"
    );
}

#[test]
fn exec_errors() {
    let pod = Pod::start("ex-err");

    // Exited container.
    pod.run("done", &["true"]);
    pod.wait("done");
    let e = exec_sync_reply(&pod, "done", &["true"], json!({})).err(INVALID_STATE);
    assert_eq!(e["id"], json!("done"), "{e}");
    assert_eq!(e["status"], json!("stopped"), "{e}");
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    let mut cl = pod.client();
    let r = cl.call_more(EXEC, json!({ "id": "done", "command": ["true"] }));
    assert_eq!(r.len(), 1, "{r:?}");
    let e = r[0].err(INVALID_STATE);
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    let (reply, _u) = Upgraded::open(&pod, ATTACH, json!({ "id": "done" }));
    assert_eq!(reply["error"], json!(INVALID_STATE), "{reply}");

    // Created but not started.
    pod.create("fresh", &["true"]);
    let e = exec_sync_reply(&pod, "fresh", &["true"], json!({})).err(INVALID_STATE);
    assert_eq!(e["status"], json!("created"), "{e}");
    assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");

    // Unknown container, over a plain and an upgraded connection (which
    // stays a Varlink connection when the call fails).
    let e = exec_sync_reply(&pod, "nope", &["true"], json!({})).err(NO_SUCH_CONTAINER);
    assert_eq!(e["id"], json!("nope"));
    unknown_over_an_upgraded_connection(&pod);

    // A binary that does not exist ends with 127, one that cannot be
    // executed (a directory, a file without x) with 126, as in a shell and
    // in CRI; stderr has the runtime's words, which name it.
    run_idle(&pod, "c1");
    for (bin, code) in [
        ("/no/such-binary-xyz", 127),
        ("no-such-cmd-xyz", 127),
        ("/etc", 126),
        ("/etc/passwd", 126),
    ] {
        let r = exec_sync(&pod, "c1", &[bin], json!({}));
        assert_eq!(r["exitCode"], json!(code), "{bin}: {r}");
        assert!(
            r["stderr"].as_str().is_some_and(|m| m.contains(bin)),
            "stderr does not name {bin}: {r}"
        );
        // The streaming Exec ends the same way.
        let mut cl = pod.client();
        let replies: Vec<serde_json::Value> = cl
            .call_more(EXEC, json!({ "id": "c1", "command": [bin] }))
            .iter()
            .map(|r| r.ok())
            .collect();
        let last = replies.last().unwrap();
        assert_eq!(last["exitCode"], json!(code), "{bin}: {replies:?}");
        let err: String = replies
            .iter()
            .filter_map(|p| p["stderr"].as_str())
            .collect();
        assert!(err.contains(bin), "{bin}: {replies:?}");
        // And the CLI exits with it, both ways it runs an exec.
        for mode in [&["exec"][..], &["exec", "-i"][..]] {
            let args: Vec<&str> = mode.iter().copied().chain(["c1", "--", bin]).collect();
            let out = pod.cli(&args);
            assert_eq!(out.code(), code, "{args:?}: {out:?}");
            assert!(out.stderr.contains(bin), "{args:?}: {out:?}");
        }
    }
    assert!(
        wait_until(Duration::from_secs(2), || exec_dirs(&pod, "c1").is_empty()),
        "failed execs left directories: {:?}",
        exec_dirs(&pod, "c1")
    );
    // The container is fine.
    let r = exec_sync(&pod, "c1", &["echo", "ok"], json!({}));
    assert_eq!(r["stdout"], json!("ok\n"));
}
