//! The records as they are on disk: JSON with camelCase names, times as
//! RFC 3339 text (the same as the API's), and a schema version checked
//! before anything else is read, so a newer layout is refused by name.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StateError;
use crate::logs::driver::DriverKind;
use crate::logs::ratelimit::Limit;
use crate::pod::Status;
use crate::sys::process::ExitInfo;

/// The schema version this podmon writes and the newest it reads. Raise it
/// when a record changes in a way an older podmon would misread.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a container stopped, in Kubernetes' words plus one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// Exited with code 0.
    Completed,
    /// Exited with another code or was killed by a signal.
    Error,
    /// The OOM killer ended it.
    #[serde(rename = "OOMKilled")]
    OomKilled,
    /// It ended while no monitor watched it: how is not known, and no exit
    /// code is made up.
    MonitorDown,
}

impl ExitReason {
    /// The reason for a process that ended with `exit`.
    pub fn of(exit: ExitInfo, oom_killed: bool) -> ExitReason {
        if oom_killed {
            ExitReason::OomKilled
        } else if exit.known_code().is_none() {
            ExitReason::MonitorDown
        } else if exit.exit_code() == 0 {
            ExitReason::Completed
        } else {
            ExitReason::Error
        }
    }

    /// The name used in records and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Completed => "Completed",
            ExitReason::Error => "Error",
            ExitReason::OomKilled => "OOMKilled",
            ExitReason::MonitorDown => "MonitorDown",
        }
    }
}

/// How a process ended, everything that is reported about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExitRecord {
    /// The exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// The OOM killer ended it.
    pub oom_killed: bool,
    /// Why it stopped.
    pub reason: ExitReason,
}

impl ExitRecord {
    /// The record of an exit the monitor saw.
    pub fn seen(exit: ExitInfo, oom_killed: bool) -> ExitRecord {
        ExitRecord {
            code: exit.code,
            signal: exit.signal,
            oom_killed,
            reason: ExitReason::of(exit, oom_killed),
        }
    }

    /// The record of an exit nobody saw: no code, no signal (what
    /// [`ExitRecord::seen`] makes of [`ExitInfo::UNKNOWN`]).
    #[cfg(test)]
    pub fn monitor_down() -> ExitRecord {
        ExitRecord {
            code: None,
            signal: None,
            oom_killed: false,
            reason: ExitReason::MonitorDown,
        }
    }
}

/// A container's log settings, as CreateContainer (or SetLogRateLimit)
/// left them: what a new monitor needs to go on logging the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogRecord {
    /// The driver.
    pub driver: DriverKind,
    /// The log file (none without the `cri` driver).
    pub path: Option<PathBuf>,
    /// The rate limit.
    pub limit: Option<Limit>,
    /// Longest record before a line is split.
    pub max_line: Option<usize>,
    /// Rotation size.
    pub max_size: Option<u64>,
    /// Rotated files kept.
    pub max_files: u32,
    /// When the file goes to disk (records before it had none: the
    /// default, `exit`).
    #[serde(default)]
    pub sync: crate::logs::sync::LogSync,
    /// The journal's tag, if CreateContainer gave one (records before it
    /// had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A container of the pod, its settings and where its life is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerRecord {
    /// The schema version.
    pub version: u32,
    /// The container id (its directory's name).
    pub id: String,
    /// The OCI bundle.
    pub bundle: PathBuf,
    /// Logging.
    pub log: LogRecord,
    /// It has a stdin pipe (or the pty) for attach.
    pub stdin: bool,
    /// Its stdin closes when the first attached client detaches.
    pub stdin_once: bool,
    /// It has a pty.
    pub terminal: bool,
    /// When CreateContainer succeeded.
    #[serde(with = "time_text")]
    pub created_at: SystemTime,
    /// Created, running or stopped.
    pub status: Status,
    /// The init process's pid, from the create on.
    pub pid: Option<i32>,
    /// Its start time (`/proc/PID/stat` field 22): the pid alone may name
    /// another process by the time a new monitor reads this.
    pub pid_start_time: Option<u64>,
    /// When StartContainer succeeded.
    #[serde(with = "time_text::option")]
    pub started_at: Option<SystemTime>,
    /// When the init process exited.
    #[serde(with = "time_text::option")]
    pub finished_at: Option<SystemTime>,
    /// How it exited.
    pub exit: Option<ExitRecord>,
}

/// An exec while it runs (its record goes with its directory when it ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecRecord {
    /// The schema version.
    pub version: u32,
    /// The exec id (its directory's name).
    pub exec_id: String,
    /// The container it runs in.
    pub container: String,
    /// Its process.
    pub pid: i32,
    /// Its process's start time.
    pub pid_start_time: u64,
    /// It has a pty.
    pub terminal: bool,
    /// When it started.
    #[serde(with = "time_text")]
    pub started_at: SystemTime,
    /// How it ended, once it did.
    pub exit: Option<ExitRecord>,
}

/// The options of `podmon serve` that decide where the pod's things are:
/// a new monitor compares them with its own before it re-adopts anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodRecord {
    /// The schema version.
    pub version: u32,
    /// The pod's name.
    pub name: String,
    /// The runtime executable.
    pub runtime: PathBuf,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    /// Where the logs go.
    pub log_dir: PathBuf,
    /// Where exit files go.
    pub exit_dir: Option<PathBuf>,
    /// Where OOM files go.
    pub oom_dir: Option<PathBuf>,
}

/// Encodes a record as the bytes of its file.
pub(super) fn encode<T: Serialize>(path: &Path, record: &T) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(record).map_err(|source| StateError::Encode {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Decodes the file at `path`: its schema version first (missing or 0 is
/// corrupt, above [`SCHEMA_VERSION`] is a newer podmon's), then the record,
/// with the JSON path of a bad field in the error.
pub(super) fn decode<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        None | Some(0) => return Err(corrupt("no schema version".into())),
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            return Err(StateError::FutureVersion {
                path: path.to_owned(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        Some(_) => {}
    }
    serde_path_to_error::deserialize(value).map_err(|e| corrupt(e.to_string()))
}

/// Times as RFC 3339 text with nanoseconds.
mod time_text {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::sys::time::{parse_rfc3339, rfc3339_nanos};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_nanos(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }

    /// The same for optional times (`null` when absent).
    pub mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|t| {
                crate::sys::time::parse_rfc3339(&t)
                    .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {t:?}")))
            })
            .transpose()
        }
    }
}
