//! CreateContainer's request in the pod's terms, and the checks of its
//! values that need no file system.

use std::path::PathBuf;

use super::{Field, PodError, limits};
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
    /// When the file goes to disk.
    pub sync: crate::logs::sync::LogSync,
    /// The journal's CONTAINER_TAG and SYSLOG_IDENTIFIER (default the id).
    pub tag: Option<String>,
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
    /// Kinds of the pod's namespaces this container gets new ones of.
    pub own_namespaces: Vec<crate::sys::ns::NsKind>,
    /// A bundle container that joins the pod's namespaces (rootfs ones
    /// always do).
    pub join_pod: bool,
}

/// Checks the values that need no file system against the ranges of
/// [`super::limits`].
pub(super) fn check_values(req: &CreateRequest) -> Result<(), PodError> {
    super::id::validate_id(&req.id).map_err(|e| PodError::invalid(Field::Id, e))?;
    check_log(&req.log)?;
    if let Some((w, h)) = req.console_size {
        if !req.terminal {
            return Err(PodError::invalid(Field::Width, "only with terminal"));
        }
        limits::window(w, h)?;
    }
    match &req.source {
        Source::Bundle(path) => limits::absolute_path(Field::Bundle, &path.to_string_lossy()),
        Source::Rootfs {
            rootfs,
            command,
            env,
            cwd,
            hostname,
            memory_max,
            pids_max,
        } => {
            limits::absolute_path(Field::Rootfs, &rootfs.to_string_lossy())?;
            limits::argv_env(command, env)?;
            limits::absolute_path(Field::Cwd, cwd)?;
            limits::hostname(hostname)?;
            if let Some(m) = *memory_max {
                limits::in_range(Field::MemoryMax, m, limits::MEMORY_MIN, limits::MEMORY_MAX)?;
            }
            if let Some(p) = *pids_max {
                limits::in_range(Field::PidsMax, p, 1, limits::PIDS_MAX)?;
            }
            Ok(())
        }
    }
}

/// The log options: line length, rotation size and file count, rate limit.
fn check_log(log: &LogOptions) -> Result<(), PodError> {
    if let Some(l) = &log.limit {
        check_limit(l)?;
    }
    if let Some(n) = log.max_line {
        let (lo, hi) = (limits::LOG_MAX_LINE_MIN, limits::LOG_MAX_LINE_MAX);
        limits::in_range(Field::LogMaxLine, n as u64, lo, hi)?;
    }
    if let Some(n) = log.rotation.max_size {
        let (lo, hi) = (limits::LOG_MAX_SIZE_MIN, limits::LOG_MAX_SIZE_MAX);
        limits::in_range(Field::LogMaxSize, n, lo, hi)?;
    }
    let files = log.rotation.max_files;
    limits::in_range(Field::LogMaxFiles, files, 0, limits::LOG_MAX_FILES)?;
    Ok(())
}

/// Checks a rate limit's numbers (see [`limits::check_limit`]).
pub fn check_limit(l: &Limit) -> Result<(), PodError> {
    limits::check_limit(l)
}
