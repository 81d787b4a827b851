//! Starting a child in new namespaces with `clone(2)`, so the monitor
//! itself never enters them and, with a pid namespace, the child is its
//! PID 1. With a new user namespace the child waits, before it runs the
//! program, until the monitor has written its uid and gid maps, then
//! becomes the namespace's root (id 0 inside), so the program starts with
//! every capability over the pod's namespaces.

use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::sys::error::SysError;
use crate::sys::idmap::{self, IdMaps};
use crate::sys::ns::{NsKind, cstring};

/// The child's exit code when the monitor went away before the maps.
const NO_MAPS: i32 = 125;

/// What the child's code after `clone` needs, prepared before it: it may
/// only make raw system calls on data that already exists.
struct ChildPlan {
    exe: CString,
    argv: Vec<*const libc::c_char>,
    envp: [*const libc::c_char; 2],
    keep: i32,
    null: i32,
    /// The read end the child waits on for its maps (user namespaces).
    go: Option<i32>,
    /// The write end, which the child closes first.
    go_writer: Option<i32>,
}

/// Starts `exe args` as a child of ours in new namespaces of `kinds`, with
/// `keep` as its fd 3, stdin on /dev/null and every other descriptor
/// closed. `maps` are the uid and gid maps of a new user namespace (needed
/// when `kinds` has [`NsKind::User`]). Returns the child's pid.
pub fn spawn_in_new(
    exe: &Path,
    args: &[String],
    kinds: &[NsKind],
    keep: &OwnedFd,
    maps: Option<&IdMaps>,
) -> Result<i32, SysError> {
    let user = kinds.contains(&NsKind::User);
    let maps = match (user, maps) {
        (true, Some(m)) => Some(m),
        (true, None) => return Err(SysError::other("a new user namespace", "needs id maps")),
        (false, _) => None,
    };
    let flags = kinds.iter().fold(0, |f, k| f | k.clone_flag());
    let cexe = cstring(exe)?;
    // argv[0] names the program for ps, not /proc/self/exe.
    let argv0 = CString::new("podmon").expect("no NUL");
    let cargs: Vec<CString> =
        std::iter::once(Ok(argv0))
            .chain(args.iter().map(|a| {
                CString::new(a.as_str()).map_err(|_| SysError::other("argument with NUL", a))
            }))
            .collect::<Result<_, _>>()?;
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let path_var = CString::new(format!("PATH={}", crate::sys::process::DEFAULT_PATH))
        .expect("no NUL in the default PATH");
    let null = crate::sys::process::devnull().map_err(|e| SysError::io("opening /dev/null", &e))?;
    let go = match user {
        true => Some(crate::sys::process::pipe().map_err(|e| SysError::io("pipe", &e))?),
        false => None,
    };
    let plan = ChildPlan {
        exe: cexe,
        argv,
        envp: [path_var.as_ptr(), std::ptr::null()],
        keep: keep.as_raw_fd(),
        null: null.as_raw_fd(),
        go: go.as_ref().map(|(r, _)| r.as_raw_fd()),
        go_writer: go.as_ref().map(|(_, w)| w.as_raw_fd()),
    };
    // SAFETY: clone without CLONE_VM and with a null stack behaves like
    // fork: the child gets a copy of our memory. podmon is single-threaded,
    // and the child only runs `child_main` (raw system calls on `plan`).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(SysError::io("clone", &io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the child, see above; `plan` is our copy of the
        // parent's prepared data; child_main never returns.
        unsafe { child_main(&plan) }
    }
    let pid = pid as i32;
    if let (Some((rd, wr)), Some(maps)) = (go, maps) {
        drop(rd);
        if let Err(e) = release(pid, maps, wr) {
            kill_and_reap(pid);
            return Err(e);
        }
    }
    Ok(pid)
}

/// Writes the child's maps, then the byte that lets it go on.
fn release(pid: i32, maps: &IdMaps, wr: OwnedFd) -> Result<(), SysError> {
    idmap::write_maps(pid, maps)?;
    std::fs::File::from(wr)
        .write_all(b"1")
        .map_err(|e| SysError::io("releasing the pod's init", &e))
}

/// Ends a child that could not be set up (before the loop runs).
fn kill_and_reap(pid: i32) {
    // SAFETY: plain kill(2) of our own child, which nothing else reaps.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
    }
}

/// The child after `clone`: waits for its maps if it has a new user
/// namespace and becomes its root, sets its descriptors up, runs the
/// program.
///
/// # Safety
/// Only in the child of `spawn_in_new`'s clone, with `plan` prepared there.
unsafe fn child_main(plan: &ChildPlan) -> ! {
    // SAFETY (whole body): raw, async-signal-safe system calls on
    // descriptors and strings `plan` holds; every path ends in _exit or a
    // successful execve.
    unsafe {
        let _ = crate::sys::process::reset_signals();
        if let (Some(go), Some(w)) = (plan.go, plan.go_writer) {
            libc::close(w);
            let mut b = 0u8;
            if libc::read(go, (&raw mut b).cast(), 1) != 1 {
                libc::_exit(NO_MAPS);
            }
            libc::close(go);
            // Root inside: id 0 of the maps, no supplementary groups.
            if libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) != 0
                || libc::syscall(libc::SYS_setresgid, 0u32, 0u32, 0u32) != 0
                || libc::syscall(libc::SYS_setresuid, 0u32, 0u32, 0u32) != 0
            {
                libc::_exit(NO_MAPS);
            }
        }
        libc::dup2(plan.null, 0);
        if plan.keep == 3 {
            libc::fcntl(3, libc::F_SETFD, 0);
        } else {
            libc::dup2(plan.keep, 3);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        libc::execve(plan.exe.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        libc::_exit(127);
    }
}
