//! `podmon serve` given fd 3 and 4 with `LISTEN_FDS=2` and
//! `LISTEN_FDNAMES=varlink:stdin-x`: it serves the socket named "varlink"
//! (binding nothing itself) and keeps the other descriptor, close-on-exec,
//! until it exits.
//!
//! `sh` puts the descriptors in place: the test hands it the socket as
//! stdin and the pipe as stdout, and it moves them to 3 and 4, sets
//! LISTEN_PID to its own pid and execs podmon in the same process, as a
//! service manager does after fork.

use serde_json::json;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

const PLACE_FDS: &str = "export LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=varlink:stdin-x; \
                         exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>&2";

/// The server with its directory; stopped and cleaned up when dropped.
struct Served {
    dir: PathBuf,
    child: Child,
}

impl Served {
    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let ok = wait_until(Duration::from_secs(20), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !ok {
            let _ = self.child.kill();
        }
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
        cleanup_runtime(runc(), &self.dir.join("state/runtime"));
        if std::thread::panicking() {
            eprintln!("--- server log:\n{}--- end", self.log());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts podmon with `listener` as fd 3 and `pipe_end` as fd 4.
fn serve_passed(dir: &Path, listener: UnixListener, pipe_end: OwnedFd) -> Served {
    let log = fs::File::create(dir.join("server.log")).unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(PLACE_FDS)
        .arg(podmon_bin())
        .args(["serve", "--pod", "passed", "--runtime"])
        .arg(runc())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--log-dir")
        .arg(dir.join("logs"))
        // Where podmon would bind if it did not take the passed socket.
        .arg("--socket")
        .arg(dir.join("unused.sock"))
        .env("RUST_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::from(pipe_end))
        .stderr(log);
    let child = cmd.spawn().unwrap();
    // `cmd` holds the parent's copies of the descriptors until dropped.
    drop(cmd);
    Served {
        dir: dir.to_owned(),
        child,
    }
}

/// fd N of process `pid`: what it links to and whether it is close-on-exec.
fn fd_of(pid: u32, n: i32) -> (String, bool) {
    let link = fs::read_link(format!("/proc/{pid}/fd/{n}")).unwrap_or_default();
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}")).unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .unwrap_or(0);
    (
        link.display().to_string(),
        flags & libc::O_CLOEXEC as u32 != 0,
    )
}

#[test]
fn serves_the_socket_named_varlink_and_keeps_the_other() {
    env();
    let dir = test_base().join(format!("fdstore-passed.{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("logs")).unwrap();
    let sock = dir.join("passed.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let pipe_ino = rustix::fs::fstat(&reader).unwrap().st_ino;
    let mut served = serve_passed(&dir, listener, writer.into());
    let pid = served.child.id();

    let answered = wait_until(Duration::from_secs(15), || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    assert!(
        answered,
        "no answer on the passed socket:\n{}",
        served.log()
    );
    let info = Client::connect(&sock)
        .call("org.varlink.service.GetInfo", json!({}))
        .ok();
    assert!(
        info["interfaces"].to_string().contains("io.podmon.Pod"),
        "{info}"
    );
    assert!(
        !dir.join("unused.sock").exists(),
        "podmon bound --socket too"
    );

    // fd 3 is the listener, close-on-exec; the pipe named for no
    // container of this pod is closed (and said so), not kept.
    let (l, l_cloexec) = fd_of(pid, 3);
    assert!(l.starts_with("socket:"), "fd 3 is {l}");
    assert!(l_cloexec, "fd 3 not close-on-exec");
    let (p, _) = fd_of(pid, 4);
    assert_ne!(
        p,
        format!("pipe:[{pipe_ino}]"),
        "the unclaimed pipe is still open"
    );
    let log = served.log();
    assert!(
        log.contains("passed descriptor stdin-x belongs to no container of this pod: closed"),
        "the closed descriptor is not logged:\n{log}"
    );

    // It still works as a monitor, and at exit the pipe's last writer goes.
    let listed = Client::connect(&sock).call_more(LIST_CONTAINERS, json!({}));
    assert!(listed.iter().all(|r| r.error().is_none()), "{listed:?}");
    let st = served.stop();
    assert!(st.success(), "{st}\n{}", served.log());
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut &reader, &mut rest).unwrap();
    assert!(rest.is_empty());
}
