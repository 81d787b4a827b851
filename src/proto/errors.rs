//! The errors of io.podmon.Pod and their parameters.
//!
//! The server builds its error replies from these types and the CLI reads
//! them back; the names are the IDL's, qualified with the interface.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::container::ContainerStatus;
use crate::varlink::VarlinkError;

/// An error of the interface: its parameters, tied to its name.
pub trait ProtoError: Serialize + DeserializeOwned {
    /// The member name, e.g. `NoSuchContainer` (what the IDL test lists).
    #[cfg(test)]
    const NAME: &'static str;
    /// The fully qualified name on the wire.
    const ERROR: &'static str;

    /// The error reply carrying these parameters.
    fn into_varlink(self) -> VarlinkError {
        VarlinkError::new(
            Self::ERROR,
            serde_json::Value::Object(crate::varlink::params::encode(&self)),
        )
    }
}

macro_rules! proto_error {
    ($($name:ident),* $(,)?) => {
        $(impl ProtoError for $name {
            #[cfg(test)]
            const NAME: &'static str = stringify!($name);
            const ERROR: &'static str = concat!("io.podmon.Pod.", stringify!($name));
        })*
    };
}

/// A watcher fell too far behind and was cut off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherTooSlow {
    /// Always true.
    pub dropped: bool,
}

/// `since` names an event older than the oldest the journal still keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsExpired {
    /// The oldest event kept: `since` must be at least one less.
    pub oldest: u64,
}

/// A per-connection bound was exceeded; the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitExceeded {
    /// Which bound ("messageSize", "bufferedInput", "output", "replySize",
    /// "connections", "fileDescriptors", "heldFileDescriptors").
    pub limit: String,
    /// Its value: bytes, or clients for "connections".
    pub max: i64,
}

impl LimitExceeded {
    /// The error for bound `limit` of `max` bytes (or clients).
    pub fn new(limit: &str, max: usize) -> LimitExceeded {
        LimitExceeded {
            limit: limit.to_owned(),
            max: i64::try_from(max).unwrap_or(i64::MAX),
        }
    }
}

/// No container has this id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoSuchContainer {
    /// The id asked for.
    pub id: String,
}

/// The id is taken (or being created), or the runtime knows a container
/// of that id this monitor did not create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerExists {
    /// The id asked for.
    pub id: String,
}

/// A parameter is well-typed but its value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidValue {
    /// The parameter's name, as in the method's signature.
    pub parameter: String,
    /// Why.
    pub reason: String,
}

/// The container's status does not allow the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidState {
    /// Container id.
    pub id: String,
    /// Its status.
    pub status: ContainerStatus,
    /// Why that status does not allow the call.
    pub reason: String,
}

/// The OCI runtime failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeError {
    /// The runtime's name ("runc").
    pub runtime: String,
    /// The subcommand ("create").
    pub command: String,
    /// The runtime's own message.
    pub message: String,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// The monitor itself failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemError {
    /// What failed, and the system's message.
    pub message: String,
    /// What the monitor was doing ("reading", "pipe").
    pub operation: String,
    /// The file it was doing it to, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The errno, when the kernel reported the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

/// The caller may not make this call: its credentials are not on the
/// monitor's allow-list (then the connection is closed after this reply),
/// or it may only call the methods that change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionDenied {
    /// The method refused, fully qualified.
    pub method: String,
    /// Why.
    pub reason: String,
}

/// The pod has no namespace of this kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoNamespace {
    /// "net", "ipc", "uts" or "pid".
    pub namespace: String,
}

/// The monitor is stopping and creates no more containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShuttingDown {
    /// It stops and deletes the pod's containers on its way out.
    pub kill_containers: bool,
}

/// Nothing accepted PortForward's connection on 127.0.0.1 or ::1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRefused {
    /// The port asked for.
    pub port: i64,
    /// What each address said.
    pub message: String,
}

proto_error!(
    WatcherTooSlow,
    EventsExpired,
    LimitExceeded,
    NoSuchContainer,
    ContainerExists,
    InvalidValue,
    InvalidState,
    RuntimeError,
    SystemError,
    PermissionDenied,
    NoNamespace,
    ShuttingDown,
    ConnectionRefused,
);
