//! ExecSync with `encoding: "base64"`: a NUL and invalid UTF-8 come back
//! byte for byte, through our client, through varlinkctl and through the
//! CLI, which writes the raw bytes.

use crate::common::*;
use crate::support::*;
use base64::Engine as _;
use serde_json::{Value, json};
use std::fs;
use std::process::Command;
use std::time::Duration;

/// What the command writes: a NUL, bytes that are not UTF-8, a newline.
const OUT: &[u8] = b"a\0b\xff\xfec\n";
const ERR: &[u8] = b"\0\xc3(\n";
const SCRIPT: &str = r"printf 'a\000b\377\376c\n'; printf '\000\303(\n' >&2";

fn b64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s}"))
}

#[test]
fn exec_sync_base64_round_trips_bytes() {
    let pod = Pod::start("es-b64");
    run_idle(&pod, "c1");
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", SCRIPT],
        json!({"encoding": "base64"}),
    );
    assert_eq!(r["exitCode"], json!(0), "{r}");
    assert_eq!(b64(&r["stdout"]), OUT, "{r}");
    assert_eq!(b64(&r["stderr"]), ERR, "{r}");

    // The default stays text, invalid UTF-8 replaced.
    for extra in [json!({}), json!({"encoding": "utf8"})] {
        let r = exec_sync(&pod, "c1", &["sh", "-c", SCRIPT], extra);
        assert_eq!(r["stdout"], json!("a\0b\u{fffd}\u{fffd}c\n"), "{r}");
    }

    // Any other name is InvalidValue naming the parameter; nothing runs.
    let e = exec_sync_reply(&pod, "c1", &["true"], json!({"encoding": "hex"}))
        .err("io.podmon.Pod.InvalidValue");
    assert_eq!(e["parameter"], json!("encoding"), "{e}");
    // RunInPod shares the reply and the check (before it looks for the
    // pod's namespaces, which this pod does not have).
    let e = pod
        .call(
            "io.podmon.Pod.RunInPod",
            json!({"command": ["true"], "encoding": "latin1"}),
        )
        .err("io.podmon.Pod.InvalidValue");
    assert_eq!(e["parameter"], json!("encoding"), "{e}");

    // The cap counts bytes, before encoding.
    let r = exec_sync(
        &pod,
        "c1",
        &["sh", "-c", SCRIPT],
        json!({"encoding": "base64", "maxOutput": 3}),
    );
    assert_eq!(b64(&r["stdout"]), &OUT[..3], "{r}");
    assert_eq!(r["stdoutTruncated"], json!(true), "{r}");
}

#[test]
fn exec_sync_base64_through_varlinkctl() {
    let pod = Pod::start("es-b64-vctl");
    run_idle(&pod, "c1");
    let p = json!({"id": "c1", "command": ["sh", "-c", SCRIPT], "encoding": "base64"});
    let mut c = Command::new(varlinkctl());
    c.args(["--no-pager", "call", "--json=short"])
        .arg(&pod.socket)
        .arg(EXEC_SYNC)
        .arg(p.to_string());
    let out = run_with_timeout(&mut c, Duration::from_secs(60)).assert_ok();
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("varlinkctl output not JSON ({e}): {out:?}"));
    assert_eq!(b64(&v["stdout"]), OUT, "{v}");
    assert_eq!(b64(&v["stderr"]), ERR, "{v}");
}

#[test]
fn cli_exec_sync_writes_raw_bytes() {
    let pod = Pod::start("es-b64-cli");
    run_idle(&pod, "c1");
    let (out, err) = (pod.dir.join("exec.out"), pod.dir.join("exec.err"));
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(r#""$0" --socket "$1" exec --sync c1 -- sh -c "$2" >"$3" 2>"$4""#)
        .arg(podmon_bin())
        .arg(&pod.socket)
        .arg(SCRIPT)
        .arg(&out)
        .arg(&err);
    c.env_remove("PODMON_SOCKET");
    run_with_timeout(&mut c, Duration::from_secs(60)).assert_ok();
    assert_eq!(fs::read(&out).unwrap(), OUT);
    assert_eq!(fs::read(&err).unwrap(), ERR);
}
