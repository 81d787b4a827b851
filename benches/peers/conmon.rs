//! Driving Debian's conmon the way Podman and CRI-O do: one conmon per
//! container (`conmon -c ID -u ID -r runc -b BUNDLE ...`), which runs
//! `runc create` and reports the container's pid on its sync pipe
//! (`_OCI_SYNCPIPE`, `{"data": PID}` with `--api-version`); the manager
//! then runs `runc start` itself. conmon writes `EXIT-DIR/ID` (temp file
//! and rename) after the container exited and its output is drained and
//! synced, and that file is how managers learn of the exit (by inotify).
//! Exec-sync is `conmon -e --exec-process-spec SPEC`, which runs
//! `runc exec --detach` and reports the pid, then the exit code.
//!
//! `--sync` keeps conmon as the bench's child instead of double-forking
//! away (conmon's main() only skips that fork for it), so the bench can
//! reap it and read its CPU time as a zombie.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;
use crate::common::{RUNC, procfs};
use crate::monitor::{LogRun, Monitor, sigkill};

/// The fd number the sync pipe gets in conmon.
const SYNC_FD: i32 = 3;
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// One container and its conmon.
struct Ctr {
    conmon: Child,
    pid: u32,
}

/// The conmons of one bench phase, with their directories.
pub struct Conmon {
    bin: PathBuf,
    root: PathBuf,
    exits: PathBuf,
    exec_exits: PathBuf,
    socks: PathBuf,
    logs: PathBuf,
    exec_spec: PathBuf,
    ctrs: HashMap<String, Ctr>,
}

impl Conmon {
    /// Directories under `dir`; `bin` is the private copy of conmon;
    /// `exec_spec` the process of `true` for exec-sync.
    pub fn new(dir: &Path, bin: &Path, exec_spec: &serde_json::Value) -> Result<Conmon> {
        let c = Conmon {
            bin: bin.to_owned(),
            root: dir.join("runtime"),
            exits: dir.join("exits"),
            exec_exits: dir.join("exec-exits"),
            socks: dir.join("socks"),
            logs: dir.join("logs"),
            exec_spec: dir.join("exec.json"),
            ctrs: HashMap::new(),
        };
        for d in [&c.root, &c.exits, &c.exec_exits, &c.socks, &c.logs] {
            fs::create_dir_all(d)?;
        }
        fs::write(&c.exec_spec, serde_json::to_vec(exec_spec)?)?;
        Ok(c)
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.logs.join(format!("{id}.log"))
    }

    /// conmon's arguments common to create and exec.
    fn args(
        &self,
        id: &str,
        uuid: &str,
        pidfile: &Path,
        log: &Path,
        exits: &Path,
    ) -> Vec<OsString> {
        let mut a: Vec<OsString> = ["--api-version", "--sync", "-c", id, "-u", uuid, "-n", id]
            .map(OsString::from)
            .to_vec();
        a.extend(["-r".into(), RUNC.into(), "-p".into(), pidfile.into()]);
        let mut log_arg = OsString::from("k8s-file:");
        log_arg.push(log);
        a.extend(["-l".into(), log_arg, "--exit-dir".into(), exits.into()]);
        a.extend(["--socket-dir-path".into(), self.socks.clone().into()]);
        a.extend(["--runtime-arg", "--root", "--runtime-arg"].map(OsString::from));
        a.push(self.root.clone().into());
        a.extend(["--log-level", "error"].map(OsString::from));
        a
    }

    /// Spawns conmon with `args` and a sync pipe; returns the child and
    /// the pipe's reading end.
    fn spawn(&self, args: &[OsString], cwd: &Path) -> Result<(Child, BufReader<File>)> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let w_raw = w.as_raw_fd();
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(cwd)
            .env("_OCI_SYNCPIPE", SYNC_FD.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                File::options()
                    .create(true)
                    .append(true)
                    .open(self.logs.join("conmon.err"))?,
            );
        // SAFETY: between fork and exec only async-signal-safe calls
        // (dup2, fcntl) on a descriptor the parent keeps open until after
        // spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                if w_raw == SYNC_FD {
                    libc::fcntl(SYNC_FD, libc::F_SETFD, 0);
                } else if libc::dup2(w_raw, SYNC_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(w);
        Ok((child, BufReader::new(File::from(r))))
    }

    /// Creates `id` (conmon runs `runc create`); returns its conmon and
    /// the container's pid.
    fn create(&self, id: &str, bundle: &Path) -> Result<Ctr> {
        let pidfile = bundle.join("pidfile");
        let mut a = self.args(id, id, &pidfile, &self.log_path(id), &self.exits);
        a.extend(["-b".into(), bundle.into()]);
        let (mut conmon, mut pipe) = self.spawn(&a, bundle)?;
        match read_sync(&mut pipe)? {
            Some(pid) if pid > 0 => Ok(Ctr {
                conmon,
                pid: pid as u32,
            }),
            other => {
                let _ = conmon.wait();
                Err(format!(
                    "conmon create {id}: sync pipe said {other:?} (see {})",
                    self.logs.join("conmon.err").display()
                )
                .into())
            }
        }
    }

    fn runc(&self, args: &[&str]) -> Result<()> {
        let out = Command::new(RUNC)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "runc {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }

    /// Reaps `id`'s conmon (it exits after its container) and deletes the
    /// container from runc.
    fn reap(&mut self, id: &str) -> Result<()> {
        if let Some(mut c) = self.ctrs.remove(id) {
            let _ = sigkill(c.pid);
            c.conmon.wait()?;
        }
        self.runc(&["delete", "--force", id])?;
        let _ = fs::remove_file(self.log_path(id));
        Ok(())
    }
}

/// One `{"data": N, "message": ...}` line of the sync pipe; `None` at EOF.
fn read_sync(pipe: &mut BufReader<File>) -> Result<Option<i64>> {
    let mut line = String::new();
    if pipe.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("sync pipe {line:?}: {e}"))?;
    match v["data"].as_i64() {
        Some(n) if n >= 0 => Ok(Some(n)),
        _ => Err(format!("conmon reported {line:?}").into()),
    }
}

/// Waits until `pid`, a child, has exited, leaving it a zombie so its
/// /proc entry (and CPU time) can still be read.
fn wait_exited_nowait(pid: u32) -> Result<()> {
    // SAFETY: siginfo_t is plain data that waitid fills in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waitid on our own child, writing into `info`.
        let r = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitid {pid}: {e}").into());
        }
    }
}

/// An inotify watch on an exit directory, made before the kill so the
/// exit file's arrival cannot be missed.
struct ExitWatch(OwnedFd);

impl ExitWatch {
    fn new(dir: &Path) -> Result<ExitWatch> {
        // SAFETY: inotify_init1 has no preconditions; a valid result is a
        // new descriptor we own.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // SAFETY: fd was just returned to us and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())?;
        // SAFETY: a valid inotify fd and a NUL-terminated path.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd.as_raw_fd(),
                path.as_ptr(),
                libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE,
            )
        };
        if wd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(ExitWatch(fd))
    }

    /// Returns when a file named `name` was written or renamed into the
    /// directory.
    fn wait_for(&self, name: &str, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no exit file {name} within {timeout:?}").into());
            }
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) } <= 0 {
                continue;
            }
            let n = rustix::io::read(&self.0, &mut buf)?;
            if events_name(&buf[..n], name) {
                return Ok(Instant::now());
            }
        }
    }
}

/// Whether the inotify events in `buf` name `name`.
fn events_name(buf: &[u8], name: &str) -> bool {
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[off + 12..off + 16].try_into().unwrap_or([0; 4])) as usize;
        let end = (off + 16 + len).min(buf.len());
        let raw = &buf[off + 16..end];
        let n = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        if &raw[..n] == name.as_bytes() {
            return true;
        }
        off = end;
    }
    false
}

impl Monitor for Conmon {
    fn name(&self) -> &'static str {
        "conmon"
    }

    fn run(&mut self, id: &str, bundle: &Path) -> Result<u32> {
        let c = self.create(id, bundle)?;
        let pid = c.pid;
        self.ctrs.insert(id.to_owned(), c);
        self.runc(&["start", id])?;
        Ok(pid)
    }

    fn exec_true(&mut self, id: &str) -> Result<()> {
        let dir = self.exec_exits.clone();
        let mut a = self.args(
            id,
            "exec",
            &dir.join("exec.pid"),
            &dir.join("exec.log"),
            &dir,
        );
        a.extend([
            "-e".into(),
            "--exec-process-spec".into(),
            self.exec_spec.clone().into(),
        ]);
        let (mut conmon, mut pipe) = self.spawn(&a, &dir)?;
        let pid = read_sync(&mut pipe)?;
        let code = read_sync(&mut pipe)?;
        let st = conmon.wait()?;
        if pid.is_none() || code != Some(0) {
            return Err(format!(
                "conmon exec in {id}: pid {pid:?}, exit code {code:?}, conmon {st}"
            )
            .into());
        }
        Ok(())
    }

    fn kill_detect(&mut self, id: &str, pid: u32) -> Result<Duration> {
        let watch = ExitWatch::new(&self.exits)?;
        let killed = Instant::now();
        sigkill(pid)?;
        let seen = watch.wait_for(id, EXIT_TIMEOUT)?;
        Ok(seen.saturating_duration_since(killed))
    }

    fn remove(&mut self, id: &str) -> Result<()> {
        self.reap(id)
    }

    fn run_to_exit(&mut self, id: &str, bundle: &Path) -> Result<LogRun> {
        let mut c = self.create(id, bundle)?;
        let conmon_pid = c.conmon.id();
        let cpu0 = procfs::cpu_time(conmon_pid)?;
        let t0 = Instant::now();
        self.runc(&["start", id])?;
        wait_exited_nowait(conmon_pid)?;
        let elapsed = t0.elapsed();
        let cpu = procfs::cpu_time(conmon_pid)? - cpu0;
        c.conmon.wait()?;
        let code = fs::read_to_string(self.exits.join(id))?;
        if code.trim() != "0" {
            return Err(format!("log container {id} exited with {code:?}").into());
        }
        let log_bytes = fs::metadata(self.log_path(id))?.len();
        self.runc(&["delete", id])?;
        fs::remove_file(self.log_path(id))?;
        Ok(LogRun {
            elapsed,
            cpu,
            log_bytes,
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.ctrs.values().map(|c| c.conmon.id()).collect()
    }

    fn runtime_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn shutdown(&mut self) -> Result<()> {
        for c in self.ctrs.values() {
            let _ = sigkill(c.pid);
        }
        let ids: Vec<String> = self.ctrs.keys().cloned().collect();
        // Deletes of stopped containers, a few at a time: each is a
        // runc process of ~50 ms, most of it startup.
        for batch in ids.chunks(8) {
            let mut running = Vec::new();
            for id in batch {
                if let Some(mut c) = self.ctrs.remove(id) {
                    c.conmon.wait()?;
                }
                running.push(
                    Command::new(RUNC)
                        .arg("--root")
                        .arg(&self.root)
                        .args(["delete", "--force", id])
                        .stdout(Stdio::null())
                        .spawn()?,
                );
            }
            for mut r in running {
                r.wait()?;
            }
        }
        Ok(())
    }
}

impl Drop for Conmon {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("warning: stopping conmon's containers: {e}");
        }
    }
}
