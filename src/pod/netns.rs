//! Where the pod's namespaces are, for what runs "in the pod" without
//! being a container: RunInPod's host programs and PortForward's sockets.
//!
//! They are the pod's sandbox (`podmon serve --namespaces ...`: the
//! namespaces the monitor made and pinned, or joined as `KIND=/path`, such
//! as a network namespace `ip netns add` made or an engine pinned; the
//! older `--netns PATH` is `net=PATH`). A kind the
//! pod shares with the host (`KIND=host`) has no file: nothing runs "in
//! the pod" there that would not run on the host.

use std::path::PathBuf;

use super::Pod;

/// The pod's network namespace file, if it has one.
pub fn pod_netns(pod: &Pod) -> Option<PathBuf> {
    pod_namespace(pod, "net")
}

/// The file of the pod's namespace of `kind` ("net", "ipc", "uts", "pid"),
/// if it has one.
pub fn pod_namespace(pod: &Pod, kind: &str) -> Option<PathBuf> {
    pod.sandbox().and_then(|sb| {
        sb.record
            .namespaces
            .iter()
            .find(|n| n.kind == kind)
            .and_then(|n| n.path.clone())
    })
}
