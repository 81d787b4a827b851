//! Reading a container's CRI log back: the rotated files oldest first,
//! then the current one; the last N records, those since a time, and
//! following new ones as they are written, across rotations. File reads go
//! through io_uring like everything else on the loop.
//!
//! The files are opened together when the read starts: rotation runs on
//! the same loop, between awaits, so the set is consistent, and a file
//! rotated while it is read is still the one open.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use crate::logs::cri::{self, Stream};
use crate::logs::logfile::open_read;
use crate::reactor::ops;
use crate::sys::time::Timestamp;

use super::LogSink;

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// RFC 3339 timestamp as written.
    pub timestamp: String,
    /// The stream.
    pub stream: Stream,
    /// A partial record (the line continues in the next record).
    pub partial: bool,
    /// The bytes as the container wrote them, without the newline.
    pub content: Vec<u8>,
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only the last N records (of those matching `since`).
    pub tail: Option<usize>,
    /// Only records at or after this time.
    pub since: Option<SystemTime>,
    /// Keep reading new records until the container stopped and its log
    /// is complete.
    pub follow: bool,
}

/// Splits complete lines off `pending` into records; keeps an incomplete
/// last line in `pending`. Malformed lines are skipped with a debug log.
fn take_records(pending: &mut Vec<u8>, since: Option<&str>, out: &mut Vec<OwnedRecord>) {
    let mut start = 0;
    while let Some(i) = pending[start..].iter().position(|&b| b == b'\n') {
        let line = &pending[start..start + i + 1];
        start += i + 1;
        match cri::parse_line(line) {
            Ok(r) => {
                if since.is_some_and(|s| r.timestamp < s) {
                    continue;
                }
                out.push(OwnedRecord {
                    timestamp: r.timestamp.to_owned(),
                    stream: r.stream,
                    partial: r.partial,
                    content: r.content.to_vec(),
                });
            }
            Err(e) => log::debug!("skipping malformed log line: {e}"),
        }
    }
    pending.drain(..start);
}

/// Reads records in batches; see [`Query`].
pub struct Reader {
    /// The live log; none for a deleted container's (a finished file).
    sink: Option<Rc<LogSink>>,
    /// The current file's path (`ID.log`).
    path: PathBuf,
    /// The file being read.
    fd: OwnedFd,
    /// The files after it, oldest first; the last is the current one.
    later: VecDeque<OwnedFd>,
    pending: Vec<u8>,
    since: Option<String>,
    tail: Option<usize>,
    follow: bool,
    generation: u64,
    /// The sink's rotations when `generation` was taken.
    rotations: u64,
    first: bool,
    buf: Vec<u8>,
}

/// Bytes read per operation.
const CHUNK: usize = 256 * 1024;
/// Records per batch (a reply) at most.
pub const BATCH: usize = 1024;

impl Reader {
    /// Opens the log of `sink` for reading.
    pub fn open(sink: Rc<LogSink>, q: &Query) -> io::Result<Reader> {
        let path = sink.path().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the container's log driver writes no file",
            )
        })?;
        let path = path.to_owned();
        Reader::with(Some(sink), path, q)
    }

    /// Opens the log a deleted container left at `path` (its rotated files
    /// too): read to its end, never followed.
    pub fn open_finished(path: &Path, q: &Query) -> io::Result<Reader> {
        let q = Query {
            follow: false,
            ..q.clone()
        };
        Reader::with(None, path.to_owned(), &q)
    }

    fn with(sink: Option<Rc<LogSink>>, path: PathBuf, q: &Query) -> io::Result<Reader> {
        let mut files = rotated_files(&path)?;
        files.push_back(open_read(&path)?);
        let fd = files.pop_front().expect("the current file");
        Ok(Reader {
            generation: sink.as_ref().map_or(0, |s| s.generation()),
            rotations: sink.as_ref().map_or(0, |s| s.rotations()),
            sink,
            path,
            fd,
            later: files,
            pending: Vec::new(),
            since: q
                .since
                .map(|t| Timestamp::from_system_time(t).as_str().to_owned()),
            tail: q.tail,
            follow: q.follow,
            first: true,
            buf: Vec::with_capacity(CHUNK),
        })
    }

    /// Reads the current file to its end; records go to `out` (at most
    /// BATCH unless collecting a tail). Returns false at end of file.
    async fn read_some(&mut self, out: &mut Vec<OwnedRecord>) -> io::Result<bool> {
        let buf = std::mem::take(&mut self.buf);
        let (r, mut buf) = ops::read(self.fd.as_fd(), buf, CHUNK).await;
        let n = r?;
        self.pending.extend_from_slice(&buf);
        buf.clear();
        self.buf = buf;
        take_records(&mut self.pending, self.since.as_deref(), out);
        if n == 0
            && let Some(next) = self.later.pop_front()
        {
            // A rotated file read to its end: on to the next one.
            self.fd = next;
            return Ok(true);
        }
        Ok(n > 0)
    }

    /// The next batch of records; `None` when there are no more (at end of
    /// file without `follow`, or once the container stopped and its log was
    /// read completely with `follow`).
    pub async fn next_batch(&mut self) -> io::Result<Option<Vec<OwnedRecord>>> {
        let mut out = Vec::new();
        if self.first {
            self.first = false;
            if let Some(n) = self.tail {
                let mut last: VecDeque<OwnedRecord> = VecDeque::with_capacity(n.min(BATCH));
                let mut chunk = Vec::new();
                while self.read_some(&mut chunk).await? {
                    for r in chunk.drain(..) {
                        if last.len() == n {
                            last.pop_front();
                        }
                        if n > 0 {
                            last.push_back(r);
                        }
                    }
                }
                return Ok(Some(last.into()));
            }
        }
        let Some(sink) = self.sink.clone() else {
            return self.finished_batch(out).await;
        };
        loop {
            let written = sink.counters().bytes_written;
            let generation = sink.generation();
            let drained = sink.is_drained();
            let more = self.read_some(&mut out).await?;
            if out.len() >= BATCH || (!out.is_empty() && !more) {
                return Ok(Some(out));
            }
            if more {
                continue;
            }
            // At the end of the current file.
            if generation != self.generation {
                // Rotated or reopened: the old file is final and read to
                // its end; continue with the new one.
                // The file we read was rotated; more rotations since made
                // files that are ID.log.(n-1) .. ID.log.1 now (those still
                // kept), then the current one.
                let rotated = sink.rotations() - self.rotations;
                self.generation = generation;
                self.rotations = sink.rotations();
                for n in (1..rotated).rev() {
                    match open_read(&numbered(&self.path, n)) {
                        Ok(fd) => self.later.push_back(fd),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                self.later.push_back(open_read(&self.path)?);
                self.fd = self.later.pop_front().expect("the current file");
                continue;
            }
            if !self.follow || drained {
                return Ok(if out.is_empty() { None } else { Some(out) });
            }
            sink.changed(written, generation).await;
        }
    }

    /// The next batch of a finished log: to the end of its last file.
    async fn finished_batch(
        &mut self,
        mut out: Vec<OwnedRecord>,
    ) -> io::Result<Option<Vec<OwnedRecord>>> {
        loop {
            let more = self.read_some(&mut out).await?;
            if out.len() >= BATCH || !more {
                return Ok(if out.is_empty() { None } else { Some(out) });
            }
        }
    }
}

/// `path.N`, the name of the Nth rotated file.
fn numbered(path: &Path, n: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The rotated files of the log at `path` (`path.1`, `path.2` ...) that
/// exist, opened, oldest first; the first missing number ends the list.
fn rotated_files(path: &Path) -> io::Result<VecDeque<OwnedFd>> {
    let mut files = VecDeque::new();
    for n in 1.. {
        match open_read(&numbered(path, n)) {
            Ok(fd) => files.push_front(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_split_and_filtered() {
        let mut pending = b"2026-01-01T00:00:00.000000000Z stdout F a\n2026-01-02T00:00:00.000000000Z stderr P b\n2026-01-0".to_vec();
        let mut out = Vec::new();
        take_records(
            &mut pending,
            Some("2026-01-01T12:00:00.000000000Z"),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].content, b"b");
        assert!(out[0].partial);
        assert_eq!(out[0].stream, Stream::Stderr);
        assert_eq!(pending, b"2026-01-0");
    }
}
