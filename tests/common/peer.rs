//! Clients that are not root, for the access tests: a connection made with
//! another uid and gid (the credentials SO_PEERCRED reports to the
//! server), the CLI run as another user, a second `podmon serve` started
//! by hand, and the mode bits of what the server made.

use serde_json::{Value, json};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use podmon::proto::errors::{PermissionDenied, ProtoError};
use podmon::varlink::client::{Client as Connection, Mode};

use super::{Out, Pod, Reply, TIMEOUT, env, podmon_bin, run_with_timeout};

/// The error a refused peer, or a read-only one calling too much, gets.
pub const PERMISSION_DENIED: &str = <PermissionDenied as ProtoError>::ERROR;

/// Resize (not in `names`, which the other suites share).
pub const RESIZE: &str = <podmon::proto::Resize as podmon::proto::Method>::METHOD;

/// The unprivileged user of the tests (nobody).
pub const NOBODY: u32 = 65534;

/// Sets this test process's umask to 000 once, so every server the access
/// tests start inherits it: what podmon creates must still get its modes.
pub fn umask_000() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: umask(2) cannot fail and touches no memory.
    ONCE.call_once(|| unsafe {
        libc::umask(0);
    });
}

/// The permission bits of `path` (not following a link).
pub fn mode_of(path: &Path) -> u32 {
    let m =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    m.permissions().mode() & 0o7777
}

/// Raw credential system calls: the libc wrappers change every thread's
/// credentials, the raw calls only the calling thread's.
fn thread_setres(call: libc::c_long, a: u32, b: u32, c: u32) -> io::Result<()> {
    // SAFETY: setresuid/setresgid take three integers and touch no memory.
    let r = unsafe { libc::syscall(call, a, b, c) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn thread_setgroups(groups: &[libc::gid_t]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `groups`, which outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Connects to `socket` as `uid`:`gid` (no supplementary groups).
pub fn connect_as(socket: &Path, uid: u32, gid: u32) -> io::Result<UnixStream> {
    connect_with_groups(socket, uid, gid, &[])
}

/// Connects to `socket` as `uid`:`gid` in the supplementary `groups`: this
/// test thread takes those credentials for the connect (keeping root as
/// its saved uid) and takes root's back before returning.
pub fn connect_with_groups(
    socket: &Path,
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> io::Result<UnixStream> {
    // SAFETY: getgroups with size 0 only counts; then fills a buffer of that size.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut saved = vec![0; n.max(0) as usize];
    // SAFETY: `saved` has room for `n` entries.
    let n = unsafe { libc::getgroups(n, saved.as_mut_ptr()) };
    saved.truncate(n.max(0) as usize);
    thread_setgroups(groups).expect("setgroups");
    thread_setres(libc::SYS_setresgid, gid, gid, 0).expect("setresgid");
    thread_setres(libc::SYS_setresuid, uid, uid, 0).expect("setresuid");
    let result = UnixStream::connect(socket);
    thread_setres(libc::SYS_setresuid, 0, 0, 0).expect("back to uid 0");
    thread_setres(libc::SYS_setresgid, 0, 0, 0).expect("back to gid 0");
    thread_setgroups(&saved).expect("restoring the groups");
    result
}

/// A Varlink connection made by another user.
pub struct Peer {
    conn: Connection,
}

impl Peer {
    /// Connects as `uid`:`gid`; panics if the file system refuses it.
    #[track_caller]
    pub fn connect(pod: &Pod, uid: u32, gid: u32) -> Peer {
        Peer::connect_in(pod, uid, gid, &[])
    }

    /// Connects as `uid`:`gid` in the supplementary `groups`.
    #[track_caller]
    pub fn connect_in(pod: &Pod, uid: u32, gid: u32, groups: &[u32]) -> Peer {
        let stream = connect_with_groups(&pod.socket, uid, gid, groups)
            .unwrap_or_else(|e| panic!("uid {uid} gid {gid} cannot connect: {e}"));
        let mut conn = Connection::from_stream(stream);
        conn.set_timeout(Some(TIMEOUT)).unwrap();
        Peer { conn }
    }

    /// One call, one reply (the first one, with `more`).
    #[track_caller]
    pub fn call_mode(&mut self, method: &str, params: Value, mode: Mode) -> Reply {
        self.conn
            .send(method, params, mode)
            .unwrap_or_else(|e| panic!("write call: {e}"));
        match self.conn.read_frame() {
            Ok(Some(b)) => Reply(serde_json::from_slice(&b).expect("reply is JSON")),
            Ok(None) => panic!("the server closed the connection instead of replying"),
            Err(e) => panic!("reading the reply to {method}: {e}"),
        }
    }

    #[track_caller]
    pub fn call(&mut self, method: &str, params: Value) -> Reply {
        self.call_mode(method, params, Mode::Plain)
    }

    /// Asserts the reply is PermissionDenied naming `method`.
    #[track_caller]
    pub fn denied(&mut self, method: &str, params: Value) {
        let p = self.call(method, params).err(PERMISSION_DENIED);
        assert_eq!(p["method"], json!(method), "{p}");
        assert!(p["reason"].as_str().is_some_and(|r| !r.is_empty()), "{p}");
    }

    /// Waits until the server closes the connection.
    #[track_caller]
    pub fn expect_closed(&mut self, within: Duration) {
        if let Err(e) = self.conn.expect_eof(within) {
            panic!("the server did not close the connection within {within:?}: {e}");
        }
    }
}

/// Runs `podmon --socket SOCK ARGS...` as `uid`:`gid`.
pub fn cli_as(pod: &Pod, uid: u32, gid: u32, args: &[&str]) -> Out {
    let mut cmd = Command::new(podmon_bin());
    cmd.arg("--socket").arg(&pod.socket).args(args);
    cmd.env_remove("PODMON_SOCKET").uid(uid).gid(gid);
    run_with_timeout(&mut cmd, TIMEOUT)
}

/// `podmon serve` for another monitor of `pod`'s pod: the same runtime,
/// state, log and exit directories, `socket` and `extra` arguments.
pub fn serve_again(pod: &Pod, socket: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(podmon_bin());
    cmd.arg("serve")
        .args(["--pod", &pod.name, "--runtime"])
        .arg(&env().runc)
        .arg("--state-dir")
        .arg(&pod.state_dir)
        .arg("--log-dir")
        .arg(&pod.log_dir)
        .arg("--exit-dir")
        .arg(&pod.exit_dir)
        .arg("--socket")
        .arg(socket)
        .args(extra);
    cmd.env_remove("LISTEN_FDS").env_remove("LISTEN_PID");
    if let Ok(r) = std::env::var("PODMON_TEST_REACTOR")
        && !r.is_empty()
    {
        cmd.env("PODMON_REACTOR", r);
    }
    cmd
}
