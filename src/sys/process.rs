//! Child processes: spawning, exit detection through pidfds, and reaping.
//!
//! podmon is a child subreaper, so container init processes become its
//! children when the runtime that created them exits. Every process podmon
//! cares about is watched through a pidfd and reaped with
//! `waitid(P_PIDFD)`; any other child that ends up here (an orphan of a
//! runtime helper) is reaped by `reap_strays` on SIGCHLD. Nothing here
//! blocks: spawning is fork/exec, waiting is a poll on the pidfd.
//!
//! No exit is ever left unreaped: a [`Watched`] dropped before its `wait`
//! (its handler was cancelled) hands the pid back to the stray reaper.
//! Every child starts clean, whatever podmon's own state: an empty signal
//! mask (podmon blocks the signals its signalfd reads), default signal
//! dispositions, an environment of `PATH` alone, and its own process group,
//! so a hung runtime is killed together with whatever it started.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

use crate::reactor::{ops, sync};
use crate::sys::signal::signal_name;

thread_local! {
    /// Pids reaped through their pidfd: the stray reaper leaves them alone.
    static TRACKED: RefCell<HashSet<i32>> = RefCell::new(HashSet::new());
    /// While a runtime `create` runs, a new container init may already be our
    /// child before we know its pid: strays are not reaped then.
    static CLAIMS_PENDING: Cell<usize> = const { Cell::new(0) };
    /// Set for good once a live upgrade begins: no exit is reaped any
    /// more, so each one is still there, with its status, for the new image.
    static HOLD_REAPING: Cell<bool> = const { Cell::new(false) };
}

/// Stops every `wait` from reaping (for good: the process is about to exec
/// itself). An exit that happens from now on stays a zombie, which the new
/// image, still the parent, reaps with its real status.
pub fn hold_reaping() {
    HOLD_REAPING.with(|h| h.set(true));
}

/// Waits forever once reaping is held.
async fn unless_held() {
    if HOLD_REAPING.with(Cell::get) {
        std::future::pending::<()>().await;
    }
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

    /// The exit code when the status is known (`UNKNOWN` has none: a
    /// process that ended while no monitor was its parent).
    pub fn known_code(&self) -> Option<i32> {
        (self.code.is_some() || self.signal.is_some()).then(|| self.exit_code())
    }

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

/// A process we watch through a pidfd; `wait` reaps it. Dropped before
/// that (a cancelled handler), it is reaped at once if it has exited, else
/// by the stray reaper on its SIGCHLD: it never stays a zombie. Dropping it
/// does not stop it; callers that own the process kill it first.
#[derive(Debug)]
pub struct Watched {
    pid: i32,
    pidfd: OwnedFd,
    /// Our child: `wait` reaps it and learns its status. A process adopted
    /// from a monitor that died is not (it was re-parented away): its end
    /// is seen through the pidfd, its status is nobody's to read.
    child: bool,
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
            child: true,
            status: Cell::new(None),
        })
    }

    /// Starts watching `pid`, a process a previous monitor (or this one
    /// before an exec of itself) watched: `child` says whether it is still
    /// ours. The caller checks afterwards, through /proc, that the pid still
    /// names the process it recorded: the pidfd pins whatever the pid named
    /// when it was opened.
    pub fn adopt(pid: i32, child: bool) -> io::Result<Watched> {
        if child {
            return Watched::open(pid);
        }
        let p = Pid::from_raw(pid).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(Watched {
            pid,
            pidfd: pidfd_open(p, PidfdFlags::empty())?,
            child: false,
            status: Cell::new(None),
        })
    }

    /// Whether `wait` can learn the exit status (it is our child).
    pub fn is_child(&self) -> bool {
        self.child
    }

    /// The pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether `wait` has reaped it (its exit status is known).
    pub fn reaped(&self) -> bool {
        self.status.get().is_some()
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
            unless_held().await;
            if !self.child {
                // Readable once it exited; its parent (not us) reaps it.
                ops::readable(self.pidfd.as_fd()).await?;
                unless_held().await;
                self.status.set(Some(ExitInfo::UNKNOWN));
                return Ok(ExitInfo::UNKNOWN);
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

impl Drop for Watched {
    fn drop(&mut self) {
        if self.reaped() || !self.child {
            return;
        }
        // Nobody waits for it any more: the stray reaper takes it over. It
        // may have exited already (its SIGCHLD passed while it was tracked),
        // so try once now.
        TRACKED.with(|t| t.borrow_mut().remove(&self.pid));
        if let Ok(Some(st)) = waitid(
            WaitId::PidFd(self.pidfd.as_fd()),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            log::debug!(
                "reaped {} as its watcher went away (code {:?}, signal {:?})",
                self.pid,
                st.exit_status(),
                st.terminating_signal()
            );
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
        let left = CLAIMS_PENDING.with(|c| {
            c.set(c.get() - 1);
            c.get()
        });
        // Strays that exited inside the window had their SIGCHLD ignored:
        // reap them now, however the window ended (also when cancelled).
        if left == 0 {
            reap_strays();
        }
    }
}

/// Reaps exited children that nobody watches, so no zombie stays. Called on
/// SIGCHLD. Reads our own children list from procfs (no blocking I/O).
pub fn reap_strays() {
    if CLAIMS_PENDING.with(Cell::get) > 0 || HOLD_REAPING.with(Cell::get) {
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

/// The only environment variable a child gets: podmon's own `PATH`, or
/// this when podmon has none. Nothing else of podmon's environment
/// (`NOTIFY_SOCKET`, `LISTEN_FDS`, proxies, locale) reaches the runtime.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The last signal number on Linux (`_NSIG - 1`).
const LAST_SIGNAL: i32 = 64;

/// The kernel's `struct sigaction` for `rt_sigaction(2)` on x86-64 and
/// aarch64 (handler, flags, restorer, mask), all zero: SIG_DFL.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Runs in the child between fork and exec: an empty signal mask and the
/// default disposition for every signal. podmon blocks SIGHUP, SIGINT,
/// SIGTERM and SIGCHLD for its signalfd; a child that inherited that (or an
/// ignored signal) would never see them, and a shell's `wait` would hang.
/// The dispositions are set with the raw system call: the C library's
/// `sigaction` refuses its own reserved signals (32, 33), which a podmon
/// started by `posix_spawn` inherits as ignored and would pass on.
pub(crate) fn reset_signals() -> io::Result<()> {
    let dfl = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: called only between fork and exec (see `spawn`), where only
    // async-signal-safe functions may run: sigemptyset, sigprocmask and raw
    // system calls are (signal-safety(7)). Everything is on the stack;
    // nothing allocates or locks (io::Error::last_os_error holds the errno).
    // `dfl` has the kernel's layout and the size passed is its mask's.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        for sig in 1..=LAST_SIGNAL {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    std::mem::size_of::<u64>(),
                );
            }
        }
    }
    Ok(())
}

/// Spawns `program args` with stdin from the given fd (or /dev/null), its
/// stdout and stderr on the given fds (or captured through pipes when `None`).
/// The child starts clean: signal mask empty, dispositions default, only
/// `PATH` in its environment, and a process group of its own (its pid), so
/// [`kill_tree`] can take everything it started with it.
pub fn spawn(
    program: &Path,
    args: &[OsString],
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
) -> io::Result<(Watched, Option<OwnedFd>, Option<OwnedFd>)> {
    spawn_preserving(program, args, stdin, stdout, stderr, &[])
}

/// Like [`spawn`], with `preserve` as the child's fds 3, 4, ... (for the
/// runtime's `--preserve-fds`); the parent keeps its own copies.
pub fn spawn_preserving(
    program: &Path,
    args: &[OsString],
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    preserve: &[OwnedFd],
) -> io::Result<(Watched, Option<OwnedFd>, Option<OwnedFd>)> {
    let placement = crate::sys::preserve::Placement::new(preserve)?;
    let sources = placement.sources();
    let mut cmd = Command::new(program);
    if !sources.is_empty() {
        // SAFETY: `place` only calls dup2(2), async-signal-safe, on a
        // vector allocated before the fork (its SAFETY comment).
        unsafe { cmd.pre_exec(move || crate::sys::preserve::place(&sources)) };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    cmd.args(args)
        .env_clear()
        .env("PATH", path)
        .process_group(0)
        .stdin(stdin.map_or_else(Stdio::null, Stdio::from));
    // SAFETY: `reset_signals` calls only async-signal-safe functions (its
    // own SAFETY comment), as a pre_exec hook must.
    unsafe { cmd.pre_exec(reset_signals) };
    let capture_out = stdout.is_none();
    let capture_err = stderr.is_none();
    cmd.stdout(stdout.map_or_else(Stdio::piped, Stdio::from));
    cmd.stderr(stderr.map_or_else(Stdio::piped, Stdio::from));
    let mut child = cmd.spawn()?;
    drop(placement);
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

/// Every descendant of `pid` (children first found, then theirs).
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in list
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

/// SIGKILLs a process and everything it started: its descendants and, when
/// it leads a process group (every process `spawn` starts does), that
/// group, which holds what it started even after a daemonizing fork. A
/// reaped process is left alone: its pid may be anyone's now.
pub fn kill_tree(process: &Watched) {
    if process.reaped() {
        return;
    }
    // Stop it first so it cannot fork more while we collect.
    let _ = process.signal(libc::SIGSTOP);
    let Some(pid) = Pid::from_raw(process.pid()) else {
        return;
    };
    // Not reaped, so its pid (and the group id equal to it) is still its own.
    if rustix::process::getpgid(Some(pid)) == Ok(pid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    for d in descendants(process.pid()) {
        if let Some(p) = Pid::from_raw(d) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
    let _ = process.signal(libc::SIGKILL);
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

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
