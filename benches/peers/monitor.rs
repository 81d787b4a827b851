//! What the bench asks of a monitor, and podmon's answers through its
//! Varlink API (conmon's are in `conmon.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use podmon::proto;

use crate::Result;
use crate::common::procfs;
use crate::common::server::Server;
use crate::common::varlink::{self, Client};

/// Longest an ordinary call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a container may take to write its output.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(1800);

/// One run of a container to its exit.
pub struct LogRun {
    /// From the start to the monitor saying the container exited and
    /// every byte of its output is in its log.
    pub elapsed: Duration,
    /// CPU time of the monitor process over that span.
    pub cpu: Duration,
    /// Size of the log the monitor wrote.
    pub log_bytes: u64,
}

/// The operations the bench measures, the same for every monitor.
pub trait Monitor {
    fn name(&self) -> &'static str;
    /// Creates and starts `id` from `bundle`; returns once it runs, with
    /// the pid of its process.
    fn run(&mut self, id: &str, bundle: &Path) -> Result<u32>;
    /// Runs `true` in `id` and waits for its exit code (0 or an error).
    fn exec_true(&mut self, id: &str) -> Result<()>;
    /// SIGKILLs `pid`, the process of `id`, and returns how long the
    /// monitor took to report the exit.
    fn kill_detect(&mut self, id: &str, pid: u32) -> Result<Duration>;
    /// Deletes `id`, killing it first if it still runs.
    fn remove(&mut self, id: &str) -> Result<()>;
    /// Creates `id` from `bundle`, starts it and waits for it to exit
    /// with 0 and its log to be complete; the log is removed afterwards.
    fn run_to_exit(&mut self, id: &str, bundle: &Path) -> Result<LogRun>;
    /// The monitor's processes: podmon's one per pod, conmon's one per
    /// container.
    fn pids(&self) -> Vec<u32>;
    /// The runtime root (`runc --root`) its containers live in.
    fn runtime_root(&self) -> PathBuf;
    /// Kills every container and stops the monitor.
    fn shutdown(&mut self) -> Result<()>;
}

/// SIGKILL to a container process.
pub fn sigkill(pid: u32) -> Result<()> {
    // SAFETY: kill has no memory-safety preconditions; the pid is a
    // container process the bench started and has not deleted.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } != 0 {
        return Err(format!("kill {pid}: {}", std::io::Error::last_os_error()).into());
    }
    Ok(())
}

/// One `podmon serve` for one pod, driven over its socket.
pub struct Podmon {
    server: Server,
    client: Client,
    /// Container pids, to SIGKILL them all at shutdown.
    pids: HashMap<String, u32>,
}

impl Podmon {
    /// Starts `bin` (the private copy) as the monitor of pod `name` with
    /// its socket and state under `dir`.
    pub fn start(dir: &Path, name: &str, bin: &Path) -> Result<Podmon> {
        std::fs::create_dir_all(dir)?;
        let server = Server::start_with(dir, name, bin, true)?;
        let client = server.client(CALL_TIMEOUT)?;
        Ok(Podmon {
            server,
            client,
            pids: HashMap::new(),
        })
    }

    fn create(&mut self, id: &str, bundle: &Path) -> Result<()> {
        self.client.call(&proto::CreateContainer {
            id: id.to_owned(),
            bundle: Some(bundle.to_string_lossy().into_owned()),
            ..proto::CreateContainer::default()
        })?;
        Ok(())
    }

    /// A rootfs container's config.json as podmon writes it, for the
    /// bundles of both monitors; the container is deleted again.
    pub fn template_config(&mut self, rootfs: &Path, out: &Path) -> Result<()> {
        let reply = self.client.create("template", rootfs, &["true"])?;
        let config = Path::new(&reply.container.bundle).join("config.json");
        std::fs::copy(&config, out).map_err(|e| format!("{}: {e}", config.display()))?;
        self.client.delete("template", true)?;
        Ok(())
    }
}

impl Monitor for Podmon {
    fn name(&self) -> &'static str {
        "podmon"
    }

    fn run(&mut self, id: &str, bundle: &Path) -> Result<u32> {
        self.create(id, bundle)?;
        let reply = self.client.start(id)?;
        let pid = reply
            .container
            .pid
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| format!("StartContainer {id}: no pid in {:?}", reply.container))?;
        self.pids.insert(id.to_owned(), pid);
        Ok(pid)
    }

    fn exec_true(&mut self, id: &str) -> Result<()> {
        let reply = self.client.exec_sync(id, &["true"])?;
        match reply.exit_code {
            0 => Ok(()),
            _ => Err(format!("ExecSync reply: {}", varlink::json(&reply)).into()),
        }
    }

    fn kill_detect(&mut self, id: &str, pid: u32) -> Result<Duration> {
        let mut waiter = self.server.client(CALL_TIMEOUT)?;
        thread::scope(|s| {
            let answered = s.spawn(move || waiter.wait(id).map(|_| Instant::now()));
            // Let the WaitContainer call reach the server before the kill.
            thread::sleep(Duration::from_millis(50));
            let killed = Instant::now();
            sigkill(pid)?;
            let at = answered
                .join()
                .map_err(|_| "the WaitContainer thread panicked")??;
            Ok(at.saturating_duration_since(killed))
        })
    }

    fn remove(&mut self, id: &str) -> Result<()> {
        self.pids.remove(id);
        self.client.delete(id, true)?;
        Ok(())
    }

    fn run_to_exit(&mut self, id: &str, bundle: &Path) -> Result<LogRun> {
        let mut c = self.server.client(LOG_TIMEOUT)?;
        self.create(id, bundle)?;
        let pid = self.server.pid();
        let cpu0 = procfs::cpu_time(pid)?;
        let t0 = Instant::now();
        c.start(id)?;
        let reply = c.wait(id)?;
        let elapsed = t0.elapsed();
        let cpu = procfs::cpu_time(pid)? - cpu0;
        if reply.exit_code != Some(0) {
            return Err(format!("log container exited: {}", varlink::json(&reply)).into());
        }
        let log = self.server.log_path(id);
        let log_bytes = std::fs::metadata(&log)?.len();
        c.delete(id, false)?;
        std::fs::remove_file(&log)?;
        Ok(LogRun {
            elapsed,
            cpu,
            log_bytes,
        })
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.server.pid()]
    }

    fn runtime_root(&self) -> PathBuf {
        self.server.runtime_root()
    }

    fn shutdown(&mut self) -> Result<()> {
        // Killing the containers first spares the server's SIGTERM path
        // the runc kills; it then deletes every container it holds.
        for (_, pid) in self.pids.drain() {
            let _ = sigkill(pid);
        }
        self.server.stop()?;
        Ok(())
    }
}
