//! `systemd-socket-activate` in front of `podmon serve`, with the tool's
//! own options (`--accept`, `--fdname=`, more `-l` sockets).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// systemd-socket-activate in front of `podmon serve`, listening on
/// `DIR/pod.sock` and `DIR/NAME` for each of `more`.
pub struct Activated {
    pub dir: PathBuf,
    pub socket: PathBuf,
    log: PathBuf,
    child: Child,
}

impl Activated {
    pub fn start(name: &str, args: &[&str], more: &[&str]) -> Activated {
        env();
        let dir = test_base().join(format!("{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("logs")).unwrap();
        let socket = dir.join("pod.sock");
        let log = dir.join("server.log");
        let out = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(socket_activate_bin());
        cmd.args(args)
            .arg("-l")
            .arg(&socket)
            .arg("--setenv=RUST_LOG=info");
        for m in more {
            cmd.arg("-l").arg(dir.join(m));
        }
        if let Ok(r) = std::env::var("PODMON_TEST_REACTOR")
            && !r.is_empty()
        {
            cmd.arg(format!("--setenv=PODMON_REACTOR={r}"));
        }
        cmd.arg(podmon_bin())
            .args(["serve", "--pod", name, "--runtime"])
            .arg(runc())
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--log-dir")
            .arg(dir.join("logs"))
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = cmd.spawn().unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        // It says "Listening on PATH as FD." once a socket listens.
        let listening = || {
            let log = fs::read_to_string(&log).unwrap_or_default();
            log.matches("Listening on ").count() == 1 + more.len()
        };
        while !listening() {
            assert!(
                Instant::now() < end,
                "systemd-socket-activate did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Activated {
            dir,
            socket,
            log,
            child,
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One call on a new connection, which gets a monitor of its own.
    pub fn call(&self, method: &str, params: serde_json::Value) -> Reply {
        let mut c = Client::connect(&self.socket);
        c.set_read_timeout(Duration::from_secs(20));
        c.call(method, params)
    }

    /// The monitors running under systemd-socket-activate.
    pub fn monitors(&self) -> Vec<u32> {
        children_of(self.child.id())
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        cleanup_runtime(runc(), &self.dir.join("state/runtime"));
        if std::thread::panicking() {
            eprintln!("--- server log:\n{}", self.log_text());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
