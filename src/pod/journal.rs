//! The event journal on disk: `STATE/events.0` and `STATE/events.1`, a ring
//! of two segments, each line one event as JSON with its `seq`.
//!
//! Why two segments: appending is all the loop ever does to the current one,
//! and when it holds [`SEGMENT_EVENTS`] events the other (older) one is
//! truncated and becomes current. So the journal keeps at least the last
//! `SEGMENT_EVENTS` events and at most twice that, never rewrites a file in
//! place and bounds its size by the line size (an event line is at most a
//! few hundred bytes: ids are at most 64 bytes, exec ids too).
//!
//! Files are opened relative to a descriptor of the state directory with
//! `O_NOFOLLOW` and must be regular files, as the log files are: a link or
//! a FIFO planted at `events.N` makes the monitor refuse to start (ELOOP,
//! or "not a regular file"), never write through it. A torn last line (the
//! monitor was killed in the middle of an append) is ignored on load and cut
//! off before the next append, so it never glues onto a new line. Nothing is
//! fsynced: the journal survives the monitor's restart and upgrade (the
//! page cache does), not a crash of the host.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use rustix::fs::{FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use crate::sys::files;
use crate::sys::process::ExitInfo;

/// Events in one segment before the journal moves to the other one: the
/// journal keeps between this many and twice this many events.
pub const SEGMENT_EVENTS: usize = 10_000;

/// Bytes of a segment read at start; a bigger file is not one podmon wrote
/// (lines are far shorter), and only its first part is read.
const MAX_SEGMENT_BYTES: u64 = (SEGMENT_EVENTS as u64) * 4096;

/// The segment files, in the state directory.
const NAMES: [&str; 2] = ["events.0", "events.1"];

/// Why the journal could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct JournalError {
    /// What podmon was doing ("opening", "reading", "truncating").
    pub op: &'static str,
    /// The segment file, or the state directory.
    pub path: PathBuf,
    /// The system's error, with its errno.
    #[source]
    pub source: io::Error,
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    seq: u64,
    id: String,
    /// Seconds and nanoseconds since the epoch.
    secs: u64,
    nanos: u32,
    #[serde(flatten)]
    kind: Stored,
}

/// [`EventKind`] as stored: exits as code and signal, as `waitid` gave them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum Stored {
    Created,
    Started,
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        oom_killed: bool,
    },
    Oom,
    ExecStarted {
        exec_id: String,
    },
    ExecExited {
        exec_id: String,
        code: Option<i32>,
        signal: Option<i32>,
    },
    Deleted,
    LogDropped {
        bytes: u64,
    },
}

impl From<&EventKind> for Stored {
    fn from(k: &EventKind) -> Stored {
        match k {
            EventKind::Created => Stored::Created,
            EventKind::Started => Stored::Started,
            EventKind::Exited { exit, oom_killed } => Stored::Exited {
                code: exit.code,
                signal: exit.signal,
                oom_killed: *oom_killed,
            },
            EventKind::Oom => Stored::Oom,
            EventKind::ExecStarted { exec_id } => Stored::ExecStarted {
                exec_id: exec_id.clone(),
            },
            EventKind::ExecExited { exec_id, exit } => Stored::ExecExited {
                exec_id: exec_id.clone(),
                code: exit.code,
                signal: exit.signal,
            },
            EventKind::Deleted => Stored::Deleted,
            EventKind::LogDropped { bytes } => Stored::LogDropped { bytes: *bytes },
        }
    }
}

impl From<Stored> for EventKind {
    fn from(s: Stored) -> EventKind {
        let exit = |code, signal| ExitInfo { code, signal };
        match s {
            Stored::Created => EventKind::Created,
            Stored::Started => EventKind::Started,
            Stored::Exited {
                code,
                signal,
                oom_killed,
            } => EventKind::Exited {
                exit: exit(code, signal),
                oom_killed,
            },
            Stored::Oom => EventKind::Oom,
            Stored::ExecStarted { exec_id } => EventKind::ExecStarted { exec_id },
            Stored::ExecExited {
                exec_id,
                code,
                signal,
            } => EventKind::ExecExited {
                exec_id,
                exit: exit(code, signal),
            },
            Stored::Deleted => EventKind::Deleted,
            Stored::LogDropped { bytes } => EventKind::LogDropped { bytes },
        }
    }
}

/// Appends `e` as one line (with its newline) to `out`.
pub fn encode(e: &Event, out: &mut Vec<u8>) {
    let t = e.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let line = Line {
        seq: e.seq,
        id: e.id.clone(),
        secs: t.as_secs(),
        nanos: t.subsec_nanos(),
        kind: Stored::from(&e.kind),
    };
    // A struct of strings and integers always serializes.
    serde_json::to_writer(&mut *out, &line).expect("an event serializes");
    out.push(b'\n');
}

/// The events of one segment's text: each complete line that parses, in
/// file order; a line that does not parse is skipped (logged), bytes after
/// the last newline (a torn append) are ignored. Also returns the length of
/// the complete lines, where the next append must go.
pub fn decode(text: &[u8]) -> (Vec<Event>, usize) {
    let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut events = Vec::new();
    for raw in text[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Line>(raw) {
            Ok(l) => events.push(Event {
                seq: l.seq,
                id: l.id,
                at: UNIX_EPOCH + Duration::new(l.secs, l.nanos.min(999_999_999)),
                kind: l.kind.into(),
            }),
            Err(e) => log::warn!("event journal: skipping a line that does not parse: {e}"),
        }
    }
    if end < text.len() {
        log::warn!(
            "event journal: ignoring a torn last line ({} bytes)",
            text.len() - end
        );
    }
    (events, end)
}

/// The two segment files and which one is being appended to.
#[derive(Debug)]
pub struct Segments {
    dir_path: PathBuf,
    dir: OwnedFd,
    current: usize,
    /// Shared with the writer, which keeps it while it writes.
    fd: Rc<OwnedFd>,
    /// Events in the current segment.
    pub count: usize,
}

/// What was on disk at start.
#[derive(Debug)]
pub struct Loaded {
    /// The journal, ready for appends.
    pub segments: Segments,
    /// Every kept event, oldest first, `seq` strictly increasing.
    pub events: Vec<Event>,
    /// The seq of the first event in the current segment, if it has one.
    pub current_first: Option<u64>,
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Opens `name` in `dir` (creating it, mode 0600), never through a link,
/// and checks it is a regular file; `truncate` empties it.
fn open_segment(dir: BorrowedFd<'_>, name: &str, truncate: bool) -> io::Result<OwnedFd> {
    let mut flags = OFlags::RDWR
        | OFlags::CREATE
        | OFlags::APPEND
        | OFlags::CLOEXEC
        | OFlags::NOFOLLOW
        | OFlags::NONBLOCK;
    if truncate {
        flags |= OFlags::TRUNC;
    }
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(files::PRIVATE_FILE))?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // O_NONBLOCK only guarded the open against a FIFO.
    rustix::fs::fcntl_setfl(&fd, OFlags::APPEND)?;
    Ok(fd)
}

/// Reads a segment from its start (at most [`MAX_SEGMENT_BYTES`]).
fn read_segment(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    let file = std::fs::File::from(fd.try_clone()?);
    file.take(MAX_SEGMENT_BYTES).read_to_end(&mut text)?;
    Ok(text)
}

impl Segments {
    /// Opens (creating) both segments in `state_dir` and reads them: done
    /// once at start, before the loop serves anyone, so reading
    /// synchronously delays nobody.
    pub fn load(state_dir: &Path) -> Result<Loaded, JournalError> {
        let dir = files::open_dir(state_dir).map_err(|e| JournalError {
            op: "opening",
            path: state_dir.to_owned(),
            source: match e {
                files::FileError::Io { source, .. } => source,
                other => io::Error::other(other.to_string()),
            },
        })?;
        let mut parts = Vec::with_capacity(2);
        for name in NAMES {
            let path = state_dir.join(name);
            let fd = open_segment(dir.as_fd(), name, false).map_err(err("opening", &path))?;
            let text = read_segment(&fd).map_err(err("reading", &path))?;
            let (events, end) = decode(&text);
            parts.push((path, fd, events, end, text.len()));
        }
        let last = |i: usize| parts[i].2.last().map(|e| e.seq);
        // The current segment is the one with the newer events.
        let current = usize::from(last(1) > last(0));
        let (path, fd, _, end, len) = &parts[current];
        if end < len {
            // Cut the torn line off, so the next line starts a line.
            rustix::fs::ftruncate(fd, *end as u64)
                .map_err(|e| err("truncating", path)(e.into()))?;
        }
        let older = parts[1 - current].2.iter();
        let newer = &parts[current].2;
        let current_first = newer.first().map(|e| e.seq);
        let mut events: Vec<Event> = Vec::with_capacity(older.len() + newer.len());
        for e in older.chain(newer.iter()) {
            // Strictly increasing, whatever a damaged file says.
            if events.last().is_none_or(|p| p.seq < e.seq) {
                events.push(e.clone());
            }
        }
        let count = newer.len();
        let fd = parts.swap_remove(current).1;
        Ok(Loaded {
            segments: Segments {
                dir_path: state_dir.to_owned(),
                dir,
                current,
                fd: Rc::new(fd),
                count,
            },
            events,
            current_first,
        })
    }

    /// The current segment, for appends (O_APPEND).
    pub fn fd(&self) -> Rc<OwnedFd> {
        self.fd.clone()
    }

    /// The current segment's path, for errors.
    pub fn path(&self) -> PathBuf {
        self.dir_path.join(NAMES[self.current])
    }

    /// Moves to the other segment, emptied: its events are the oldest kept
    /// and are dropped. One `openat` with `O_TRUNC` on the loop.
    pub fn swap(&mut self) -> Result<(), JournalError> {
        let other = 1 - self.current;
        let path = self.dir_path.join(NAMES[other]);
        self.fd = Rc::new(
            open_segment(self.dir.as_fd(), NAMES[other], true).map_err(err("truncating", &path))?,
        );
        self.current = other;
        self.count = 0;
        Ok(())
    }
}
