//! An impossible id is InvalidValue "id" for every method taking one.

use crate::common::*;
use podmon::proto::{self, Method};
use serde_json::{Value, json};

const RESIZE: &str = <proto::Resize as Method>::METHOD;

/// The first reply of `method` with `params` (with `more` when the method
/// needs it).
fn first_reply(pod: &Pod, method: &str, params: Value, more: bool) -> Reply {
    if more {
        pod.client().call_more(method, params).remove(0)
    } else {
        pod.call(method, params)
    }
}

#[test]
fn an_impossible_id_is_invalid_value_id_in_every_method() {
    let pod = Pod::start("bd-ids");
    // A real container, so that a lookup that ignored the id's form could
    // not pass by accident either.
    pod.run("real", &["sleep", "100"]);
    let long = "a".repeat(65);
    for id in [
        "../x",
        "a/b",
        "",
        ".hidden",
        "-rf",
        "x y",
        "a\0b",
        long.as_str(),
    ] {
        let cases: Vec<(&str, Value, bool)> = vec![
            (GET_CONTAINER, json!({"id": id}), false),
            (START_CONTAINER, json!({"id": id}), false),
            (KILL_CONTAINER, json!({"id": id}), false),
            (WAIT_CONTAINER, json!({"id": id}), false),
            (DELETE_CONTAINER, json!({"id": id, "force": true}), false),
            (STATS, json!({"id": id}), false),
            (REOPEN_LOG, json!({"id": id}), false),
            (SET_LOG_RATE_LIMIT, json!({"id": id}), false),
            (READ_LOGS, json!({"id": id}), false),
            (RESIZE, json!({"id": id, "width": 80, "height": 24}), false),
            (EXEC_SYNC, json!({"id": id, "command": ["true"]}), false),
            (EXEC, json!({"id": id, "command": ["true"]}), true),
            (ATTACH, json!({"id": id}), true),
            (WATCH_EVENTS, json!({"id": id}), true),
        ];
        let mut wrong = vec![];
        for (m, params, more) in cases {
            let r = first_reply(&pod, m, params.clone(), more);
            let p = r.params();
            if r.error() != Some(INVALID_VALUE) || p["parameter"] != json!("id") {
                wrong.push(format!("{m} {params}: {}", r.0));
            } else if p["reason"].as_str().is_none_or(|s| s.is_empty()) {
                wrong.push(format!("{m} {params}: no reason: {}", r.0));
            }
        }
        assert!(
            wrong.is_empty(),
            "id {id:?}, wrong answers:\n{}",
            wrong.join("\n")
        );
    }
    // A well-formed id that names nothing is still NoSuchContainer.
    let p = pod
        .call(GET_CONTAINER, json!({"id": "ghost"}))
        .err(NO_SUCH_CONTAINER);
    assert_eq!(p["id"], json!("ghost"));
    // The real container was not touched by any of it.
    assert_eq!(pod.get("real")["status"], json!("running"));
    pod.delete("real", true);
}
