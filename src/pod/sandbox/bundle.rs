//! A caller's bundle joining the pod (`joinPod`): podmon never edits the
//! caller's config.json; it writes an edited copy into the container's own
//! directory and runs the container from there. A runtime's bundle is the
//! directory of config.json, so the copy's `root.path` is made absolute
//! (it was relative to the caller's directory).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::pod::{Field, PodError};
use crate::sys::error::SysError;

/// Writes `dir/config.json`: the caller's `bundle/config.json` with the
/// namespaces of `joins` (OCI type, path or `None` for the host's) in
/// place of its own entries of those types, and an absolute root path.
pub fn join_bundle(
    bundle: &Path,
    dir: &Path,
    joins: &[(String, Option<PathBuf>)],
) -> Result<(), PodError> {
    let src = bundle.join("config.json");
    let text = std::fs::read(&src).map_err(|e| SysError::at("reading", &src, &e))?;
    let mut v: Value = serde_json::from_slice(&text)
        .map_err(|e| PodError::invalid(Field::Bundle, format!("{}: {e}", src.display())))?;
    edit(&mut v, bundle, joins).map_err(|e| PodError::invalid(Field::Bundle, e))?;
    let out =
        serde_json::to_vec_pretty(&v).map_err(|e| SysError::other("encoding config.json", e))?;
    let dst = dir.join("config.json");
    std::fs::write(&dst, out).map_err(|e| SysError::at("writing", &dst, &e))?;
    Ok(())
}

/// The edit itself, on the JSON value (pure, for the tests).
fn edit(v: &mut Value, bundle: &Path, joins: &[(String, Option<PathBuf>)]) -> Result<(), String> {
    let root = v
        .pointer_mut("/root/path")
        .ok_or("config.json has no root.path")?;
    let path = PathBuf::from(root.as_str().ok_or("root.path is not a string")?);
    if path.is_relative() {
        *root = json!(bundle.join(path).display().to_string());
    }
    let linux = v
        .as_object_mut()
        .ok_or("config.json is not an object")?
        .entry("linux")
        .or_insert_with(|| json!({}));
    let list = linux
        .as_object_mut()
        .ok_or("linux is not an object")?
        .entry("namespaces")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or("linux.namespaces is not an array")?;
    list.retain(|n| {
        let t = n.get("type").and_then(Value::as_str).unwrap_or("");
        !joins.iter().any(|(j, _)| j == t)
    });
    for (t, p) in joins {
        if let Some(p) = p {
            list.push(json!({"type": t, "path": p.display().to_string()}));
        }
    }
    // The pod's UTS namespace has the pod's host name (see oci::spec).
    if joins.iter().any(|(t, _)| t == "uts")
        && let Some(o) = v.as_object_mut()
    {
        o.remove("hostname");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_replaces_namespaces_and_roots_the_path() {
        let mut v = json!({
            "root": {"path": "rootfs"},
            "hostname": "c1",
            "linux": {"namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "mount"}, {"type": "ipc"}
            ]}
        });
        let joins = vec![
            ("network".into(), Some(PathBuf::from("/ns/netns/p"))),
            ("uts".into(), Some(PathBuf::from("/ns/utsns/p"))),
            ("ipc".into(), None),
        ];
        edit(&mut v, Path::new("/b"), &joins).unwrap();
        assert_eq!(v["root"]["path"], "/b/rootfs");
        assert!(v.get("hostname").is_none());
        assert_eq!(
            v["linux"]["namespaces"],
            json!([
                {"type": "pid"}, {"type": "mount"},
                {"type": "network", "path": "/ns/netns/p"},
                {"type": "uts", "path": "/ns/utsns/p"}
            ])
        );
        let mut abs = json!({"root": {"path": "/r"}});
        edit(&mut abs, Path::new("/b"), &[]).unwrap();
        assert_eq!(abs["root"]["path"], "/r");
        assert!(edit(&mut json!({}), Path::new("/b"), &[]).is_err());
    }
}
