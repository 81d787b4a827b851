//! A container's log: its stdout and stderr pipes, formatted by a log
//! driver and written through a double buffer, with an optional rate limit.
//!
//! The pump tasks format what they read straight into the filling buffer;
//! the writer task swaps it with the spare one and hands that to the driver
//! (an io_uring write), so one buffer fills while the other is written. The
//! writer owns the buffer in flight (it is moved into the write), which
//! makes the hand-over visible in the types. When the filling buffer is full
//! the pumps stop reading, so the container's writes block instead of data
//! being lost. Exit detection and the API never wait for any of this: they
//! are other tasks on the same loop. For a live upgrade, `LogSink::park`
//! (park.rs) stops the pumps without losing a byte and hands the pipes back.

pub mod cri;
pub mod driver;
pub mod drops;
pub mod hub;
pub mod journal;
pub mod logfile;
pub mod open;
mod park;
pub mod ratelimit;
pub mod reader;
#[cfg(test)]
mod rotation_tests;
pub mod sync;
#[cfg(test)]
mod tests;
pub mod writebehind;

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use drops::Ledger;

use crate::logs::cri::Stream;
use crate::logs::hub::Hub;
use crate::logs::ratelimit::{Bucket, Limit, Policy};
use crate::logs::sync::LogSync;
use crate::reactor::sync::{Either, Notify, select};
use crate::reactor::{self, ops};
use crate::sys::error::SysError;
use crate::sys::time::Timestamp;
use driver::{LogDriver, RecordFormat};

/// Bytes read from a pipe in one operation.
const READ_CHUNK: usize = 256 * 1024;
/// The filling buffer's size at which pumps pause until the writer catches up.
const HIGH_WATER: usize = 2 << 20;
/// Longest CRI record content before a line is split into partial records.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;
/// Pipe size used when the system maximum cannot be read.
const PIPE_SIZE: usize = 1 << 20;

/// The largest pipe an unprivileged process may ask for
/// (/proc/sys/fs/pipe-max-size): container output pipes get that much, to
/// cut wakeups and let a burst wait in the kernel instead of blocking.
fn pipe_max_size() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(PIPE_SIZE)
    })
}
/// Delay before retrying a failed write (disk full, directory gone).
const RETRY: Duration = Duration::from_secs(1);

/// Called with the byte count whenever a marker reports dropped output.
pub type DropHook = Box<dyn Fn(u64)>;

/// Counters the API reports.
#[derive(Debug, Clone, Default)]
pub struct LogCounters {
    /// Bytes of records written to the destination.
    pub bytes_written: u64,
    /// Bytes of container output dropped by the `drop` rate-limit policy.
    pub bytes_dropped: u64,
    /// The last write error, while writing fails.
    pub error: Option<String>,
}

/// The log of one container; shared by its pumps, its writer and the API.
pub struct LogSink {
    path: Option<PathBuf>,
    fill: RefCell<Vec<u8>>,
    open_streams: Cell<usize>,
    writing: Cell<bool>,
    counters: RefCell<LogCounters>,
    bucket: RefCell<Option<Bucket>>,
    /// Bytes dropped and not yet in a marker, per stream.
    dropped: [RefCell<Ledger>; 2],
    reopen: Cell<Option<u64>>,
    reopen_seq: Cell<u64>,
    reopen_result: RefCell<Option<(u64, Result<(), SysError>)>>,
    generation: Cell<u64>,
    rotations: Cell<u64>,
    bytes_read: Cell<u64>,
    notify: Notify,
    /// Live output for attached clients, before any rate limiting.
    pub hub: Hub,
    on_drop: RefCell<Option<DropHook>>,
    /// The pumps' stop signal, for `park`.
    parking: park::Parking,
    /// When the file goes to disk.
    sync: LogSync,
    /// Written since the last sync (for `LogSync::Interval`).
    dirty: Cell<bool>,
    /// A background sync is due (for `LogSync::Interval`).
    sync_due: Cell<bool>,
    /// The writer is done: every stream ended and, unless `Never`, the
    /// file was synced.
    finished: Cell<bool>,
}

fn stream_index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl LogSink {
    /// Starts a pump per pipe plus the writer task that owns `driver`.
    pub fn start(
        driver: Box<dyn LogDriver>,
        pipes: Vec<(Stream, OwnedFd)>,
        limit: Option<Limit>,
        sync: LogSync,
    ) -> Rc<LogSink> {
        let sink = Rc::new(LogSink {
            path: driver.path().map(ToOwned::to_owned),
            fill: RefCell::new(Vec::with_capacity(64 * 1024)),
            open_streams: Cell::new(pipes.len()),
            writing: Cell::new(false),
            counters: RefCell::default(),
            bucket: RefCell::new(limit.map(|l| Bucket::new(l, Instant::now()))),
            dropped: Default::default(),
            reopen: Cell::new(None),
            reopen_seq: Cell::new(0),
            reopen_result: RefCell::new(None),
            generation: Cell::new(0),
            rotations: Cell::new(0),
            bytes_read: Cell::new(0),
            notify: Notify::default(),
            hub: Hub::default(),
            on_drop: RefCell::new(None),
            parking: park::Parking::new(pipes.len()),
            sync,
            dirty: Cell::new(false),
            sync_due: Cell::new(false),
            finished: Cell::new(false),
        });
        let format = driver.formatter();
        for (i, (stream, fd)) in pipes.into_iter().enumerate() {
            if let Err(e) = rustix::pipe::fcntl_setpipe_size(&fd, pipe_max_size()) {
                log::debug!("F_SETPIPE_SZ: {e}");
            }
            let p = Pipe {
                stream,
                fd,
                index: i,
            };
            reactor::spawn(pump(sink.clone(), format.clone(), p));
        }
        reactor::spawn(writer(sink.clone(), driver));
        if sync == LogSync::Interval {
            reactor::spawn(interval_sync(sink.clone()));
        }
        sink
    }

    /// Sets what to call (with the byte count) when a marker reports
    /// dropped output.
    pub fn on_drop(&self, f: DropHook) {
        *self.on_drop.borrow_mut() = Some(f);
    }

    /// The log file's path, if the driver writes a file.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Bytes written, dropped, and the current error.
    pub fn counters(&self) -> LogCounters {
        self.counters.borrow().clone()
    }

    /// The rate limit in force.
    pub fn limit(&self) -> Option<Limit> {
        self.bucket.borrow().as_ref().map(Bucket::limit)
    }

    /// Sets or removes the rate limit; takes effect on the next read.
    pub fn set_limit(&self, limit: Option<Limit>) {
        let now = Instant::now();
        let mut b = self.bucket.borrow_mut();
        *b = match (b.take(), limit) {
            (_, None) => None,
            (Some(mut old), Some(l)) => {
                old.set_limit(l, now);
                Some(old)
            }
            (None, Some(l)) => Some(Bucket::new(l, now)),
        };
        drop(b);
        self.notify.notify_all();
    }

    /// Changes whenever the file is rotated or reopened.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// How many of those changes were rotations.
    pub fn rotations(&self) -> u64 {
        self.rotations.get()
    }

    /// Whether every pipe reached end of file and everything is written
    /// (and, unless `logSync` is `never`, on disk).
    pub fn is_drained(&self) -> bool {
        self.open_streams.get() == 0
            && self.idle()
            && (self.sync == LogSync::Never || self.finished.get())
    }

    fn idle(&self) -> bool {
        self.fill.borrow().is_empty() && !self.writing.get()
    }

    /// Resolves when every pipe reached end of file and every byte read is
    /// in the file.
    pub async fn drained(&self) {
        self.notify
            .wait_until(|| self.is_drained().then_some(()))
            .await
    }

    /// Bytes read from the pipes so far: progress, even while a rate limit
    /// slows the drain.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.get()
    }

    /// Resolves when every byte read so far is in the file.
    pub async fn flushed(&self) {
        self.notify.wait_until(|| self.idle().then_some(())).await
    }

    /// Resolves after the next change: bytes written, rotation, end of input.
    pub async fn changed(&self, seen_written: u64, seen_generation: u64) {
        self.notify
            .wait_until(|| {
                (self.counters.borrow().bytes_written != seen_written
                    || self.generation.get() != seen_generation
                    || self.is_drained())
                .then_some(())
            })
            .await
    }

    /// Reopens the file (after an outside rotator renamed it), once what was
    /// read before the call is written to the old file. A failure names
    /// the file and the errno (ELOOP for a link planted at its name).
    pub async fn reopen(&self) -> Result<(), SysError> {
        // A ticket identifies this request's answer; requests that arrive
        // while one is pending share it.
        let ticket = match self.reopen.get() {
            Some(t) => t,
            None => {
                self.reopen_seq.set(self.reopen_seq.get() + 1);
                self.reopen_seq.get()
            }
        };
        self.reopen.set(Some(ticket));
        self.notify.notify_all();
        self.notify
            .wait_until(|| match &*self.reopen_result.borrow() {
                // A later reopen also answers an earlier request.
                Some((t, r)) if *t >= ticket => Some(r.clone()),
                // Every stream ended and the writer is gone: nothing more
                // goes to the file, so there is nothing to reopen (a
                // stopped container's ReopenLog used to wait forever).
                _ if self.finished.get() => Some(Ok(())),
                _ => None,
            })
            .await
    }

    fn wake(&self) {
        self.notify.notify_all();
    }
}

/// Smallest read under the block policy: smaller reads would cut lines
/// into many partial records.
const MIN_LIMITED_READ: u64 = 4096;

/// Waits, under the block policy, until the bucket allows a read; returns
/// how many bytes to read at most. A read may overdraw the bucket by less
/// than one read; the debt is paid before the next one.
async fn budget(sink: &LogSink) -> usize {
    loop {
        let wait = {
            let mut b = sink.bucket.borrow_mut();
            match b.as_mut() {
                Some(b) if b.limit().policy == Policy::Block => {
                    let now = Instant::now();
                    let want = b.limit().burst.clamp(MIN_LIMITED_READ, READ_CHUNK as u64);
                    let w = b.wait_for(want, now);
                    if w.is_zero() {
                        return want as usize;
                    }
                    w
                }
                _ => return READ_CHUNK,
            }
        };
        ops::sleep(wait).await;
    }
}

/// Under the drop policy, how many of `n` bytes just read may be kept.
fn admit(sink: &LogSink, stream: Stream, chunk: &[u8]) -> usize {
    let n = chunk.len();
    let mut b = sink.bucket.borrow_mut();
    let Some(b) = b.as_mut() else { return n };
    let now = Instant::now();
    match b.limit().policy {
        Policy::Block => {
            b.spend(n as u64, now);
            n
        }
        Policy::Drop => {
            let keep = drops::whole_lines_within(chunk, b.available(now));
            b.spend(keep as u64, now);
            if keep < n {
                // The counter and the stream's ledger grow together: what
                // the API reports is what the markers will report.
                let lost = (n - keep) as u64;
                sink.dropped[stream_index(stream)]
                    .borrow_mut()
                    .record(lost, SystemTime::now());
                sink.counters.borrow_mut().bytes_dropped += lost;
            }
            keep
        }
    }
}

/// Appends the "bytes dropped" marker record for `stream` when one is due
/// (see [`drops`] for the rule).
fn marker(
    sink: &LogSink,
    format: &dyn RecordFormat,
    stream: Stream,
    ts: &Timestamp,
    out: &mut Vec<u8>,
    at_end: bool,
) {
    let due = sink.dropped[stream_index(stream)]
        .borrow_mut()
        .take_marker(Instant::now(), at_end);
    let Some(m) = due else { return };
    if let Some(f) = &*sink.on_drop.borrow() {
        f(m.bytes);
    }
    format.format(stream, ts, m.text(stream).as_bytes(), out);
}

/// A pipe a pump reads: which stream, and which of the sink's pumps.
struct Pipe {
    stream: Stream,
    fd: OwnedFd,
    index: usize,
}

async fn pump(sink: Rc<LogSink>, format: Rc<dyn RecordFormat>, pipe: Pipe) {
    let Pipe { stream, index, .. } = pipe;
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let parked = loop {
        let parking = &sink.parking;
        sink.notify
            .wait_until(|| {
                (parking.is_raised() || sink.fill.borrow().len() < HIGH_WATER).then_some(())
            })
            .await;
        if parking.is_raised() {
            break true;
        }
        let want = match select(budget(&sink), parking.stop(index)).await {
            Either::Left(want) => want,
            Either::Right(()) => break true,
        };
        buf.clear();
        let stop = parking.stop(index);
        let (r, b) = ops::read_until(pipe.fd.as_fd(), buf, want, stop).await;
        buf = b;
        match r {
            Ok(0) => break false,
            Ok(n) => take_chunk(&sink, &*format, stream, &buf[..n]),
            // Parking: nothing was read, the bytes wait in the pipe.
            Err(e) if ops::is_stopped(&e) => break true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A pty master reads EIO once the terminal's last user closed it.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break false,
            Err(e) => {
                log::warn!("reading container output: {e}");
                break false;
            }
        }
    };
    {
        // At the end, and at parking too: the ledger does not outlive us.
        let ts = Timestamp::now();
        marker(
            &sink,
            &*format,
            stream,
            &ts,
            &mut sink.fill.borrow_mut(),
            true,
        );
    }
    if parked {
        // The stream goes on in the next image: neither closed nor ended.
        sink.parking.pump_ended(index, Some((stream, pipe.fd)));
    } else {
        sink.parking.pump_ended(index, None);
        sink.open_streams.set(sink.open_streams.get() - 1);
        if sink.open_streams.get() == 0 {
            sink.hub.close();
        }
    }
    sink.wake();
}

/// Publishes, rate-limits and formats a chunk just read into `fill`.
fn take_chunk(sink: &LogSink, format: &dyn RecordFormat, stream: Stream, chunk: &[u8]) {
    sink.bytes_read
        .set(sink.bytes_read.get() + chunk.len() as u64);
    if sink.hub.has_subscribers() {
        sink.hub.publish(stream, chunk);
    }
    let keep = admit(sink, stream, chunk);
    let ts = Timestamp::now();
    let mut fill = sink.fill.borrow_mut();
    if keep > 0 {
        marker(sink, format, stream, &ts, &mut fill, false);
        format.format(stream, &ts, &chunk[..keep], &mut fill);
    }
    drop(fill);
    sink.wake();
}

async fn writer(sink: Rc<LogSink>, mut driver: Box<dyn LogDriver>) {
    // The spare buffer: empty between writes, owned by the write during one.
    let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let done = sink
            .notify
            .wait_until(|| {
                if !sink.fill.borrow().is_empty()
                    || sink.reopen.get().is_some()
                    || sink.sync_due.get()
                {
                    Some(false)
                } else if sink.open_streams.get() == 0
                    || (sink.parking.is_raised() && sink.parking.all_stopped())
                {
                    // Every stream ended, or parked (and all of it written).
                    Some(true)
                } else {
                    None
                }
            })
            .await;
        if done {
            if sink.open_streams.get() == 0 {
                finish(&sink, &mut *driver).await;
            }
            return;
        }
        if !sink.fill.borrow().is_empty() {
            std::mem::swap(&mut spare, &mut sink.fill.borrow_mut());
            sink.writing.set(true);
            // Pumps may continue into the (now empty) filling buffer.
            sink.wake();
            spare = write_out(&sink, &mut *driver, spare).await;
            sink.writing.set(false);
        }
        if let Some(ticket) = sink.reopen.take() {
            let r = driver.reopen().map_err(|e| match &sink.path {
                Some(p) => SysError::at("reopening", p, &e),
                None => SysError::io("reopening the log", &e),
            });
            *sink.reopen_result.borrow_mut() = Some((ticket, r));
        }
        if sink.sync_due.take() && sink.dirty.take() {
            sync_log(&sink, &mut *driver, "background").await;
        }
        sink.generation.set(driver.generation());
        sink.rotations.set(driver.rotations());
        sink.wake();
    }
}

/// The end of the log: synced (unless `Never`), then `finished`, which
/// `drained` waits for.
async fn finish(sink: &LogSink, driver: &mut dyn LogDriver) {
    if sink.sync != LogSync::Never {
        sync_log(sink, driver, "final").await;
    }
    sink.finished.set(true);
    sink.wake();
}

/// Syncs the file; a failure is logged (the data stays in the page cache
/// and is written back later: nothing is lost unless the machine dies).
async fn sync_log(sink: &LogSink, driver: &mut dyn LogDriver, which: &str) {
    if let Err(e) = driver.sync().await {
        let path = sink.path.as_deref().map(|p| p.display().to_string());
        log::warn!("{which} sync of log {}: {e}", path.unwrap_or_default());
    }
}

/// `LogSync::Interval`: while the writer writes, asks it for a sync at
/// most once a second; sleeps on the sink while nothing is written (no
/// wakeup while idle).
async fn interval_sync(sink: Rc<LogSink>) {
    loop {
        sink.notify
            .wait_until(|| (sink.dirty.get() || sink.finished.get()).then_some(()))
            .await;
        if sink.finished.get() {
            return;
        }
        ops::sleep(drops::MARKER_INTERVAL).await;
        sink.sync_due.set(true);
        sink.wake();
        // The writer clears `dirty` when it syncs; wait for that.
        sink.notify
            .wait_until(|| (!sink.sync_due.get() || sink.finished.get()).then_some(()))
            .await;
    }
}

/// Writes `buf` completely, retrying after errors: a full disk or a vanished
/// directory delays lines, it does not lose them.
async fn write_out(sink: &LogSink, driver: &mut dyn LogDriver, mut buf: Vec<u8>) -> Vec<u8> {
    loop {
        let len = buf.len() as u64;
        let (r, b) = driver.write(buf).await;
        buf = b;
        match r {
            Ok(()) => {
                if len > 0 {
                    sink.dirty.set(true);
                }
                let mut c = sink.counters.borrow_mut();
                c.bytes_written += len;
                if c.error.take().is_some() {
                    log::info!("log writing works again");
                }
                return buf;
            }
            Err(e) => {
                {
                    let mut c = sink.counters.borrow_mut();
                    c.bytes_written += len - buf.len() as u64;
                    c.error = Some(e.to_string());
                }
                let path = sink.path.as_deref().map(|p| p.display().to_string());
                log::warn!("writing log {}: {e}; retrying", path.unwrap_or_default());
                sink.wake();
                if buf.is_empty() {
                    return buf;
                }
                ops::sleep(RETRY).await;
            }
        }
    }
}
