//! Running host programs in the pod's namespaces and forwarding a port.

use serde::{Deserialize, Serialize};

use super::container::Empty;
use super::exec::ExecSyncReply;
use super::method;

/// RunInPod: a host program run to its end in the pod's namespaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunInPod {
    /// Program (a path or a name in the monitor's PATH) and arguments.
    pub command: Vec<String>,
    /// The pod's namespaces to join: "net" (the default), "ipc", "uts", "pid".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// KEY=VALUE entries beside PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Written to the program's stdin, which is then closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Kill it after this many seconds: (0, 604800].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Most bytes kept of each stream: 0 ..= 16 MiB, the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<u64>,
    /// As ExecSync's: "utf8" (the default) or "base64".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// PortForward: with `upgrade`, the connection becomes a TCP connection to
/// `port` in the pod's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortForward {
    /// 1 ..= 65535.
    pub port: i64,
}

method! {
    RunInPod => ExecSyncReply,
    PortForward => Empty,
}
