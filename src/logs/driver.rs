//! Log drivers: where a container's formatted output goes.
//!
//! A driver formats chunks of output into its own record format and writes
//! buffers of records. The CRI file driver is the default; `none` discards;
//! the journald driver (`logs::journal`) formats into the journal's native
//! protocol and sends datagrams, alone or next to the file.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::logs::cri::{self, Stream};
use crate::logs::logfile::LogDir;
use crate::logs::writebehind::WriteBehind;
use crate::reactor::ops;
use crate::sys::time::Timestamp;

/// Which drivers a container uses: a set of the CRI file and the
/// journal, named as the state records name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// Kubernetes CRI log file (`<log-dir>/<id>.log`).
    #[default]
    Cri,
    /// Discard all output (the pipes are still drained).
    None,
    /// The systemd journal (its native socket).
    Journald,
    /// The CRI file and the journal, the same lines in both.
    #[serde(rename = "cri+journald")]
    CriJournald,
}

impl DriverKind {
    /// The kind of a set of drivers (neither: `None`).
    pub fn of(cri: bool, journald: bool) -> DriverKind {
        match (cri, journald) {
            (true, true) => DriverKind::CriJournald,
            (true, false) => DriverKind::Cri,
            (false, true) => DriverKind::Journald,
            (false, false) => DriverKind::None,
        }
    }

    /// It writes the CRI file (which rotation, ReadLogs and syncs need).
    pub fn has_cri(self) -> bool {
        matches!(self, DriverKind::Cri | DriverKind::CriJournald)
    }

    /// It sends to the journal.
    pub fn has_journald(self) -> bool {
        matches!(self, DriverKind::Journald | DriverKind::CriJournald)
    }
}

/// The result of writing one buffer: the error, if any, and the buffer back.
pub type WriteResult = (io::Result<()>, Vec<u8>);

/// Turns chunks of output into a driver's records. Separate from the
/// driver so the pumps format while the writer task owns the driver.
pub trait RecordFormat {
    /// Appends the records for one chunk read from `stream` to `out`.
    fn format(&self, stream: Stream, ts: &Timestamp, chunk: &[u8], out: &mut Vec<u8>);
}

/// CRI records: `<timestamp> <stream> <P|F> <content>`.
pub struct CriFormat {
    /// Longest record content; longer lines are split into P records.
    pub max_line: usize,
}

impl RecordFormat for CriFormat {
    fn format(&self, stream: Stream, ts: &Timestamp, chunk: &[u8], out: &mut Vec<u8>) {
        cri::format_chunk(stream, ts, chunk, self.max_line, out);
    }
}

/// Produces no records.
pub struct NoFormat;

impl RecordFormat for NoFormat {
    fn format(&self, _: Stream, _: &Timestamp, _: &[u8], _: &mut Vec<u8>) {}
}

/// A destination for a container's output.
pub trait LogDriver {
    /// The record format the pumps use for this driver.
    fn formatter(&self) -> std::rc::Rc<dyn RecordFormat>;
    /// Writes all of `buf`; on error nothing after the reported point is
    /// lost: the buffer comes back holding the part not yet written.
    fn write(&mut self, buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>>;
    /// Reopens the destination (after an outside rotator renamed the file).
    fn reopen(&mut self) -> io::Result<()>;
    /// The file it writes, if it writes one.
    fn path(&self) -> Option<&Path>;
    /// How many times the file was rotated or reopened; readers that follow
    /// the file reopen it when this changes.
    fn generation(&self) -> u64;
    /// Writes what was written so far to disk (see `logs::sync`); a driver
    /// that writes no file has nothing to do.
    fn sync(&mut self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// How many of those were rotations (`ID.log` moved to `ID.log.1`):
    /// a reader that missed some reads the files they made.
    fn rotations(&self) -> u64 {
        0
    }
}

/// Rotation settings of a CRI log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Rotate when the file reaches this many bytes.
    pub max_size: Option<u64>,
    /// Rotated files to keep (`<id>.log.1` … `<id>.log.N`); 0 keeps none.
    pub max_files: u32,
}

/// The Kubernetes CRI log file, reached through its directory's
/// descriptor and never through a planted link (see [`super::logfile`]).
pub struct CriFile {
    path: PathBuf,
    dir: LogDir,
    name: String,
    fd: OwnedFd,
    size: u64,
    max_line: usize,
    rotation: Rotation,
    generation: u64,
    rotations: u64,
    behind: WriteBehind,
}

impl CriFile {
    /// Opens (appending to) the file at `path`: its directory, then the
    /// file in it without following a link.
    pub fn open(path: &Path, max_line: usize, rotation: Rotation) -> io::Result<CriFile> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a log file path needs a directory and a file name",
            ));
        };
        let name = name.to_str().ok_or(io::ErrorKind::InvalidInput)?.to_owned();
        let mut dir = LogDir::open(parent)?;
        let (fd, size) = dir.open_append(&name, false)?;
        Ok(CriFile {
            path: path.to_owned(),
            dir,
            name,
            fd,
            size,
            max_line,
            rotation,
            generation: 0,
            rotations: 0,
            behind: WriteBehind::new(size),
        })
    }

    /// Moves the file aside (`ID.log` becomes `ID.log.1`, and so on, see
    /// [`LogDir::rotate`]) and starts a new one, which must not exist yet.
    /// Runs between two whole records, so no record is split or lost. It
    /// runs on the loop: its cost is bounded by the rotated files that
    /// exist, at most `logMaxFiles` (which the pod bounds to 32).
    fn rotate(&mut self) -> io::Result<()> {
        self.dir.rotate(&self.name, self.rotation.max_files)?;
        let (fd, size) = self.dir.open_append(&self.name, true)?;
        self.replace(fd, size);
        self.rotations += 1;
        Ok(())
    }

    fn replace(&mut self, fd: OwnedFd, size: u64) {
        self.fd = fd;
        self.size = size;
        self.generation += 1;
        self.behind = WriteBehind::new(size);
    }
}

impl LogDriver for CriFile {
    fn formatter(&self) -> std::rc::Rc<dyn RecordFormat> {
        std::rc::Rc::new(CriFormat {
            max_line: self.max_line,
        })
    }

    fn write(&mut self, buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>> {
        Box::pin(async move {
            let mut buf = buf;
            // Whole records up to the limit, a rotation, the rest: a file
            // passes logMaxSize by less than one record.
            while let Some(cut) = self.rotation_cut(&buf) {
                let rest = buf.split_off(cut);
                let (r, mut b) = self.write_all(buf).await;
                if let Err(e) = r {
                    b.extend_from_slice(&rest);
                    return (Err(e), b);
                }
                if let Err(e) = self.rotate() {
                    return (Err(e), rest);
                }
                buf = rest;
            }
            self.write_all(buf).await
        })
    }

    fn reopen(&mut self) -> io::Result<()> {
        let (fd, size) = self.dir.open_append(&self.name, false)?;
        self.replace(fd, size);
        Ok(())
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn rotations(&self) -> u64 {
        self.rotations
    }

    fn sync(&mut self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(super::sync::data_sync(self.fd.as_fd()))
    }
}

impl CriFile {
    /// Where to rotate in `buf`, if the file reaches logMaxSize in it: just
    /// after the record that reaches the limit (0: the file is there
    /// already). None while all of `buf` fits below the limit.
    fn rotation_cut(&self, buf: &[u8]) -> Option<usize> {
        let max = self.rotation.max_size?;
        if buf.is_empty() {
            return None;
        }
        let room = max.saturating_sub(self.size);
        if room == 0 {
            return Some(0);
        }
        if (buf.len() as u64) < room {
            return None;
        }
        // The byte that reaches the limit is at room - 1; its record ends
        // at the next newline (every CRI record ends with one).
        let at = (room - 1) as usize;
        Some(memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i + 1))
    }

    /// Writes all of `buf` at the end of the file; on error the buffer
    /// comes back holding what was not written.
    async fn write_all(&mut self, buf: Vec<u8>) -> WriteResult {
        let mut buf = buf;
        let mut done = 0;
        while done < buf.len() {
            let (r, b) = ops::write_offloaded(self.fd.as_fd(), buf, done).await;
            buf = b;
            match r {
                Ok(0) => {
                    buf.drain(..done);
                    return (Err(io::ErrorKind::WriteZero.into()), buf);
                }
                Ok(n) => {
                    done += n;
                    self.size += n as u64;
                    self.behind.advance(self.fd.as_fd(), self.size).await;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.drain(..done);
                    return (Err(e), buf);
                }
            }
        }
        buf.clear();
        (Ok(()), buf)
    }
}

/// Discards everything.
pub struct Discard;

impl LogDriver for Discard {
    fn formatter(&self) -> std::rc::Rc<dyn RecordFormat> {
        std::rc::Rc::new(NoFormat)
    }

    fn write(&mut self, mut buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>> {
        buf.clear();
        Box::pin(std::future::ready((Ok(()), buf)))
    }

    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn generation(&self) -> u64 {
        0
    }
}
