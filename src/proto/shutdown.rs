//! Shutdown: the engine ends the monitor, and chooses whether the pod's
//! containers go with it.

use serde::{Deserialize, Serialize};

use super::container::Empty;
use super::method;

/// Shutdown: stop serving and exit, with or without the containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shutdown {
    /// Stop and delete every container before replying; default false,
    /// which leaves them running for a later monitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_containers: Option<bool>,
    /// Seconds between SIGTERM and SIGKILL: 0 ..= 3600, default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

/// Reexec: the monitor execs the binary on disk in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reexec {}

method! {
    Shutdown => Empty,
    Reexec => Empty,
}
