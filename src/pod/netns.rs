//! Where the pod's namespaces are, for what runs "in the pod" without
//! being a container: RunInPod's host programs and PortForward's sockets.
//!
//! Today the only source is `podmon serve --netns PATH`, an existing pinned
//! network namespace (made by `ip netns add`, or by the engine as CRI-O's
//! pinns does) that the pod joins. This is the one function the rest of the
//! monitor asks, so namespaces the monitor makes itself can be added here.

use std::path::PathBuf;

use super::Pod;

/// The pod's network namespace file, if it has one.
pub fn pod_netns(pod: &Pod) -> Option<PathBuf> {
    pod.config.netns.clone()
}

/// The file of the pod's namespace of `kind` ("net", "ipc", "uts", "pid"),
/// if it has one.
pub fn pod_namespace(pod: &Pod, kind: &str) -> Option<PathBuf> {
    match kind {
        "net" => pod_netns(pod),
        _ => None,
    }
}
