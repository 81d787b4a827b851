//! A caller's bundle joining the pod (`joinPod`): podmon never edits the
//! caller's config.json; it writes an edited copy into the container's own
//! directory and runs the container from there. A runtime's bundle is the
//! directory of config.json, so the copy's `root.path` is made absolute
//! (it was relative to the caller's directory).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::pod::{Field, PodError};
use crate::sys::error::SysError;
use crate::sys::idmap::{IdMap, IdMaps};

/// Writes `dir/config.json`: the caller's `bundle/config.json` with the
/// namespaces of `joins` (OCI type, path or `None` for the host's) in
/// place of its own entries of those types, the pod's id maps in place of
/// its own when it joins the pod's user namespace, and an absolute root.
pub fn join_bundle(
    bundle: &Path,
    dir: &Path,
    joins: &[(String, Option<PathBuf>)],
    id_maps: Option<&IdMaps>,
) -> Result<(), PodError> {
    let src = bundle.join("config.json");
    let text = std::fs::read(&src).map_err(|e| SysError::at("reading", &src, &e))?;
    let mut v: Value = serde_json::from_slice(&text)
        .map_err(|e| PodError::invalid(Field::Bundle, format!("{}: {e}", src.display())))?;
    edit(&mut v, bundle, joins, id_maps).map_err(|e| PodError::invalid(Field::Bundle, e))?;
    let out =
        serde_json::to_vec_pretty(&v).map_err(|e| SysError::other("encoding config.json", e))?;
    let dst = dir.join("config.json");
    std::fs::write(&dst, out).map_err(|e| SysError::at("writing", &dst, &e))?;
    Ok(())
}

/// The edit itself, on the JSON value (pure, for the tests).
fn edit(
    v: &mut Value,
    bundle: &Path,
    joins: &[(String, Option<PathBuf>)],
    id_maps: Option<&IdMaps>,
) -> Result<(), String> {
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
    if let Some(m) = id_maps {
        let l = linux.as_object_mut().ok_or("linux is not an object")?;
        l.insert("uidMappings".into(), oci_maps(&m.uid));
        l.insert("gidMappings".into(), oci_maps(&m.gid));
    }
    // The pod's UTS namespace has the pod's host name (see oci::spec).
    if joins.iter().any(|(t, _)| t == "uts")
        && let Some(o) = v.as_object_mut()
    {
        o.remove("hostname");
    }
    Ok(())
}

/// Id maps in the OCI config's spelling (`containerID`, `hostID`).
fn oci_maps(maps: &[IdMap]) -> Value {
    maps.iter()
        .map(|m| json!({"containerID": m.container_id, "hostID": m.host_id, "size": m.size}))
        .collect()
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
        edit(&mut v, Path::new("/b"), &joins, None).unwrap();
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
        edit(&mut abs, Path::new("/b"), &[], None).unwrap();
        assert_eq!(abs["root"]["path"], "/r");
        assert!(edit(&mut json!({}), Path::new("/b"), &[], None).is_err());
        let maps = IdMaps {
            uid: vec![IdMap::parse("uid", "0:100000:65536").unwrap()],
            gid: vec![IdMap::parse("gid", "0:200000:65536").unwrap()],
        };
        let mut u = json!({"root": {"path": "/r"}, "linux": {"uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}});
        let joins = vec![("user".into(), Some(PathBuf::from("/ns/userns/p")))];
        edit(&mut u, Path::new("/b"), &joins, Some(&maps)).unwrap();
        assert_eq!(
            u["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(u["linux"]["gidMappings"][0]["hostID"], 200000);
        assert_eq!(u["linux"]["namespaces"][0]["type"], "user");
    }
}
