//! Cases about what a call asks for: missing and wrongly typed parameters
//! (`InvalidParameter` naming the parameter), values that cannot be used
//! (`InvalidValue` naming it), ids, signals, containers that do not exist
//! or are in the wrong state, and flags a method needs. The pod has a
//! running container `run` and a created one `made`.

use serde_json::{Value, json};

use crate::common::*;
use crate::table::*;

/// What the cases need to know about the pod.
pub struct Ctx {
    pub rootfs: String,
    /// A path that does not exist.
    pub missing: String,
}

fn m(member: &str) -> String {
    format!("{INTERFACE}.{member}")
}

/// `InvalidParameter` naming `p`.
fn bad_type(name: &str, member: &str, params: Value, p: &'static str) -> Case {
    call(
        name,
        &m(member),
        params,
        error(INVALID_PARAMETER, "parameter", &[p]),
    )
}

/// `InvalidValue` naming one of `ps`.
fn bad_value(name: &str, member: &str, params: Value, ps: &[&str]) -> Case {
    call(
        name,
        &m(member),
        params,
        error(INVALID_VALUE, "parameter", ps),
    )
}

fn create(ctx: &Ctx, extra: Value) -> Value {
    let mut p = json!({"id": "x", "rootfs": ctx.rootfs, "command": ["true"]});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn types(ctx: &Ctx) -> Vec<Case> {
    let mut out = vec![
        bad_type("GetContainer without id", "GetContainer", json!({}), "id"),
        bad_type(
            "GetContainer null parameters",
            "GetContainer",
            Value::Null,
            "id",
        ),
        bad_type("id a number", "GetContainer", json!({"id": 5}), "id"),
        bad_type("id null", "GetContainer", json!({"id": null}), "id"),
        bad_type("id an array", "GetContainer", json!({"id": ["a"]}), "id"),
        bad_type(
            "id an object",
            "GetContainer",
            json!({"id": {"a": 1}}),
            "id",
        ),
        bad_type("id true", "StartContainer", json!({"id": true}), "id"),
        bad_type(
            "unknown parameter",
            "GetContainer",
            json!({"id": "run", "bogus": 1}),
            "bogus",
        ),
        bad_type("WaitContainer without id", "WaitContainer", json!({}), "id"),
        bad_type(
            "all a string",
            "KillContainer",
            json!({"id": "run", "all": "yes"}),
            "all",
        ),
        bad_type(
            "signal a number",
            "KillContainer",
            json!({"id": "run", "signal": 9}),
            "signal",
        ),
        bad_type(
            "force a number",
            "DeleteContainer",
            json!({"id": "run", "force": 1}),
            "force",
        ),
        bad_type(
            "ListContainers with id",
            "ListContainers",
            json!({"id": "run"}),
            "id",
        ),
        bad_type(
            "tail a string",
            "ReadLogs",
            json!({"id": "run", "tail": "10"}),
            "tail",
        ),
        bad_type(
            "follow a string",
            "ReadLogs",
            json!({"id": "run", "follow": "yes"}),
            "follow",
        ),
        bad_type(
            "exec command a string",
            "ExecSync",
            json!({"id": "run", "command": "ls"}),
            "command",
        ),
        bad_type(
            "exec without command",
            "ExecSync",
            json!({"id": "run"}),
            "command",
        ),
        bad_type(
            "timeoutSeconds a string",
            "ExecSync",
            json!({"id": "run", "command": ["true"], "timeoutSeconds": "5"}),
            "timeoutSeconds",
        ),
        bad_type("Stats id a number", "Stats", json!({"id": 5}), "id"),
        bad_type(
            "limit a string",
            "SetLogRateLimit",
            json!({"id": "run", "limit": "1M"}),
            "limit",
        ),
        bad_type(
            "Attach stdin a string",
            "Attach",
            json!({"id": "run", "stdin": "yes"}),
            "stdin",
        ),
        bad_type(
            "WatchEvents id a number",
            "WatchEvents",
            json!({"id": 5}),
            "id",
        ),
        bad_type(
            "Resize width a string",
            "Resize",
            json!({"id": "run", "width": "80", "height": 24}),
            "width",
        ),
    ];
    let create_types: [(&str, Value, &'static str); 9] = [
        ("create without id", json!({"id": null}), "id"),
        ("command a string", json!({"command": "true"}), "command"),
        ("command of numbers", json!({"command": [1]}), "command"),
        (
            "memoryMax a string",
            json!({"memoryMax": "64M"}),
            "memoryMax",
        ),
        ("pidsMax a float", json!({"pidsMax": 1.5}), "pidsMax"),
        (
            "pidsMax 2^64",
            json!({"pidsMax": 18446744073709551616.0_f64}),
            "pidsMax",
        ),
        ("env an object", json!({"env": {"A": "1"}}), "env"),
        ("terminal a string", json!({"terminal": "yes"}), "terminal"),
        (
            "logDriver unknown",
            json!({"logDriver": "syslog"}),
            "logDriver",
        ),
    ];
    for (name, extra, p) in create_types {
        out.push(bad_type(name, "CreateContainer", create(ctx, extra), p));
    }
    out
}

fn values(ctx: &Ctx) -> Vec<Case> {
    let long = "a".repeat(65);
    let mut out = vec![];
    for id in [
        "../x", "..", ".", "a/b", "/abs", "", ".hidden", "-dash", "x y", "x\ny", "é", &long,
    ] {
        out.push(bad_value(
            &format!("create id {id:?}"),
            "CreateContainer",
            create(ctx, json!({"id": id})),
            &["id"],
        ));
    }
    out.push(bad_value(
        "1 MiB id",
        "CreateContainer",
        create(ctx, json!({"id": "b".repeat(1 << 20)})),
        &["id"],
    ));
    let creates: [(&str, Value, &[&str]); 11] = [
        (
            "neither rootfs nor bundle",
            json!({"rootfs": null, "command": null}),
            &["rootfs", "bundle"],
        ),
        (
            "rootfs and bundle",
            json!({"bundle": ctx.rootfs}),
            &["rootfs", "bundle"],
        ),
        (
            "rootfs without command",
            json!({"command": null}),
            &["command"],
        ),
        ("empty command", json!({"command": []}), &["command"]),
        (
            "rootfs missing",
            json!({"rootfs": ctx.missing}),
            &["rootfs"],
        ),
        (
            "bundle missing",
            json!({"rootfs": null, "command": null, "bundle": ctx.missing}),
            &["bundle"],
        ),
        (
            "rootfs relative",
            json!({"rootfs": "relative/path"}),
            &["rootfs"],
        ),
        (
            "memoryMax negative",
            json!({"memoryMax": -1}),
            &["memoryMax"],
        ),
        ("pidsMax negative", json!({"pidsMax": -5}), &["pidsMax"]),
        ("env without =", json!({"env": ["NOEQUALS"]}), &["env"]),
        ("cwd relative", json!({"cwd": "relative"}), &["cwd"]),
    ];
    for (name, extra, ps) in creates {
        out.push(bad_value(name, "CreateContainer", create(ctx, extra), ps));
    }
    for sig in ["SIGFOO", "0x9", "99999", "-9", "", "KILL KILL"] {
        out.push(bad_value(
            &format!("signal {sig:?}"),
            "KillContainer",
            json!({"id": "run", "signal": sig}),
            &["signal"],
        ));
    }
    out.extend([
        bad_value(
            "tail negative",
            "ReadLogs",
            json!({"id": "run", "tail": -1}),
            &["tail"],
        ),
        bad_value(
            "since not a time",
            "ReadLogs",
            json!({"id": "run", "since": "yesterday"}),
            &["since"],
        ),
        bad_value(
            "user not a number",
            "ExecSync",
            json!({"id": "run", "command": ["true"], "user": "root:x:y"}),
            &["user"],
        ),
    ]);
    out
}

fn states() -> Vec<Case> {
    let mut out = vec![];
    for member in [
        "GetContainer",
        "StartContainer",
        "KillContainer",
        "WaitContainer",
        "DeleteContainer",
        "ReopenLog",
        "PurgeLog",
        "ReadLogs",
    ] {
        out.push(call(
            &format!("{member} of a ghost"),
            &m(member),
            json!({"id": "ghost"}),
            error(NO_SUCH_CONTAINER, "id", &["ghost"]),
        ));
    }
    out.extend([
        call(
            "create an existing id",
            &m("CreateContainer"),
            json!({"id": "made", "bundle": "/"}),
            error(CONTAINER_EXISTS, "id", &["made"]),
        ),
        call(
            "start a running container",
            &m("StartContainer"),
            json!({"id": "run"}),
            error(INVALID_STATE, "id", &["run"]),
        ),
        call(
            "delete a running container",
            &m("DeleteContainer"),
            json!({"id": "run"}),
            error(INVALID_STATE, "id", &["run"]),
        ),
        call(
            "exec in a created container",
            &m("ExecSync"),
            json!({"id": "made", "command": ["true"]}),
            error(INVALID_STATE, "id", &["made"]),
        ),
        call(
            "WatchEvents without more",
            &m("WatchEvents"),
            json!({}),
            error_only(EXPECTED_MORE),
        ),
        call(
            "Attach without more",
            &m("Attach"),
            json!({"id": "run"}),
            error_only(EXPECTED_MORE),
        ),
        call(
            "follow without more",
            &m("ReadLogs"),
            json!({"id": "run", "follow": true}),
            error_only(EXPECTED_MORE),
        ),
        call(
            "two containers without more: one reply lists them",
            &m("ListContainers"),
            json!({}),
            Expect::Ok,
        ),
        call_more(
            "Attach stdin without upgrade",
            &m("Attach"),
            json!({"id": "run", "stdin": true}),
            error(INVALID_VALUE, "parameter", &["stdin"]),
        ),
    ]);
    out
}

/// The checks the parameter-bounds work adds (InvalidValue naming the
/// parameter); kept apart so the rest of the table holds on its own.
pub fn range_checks(ctx: &Ctx) -> Vec<Case> {
    let tty = |id: &str, w: i64, h: i64| {
        create(
            ctx,
            json!({"id": id, "terminal": true, "width": w, "height": h}),
        )
    };
    vec![
        bad_value(
            "logMaxFiles negative",
            "CreateContainer",
            create(ctx, json!({"id": "r1", "logMaxFiles": -1})),
            &["logMaxFiles"],
        ),
        bad_value("width 0", "CreateContainer", tty("r2", 0, 24), &["width"]),
        bad_value(
            "height 100000",
            "CreateContainer",
            tty("r3", 80, 100_000),
            &["height"],
        ),
        bad_value(
            "hostname with NUL",
            "CreateContainer",
            create(ctx, json!({"id": "r4", "hostname": "a\u{0}b"})),
            &["hostname"],
        ),
        bad_value(
            "GetContainer invalid id",
            "GetContainer",
            json!({"id": "../x"}),
            &["id"],
        ),
    ]
}

/// Every case of this file but the range checks.
pub fn cases(ctx: &Ctx) -> Vec<Case> {
    let mut all = types(ctx);
    all.extend(values(ctx));
    all.extend(states());
    all
}
