//! One `podmon serve` process for a bench, with its socket, state and log
//! directories inside the bench's scratch directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use podmon::proto;
use podmon::varlink::client::ClientError;

use super::varlink::Client;
use super::{RUNC, podmon_bin};

/// How long the server may take to answer on its socket, and to exit after
/// SIGTERM (started with --kill-on-exit, it stops its containers first:
/// runc kill, wait, delete).
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Server {
    child: Option<Child>,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The server's own stderr, shown when something goes wrong.
    pub server_log: PathBuf,
}

impl Server {
    /// Starts `podmon serve` for pod `name` under `dir` and returns once it
    /// answers a call.
    pub fn start(dir: &Path, name: &str) -> io::Result<Server> {
        Server::start_with(dir, name, &podmon_bin(), true)
    }

    /// As [`Server::start`], with another podmon binary (an older build to
    /// compare with). `kill_on_exit` passes `--kill-on-exit`, which builds
    /// from before issue 10 do not know (they stop their containers on
    /// SIGTERM anyway).
    pub fn start_with(
        dir: &Path,
        name: &str,
        bin: &Path,
        kill_on_exit: bool,
    ) -> io::Result<Server> {
        Server::start_args(dir, name, bin, kill_on_exit, &[])
    }

    /// As [`Server::start_with`], with more arguments to `podmon serve`.
    pub fn start_args(
        dir: &Path,
        name: &str,
        bin: &Path,
        kill_on_exit: bool,
        extra: &[&str],
    ) -> io::Result<Server> {
        Server::start_runtime(dir, name, bin, Path::new(RUNC), kill_on_exit, extra)
    }

    /// As [`Server::start_args`], driving `runtime` instead of runc.
    pub fn start_runtime(
        dir: &Path,
        name: &str,
        bin: &Path,
        runtime: &Path,
        kill_on_exit: bool,
        extra: &[&str],
    ) -> io::Result<Server> {
        let state_dir = dir.join("state");
        let log_dir = dir.join("logs");
        let socket = dir.join("pod.sock");
        let server_log = dir.join("server.log");
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .args(["--pod", name])
            .arg("--runtime")
            .arg(runtime)
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--log-dir")
            .arg(&log_dir);
        if kill_on_exit {
            // SIGTERM at the end stops the containers, as stop() expects.
            cmd.arg("--kill-on-exit");
        }
        cmd.args(extra);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(fs::File::create(&server_log)?)
            .stderr(fs::File::create(&server_log)?.try_clone()?)
            .spawn()?;
        let mut server = Server {
            child: Some(child),
            socket,
            state_dir,
            log_dir,
            server_log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Polls until a real round trip works: a connectable socket alone
    /// could still be a stale file.
    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().transpose()) {
                // Reaped: nothing left for stop() to do.
                self.child = None;
                return Err(io::Error::other(format!(
                    "podmon serve exited ({}) before answering; its log:\n{}",
                    st?,
                    self.log_text()
                )));
            }
            if let Ok(mut c) = Client::connect(&self.socket, START_TIMEOUT) {
                let probe = proto::GetContainer {
                    id: "no-such-container".into(),
                };
                // Any reply, even NoSuchContainer, proves the server serves.
                match c.call(&probe) {
                    Ok(_) | Err(ClientError::Varlink { .. }) => return Ok(()),
                    Err(_) => {}
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "podmon serve did not answer on {} within {START_TIMEOUT:?}; its log:\n{}",
                    self.socket.display(),
                    self.log_text()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A new connection whose replies may take up to `timeout`.
    pub fn client(&self, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect(&self.socket, timeout)
    }

    /// Where runc keeps the pod's container state (`runc --root`).
    pub fn runtime_root(&self) -> PathBuf {
        self.state_dir.join("runtime")
    }

    /// A container's CRI log file.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.log_dir.join(format!("{id}.log"))
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// SIGTERM (the server, with --kill-on-exit, stops its containers), then waits; SIGKILL if it
    /// does not exit in time. Errors say the server misbehaved.
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SAFETY: kill on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(st) = child.try_wait()? {
                return if st.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "podmon serve exited with {st} after SIGTERM"
                    )))
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::other(format!(
                    "podmon serve did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed"
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e}");
        }
    }
}
