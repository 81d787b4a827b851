//! Child processes: spawning, exit detection through pidfds, and reaping.
//!
//! podmon is a child subreaper, so container init processes become its
//! children when the runtime that created them exits. Every process podmon
//! cares about is watched through a pidfd and reaped with
//! `waitid(P_PIDFD)`; any other child that ends up here (an orphan of a
//! runtime helper) is reaped by `reap_strays` on SIGCHLD. Nothing here
//! blocks: spawning is fork/exec, waiting is a poll on the pidfd.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

use crate::reactor::{ops, sync};
use crate::sys::signal::signal_name;

thread_local! {
    /// Pids reaped through their pidfd: the stray reaper leaves them alone.
    static TRACKED: RefCell<HashSet<i32>> = RefCell::new(HashSet::new());
    /// While a runtime `create` runs, a new container init may already be our
    /// child before we know its pid: strays are not reaped then.
    static CLAIMS_PENDING: Cell<usize> = const { Cell::new(0) };
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// What is known when the status could not be read: no code, no signal
    /// (reported as -1).
    pub const UNKNOWN: ExitInfo = ExitInfo {
        code: None,
        signal: None,
    };

    /// The shell convention engines expect: the code, or 128+signal.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (_, Some(s)) => 128 + s,
            (Some(c), None) => c,
            (None, None) => -1,
        }
    }

    /// The name of the killing signal, e.g. "SIGKILL".
    pub fn signal_name(&self) -> Option<String> {
        self.signal
            .map(|s| signal_name(s).map_or_else(|| format!("SIG{s}"), str::to_owned))
    }
}

/// A process we watch through a pidfd. Dropping it without `wait` leaves the
/// process running and unreaped; call `wait` to reap it.
#[derive(Debug)]
pub struct Watched {
    pid: i32,
    pidfd: OwnedFd,
    /// The exit status once reaped, so every `wait` gets it.
    status: Cell<Option<ExitInfo>>,
}

impl Watched {
    /// Starts watching `pid`, which must be our child (so it cannot be reaped
    /// and its pid reused before we hold the pidfd).
    pub fn open(pid: i32) -> io::Result<Watched> {
        let p = Pid::from_raw(pid).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let pidfd = pidfd_open(p, PidfdFlags::empty())?;
        TRACKED.with(|t| t.borrow_mut().insert(pid));
        Ok(Watched {
            pid,
            pidfd,
            status: Cell::new(None),
        })
    }

    /// The pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends a signal through the pidfd (immune to pid reuse).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        let sig = rustix::process::Signal::from_named_raw(sig)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        rustix::process::pidfd_send_signal(self.pidfd.as_fd(), sig).map_err(Into::into)
    }

    /// Waits for the process to exit and reaps it; later calls return the
    /// same status at once.
    pub async fn wait(&self) -> io::Result<ExitInfo> {
        loop {
            if let Some(s) = self.status.get() {
                return Ok(s);
            }
            match waitid(
                WaitId::PidFd(self.pidfd.as_fd()),
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
            ) {
                Ok(Some(st)) => {
                    TRACKED.with(|t| t.borrow_mut().remove(&self.pid));
                    let s = ExitInfo {
                        code: st.exit_status(),
                        signal: st.terminating_signal(),
                    };
                    self.status.set(Some(s));
                    return Ok(s);
                }
                Ok(None) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    TRACKED.with(|t| t.borrow_mut().remove(&self.pid));
                    return Err(e.into());
                }
            }
            ops::readable(self.pidfd.as_fd()).await?;
        }
    }
}

/// Marks a window in which a new child may appear whose pid is not yet
/// known (a runtime `create`); strays are left alone until it is dropped.
pub struct PendingClaim(());

impl PendingClaim {
    /// Opens the window.
    pub fn new() -> Self {
        CLAIMS_PENDING.with(|c| c.set(c.get() + 1));
        PendingClaim(())
    }
}

impl Default for PendingClaim {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PendingClaim {
    fn drop(&mut self) {
        CLAIMS_PENDING.with(|c| c.set(c.get() - 1));
    }
}

/// Reaps exited children that nobody watches, so no zombie stays. Called on
/// SIGCHLD. Reads our own children list from procfs (no blocking I/O).
pub fn reap_strays() {
    if CLAIMS_PENDING.with(Cell::get) > 0 {
        return;
    }
    let me = std::process::id();
    let Ok(list) = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")) else {
        return;
    };
    for pid in list
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        if TRACKED.with(|t| t.borrow().contains(&pid)) {
            continue;
        }
        let Some(p) = Pid::from_raw(pid) else {
            continue;
        };
        match waitid(
            WaitId::Pid(p),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            Ok(Some(st)) => log::debug!(
                "reaped stray child {pid} (code {:?}, signal {:?})",
                st.exit_status(),
                st.terminating_signal()
            ),
            Ok(None) => {}
            Err(e) => log::debug!("waitid({pid}): {e}"),
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// /dev/null opened for reading and writing, as stdio for a runtime
/// whose process talks through a pty instead.
pub fn devnull() -> io::Result<OwnedFd> {
    std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    /// How it ended.
    pub status: ExitInfo,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Most bytes kept of a command's stdout or stderr; the rest is read and dropped.
const OUTPUT_CAP: usize = 4 << 20;

async fn read_to_end(fd: Option<OwnedFd>) -> Vec<u8> {
    let Some(fd) = fd else { return Vec::new() };
    let out = RefCell::new(Captured::default());
    capture(fd, OUTPUT_CAP, &out).await;
    out.into_inner().bytes
}

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
            Ok(_) => {
                let mut c = into.borrow_mut();
                let room = cap.saturating_sub(c.bytes.len());
                if buf.len() > room {
                    c.truncated = true;
                }
                c.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading a child's output: {e}");
                return;
            }
        }
    }
}

/// Spawns `program args` with stdin from the given fd (or /dev/null), its
/// stdout and stderr on the given fds (or captured through pipes when `None`).
pub fn spawn(
    program: &Path,
    args: &[OsString],
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
) -> io::Result<(Watched, Option<OwnedFd>, Option<OwnedFd>)> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(stdin.map_or_else(Stdio::null, Stdio::from));
    let capture_out = stdout.is_none();
    let capture_err = stderr.is_none();
    cmd.stdout(stdout.map_or_else(Stdio::piped, Stdio::from));
    cmd.stderr(stderr.map_or_else(Stdio::piped, Stdio::from));
    let mut child = cmd.spawn()?;
    let watched = Watched::open(child.id() as i32)?;
    let out = if capture_out {
        child.stdout.take().map(OwnedFd::from)
    } else {
        None
    };
    let err = if capture_err {
        child.stderr.take().map(OwnedFd::from)
    } else {
        None
    };
    Ok((watched, out, err))
}

/// Runs a command to completion on the loop, capturing stdout and stderr.
pub async fn run(program: &Path, args: &[OsString]) -> io::Result<Output> {
    let (watched, out, err) = spawn(program, args, None, None, None)?;
    let ((stdout, stderr), status) = sync::join(
        sync::join(read_to_end(out), read_to_end(err)),
        watched.wait(),
    )
    .await;
    Ok(Output {
        status: status?,
        stdout,
        stderr,
    })
}
