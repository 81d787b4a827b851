//! Checks of what the server returns against the IDL in
//! varlink/io.podmon.Pod.varlink (`podmon::proto::DESCRIPTION`, the text
//! the server serves).

use podmon::proto;
use serde_json::{Value, json};
use std::path::PathBuf;

use super::{Pod, assert_recent_timestamp};

/// Asserts the common shape of a ContainerInfo.
#[track_caller]
pub fn assert_container_shape(pod: &Pod, c: &Value, id: &str) {
    assert_eq!(c["id"], json!(id), "container: {c}");
    let status = c["status"]
        .as_str()
        .unwrap_or_else(|| panic!("status missing: {c}"));
    assert!(
        ["created", "running", "stopped"].contains(&status),
        "status {status}: {c}"
    );
    assert!(
        c["bundle"].as_str().is_some_and(|b| !b.is_empty()),
        "bundle: {c}"
    );
    assert_eq!(
        c["logPath"].as_str().map(PathBuf::from),
        Some(pod.log_path(id)),
        "logPath is not LOGDIR/ID.log: {c}"
    );
    assert_recent_timestamp("createdAt", &c["createdAt"]);
    let idl_fields = idl_type_fields("ContainerInfo");
    let extra: Vec<&String> = c
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !idl_fields.contains(k))
        .collect();
    assert!(
        extra.is_empty(),
        "ContainerInfo has fields the IDL does not declare: {extra:?}: {c}"
    );
}

/// Field names of `type NAME(...)` in varlink/io.podmon.Pod.varlink.
pub fn idl_type_fields(name: &str) -> Vec<String> {
    let idl = proto::DESCRIPTION;
    let start = idl
        .find(&format!("type {name}"))
        .unwrap_or_else(|| panic!("no type {name} in the IDL"));
    let body = &idl[start..];
    let open = body.find('(').unwrap();
    let mut depth = 0;
    let mut end = open;
    for (i, ch) in body[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    body[open + 1..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty())
        .collect()
}

/// Keys of a JSON object whose values are not null (absent and null are the same in Varlink).
pub fn present(c: &Value, key: &str) -> bool {
    c.get(key).is_some_and(|v| !v.is_null())
}
