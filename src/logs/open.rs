//! Opening a container's log drivers from what its create (or its state
//! record, on re-adoption) says: the CRI file, the journal, both, or none.
//! Apart from `driver.rs` so the driver trait does not depend on the
//! journald driver that implements it.

use std::io;
use std::path::{Path, PathBuf};

use crate::logs::driver::{CriFile, Discard, DriverKind, LogDriver, Rotation};
use crate::logs::journal::{Identity, JournalDriver, JournalSocket, both::CriAndJournal};

/// What a container's drivers are made from.
#[derive(Debug, Clone)]
pub struct DriverSpec<'a> {
    /// Which drivers.
    pub kind: DriverKind,
    /// The CRI file (used with `cri`).
    pub file: &'a Path,
    /// Longest record, for both formats.
    pub max_line: usize,
    /// Rotation of the file.
    pub rotation: Rotation,
    /// The journal's socket (used with `journald`).
    pub journal: &'a Path,
    /// Who the journal's entries come from.
    pub identity: Identity,
}

/// A driver that could not be opened: what, where, and the error.
#[derive(Debug)]
pub struct OpenFailure {
    /// The operation, for the error message.
    pub op: &'static str,
    /// The file or socket.
    pub path: PathBuf,
    /// The error, with its errno.
    pub error: io::Error,
}

/// Opens the drivers `spec` names. With `lazy_journal` (a re-adopted
/// container) a journal that is not there yet is connected to at the
/// first write instead of failing here.
pub fn drivers(
    spec: &DriverSpec<'_>,
    lazy_journal: bool,
) -> Result<Box<dyn LogDriver>, OpenFailure> {
    let file = || {
        CriFile::open(spec.file, spec.max_line, spec.rotation).map_err(|error| OpenFailure {
            op: "opening",
            path: spec.file.to_owned(),
            error,
        })
    };
    let journal = || {
        let socket = match JournalSocket::open(spec.journal) {
            Ok(s) => s,
            Err(_) if lazy_journal => JournalSocket::lazy(spec.journal),
            Err(error) => {
                return Err(OpenFailure {
                    op: "connecting to the journal at",
                    path: spec.journal.to_owned(),
                    error,
                });
            }
        };
        Ok(JournalDriver::new(socket, &spec.identity, spec.max_line))
    };
    Ok(match spec.kind {
        DriverKind::Cri => Box::new(file()?),
        DriverKind::None => Box::new(Discard),
        DriverKind::Journald => Box::new(journal()?),
        DriverKind::CriJournald => Box::new(CriAndJournal::new(file()?, journal()?, spec.max_line)),
    })
}
