//! Network namespaces: opening a pinned one, making a socket inside it
//! from the monitor's own thread, and starting a host program inside it.
//!
//! The monitor is single-threaded, so a socket for the pod's namespace is
//! made by switching this thread there (`setns`), calling `socket(2)` and
//! switching straight back: a socket keeps the namespace it was created in
//! for its whole life, whatever its creator does later. The way back is an
//! fd to the monitor's own namespace, opened by [`remember_own`] at start.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::error::SysError;
use super::process::{DEFAULT_PATH, Watched, reset_signals};

/// The monitor's own network namespace, opened at start before anything
/// could have switched it.
static OWN: OnceLock<(OwnedFd, (u64, u64))> = OnceLock::new();

/// This thread's network namespace, as a file.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// `ioctl(NS_GET_NSTYPE)`: which kind of namespace an nsfs fd is.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Opens and keeps an fd to this thread's network namespace, the one
/// [`socket_in`] returns to. Called once at start; later calls keep the
/// first.
pub fn remember_own() -> Result<(), SysError> {
    let path = Path::new(THREAD_NETNS);
    let fd = open_ns(path)?;
    let id = identity(path).map_err(|e| SysError::at("stat", path, &e))?;
    let _ = OWN.set((fd, id));
    Ok(())
}

/// Opens a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`)
/// read-only and close-on-exec, and checks it is one.
pub fn open(path: &Path) -> Result<OwnedFd, SysError> {
    let fd = open_ns(path)?;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if kind < 0 {
        let e = io::Error::last_os_error();
        return Err(SysError::at("NS_GET_NSTYPE", path, &e));
    }
    if kind != libc::CLONE_NEWNET {
        let e = io::Error::from_raw_os_error(libc::EINVAL);
        return Err(SysError::at("opening a network namespace", path, &e));
    }
    Ok(fd)
}

fn open_ns(path: &Path) -> Result<OwnedFd, SysError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| SysError::at("opening", path, &e.into()))
}

fn setns(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns only reads the fd; a network namespace switch affects
    // this thread alone and nothing Rust tracks.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// (device, inode) of a namespace file: equal for the same namespace.
fn identity(path: &Path) -> io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// While alive, this thread is in another network namespace; dropping it
/// switches back to the monitor's own and checks that it did. A monitor
/// that cannot go back would make every later socket in the wrong
/// namespace, so it aborts instead (the containers outlive it).
struct Switched<'a> {
    own: BorrowedFd<'a>,
    own_id: (u64, u64),
}

impl Drop for Switched<'_> {
    fn drop(&mut self) {
        let back = setns(self.own);
        let now = identity(Path::new(THREAD_NETNS));
        if back.is_err() || now.as_ref().ok() != Some(&self.own_id) {
            log::error!("cannot switch back to the monitor's network namespace: {back:?} {now:?}");
            std::process::abort();
        }
    }
}

/// A non-blocking, close-on-exec stream socket of `domain` (AF_INET,
/// AF_INET6) created inside the network namespace `ns`; the thread is back
/// in its own namespace when this returns, whatever happened.
pub fn socket_in(ns: BorrowedFd<'_>, domain: libc::c_int) -> Result<OwnedFd, SysError> {
    let (own, own_id) = OWN
        .get()
        .ok_or_else(|| SysError::other("setns", "the monitor's own namespace was never opened"))?;
    setns(ns).map_err(|e| SysError::io("setns into the pod's network namespace", &e))?;
    let _back = Switched {
        own: own.as_fd(),
        own_id: *own_id,
    };
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(domain, flags, 0) };
    if fd < 0 {
        return Err(SysError::io("socket", &io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// A host program to start inside namespaces.
pub struct HostCommand<'a> {
    /// Program (looked up in PATH) and arguments.
    pub argv: &'a [String],
    /// KEY=VALUE entries beside PATH (which one of them may replace).
    pub env: &'a [String],
    /// Namespace fds and their CLONE_NEW* kind, joined in this order.
    pub namespaces: &'a [(RawFd, libc::c_int)],
}

/// Starts `cmd` with stdin from `stdin` (or /dev/null) and its stdout and
/// stderr on new pipes; the child joins the namespaces between fork and
/// exec. It starts clean as `process::spawn`'s children do: empty signal
/// mask, default dispositions, its own process group (for `kill_tree`).
pub fn spawn_in(
    cmd: &HostCommand<'_>,
    stdin: Option<OwnedFd>,
) -> io::Result<(Watched, OwnedFd, OwnedFd)> {
    let (program, args) = cmd
        .argv
        .split_first()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut c = Command::new(program);
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    c.args(args).env_clear().env("PATH", path);
    for kv in cmd.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        c.env(k, OsString::from(v));
    }
    c.process_group(0)
        .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let namespaces: Vec<(RawFd, libc::c_int)> = cmd.namespaces.to_vec();
    let pid_ns = namespaces.iter().any(|&(_, k)| k == libc::CLONE_NEWPID);
    let hook = move || {
        reset_signals()?;
        for &(fd, kind) in &namespaces {
            // SAFETY: setns is async-signal-safe and only reads `fd`, which
            // the parent keeps open; close-on-exec closes it only at the exec.
            if unsafe { libc::setns(fd, kind) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if pid_ns {
            fork_into_pid_namespace()?;
        }
        Ok(())
    };
    // SAFETY: the hook calls only async-signal-safe functions (setns, raw
    // clone/wait/exit in `fork_into_pid_namespace`, and `reset_signals`,
    // whose own SAFETY comment says so) and allocates nothing.
    unsafe { c.pre_exec(hook) };
    let mut child = c.spawn()?;
    let watched = Watched::open(child.id() as i32)?;
    let out = child
        .stdout
        .take()
        .map(OwnedFd::from)
        .expect("piped stdout");
    let err = child
        .stderr
        .take()
        .map(OwnedFd::from)
        .expect("piped stderr");
    Ok((watched, out, err))
}

/// In the child between fork and exec, after `setns(CLONE_NEWPID)`: that
/// places only this process's children in the pod's pid namespace, so it
/// forks once more. The grandchild returns and runs the program; this
/// process stays outside as its stand-in: it closes every descriptor (so
/// the caller's pipes see the program's end, not ours), waits for it and
/// ends the same way, its exit code or its signal. It is in the program's
/// process group, so a kill of the group ends both.
fn fork_into_pid_namespace() -> io::Result<()> {
    // SAFETY: clone without CLONE_VM and with a null stack is a raw fork,
    // async-signal-safe (glibc's fork runs atfork handlers; this does not).
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        return Ok(());
    }
    let pid = pid as libc::pid_t;
    // SAFETY: raw system calls on our own descriptors, child and pid; every
    // path ends in _exit or in death by the program's own signal.
    unsafe {
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        let mut status = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, 0);
            if r == pid {
                break;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_made_in_our_own_namespace_leaves_us_there() {
        remember_own().expect("own netns");
        let before = identity(Path::new(THREAD_NETNS)).expect("stat");
        let ns = open(Path::new("/proc/self/ns/net")).expect("open");
        let s = socket_in(ns.as_fd(), libc::AF_INET);
        // Without CAP_SYS_ADMIN setns fails, and says so.
        if let Err(e) = &s {
            assert_eq!(e.errno, Some(libc::EPERM), "{e}");
        }
        assert_eq!(identity(Path::new(THREAD_NETNS)).unwrap(), before);
    }

    #[test]
    fn a_file_that_is_no_network_namespace_is_refused() {
        assert!(open(Path::new("/proc/self/ns/uts")).is_err());
        let e = open(Path::new("/no/such/netns")).unwrap_err();
        assert_eq!(e.errno, Some(libc::ENOENT));
    }
}
