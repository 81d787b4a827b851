//! Running extra processes in a container (`runtime exec`), watched by
//! podmon itself: no second monitor per exec, no pid files left behind.
//!
//! The runtime starts the process detached and exits; the process becomes
//! podmon's child (subreaper), so its exit is read through a pidfd exactly
//! like a container's. Execs are tracked apart from the container: killing,
//! stats, attach and log reopening act on the container, never on an exec.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::container::{Container, Status};
use super::events::{Event, EventKind};
use super::{Pod, PodError};
use crate::reactor::sync::Notify;
use crate::reactor::{ops, sync};
use crate::sys::console::ConsoleSocket;
use crate::sys::process::{self, ExitInfo, PendingClaim, Watched};

/// How long an exec's pipes may stay open after it exited (held by a
/// background child) before its output is returned anyway.
pub const PIPE_GRACE: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// Command and arguments.
    pub command: Vec<String>,
    /// KEY=VALUE entries added to (or replacing in) the container's env.
    pub env: Vec<String>,
    /// Working directory; default the container's.
    pub cwd: Option<String>,
    /// "uid" or "uid:gid" (numbers); default the container's user.
    pub user: Option<String>,
    /// Give the process a pty.
    pub terminal: bool,
    /// The pty's initial size (columns, rows), so the process sees it from
    /// its first instruction.
    pub size: Option<(u16, u16)>,
}

/// One exec being set up or running.
pub struct ExecProcess {
    /// The exec's id, unique within the pod.
    pub exec_id: String,
    /// The process.
    pub process: Rc<Watched>,
    /// Its stdin (write end), when asked for.
    pub stdin: Option<OwnedFd>,
    /// Its stdout (read end); for terminal execs the pty master.
    pub stdout: Option<OwnedFd>,
    /// Its stderr (read end); none for terminal execs.
    pub stderr: Option<OwnedFd>,
    /// The pty master of a terminal exec (for resizing).
    pub pty: Option<Rc<OwnedFd>>,
    _registration: Registration,
    _dir: DirGuard,
}

/// A running exec as the pod lists it: Resize finds its pty here.
pub struct ExecEntry {
    /// The container it runs in.
    pub container: String,
    /// Its process.
    pub process: Rc<Watched>,
    /// Its pty master, for terminal execs.
    pub pty: Option<Rc<OwnedFd>>,
}

/// Keeps an exec in the pod's table for as long as it is handled.
struct Registration {
    pod: std::rc::Weak<Pod>,
    exec_id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(pod) = self.pod.upgrade() {
            pod.execs.borrow_mut().remove(&self.exec_id);
        }
    }
}

/// The exec's working directory (process.json, pid file, runtime log),
/// removed when the exec is done with, whatever way it ends.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What ExecSync returns.
#[derive(Debug)]
pub struct ExecSyncResult {
    /// How the process ended.
    pub status: ExitInfo,
    /// Its stdout, up to the cap.
    pub stdout: Vec<u8>,
    /// Its stderr, up to the cap.
    pub stderr: Vec<u8>,
    /// stdout went over the cap.
    pub stdout_truncated: bool,
    /// stderr went over the cap.
    pub stderr_truncated: bool,
    /// The timeout killed it.
    pub timed_out: bool,
}

thread_local! {
    static NEXT_EXEC: Cell<u64> = const { Cell::new(1) };
}

fn parse_user(user: &str) -> Result<(u32, Option<u32>), PodError> {
    let bad = || PodError::InvalidValue {
        parameter: "user",
        reason: format!("{user:?} is not \"uid\" or \"uid:gid\" (numbers)"),
    };
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

/// The process JSON for `runtime exec --process`: the container's own
/// process settings (capabilities, rlimits, env) with ours on top.
fn process_json(c: &Container, spec: &ExecSpec) -> Result<serde_json::Value, PodError> {
    let config_path = c.bundle.join("config.json");
    let text = std::fs::read(&config_path)
        .map_err(|e| PodError::System(format!("reading {}: {e}", config_path.display())))?;
    let config: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| PodError::System(format!("parsing {}: {e}", config_path.display())))?;
    let mut p = config
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    p["args"] = serde_json::json!(spec.command);
    p["terminal"] = serde_json::json!(spec.terminal);
    let mut env: Vec<String> = p
        .get("env")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    for kv in &spec.env {
        let Some((k, _)) = kv.split_once('=') else {
            return Err(PodError::InvalidValue {
                parameter: "env",
                reason: format!("{kv:?} is not KEY=VALUE"),
            });
        };
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k));
        env.push(kv.clone());
    }
    p["env"] = serde_json::json!(env);
    if let Some(cwd) = &spec.cwd {
        if !cwd.starts_with('/') {
            return Err(PodError::InvalidValue {
                parameter: "cwd",
                reason: "must be an absolute path".into(),
            });
        }
        p["cwd"] = serde_json::json!(cwd);
    }
    if let Some(user) = &spec.user {
        let (uid, gid) = parse_user(user)?;
        p["user"] = serde_json::json!({ "uid": uid, "gid": gid.unwrap_or(uid) });
    }
    match spec.size {
        Some((width, height)) if spec.terminal => {
            p["consoleSize"] = serde_json::json!({ "width": width, "height": height });
        }
        _ => {
            if let Some(obj) = p.as_object_mut() {
                obj.remove("consoleSize");
            }
        }
    }
    Ok(p)
}

/// Starts `spec` in container `id` with pipes for stdout and stderr (and
/// stdin when `want_stdin`); returns once the process runs.
pub async fn spawn_exec(
    pod: &Rc<Pod>,
    id: &str,
    spec: &ExecSpec,
    want_stdin: bool,
) -> Result<ExecProcess, PodError> {
    if spec.command.is_empty() {
        return Err(PodError::InvalidValue {
            parameter: "command",
            reason: "a command is required".into(),
        });
    }
    let c = pod.get(id)?;
    let status = c.status();
    if status != Status::Running || c.state.borrow().exit.is_some() {
        return Err(PodError::InvalidState {
            id: id.to_owned(),
            status,
            reason: "exec needs a running container".into(),
        });
    }
    let n = NEXT_EXEC.with(|c| {
        let n = c.get();
        c.set(n + 1);
        n
    });
    let exec_id = format!("exec-{n}");
    let dir = c.dir.join("execs").join(&exec_id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| PodError::System(format!("creating {}: {e}", dir.display())))?;
    let guard = DirGuard(dir.clone());
    let process_file = dir.join("process.json");
    let json = process_json(&c, spec)?;
    std::fs::write(&process_file, json.to_string())
        .map_err(|e| PodError::System(format!("writing {}: {e}", process_file.display())))?;
    let pid_file = dir.join("pid");
    let log_file = dir.join("runtime.log");
    let console = if spec.terminal {
        let path = dir.join("console.sock");
        Some(
            ConsoleSocket::bind(&path)
                .map_err(|e| PodError::System(format!("console socket {}: {e}", path.display())))?,
        )
    } else {
        None
    };
    let args = pod.config.runtime.exec_args(
        id,
        &process_file,
        &pid_file,
        &log_file,
        console.as_ref().map(ConsoleSocket::path),
    );
    // Terminal execs talk through the pty; pipes otherwise.
    let (mut stdin_w, mut out_r, mut err_r) = (None, None, None);
    let (stdin_r, out_w, err_w) = if spec.terminal {
        (
            None,
            Some(process::devnull().map_err(|e| PodError::system("/dev/null", e))?),
            Some(process::devnull().map_err(|e| PodError::system("/dev/null", e))?),
        )
    } else {
        let (or, ow) = process::pipe().map_err(|e| PodError::system("pipe", e))?;
        let (er, ew) = process::pipe().map_err(|e| PodError::system("pipe", e))?;
        out_r = Some(or);
        err_r = Some(er);
        let sr = if want_stdin {
            let (r, w) = process::pipe().map_err(|e| PodError::system("pipe", e))?;
            stdin_w = Some(w);
            Some(r)
        } else {
            None
        };
        (sr, Some(ow), Some(ew))
    };
    let claim = PendingClaim::new();
    let (runc, _, _) = process::spawn(&pod.config.runtime.path, &args, stdin_r, out_w, err_w)
        .map_err(|e| {
            PodError::System(format!(
                "running {}: {e}",
                pod.config.runtime.path.display()
            ))
        })?;
    let st = runc
        .wait()
        .await
        .map_err(|e| PodError::System(format!("waiting for the runtime: {e}")))?;
    if st.exit_code() != 0 {
        let log = std::fs::read(&log_file).ok();
        let message = crate::oci::runtime::error_message(&[], log.as_deref())
            .unwrap_or_else(|| format!("exited with status {}", st.exit_code()));
        return Err(PodError::Runtime {
            runtime: pod.config.runtime.name(),
            command: "exec",
            message,
            exit_code: st.code,
        });
    }
    let mut pty = None;
    if let Some(console) = &console {
        let master = sync::timeout(Duration::from_secs(5), console.receive())
            .await
            .ok_or_else(|| PodError::System("the runtime sent no pty within 5 s".into()))?
            .map_err(|e| PodError::System(format!("receiving the pty: {e}")))?;
        let dup = |fd: &OwnedFd| {
            fd.try_clone()
                .map_err(|e| PodError::System(format!("dup: {e}")))
        };
        out_r = Some(dup(&master)?);
        if want_stdin {
            stdin_w = Some(dup(&master)?);
        }
        pty = Some(Rc::new(master));
    }
    let pid = std::fs::read(&pid_file)
        .map_err(|e| PodError::System(format!("reading {}: {e}", pid_file.display())))
        .and_then(|c| {
            crate::oci::runtime::parse_pid_file(&c)
                .map_err(|e| PodError::System(format!("pid file: {e}")))
        })?;
    let process = Rc::new(
        Watched::open(pid).map_err(|e| PodError::System(format!("pidfd_open({pid}): {e}")))?,
    );
    drop(claim);
    process::reap_strays();
    log::debug!("container {id}: {exec_id} started (pid {pid})");
    pod.events.emit(Event::new(
        EventKind::ExecStarted {
            exec_id: exec_id.clone(),
        },
        id,
    ));
    pod.execs.borrow_mut().insert(
        exec_id.clone(),
        ExecEntry {
            container: id.to_owned(),
            process: process.clone(),
            pty: pty.clone(),
        },
    );
    let registration = Registration {
        pod: Rc::downgrade(pod),
        exec_id: exec_id.clone(),
    };
    Ok(ExecProcess {
        _registration: registration,
        exec_id,
        process,
        stdin: stdin_w,
        stdout: out_r,
        stderr: err_r,
        pty,
        _dir: guard,
    })
}

/// Emits `execExited`.
pub fn exited_event(pod: &Pod, id: &str, exec_id: &str, status: ExitInfo) {
    pod.events.emit(Event::new(
        EventKind::ExecExited {
            exec_id: exec_id.to_owned(),
            exit: status,
        },
        id,
    ));
}

/// Output read so far, at most a cap.
#[derive(Debug, Default)]
pub struct Captured {
    /// The bytes kept.
    pub bytes: Vec<u8>,
    /// More was written than the cap allowed.
    pub truncated: bool,
}

/// Reads `fd` to end of file into `into`, keeping at most `cap` bytes (and
/// reading on past it, so the writer never blocks). What was read stays in
/// `into` even if this future is dropped early.
pub async fn capture(fd: OwnedFd, cap: usize, into: &RefCell<Captured>) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (r, b) = ops::read(fd.as_fd(), buf, usize::MAX).await;
        buf = b;
        match r {
            Ok(0) => return,
            Ok(_) => {
                let mut c = into.borrow_mut();
                let room = cap.saturating_sub(c.bytes.len());
                if buf.len() > room {
                    c.truncated = true;
                }
                c.bytes.extend_from_slice(&buf[..buf.len().min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading exec output: {e}");
                return;
            }
        }
    }
}

/// Every descendant of `pid` (children first found, then theirs).
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in list
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

/// SIGKILLs an exec and everything it started.
pub fn kill_tree(process: &Watched) {
    // Stop the parent first so it cannot fork more while we collect.
    let _ = process.signal(libc::SIGSTOP);
    for d in descendants(process.pid()) {
        if let Some(p) = rustix::process::Pid::from_raw(d) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
    let _ = process.signal(libc::SIGKILL);
}

/// Runs a command to completion in container `id`; kills it (and what it
/// started) after `timeout`.
pub async fn exec_sync(
    pod: &Rc<Pod>,
    id: &str,
    spec: &ExecSpec,
    timeout: Option<Duration>,
    cap: usize,
) -> Result<ExecSyncResult, PodError> {
    let mut exec = spawn_exec(pod, id, spec, false).await?;
    let (out, err) = (
        RefCell::new(Captured::default()),
        RefCell::new(Captured::default()),
    );
    let process = exec.process.clone();
    let timed_out = Cell::new(false);
    let exited = Cell::new(false);
    let exit_notify = Notify::default();
    let waiting = async {
        let status = match timeout {
            None => process.wait().await,
            Some(t) => match sync::timeout(t, process.wait()).await {
                Some(s) => s,
                None => {
                    timed_out.set(true);
                    kill_tree(&process);
                    process.wait().await
                }
            },
        };
        exited.set(true);
        exit_notify.notify_all();
        status.map_err(|e| PodError::System(format!("waiting for the exec: {e}")))
    };
    let (out_fd, err_fd) = (exec.stdout.take(), exec.stderr.take());
    let reading = async {
        let both = sync::join(
            async {
                if let Some(fd) = out_fd {
                    capture(fd, cap, &out).await;
                }
            },
            async {
                if let Some(fd) = err_fd {
                    capture(fd, cap, &err).await;
                }
            },
        );
        // A background child may hold the pipes open after the exec
        // exited: then return what was read after a grace period.
        let grace = async {
            exit_notify.wait_until(|| exited.get().then_some(())).await;
            ops::sleep(PIPE_GRACE).await;
        };
        if let sync::Either::Right(()) = sync::select(both, grace).await {
            log::info!(
                "container {id}: {} left its output open; returning what was read",
                exec.exec_id
            );
        }
    };
    let (status, ()) = sync::join(waiting, reading).await;
    let status = status?;
    exited_event(pod, id, &exec.exec_id, status);
    let (out, err) = (out.into_inner(), err.into_inner());
    Ok(ExecSyncResult {
        status,
        stdout: out.bytes,
        stderr: err.bytes,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        timed_out: timed_out.get(),
    })
}
