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

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

use crate::reactor::ops;
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

    /// A process that exited with `code` (not killed by a signal): what a
    /// command that never started reports, 127 or 126 as a shell would.
    pub const fn exited(code: i32) -> ExitInfo {
        ExitInfo {
            code: Some(code),
            signal: None,
        }
    }

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

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
