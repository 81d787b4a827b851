//! Out-of-range numbers, strings and lists: InvalidValue naming the
//! parameter, nothing created, the server unharmed.

use crate::common::*;
use podmon::proto::{self, Method};
use serde_json::{Value, json};

const RESIZE: &str = <proto::Resize as Method>::METHOD;

/// Calls `method` with each set of parameters; returns a line for each
/// answer that is not InvalidValue naming the expected parameter.
fn wrong_answers(pod: &Pod, method: &str, cases: Vec<(Value, &str)>) -> Vec<String> {
    let mut wrong = vec![];
    for (params, field) in cases {
        let r = pod.call(method, params.clone());
        let p = r.params();
        if r.error() != Some(INVALID_VALUE) || p["parameter"] != json!(field) {
            wrong.push(format!(
                "{method} {params}: want InvalidValue {field:?}, got {}",
                r.0
            ));
        }
    }
    wrong
}

/// CreateContainer parameters of a valid rootfs container, plus `extra`.
fn create_params(id: &str, extra: Value) -> Value {
    let mut p = json!({"id": id, "rootfs": rootfs().display().to_string(), "command": ["true"]});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
    p
}

fn no_containers(pod: &Pod) {
    let l = pod.client().call_more(LIST_CONTAINERS, json!({}));
    assert!(
        !present(&l[0].ok(), "container"),
        "refused creates left containers: {l:?}"
    );
}

#[test]
fn out_of_range_create_values_are_invalid_value() {
    let pod = Pod::start("bd-create");
    let c = |extra| create_params("x", extra);
    let lim =
        |rate: u64, burst: u64| json!({"logRateLimit": {"bytesPerSecond": rate, "burst": burst}});
    let nul_arg = vec!["a\u{0}b"];
    let many: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    let cases: Vec<(Value, &str)> = vec![
        // The case: 2^32-1 rotated files, each renamed per rotation.
        (
            c(json!({"logMaxSize": 1 << 20, "logMaxFiles": 4294967295u64})),
            "logMaxFiles",
        ),
        (
            c(json!({"logMaxSize": 1 << 20, "logMaxFiles": 100_000_000})),
            "logMaxFiles",
        ),
        (
            c(json!({"logMaxSize": 1 << 20, "logMaxFiles": 33})),
            "logMaxFiles",
        ),
        (c(json!({"logMaxSize": 0})), "logMaxSize"),
        (c(json!({"logMaxSize": 100})), "logMaxSize"),
        (c(json!({"logMaxSize": 1u64 << 41})), "logMaxSize"),
        (c(json!({"logMaxLine": 0})), "logMaxLine"),
        (c(json!({"logMaxLine": 1})), "logMaxLine"),
        (c(json!({"logMaxLine": 2 << 20})), "logMaxLine"),
        (c(lim(0, 1000)), "bytesPerSecond"),
        (c(lim(1u64 << 41, 1000)), "bytesPerSecond"),
        (c(lim(1000, 0)), "burst"),
        (c(lim(1000, 1u64 << 31)), "burst"),
        (c(json!({"memoryMax": 4096})), "memoryMax"),
        (c(json!({"memoryMax": (6 << 20) - 1})), "memoryMax"),
        (c(json!({"memoryMax": i64::MAX})), "memoryMax"),
        (c(json!({"pidsMax": 0})), "pidsMax"),
        (c(json!({"pidsMax": 1 << 23})), "pidsMax"),
        (c(json!({"hostname": "a\u{0}b"})), "hostname"),
        (c(json!({"hostname": ""})), "hostname"),
        (c(json!({"hostname": "h".repeat(65)})), "hostname"),
        (c(json!({"hostname": "a/b"})), "hostname"),
        (c(json!({"cwd": "/a\u{0}b"})), "cwd"),
        (c(json!({"cwd": format!("/{}", "d".repeat(4100))})), "cwd"),
        (c(json!({"command": nul_arg})), "command"),
        (c(json!({"command": many})), "command"),
        (c(json!({"command": ["x".repeat(200_000)]})), "command"),
        (c(json!({"env": ["A=\u{0}"]})), "env"),
        (c(json!({"env": ["=1"]})), "env"),
        (
            c(json!({"rootfs": format!("{}\u{0}", rootfs().display())})),
            "rootfs",
        ),
        (json!({"id": "x", "bundle": "relative/bundle"}), "bundle"),
        // width and height come together, and only with a terminal.
        (c(json!({"terminal": true, "width": 80})), "width"),
        (c(json!({"terminal": true, "height": 24})), "height"),
        (c(json!({"width": 80, "height": 24})), "width"),
        (
            c(json!({"terminal": true, "width": 0, "height": 24})),
            "width",
        ),
        (
            c(json!({"terminal": true, "width": 80, "height": 0})),
            "height",
        ),
    ];
    let wrong = wrong_answers(&pod, CREATE_CONTAINER, cases);
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    no_containers(&pod);
    // The ends of the ranges are accepted.
    let edge = json!({
        "logMaxSize": 16384, "logMaxFiles": 32, "logMaxLine": 256,
        "logRateLimit": {"bytesPerSecond": 1u64 << 40, "burst": 1u64 << 30},
        "hostname": "h".repeat(64), "pidsMax": 1 << 22, "memoryMax": 6i64 << 20,
    });
    pod.create_with("edge", &["true"], edge);
    pod.create_with(
        "zero",
        &["true"],
        json!({"logMaxSize": 1u64 << 40, "logMaxFiles": 0}),
    );
    pod.create_with(
        "tty",
        &["true"],
        json!({"terminal": true, "width": 65535, "height": 1}),
    );
}

#[test]
fn out_of_range_values_of_running_containers_are_invalid_value() {
    let pod = Pod::start("bd-running");
    pod.run("k", &["sleep", "100"]);
    let es = |extra: Value| {
        let mut p = json!({"id": "k", "command": ["true"]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let mut wrong = wrong_answers(
        &pod,
        EXEC_SYNC,
        vec![
            (es(json!({"maxOutput": 1u64 << 40})), "maxOutput"),
            (es(json!({"maxOutput": (16u64 << 20) + 1})), "maxOutput"),
            (es(json!({"timeoutSeconds": 1e9})), "timeoutSeconds"),
            (es(json!({"timeoutSeconds": 0})), "timeoutSeconds"),
            (es(json!({"timeoutSeconds": -1})), "timeoutSeconds"),
            (es(json!({"command": []})), "command"),
            (es(json!({"command": ["a\u{0}"]})), "command"),
            (es(json!({"env": ["A=\u{0}"]})), "env"),
            (es(json!({"env": ["NOEQUALS"]})), "env"),
            (es(json!({"cwd": "relative"})), "cwd"),
            (es(json!({"user": "4294967295"})), "user"),
            (es(json!({"user": "0:4294967295"})), "user"),
        ],
    );
    wrong.extend(wrong_answers(
        &pod,
        READ_LOGS,
        vec![
            (json!({"id": "k", "tail": -1}), "tail"),
            (json!({"id": "k", "tail": 1_000_001}), "tail"),
        ],
    ));
    wrong.extend(wrong_answers(
        &pod,
        SET_LOG_RATE_LIMIT,
        vec![
            (
                json!({"id": "k", "limit": {"bytesPerSecond": 0, "burst": 1}}),
                "bytesPerSecond",
            ),
            (
                json!({"id": "k", "limit": {"bytesPerSecond": 1, "burst": 1u64 << 31}}),
                "burst",
            ),
        ],
    ));
    wrong.extend(wrong_answers(
        &pod,
        KILL_CONTAINER,
        vec![(json!({"id": "k", "signal": "65"}), "signal")],
    ));
    // Exec needs `more`; its first reply is the error.
    for (params, field) in [
        (
            json!({"id": "k", "command": ["true"], "terminal": true, "width": 80}),
            "width",
        ),
        (
            json!({"id": "k", "command": ["true"], "width": 80, "height": 24}),
            "width",
        ),
        (json!({"id": "k", "command": ["true"], "env": ["X"]}), "env"),
    ] {
        let r = pod.client().call_more(EXEC, params.clone()).remove(0);
        if r.error() != Some(INVALID_VALUE) || r.params()["parameter"] != json!(field) {
            wrong.push(format!(
                "Exec {params}: want InvalidValue {field:?}, got {}",
                r.0
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    // None of it reached the container, which has no limit and still runs.
    let c = pod.get("k");
    assert_eq!(c["status"], json!("running"), "{c}");
    assert!(!present(&c, "logRateLimit"), "{c}");
    pod.delete("k", true);
}

#[test]
fn resize_sizes_are_bounded() {
    let pod = Pod::start("bd-resize");
    pod.create_with(
        "t",
        &["sleep", "100"],
        json!({"terminal": true, "width": 80, "height": 24}),
    );
    pod.start_container("t");
    let wrong = wrong_answers(
        &pod,
        RESIZE,
        vec![
            (json!({"id": "t", "width": 0, "height": 24}), "width"),
            (json!({"id": "t", "width": 80, "height": 0}), "height"),
        ],
    );
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    pod.call(RESIZE, json!({"id": "t", "width": 65535, "height": 65535}))
        .ok();
    pod.delete("t", true);
}
