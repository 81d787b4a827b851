//! What can go wrong in a pod operation, in the pod's own terms: the api
//! maps each variant to a Varlink error and each [`Field`] to the name of
//! the parameter that carried it.

use super::status::Status;
use crate::oci::driver::{DriverError, RuntimeFailure};
use crate::sys::error::SysError;

/// A value the pod was given that it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The container id.
    Id,
    /// The OCI bundle directory.
    Bundle,
    /// The root file system podmon builds a bundle on.
    Rootfs,
    /// The command and its arguments.
    Command,
    /// Environment entries.
    Env,
    /// The working directory.
    Cwd,
    /// The memory limit.
    MemoryMax,
    /// The process count limit.
    PidsMax,
    /// The longest log record.
    LogMaxLine,
    /// The size at which the log rotates.
    LogMaxSize,
    /// A rate limit's rate.
    BytesPerSecond,
    /// A rate limit's burst.
    Burst,
    /// The host name.
    Hostname,
    /// How many rotated log files are kept.
    LogMaxFiles,
    /// A pty's columns.
    Width,
    /// A pty's rows.
    Height,
    /// How many of the last log records to read.
    Tail,
    /// An exec's timeout.
    TimeoutSeconds,
    /// How much of an exec's output is kept.
    MaxOutput,
    /// An exec's uid and gid.
    User,
    /// The grace between SIGTERM and SIGKILL when the monitor stops.
    Timeout,
    /// A bundle container's joining of the pod's namespaces.
    JoinPod,
    /// The namespaces RunInPod joins.
    Namespaces,
    /// The port PortForward connects to.
    Port,
}

impl Field {
    /// Words for log lines and error text.
    pub fn describe(self) -> &'static str {
        match self {
            Field::Id => "container id",
            Field::Bundle => "bundle",
            Field::Rootfs => "rootfs",
            Field::Command => "command",
            Field::Env => "environment",
            Field::Cwd => "working directory",
            Field::MemoryMax => "memory limit",
            Field::PidsMax => "pids limit",
            Field::LogMaxLine => "log line limit",
            Field::LogMaxSize => "log rotation size",
            Field::BytesPerSecond => "log rate",
            Field::Burst => "log burst",
            Field::Hostname => "host name",
            Field::LogMaxFiles => "rotated log file count",
            Field::Width => "terminal width",
            Field::Height => "terminal height",
            Field::Tail => "tail",
            Field::TimeoutSeconds => "timeout",
            Field::MaxOutput => "output limit",
            Field::User => "user",
            Field::Timeout => "shutdown timeout",
            Field::JoinPod => "joinPod",
            Field::Namespaces => "namespaces",
            Field::Port => "port",
        }
    }
}

/// Why an operation on the pod failed; each maps to a named Varlink error.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// No container has this id.
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// The id is taken (or being created).
    #[error("container exists: {0}")]
    ContainerExists(String),
    /// A value cannot be used.
    #[error("invalid {}: {reason}", field.describe())]
    InvalidValue {
        /// What was invalid.
        field: Field,
        /// Why.
        reason: String,
    },
    /// The container's status does not allow the operation.
    #[error("container {id} is {}: {reason}", status.as_str())]
    InvalidState {
        /// Container id.
        id: String,
        /// Its status.
        status: Status,
        /// Why that status does not allow the call.
        reason: String,
    },
    /// The OCI runtime failed.
    #[error(transparent)]
    Runtime(RuntimeFailure),
    /// podmon itself failed (files, processes).
    #[error(transparent)]
    System(#[from] SysError),
    /// The monitor is stopping: no new container (its shutdown would not
    /// see it). `true` when the shutdown deletes the containers.
    #[error("the monitor is shutting down")]
    ShuttingDown(bool),
    /// The pod has no namespace of this kind ("net", "ipc", ...).
    #[error("the pod has no {0} namespace")]
    NoNamespace(String),
    /// Nothing in the pod's network namespace accepted a connection to
    /// this port, on 127.0.0.1 or ::1.
    #[error("connecting to port {port} in the pod: {message}")]
    ConnectionRefused {
        /// The port.
        port: u16,
        /// What each address said.
        message: String,
    },
}

impl PodError {
    /// The shell's exit code (127 missing, 126 not executable) and the
    /// runtime's words, when this is an exec whose command could not be
    /// started: callers report that as the command's end, not an error.
    pub fn not_executable(&self) -> Option<(i32, &str)> {
        match self {
            PodError::Runtime(f) => f.not_executable().map(|c| (c, f.message.as_str())),
            _ => None,
        }
    }

    pub(super) fn invalid(field: Field, reason: impl std::fmt::Display) -> PodError {
        PodError::InvalidValue {
            field,
            reason: reason.to_string(),
        }
    }
}

impl From<DriverError> for PodError {
    fn from(e: DriverError) -> PodError {
        match e {
            DriverError::Failed(f) => PodError::Runtime(f),
            DriverError::System(e) => PodError::System(e),
        }
    }
}
