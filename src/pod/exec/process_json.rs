//! The process JSON for `runtime exec --process`: the container's own
//! process settings with the exec's on top.

use super::ExecSpec;
use crate::pod::container::Container;
use crate::pod::{Field, PodError};
use crate::sys::error::SysError;

/// The process JSON for `runtime exec --process`: the container's own
/// process settings (capabilities, rlimits, env) with ours on top.
pub(super) fn process_json(c: &Container, spec: &ExecSpec) -> Result<serde_json::Value, PodError> {
    let config_path = c.bundle.join("config.json");
    let text =
        std::fs::read(&config_path).map_err(|e| SysError::at("reading", &config_path, &e))?;
    let config: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| SysError::other("parsing", e).with_path(&config_path))?;
    let mut p = config
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    p["args"] = serde_json::json!(spec.command);
    p["terminal"] = serde_json::json!(spec.terminal);
    let mut env: Vec<String> = p
        .get("env")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    for kv in &spec.env {
        let Some((k, _)) = kv.split_once('=') else {
            return Err(PodError::invalid(
                Field::Env,
                format!("{kv:?} is not KEY=VALUE"),
            ));
        };
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k));
        env.push(kv.clone());
    }
    p["env"] = serde_json::json!(env);
    if let Some(cwd) = &spec.cwd {
        if !cwd.starts_with('/') {
            return Err(PodError::invalid(Field::Cwd, "must be an absolute path"));
        }
        p["cwd"] = serde_json::json!(cwd);
    }
    if let Some((uid, gid)) = spec.user {
        p["user"] = serde_json::json!({ "uid": uid, "gid": gid.unwrap_or(uid) });
    }
    match spec.size {
        Some((width, height)) if spec.terminal => {
            p["consoleSize"] = serde_json::json!({ "width": width, "height": height });
        }
        _ => {
            if let Some(obj) = p.as_object_mut() {
                obj.remove("consoleSize");
            }
        }
    }
    Ok(p)
}
