//! What a finished child printed: its stdout and stderr read on the loop
//! up to a cap (the rest read and dropped, so the child never blocks on a
//! full pipe), and `run`, which waits for a command with a deadline and
//! kills it with everything it started when the deadline passes.

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::reactor::{ops, sync};
use crate::sys::process::{ExitInfo, Watched, kill_tree, spawn};

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    /// How it ended (`ExitInfo::UNKNOWN` if it timed out and could not be
    /// reaped in time).
    pub status: ExitInfo,
    /// What it wrote to stdout (read so far, when it timed out).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (read so far, when it timed out).
    pub stderr: Vec<u8>,
    /// The deadline passed: it and its process group were SIGKILLed.
    pub timed_out: bool,
}

/// How long a killed process (and the pipes it held) gets to go away.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Most bytes kept of a command's stdout or stderr; the rest is read and dropped.
const OUTPUT_CAP: usize = 4 << 20;

/// Output read so far, at most a cap.
#[derive(Debug, Default)]
pub struct Captured {
    /// The bytes kept.
    pub bytes: Vec<u8>,
    /// More was written than the cap allowed.
    pub truncated: bool,
}

/// Reads `fd` to end of file into `into`, keeping at most `cap` bytes (and
/// reading on past it, so the writer never blocks). What was read stays in
/// `into` even if this future is dropped early.
pub async fn capture(fd: OwnedFd, cap: usize, into: &RefCell<Captured>) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (r, b) = ops::read(fd.as_fd(), buf, usize::MAX).await;
        buf = b;
        match r {
            Ok(0) => return,
            Ok(_) => keep(into, cap, &buf),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading a child's output: {e}");
                return;
            }
        }
    }
}

/// As [`capture`], until the future `stop()` makes resolves: a read the
/// kernel completed meanwhile is kept (`ops::read_until`), so stopping
/// loses nothing that was read.
async fn capture_until<S: std::future::Future<Output = ()>>(
    fd: std::os::fd::BorrowedFd<'_>,
    cap: usize,
    into: &RefCell<Captured>,
    mut stop: impl FnMut() -> S,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (r, b) = ops::read_until(fd, buf, usize::MAX, stop()).await;
        buf = b;
        match r {
            Ok(0) => return,
            Ok(_) => keep(into, cap, &buf),
            Err(e) if ops::is_stopped(&e) => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading a child's output: {e}");
                return;
            }
        }
    }
}

/// Adds `buf` to what was captured, up to `cap`.
fn keep(into: &RefCell<Captured>, cap: usize, buf: &[u8]) {
    let mut c = into.borrow_mut();
    let room = cap.saturating_sub(c.bytes.len());
    if buf.len() > room {
        c.truncated = true;
    }
    c.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
}

/// What is readable on `fd` right now, without waiting: what a runtime that
/// failed wrote to the pipe it shared with the new process.
pub fn read_available(fd: std::os::fd::BorrowedFd<'_>, cap: usize) -> Vec<u8> {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < cap {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match poll(&mut fds, Some(&zero)) {
            Ok(n) if n > 0 && fds[0].revents().contains(PollFlags::IN) => {}
            _ => break,
        }
        // Readable: a pipe read returns what is there without blocking.
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n.min(cap - out.len())]),
        }
    }
    out
}

async fn capture_opt(fd: Option<OwnedFd>, into: &RefCell<Captured>) {
    if let Some(fd) = fd {
        capture(fd, OUTPUT_CAP, into).await;
    }
}

/// Waits for `process` until `deadline` (`None` then), reading `stderr`
/// meanwhile when podmon holds it (so the process never blocks writing it);
/// returns what it wrote, up to the cap. The pipe is not read past the
/// exit: something the process started may hold it open for long.
pub async fn wait_reading(
    process: &Watched,
    stderr: Option<OwnedFd>,
    deadline: Instant,
) -> (Option<io::Result<ExitInfo>>, Vec<u8>) {
    let captured = RefCell::new(Captured::default());
    // Read while it runs; stopped (not dropped: a dropped read may lose
    // what the kernel already read) once it exited, the rest read below.
    let exited = Cell::new(false);
    let exit = sync::Notify::default();
    let reading = async {
        if let Some(fd) = &stderr {
            let stop = || exit.wait_until(|| exited.get().then_some(()));
            capture_until(fd.as_fd(), OUTPUT_CAP, &captured, stop).await;
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let waiting = async {
        let status = sync::timeout(left, process.wait()).await;
        exited.set(true);
        exit.notify_all();
        status
    };
    let (status, ()) = sync::join(waiting, reading).await;
    let mut bytes = captured.into_inner().bytes;
    if let Some(fd) = &stderr {
        let room = OUTPUT_CAP.saturating_sub(bytes.len());
        bytes.extend(read_available(fd.as_fd(), room));
    }
    (status, bytes)
}

/// Runs a command to completion on the loop, capturing stdout and stderr.
/// At `deadline` it is killed with everything it started ([`kill_tree`]),
/// and what it printed so far is returned with `timed_out`.
pub async fn run(program: &Path, args: &[OsString], deadline: Instant) -> io::Result<Output> {
    let (watched, out, err) = spawn(program, args, None, None, None)?;
    let (stdout, stderr) = (RefCell::default(), RefCell::default());
    let all = sync::join(
        sync::join(capture_opt(out, &stdout), capture_opt(err, &stderr)),
        watched.wait(),
    );
    let left = deadline.saturating_duration_since(Instant::now());
    let (status, timed_out) = match sync::timeout(left, all).await {
        Some((_, status)) => (status?, false),
        // Exited, but something it started holds its output open.
        None if watched.reaped() => (watched.wait().await?, false),
        None => {
            kill_tree(&watched);
            let status = sync::timeout(KILL_GRACE, watched.wait()).await;
            (status.transpose()?.unwrap_or(ExitInfo::UNKNOWN), true)
        }
    };
    let (stdout, stderr): (Captured, Captured) = (stdout.into_inner(), stderr.into_inner());
    Ok(Output {
        status,
        stdout: stdout.bytes,
        stderr: stderr.bytes,
        timed_out,
    })
}
