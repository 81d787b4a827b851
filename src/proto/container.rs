//! The container lifecycle methods and the records they reply with.

use serde::{Deserialize, Serialize};

use super::method;

/// Lifecycle state of a container, named as in the OCI runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Created by the runtime; the process waits to be started.
    Created,
    /// Started and not yet exited.
    Running,
    /// The init process exited and its output is in the log.
    Stopped,
}

impl ContainerStatus {
    /// The name on the wire, for messages that quote it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Stopped => "stopped",
        }
    }
}

/// What happens to output beyond a log rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogPolicy {
    /// Stop reading: the container's writes block, nothing is lost.
    Block,
    /// Discard the excess and write a marker record.
    Drop,
}

/// A token-bucket limit on a container's log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogRateLimit {
    /// Sustained rate in bytes per second: 1 ..= 2^40.
    pub bytes_per_second: u64,
    /// Bytes that may pass at once after a quiet spell: 1 ..= 2^30.
    pub burst: u64,
    /// Absent means "block"; the server always names it in replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<LogPolicy>,
}

/// Where a container's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogDriver {
    /// A CRI (kubelet) log file.
    Cri,
    /// Nowhere (the pipes are still drained).
    None,
    /// The systemd journal, in its native protocol.
    Journald,
}

/// When a container's log file goes to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSync {
    /// When its output has ended (WaitContainer answers after that).
    Exit,
    /// Also about once a second while it writes.
    Interval,
    /// Never: the kernel writes it back when it will.
    Never,
}

/// One container as the monitor sees it.
///
/// Not `deny_unknown_fields`: a client keeps working when a newer server
/// adds fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInfo {
    /// Container id.
    pub id: String,
    /// Lifecycle state.
    pub status: ContainerStatus,
    /// PID of the init process; absent once it has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The OCI bundle directory.
    pub bundle: String,
    /// The CRI log file; absent without the "cri" driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    /// Bytes of log records written.
    pub log_bytes_written: u64,
    /// Bytes dropped by a "drop" rate limit.
    pub log_bytes_dropped: u64,
    /// The last log write error, while writing fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
    /// The rate limit in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_rate_limit: Option<LogRateLimit>,
    /// Exit code once stopped (128+N for signal N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The OOM killer ended it.
    pub oom_killed: bool,
    /// "Completed", "Error" or "OOMKilled" once stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_reason: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// RFC 3339 exit time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// It has a pty.
    pub terminal: bool,
}

/// A reply without parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The reply of the methods that answer with one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerReply {
    /// The container after the call.
    pub container: ContainerInfo,
}

/// CreateContainer: either `bundle`, or `rootfs` with the fields that only
/// make sense when the monitor writes the OCI configuration itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContainer {
    /// Container id.
    pub id: String,
    /// An OCI bundle the caller prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// A root file system; the monitor writes the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<String>,
    /// Command and arguments (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// KEY=VALUE environment (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Working directory (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Host name (rootfs): 1 to 64 of `[A-Za-z0-9._-]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// cgroup memory.max (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<i64>,
    /// cgroup pids.max (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_max: Option<i64>,
    /// Default "cri".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<LogDriver>,
    /// Several drivers at once (e.g. cri and journald); not with
    /// `log_driver`, no driver twice, "none" only alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_drivers: Option<Vec<LogDriver>>,
    /// The journal's CONTAINER_TAG and SYSLOG_IDENTIFIER (journald only;
    /// default the id): 1 to 256 bytes, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tag: Option<String>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_rate_limit: Option<LogRateLimit>,
    /// Longest log record in bytes: 256 ..= 1 MiB (the server's
    /// `pod/limits.rs` holds every range the IDL documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_line: Option<u64>,
    /// Rotate at this many bytes: 16 KiB ..= 1 TiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<u64>,
    /// Rotated files to keep: 0 ..= 32 (each rotation renames them on the
    /// server's loop). A `u32` here, but the server refuses beyond 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_files: Option<u32>,
    /// Default "exit".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_sync: Option<LogSync>,
    /// Keep stdin open for Attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
    /// Close stdin when the first client that had it detaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_once: Option<bool>,
    /// Give the container a pty (rootfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<bool>,
    /// The pty's initial columns, 1 ..= 65535; only with `terminal` and
    /// `height`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u16>,
    /// The pty's initial rows, 1 ..= 65535; only with `terminal` and
    /// `width`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u16>,
    /// Kinds ("net", "ipc", "uts", "pid") of the pod's namespaces this
    /// container does not join: it gets a new one of each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_namespaces: Option<Vec<String>>,
    /// With 'bundle': join the pod's namespaces (a copy of config.json is
    /// edited, never the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_pod: Option<bool>,
    /// Indices of descriptors sent with the call, passed into the
    /// container as fds 3, 4, ... (`--preserve-fds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_fds: Option<Vec<i64>>,
    /// Indices of descriptors the monitor keeps open until the container
    /// has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_fds: Option<Vec<i64>>,
}

/// OpenConsole: a duplicate of a terminal container's pty master, sent
/// with the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenConsole {
    /// Container id.
    pub id: String,
}

/// OpenConsole's reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleReply {
    /// Index of the pty master among the reply's descriptors.
    pub pty_file_descriptor: i64,
}

/// StartContainer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartContainer {
    /// Container id.
    pub id: String,
}

/// KillContainer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillContainer {
    /// Container id.
    pub id: String,
    /// Name or number; default SIGTERM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Every process of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// WaitContainer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitContainer {
    /// Container id.
    pub id: String,
}

/// How the container ended, and the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitContainerReply {
    /// 128+N when signal N killed it; none when it ended while no monitor
    /// was its parent (reason "MonitorDown").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The killing signal, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The OOM killer ended it.
    pub oom_killed: bool,
    /// "Completed", "Error" or "OOMKilled".
    pub reason: String,
    /// The container, stopped.
    pub container: ContainerInfo,
}

/// DeleteContainer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteContainer {
    /// Container id.
    pub id: String,
    /// Kill a running container first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// GetContainer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetContainer {
    /// Container id.
    pub id: String,
}

/// ListContainers (one reply per container with `more`, one with all of
/// them without).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListContainers {}

/// A listing: with `more` one reply per container (`container`); without
/// `more` one reply with every container (`containers`, plus `container`
/// when there is exactly one, for clients older than `containers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListContainersReply {
    /// One container (absent when the pod has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
    /// Every container, in id order; only without `more`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerInfo>>,
}

method! {
    CreateContainer => ContainerReply,
    OpenConsole => ConsoleReply,
    StartContainer => ContainerReply,
    KillContainer => Empty,
    WaitContainer => WaitContainerReply,
    DeleteContainer => Empty,
    GetContainer => ContainerReply,
    ListContainers => ListContainersReply,
}
