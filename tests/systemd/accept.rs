//! `systemd-socket-activate --accept` (a socket unit's `Accept=yes`): fd 3
//! is one accepted connection, not a listener. podmon serves it alone and
//! exits when the client closes it; the next connection gets a monitor of
//! its own, which re-adopts the pod's containers. Never `accept` on it in
//! a loop, never a client left hanging.

use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// systemd-socket-activate --accept in front of `podmon serve`.
struct Accepting {
    dir: PathBuf,
    socket: PathBuf,
    log: PathBuf,
    child: Child,
}

impl Accepting {
    fn start(name: &str) -> Accepting {
        env();
        let dir = test_base().join(format!("{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("logs")).unwrap();
        let socket = dir.join("pod.sock");
        let log = dir.join("server.log");
        let out = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(socket_activate_bin());
        cmd.arg("--accept")
            .arg("-l")
            .arg(&socket)
            .arg("--setenv=RUST_LOG=info");
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
        while !socket.exists() {
            assert!(
                Instant::now() < end,
                "systemd-socket-activate did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Accepting {
            dir,
            socket,
            log,
            child,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One call on a new connection, which gets a monitor of its own.
    fn call(&self, method: &str, params: serde_json::Value) -> Reply {
        let mut c = Client::connect(&self.socket);
        c.set_read_timeout(Duration::from_secs(20));
        c.call(method, params)
    }

    /// The monitors running under systemd-socket-activate.
    fn monitors(&self) -> Vec<u32> {
        children_of(self.child.id())
    }
}

impl Drop for Accepting {
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

#[test]
fn an_accepted_connection_is_served_then_the_monitor_exits() {
    let a = Accepting::start("accept");
    // The real client: varlinkctl gets its answer (it hung before).
    let out = run_with_timeout(
        Command::new(varlinkctl())
            .arg("call")
            .arg(format!("unix:{}", a.socket.display()))
            .arg("io.podmon.Pod.GetPod")
            .arg("{}"),
        Duration::from_secs(20),
    )
    .assert_ok();
    assert!(out.stdout.contains("\"name\""), "{}", out.stdout);

    // Containers outlive the connection's monitor: the next one re-adopts.
    let id = "c1";
    let created = a.call(
        "io.podmon.Pod.CreateContainer",
        json!({"id": id, "rootfs": rootfs().display().to_string(), "command": ["sleep", "100"]}),
    );
    created.ok();
    a.call("io.podmon.Pod.StartContainer", json!({"id": id}))
        .ok();
    let got = a.call("io.podmon.Pod.GetContainer", json!({"id": id})).ok();
    assert_eq!(got["container"]["status"], json!("running"), "{got}");
    a.call(
        "io.podmon.Pod.DeleteContainer",
        json!({"id": id, "force": true}),
    )
    .ok();

    // Each monitor exited once its client closed: none left, no loop.
    assert!(
        wait_until(Duration::from_secs(10), || a.monitors().is_empty()),
        "monitors still running: {:?}\n{}",
        a.monitors(),
        a.log_text()
    );
    let log = a.log_text();
    assert!(!log.contains("accept: Invalid argument"), "{log}");
    assert_eq!(
        log.matches("the accepted connection is closed: exiting")
            .count(),
        5,
        "{log}"
    );
}
