//! Running commands in a container and streaming a container's I/O.

use serde::{Deserialize, Serialize};

use super::container::Empty;
use super::method;

/// ExecSync: run to completion and return the output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecSync {
    /// Container id.
    pub id: String,
    /// Command and arguments.
    pub command: Vec<String>,
    /// KEY=VALUE entries added to the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// "uid" or "uid:gid" (see [`super::parse_user`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Kill the command after this many seconds: (0, 604800].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Most bytes kept of each stream: 0 ..= 16 MiB, the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output: Option<u64>,
    /// How stdout and stderr are carried: "utf8" (the default, lossy text)
    /// or "base64" (the exact bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// What ExecSync's command did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecSyncReply {
    /// 128+N when signal N killed it.
    pub exit_code: i32,
    /// The killing signal, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Its stdout (up to maxOutput bytes), as `encoding` asked.
    pub stdout: String,
    /// Its stderr (up to maxOutput bytes), as `encoding` asked.
    pub stderr: String,
    /// stdout was cut.
    pub stdout_truncated: bool,
    /// stderr was cut.
    pub stderr_truncated: bool,
    /// The timeout killed it.
    pub timed_out: bool,
}

/// Exec: a streaming exec (with `upgrade` or `more`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exec {
    /// Container id.
    pub id: String,
    /// Command and arguments.
    pub command: Vec<String>,
    /// KEY=VALUE entries added to the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// "uid" or "uid:gid".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Give the process a pty.
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
    /// Forward stdin frames (needs `upgrade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    /// Input written to stdin before it is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Hand the process's stdin, stdout and stderr pipe ends to the caller
    /// with the first reply (needs `more`); the last still has the exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fds: Option<bool>,
}

/// One reply of Exec: the first names the exec, then output chunks (with
/// `more`), the last carries the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecReply {
    /// The exec's id (first reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// The exec's pid (first reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Output (with `more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Output (with `more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Exit code (last reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The killing signal (last reply), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// With `fds`: index of the stdin pipe's write end among the first
    /// reply's descriptors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_file_descriptor: Option<i64>,
    /// With `fds`: index of the stdout pipe's read end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_file_descriptor: Option<i64>,
    /// With `fds`: index of the stderr pipe's read end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_file_descriptor: Option<i64>,
}

/// Attach: a container's output from now on, and maybe its stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// Container id.
    pub id: String,
    /// Ask for the container's stdin (needs `upgrade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
}

/// One reply of Attach, shaped like [`ExecReply`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachReply {
    /// Whether this client got stdin (first reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
    /// Output (with `more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Output (with `more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The container's exit code (last reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The killing signal (last reply), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Resize a terminal container's pty, or a terminal exec's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resize {
    /// Container id.
    pub id: String,
    /// An exec of the container instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// Columns: 1 ..= 65535.
    pub width: u16,
    /// Rows: 1 ..= 65535.
    pub height: u16,
}

method! {
    ExecSync => ExecSyncReply,
    Exec => ExecReply,
    Attach => AttachReply,
    Resize => Empty,
}
