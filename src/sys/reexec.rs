//! Replacing the running monitor by the podmon binary on disk, in place:
//! `execve` keeps the pid, so the monitor stays the parent (and subreaper)
//! of its containers and still learns their exit codes. What must live on
//! crosses the exec as descriptors numbered from 3 and named in
//! `LISTEN_FDS` / `LISTEN_FDNAMES` with `LISTEN_PID` set to our own pid:
//! the new image takes them the way it takes a service manager's, one path
//! for a restart and an upgrade.
//!
//! The signal mask crosses the exec as it is (blocked, so a SIGCHLD or a
//! SIGTERM that arrives meanwhile waits for the new image's signalfd);
//! every other descriptor is close-on-exec and closes.

use std::cell::RefCell;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, Mode, OFlags};

use super::error::SysError;

/// Names the bound socket's path for the new image (empty: the service
/// manager's socket), which then removes it at exit as if it had bound it.
pub const SOCKET_VAR: &str = "PODMON_REEXEC_SOCKET";

/// The image this monitor runs, found at start: the path to exec at an
/// upgrade (where a new binary is installed) and the running binary itself
/// (to fall back to when the new one cannot be exec'd).
struct Image {
    path: PathBuf,
    running: OwnedFd,
    argv: Vec<OsString>,
}

thread_local! {
    static IMAGE: RefCell<Option<Image>> = const { RefCell::new(None) };
}

/// Remembers the binary's path, an `O_PATH` descriptor of the running
/// binary and the arguments, at start (before the binary can be replaced).
pub fn remember_image() -> Result<(), SysError> {
    let path = std::env::current_exe().map_err(|e| SysError::io("finding our binary", &e))?;
    let running = rustix::fs::open(
        "/proc/self/exe",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SysError::at("opening", Path::new("/proc/self/exe"), &e.into()))?;
    let argv = std::env::args_os().collect();
    IMAGE.with(|i| {
        *i.borrow_mut() = Some(Image {
            path,
            running,
            argv,
        })
    });
    Ok(())
}

/// The binary an upgrade would exec, if it is there and executable: the
/// check made before the monitor commits to an upgrade.
pub fn check_image() -> Result<PathBuf, SysError> {
    let path = IMAGE
        .with(|i| i.borrow().as_ref().map(|i| i.path.clone()))
        .ok_or_else(|| SysError::other("re-executing", "the binary was not found at start"))?;
    rustix::fs::access(&path, Access::EXEC_OK)
        .map_err(|e| SysError::at("checking the binary", &path, &e.into()))?;
    Ok(path)
}

/// One descriptor to hand over, and its name.
pub struct Passed<'a> {
    /// `LISTEN_FDNAMES` entry (systemd's rules: see `sdnotify::FdName`).
    pub name: String,
    /// The descriptor (any number; it is renumbered).
    pub fd: std::os::fd::BorrowedFd<'a>,
}

/// Execs the binary on disk with the same arguments and `fds` as
/// `LISTEN_FDS`; if that fails, the running binary (so the pod survives a
/// broken install). Returns only when both failed, with the first error;
/// by then the descriptors are renumbered, so the caller can only exit.
pub fn reexec(fds: &[Passed<'_>], socket: Option<&Path>) -> io::Error {
    let Some((path, running, argv)) = IMAGE.with(|i| {
        i.borrow()
            .as_ref()
            .map(|i| (i.path.clone(), i.running.as_raw_fd(), i.argv.clone()))
    }) else {
        return io::Error::other("the binary was not remembered at start");
    };
    let names: Vec<&str> = fds.iter().map(|p| p.name.as_str()).collect();
    let env = environment(fds.len(), &names.join(":"), socket);
    let argv: Vec<CString> = argv.into_iter().filter_map(cstring).collect();
    let running = match renumber(fds, running) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let first = exec_path(&path, &argv, &env);
    log::error!(
        "exec of {}: {first}; exec'ing the running binary again",
        path.display()
    );
    let _ = exec_fd(running, &argv, &env);
    first
}

fn cstring(s: OsString) -> Option<CString> {
    CString::new(s.into_vec()).ok()
}

/// The environment of the new image: ours, with the hand-over's variables.
fn environment(count: usize, names: &str, socket: Option<&Path>) -> Vec<CString> {
    let ours = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", SOCKET_VAR];
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| !ours.iter().any(|o| k == o))
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let socket = socket.map(|p| p.as_os_str().to_owned()).unwrap_or_default();
    let mut sock = format!("{SOCKET_VAR}=").into_bytes();
    sock.extend(socket.into_vec());
    env.extend(
        [
            format!("LISTEN_FDS={count}").into_bytes(),
            format!("LISTEN_PID={pid}").into_bytes(),
            format!("LISTEN_FDNAMES={names}").into_bytes(),
            sock,
        ]
        .into_iter()
        .filter_map(|v| CString::new(v).ok()),
    );
    env
}

/// Moves `fds` to 3, 4, …, without close-on-exec: first each to a number
/// above every source and target (so no move overwrites a source not yet
/// moved), then down to its place. `keep` (the running binary) is moved
/// above them too, out of the way; its new number is returned.
fn renumber(fds: &[Passed<'_>], keep: RawFd) -> io::Result<RawFd> {
    let highest = fds.iter().map(|p| p.fd.as_raw_fd()).max().unwrap_or(0);
    let base = highest.max(keep).max(3 + fds.len() as RawFd);
    // SAFETY: `keep` is the remembered O_PATH descriptor, open for the
    // life of the process; borrowed only for this call.
    let keep = rustix::io::fcntl_dupfd_cloexec(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(keep) },
        base + 1,
    )?;
    let mut high = Vec::with_capacity(fds.len());
    for p in fds {
        high.push(rustix::io::fcntl_dupfd_cloexec(p.fd, base + 1)?);
    }
    for (i, fd) in high.iter().enumerate() {
        let target = 3 + i as RawFd;
        // SAFETY: dup2 on a descriptor we own onto a number that the exec
        // is about to hand over; whatever had that number is ours and is
        // not used after this (the caller execs or exits next). dup2 leaves
        // the new descriptor without close-on-exec, as intended.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The high copies are close-on-exec: the exec closes them (and they
    // must stay open until then).
    std::mem::forget(high);
    let keep_raw = keep.as_raw_fd();
    std::mem::forget(keep);
    Ok(keep_raw)
}

/// A NULL-terminated array of pointers into `v`, which must outlive it.
fn pointers(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn exec_path(path: &Path, argv: &[CString], env: &[CString]) -> io::Error {
    let Some(path) = cstring(path.as_os_str().to_owned()) else {
        return io::Error::from(io::ErrorKind::InvalidInput);
    };
    let (a, e) = (pointers(argv), pointers(env));
    // SAFETY: `path`, `a` and `e` are NUL-terminated strings and
    // NULL-terminated arrays of them, alive for the call; execve returns
    // only on failure.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

fn exec_fd(fd: RawFd, argv: &[CString], env: &[CString]) -> io::Error {
    let (a, e) = (pointers(argv), pointers(env));
    // SAFETY: as in `exec_path`; the empty path with AT_EMPTY_PATH execs
    // the file `fd` (an O_PATH descriptor of the running binary) names.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}
