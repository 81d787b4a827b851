//! A container's log file: its stdout and stderr pipes, formatted into CRI
//! records and written through a double buffer.
//!
//! The pump tasks format what they read straight into the filling buffer;
//! the writer task swaps it with the spare one and hands that to io_uring,
//! so one buffer fills while the other is being written. The writer owns the
//! buffer in flight (it is moved into the write operation), which makes the
//! hand-over visible in the types. When the filling buffer is full the pumps
//! stop reading, so the container's writes block instead of data being lost.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::cri::{self, Stream, Timestamp};
use crate::reactor::{self, ops, sync::Notify};

/// Bytes read from a pipe in one operation.
const READ_CHUNK: usize = 128 * 1024;
/// The filling buffer's size at which pumps pause until the writer catches up.
const HIGH_WATER: usize = 1 << 20;
/// Longest CRI record content before a line is split into partial records.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;
/// Pipe size asked for, to cut the number of reads for chatty containers.
const PIPE_SIZE: usize = 1 << 20;

/// The log of one container; shared by its pumps, its writer and the monitor.
pub struct LogSink {
    path: PathBuf,
    file: OwnedFd,
    fill: RefCell<Vec<u8>>,
    open_streams: Cell<usize>,
    writing: Cell<bool>,
    last_error: RefCell<Option<String>>,
    bytes_written: Cell<u64>,
    max_line: usize,
    notify: Notify,
}

impl LogSink {
    /// Opens (appending) the log file and starts a pump per pipe plus the
    /// writer task.
    pub fn start(path: &Path, pipes: Vec<(Stream, OwnedFd)>) -> io::Result<Rc<LogSink>> {
        let file = rustix::fs::open(
            path,
            rustix::fs::OFlags::WRONLY
                | rustix::fs::OFlags::CREATE
                | rustix::fs::OFlags::APPEND
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o640),
        )?;
        let sink = Rc::new(LogSink {
            path: path.to_owned(),
            file,
            fill: RefCell::new(Vec::with_capacity(64 * 1024)),
            open_streams: Cell::new(pipes.len()),
            writing: Cell::new(false),
            last_error: RefCell::new(None),
            bytes_written: Cell::new(0),
            max_line: DEFAULT_MAX_LINE,
            notify: Notify::default(),
        });
        for (stream, fd) in pipes {
            if let Err(e) = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE) {
                log::debug!("F_SETPIPE_SZ: {e}");
            }
            reactor::spawn(pump(sink.clone(), stream, fd));
        }
        reactor::spawn(writer(sink.clone()));
        Ok(sink)
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last write error, if writing currently fails.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.borrow().clone()
    }

    /// Bytes written to the file so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.get()
    }

    fn idle(&self) -> bool {
        self.fill.borrow().is_empty() && !self.writing.get()
    }

    /// Resolves when every pipe reached end of file and every byte read is in
    /// the file.
    pub async fn drained(&self) {
        self.notify
            .wait_until(|| (self.open_streams.get() == 0 && self.idle()).then_some(()))
            .await
    }

    /// Resolves when every byte read so far is in the file.
    pub async fn flushed(&self) {
        self.notify.wait_until(|| self.idle().then_some(())).await
    }
}

async fn pump(sink: Rc<LogSink>, stream: Stream, pipe: OwnedFd) {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        sink.notify
            .wait_until(|| (sink.fill.borrow().len() < HIGH_WATER).then_some(()))
            .await;
        buf.clear();
        let (r, b) = ops::read(pipe.as_fd(), buf).await;
        buf = b;
        match r {
            Ok(0) => break,
            Ok(_) => {
                let ts = Timestamp::now();
                cri::format_chunk(stream, &ts, &buf, sink.max_line, &mut sink.fill.borrow_mut());
                sink.notify.notify_all();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("{}: reading container output: {e}", sink.path.display());
                break;
            }
        }
    }
    sink.open_streams.set(sink.open_streams.get() - 1);
    sink.notify.notify_all();
}

async fn writer(sink: Rc<LogSink>) {
    // The spare buffer: empty between writes, owned by the write op during one.
    let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let done = sink
            .notify
            .wait_until(|| {
                if !sink.fill.borrow().is_empty() {
                    Some(false)
                } else if sink.open_streams.get() == 0 {
                    Some(true)
                } else {
                    None
                }
            })
            .await;
        if done {
            return;
        }
        std::mem::swap(&mut spare, &mut sink.fill.borrow_mut());
        sink.writing.set(true);
        // Readers may continue into the (now empty) filling buffer.
        sink.notify.notify_all();
        let mut done = 0;
        while done < spare.len() {
            let (r, b) = ops::write(sink.file.as_fd(), spare, done).await;
            spare = b;
            match r {
                Ok(n) if n > 0 => {
                    done += n;
                    sink.bytes_written.set(sink.bytes_written.get() + n as u64);
                    if sink.last_error.borrow_mut().take().is_some() {
                        log::info!("{}: writing works again", sink.path.display());
                    }
                }
                Ok(_) | Err(_) => {
                    // Keep the unwritten rest and retry: a full disk or a
                    // vanished directory must not lose lines.
                    let e = r.err().map_or_else(|| "wrote nothing".to_owned(), |e| e.to_string());
                    log::warn!("{}: {e}; retrying in 1 s", sink.path.display());
                    *sink.last_error.borrow_mut() = Some(e);
                    ops::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        spare.clear();
        sink.writing.set(false);
        sink.notify.notify_all();
    }
}
