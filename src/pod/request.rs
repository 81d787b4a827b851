//! CreateContainer's request in the pod's terms, and the checks of its
//! values that need no file system.

use std::path::PathBuf;

use super::{Field, PodError};
use crate::logs::driver::{DriverKind, Rotation};
use crate::logs::ratelimit::Limit;

/// Where a new container's bundle comes from.
#[derive(Debug)]
pub enum Source {
    /// An OCI bundle that the caller prepared (engine style).
    Bundle(PathBuf),
    /// A root file system plus a command; podmon writes the bundle.
    Rootfs {
        /// The root file system.
        rootfs: PathBuf,
        /// Command and arguments.
        command: Vec<String>,
        /// KEY=VALUE entries.
        env: Vec<String>,
        /// Working directory.
        cwd: String,
        /// Host name.
        hostname: String,
        /// memory.max in bytes.
        memory_max: Option<i64>,
        /// pids.max.
        pids_max: Option<i64>,
    },
}

/// How a container's output is logged.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// The driver.
    pub driver: DriverKind,
    /// Rate limit, if any.
    pub limit: Option<Limit>,
    /// Longest record before a line is split (default 16 KiB).
    pub max_line: Option<usize>,
    /// Rotation of the CRI file.
    pub rotation: Rotation,
}

/// CreateContainer's input, validated for types but not yet for values.
#[derive(Debug)]
pub struct CreateRequest {
    /// Container id.
    pub id: String,
    /// The bundle or what to build it from.
    pub source: Source,
    /// Logging.
    pub log: LogOptions,
    /// Keep a pipe (or the pty) to the container's stdin for attach.
    pub stdin: bool,
    /// Close stdin when the first attached client that had it detaches.
    pub stdin_once: bool,
    /// Give the container a pty (rootfs containers; a bundle's config.json
    /// says so itself).
    pub terminal: bool,
    /// The pty's initial size (columns, rows), with `terminal`.
    pub console_size: Option<(u16, u16)>,
}

/// Checks the values that need no file system.
pub(super) fn check_values(req: &CreateRequest) -> Result<(), PodError> {
    super::id::validate_id(&req.id).map_err(|e| PodError::invalid(Field::Id, e))?;
    if let Some(l) = &req.log.limit {
        check_limit(l)?;
    }
    if req.log.max_line == Some(0) {
        return Err(PodError::invalid(Field::LogMaxLine, "must be positive"));
    }
    if req.log.rotation.max_size == Some(0) {
        return Err(PodError::invalid(Field::LogMaxSize, "must be positive"));
    }
    if let Source::Rootfs {
        command,
        memory_max,
        pids_max,
        cwd,
        ..
    } = &req.source
    {
        if command.is_empty() {
            return Err(PodError::invalid(
                Field::Command,
                "a command is required with rootfs",
            ));
        }
        if memory_max.is_some_and(|m| m <= 0) {
            return Err(PodError::invalid(
                Field::MemoryMax,
                "must be a positive number of bytes",
            ));
        }
        if pids_max.is_some_and(|m| m <= 0) {
            return Err(PodError::invalid(Field::PidsMax, "must be positive"));
        }
        if !cwd.starts_with('/') {
            return Err(PodError::invalid(Field::Cwd, "must be an absolute path"));
        }
    }
    Ok(())
}

/// Checks a rate limit's numbers.
pub fn check_limit(l: &Limit) -> Result<(), PodError> {
    if l.bytes_per_second == 0 {
        return Err(PodError::invalid(Field::BytesPerSecond, "must be positive"));
    }
    if l.burst == 0 {
        return Err(PodError::invalid(Field::Burst, "must be positive"));
    }
    Ok(())
}
