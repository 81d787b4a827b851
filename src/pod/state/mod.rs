//! The pod's state on disk, so that a new monitor on the same state
//! directory can re-adopt what an old one watched: one record per
//! container (`STATE/containers/ID/state.json`), per running exec
//! (`STATE/containers/ID/execs/EXEC/state.json`) and for the pod's options
//! (`STATE/pod.json`).
//!
//! Every record is rewritten whole at every change, atomically and durably
//! (a temporary file, fsync, rename, fsync of the directory), so after a
//! power cut at any point a name holds the old record or the new one. No
//! record is written or read through a link planted in the state
//! directory. A record says which schema version wrote it: a newer one is
//! refused with an error naming both versions, not misread.
//!
//! `record.rs` holds the types, `store.rs` the files, `pidstat.rs` the
//! start time that tells a re-used pid from the process recorded.

pub mod pidstat;
pub mod record;
pub mod store;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::sys::error::SysError;
use crate::sys::files::FileError;

pub use record::{ContainerRecord, ExitReason, ExitRecord, LogRecord, PodRecord, SCHEMA_VERSION};
pub use store::{Loaded, Store};

/// Why a record could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file operation failed, or found a link or a foreign owner.
    #[error(transparent)]
    File(#[from] FileError),
    /// Reading a process's start time failed.
    #[error(transparent)]
    System(#[from] SysError),
    /// The file is not a record podmon could have written.
    #[error("{}: not a podmon state record: {detail}", path.display())]
    Corrupt {
        /// The record's file.
        path: PathBuf,
        /// What is wrong with it (the JSON path of a bad field).
        detail: String,
    },
    /// A newer podmon wrote it, in a schema this one does not know.
    #[error(
        "{}: written with state schema version {found} by a newer podmon; this one reads up to version {supported}",
        path.display()
    )]
    FutureVersion {
        /// The record's file.
        path: PathBuf,
        /// The version it names.
        found: u64,
        /// The newest version this podmon reads.
        supported: u32,
    },
    /// A file or directory in the state directory that is not one of ours
    /// (a name no container could have, a record of another container).
    #[error("{}: not ours: {reason}", path.display())]
    Foreign {
        /// What was found.
        path: PathBuf,
        /// Why it is not taken for a record.
        reason: String,
    },
    /// A record could not be encoded (a path that is not UTF-8).
    #[error("encoding the record for {}: {source}", path.display())]
    Encode {
        /// Where it was to be written.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
}
