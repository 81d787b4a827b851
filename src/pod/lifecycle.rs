//! Container lifecycle: create, start, kill, wait, delete, and the monitor
//! task that records an exit once every byte of output is in the log.

use std::cell::RefCell;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::container::{Container, State, Status};
use super::events::{Event, EventKind};
use super::stdin::StdinSlot;
use super::{Pod, PodError};
use crate::cgroups::CgroupPaths;
use crate::cgroups::oom::OomWatch;
use crate::logs::LogSink;
use crate::logs::cri::Stream;
use crate::logs::driver::{CriFile, Discard, DriverKind, LogDriver, Rotation};
use crate::logs::ratelimit::Limit;
use crate::oci::{runtime, spec};
use crate::reactor::{self, sync};
use crate::sys::console::ConsoleSocket;
use crate::sys::process::{self, ExitInfo, PendingClaim, Watched};

/// How long an exited container's pipes may stay open (held by a process
/// outside its PID namespace) before the exit is reported anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a new container's bundle comes from.
#[derive(Debug)]
pub enum Source {
    /// An OCI bundle that the caller prepared (engine style).
    Bundle(PathBuf),
    /// A root file system plus a command; podmon writes the bundle.
    Rootfs {
        /// The root file system.
        rootfs: PathBuf,
        /// Command and arguments.
        command: Vec<String>,
        /// KEY=VALUE entries.
        env: Vec<String>,
        /// Working directory.
        cwd: String,
        /// Host name.
        hostname: String,
        /// memory.max in bytes.
        memory_max: Option<i64>,
        /// pids.max.
        pids_max: Option<i64>,
    },
}

/// How a container's output is logged.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// The driver.
    pub driver: DriverKind,
    /// Rate limit, if any.
    pub limit: Option<Limit>,
    /// Longest record before a line is split (default 16 KiB).
    pub max_line: Option<usize>,
    /// Rotation of the CRI file.
    pub rotation: Rotation,
}

/// CreateContainer's input, validated for types but not yet for values.
#[derive(Debug)]
pub struct CreateRequest {
    /// Container id.
    pub id: String,
    /// The bundle or what to build it from.
    pub source: Source,
    /// Logging.
    pub log: LogOptions,
    /// Keep a pipe (or the pty) to the container's stdin for attach.
    pub stdin: bool,
    /// Close stdin when the first attached client that had it detaches.
    pub stdin_once: bool,
    /// Give the container a pty (rootfs containers; a bundle's config.json
    /// says so itself).
    pub terminal: bool,
    /// The pty's initial size (columns, rows), with `terminal`.
    pub console_size: Option<(u16, u16)>,
}

/// Removes an id reservation when creation ends, however it ends.
struct Reservation<'a> {
    pod: &'a Pod,
    id: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pod.reserved.borrow_mut().remove(&self.id);
    }
}

fn runtime_error(
    pod: &Pod,
    command: &'static str,
    out: &process::Output,
    log: Option<&Path>,
) -> PodError {
    let log_contents = log.and_then(|p| std::fs::read(p).ok());
    let message = runtime::error_message(&out.stderr, log_contents.as_deref())
        .unwrap_or_else(|| format!("exited with status {}", out.status.exit_code()));
    PodError::Runtime {
        runtime: pod.config.runtime.name(),
        command,
        message,
        exit_code: out.status.code,
    }
}

/// Runs a runtime subcommand to completion; a non-zero exit is a Runtime error.
async fn run_runtime(
    pod: &Pod,
    command: &'static str,
    args: Vec<OsString>,
) -> Result<process::Output, PodError> {
    let out = process::run(&pod.config.runtime.path, &args)
        .await
        .map_err(|e| {
            PodError::system(format!("running {}", pod.config.runtime.path.display()), e)
        })?;
    if out.status.exit_code() != 0 {
        return Err(runtime_error(pod, command, &out, None));
    }
    Ok(out)
}

/// Whether the bundle's config.json asks for a terminal.
fn bundle_wants_terminal(bundle: &Path) -> Result<bool, PodError> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path)
        .map_err(|e| PodError::system(format!("reading {}", path.display()), e))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| PodError::invalid("bundle", format!("{}: {e}", path.display())))?;
    Ok(v.pointer("/process/terminal")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false))
}

/// Prepares the bundle directory; returns the bundle path.
fn prepare_bundle(pod: &Pod, dir: &Path, req: &CreateRequest) -> Result<PathBuf, PodError> {
    let id = &req.id;
    match &req.source {
        Source::Bundle(b) => {
            let b = std::fs::canonicalize(b)
                .map_err(|e| PodError::invalid("bundle", format!("{}: {e}", b.display())))?;
            if !b.join("config.json").is_file() {
                return Err(PodError::invalid(
                    "bundle",
                    format!("{} has no config.json", b.display()),
                ));
            }
            Ok(b)
        }
        Source::Rootfs {
            rootfs,
            command,
            env,
            cwd,
            hostname,
            memory_max,
            pids_max,
        } => {
            let rootfs = std::fs::canonicalize(rootfs)
                .map_err(|e| PodError::invalid("rootfs", format!("{}: {e}", rootfs.display())))?;
            if !rootfs.is_dir() {
                return Err(PodError::invalid(
                    "rootfs",
                    format!("{} is not a directory", rootfs.display()),
                ));
            }
            let s = spec::SimpleSpec {
                rootfs,
                args: command.clone(),
                env: env.clone(),
                cwd: cwd.clone(),
                hostname: hostname.clone(),
                memory_max: *memory_max,
                pids_max: *pids_max,
                cgroups_path: format!("/podmon/{}/{id}", pod.config.name),
                terminal: req.terminal,
                console_size: req.console_size,
            };
            let built = spec::build_spec(&s).map_err(|e| match e {
                spec::SpecError::EmptyArgs => PodError::invalid("command", e),
                spec::SpecError::CwdNotAbsolute(_) => PodError::invalid("cwd", e),
                spec::SpecError::RootfsNotAbsolute(_) => PodError::invalid("rootfs", e),
                spec::SpecError::BadEnv(_) => PodError::invalid("env", e),
                spec::SpecError::BadLimit { what, .. } => PodError::invalid(
                    if what == "pids" {
                        "pidsMax"
                    } else {
                        "memoryMax"
                    },
                    e,
                ),
                other => PodError::system("building the OCI config", other),
            })?;
            spec::write_config(dir, &built)
                .map_err(|e| PodError::system("writing config.json", e))?;
            Ok(dir.to_owned())
        }
    }
}

fn check_values(req: &CreateRequest) -> Result<(), PodError> {
    crate::pod::id::validate_id(&req.id).map_err(|e| PodError::invalid("id", e))?;
    if let Some(l) = &req.log.limit {
        check_limit(l)?;
    }
    if req.log.max_line == Some(0) {
        return Err(PodError::invalid("logMaxLine", "must be positive"));
    }
    if req.log.rotation.max_size == Some(0) {
        return Err(PodError::invalid("logMaxSize", "must be positive"));
    }
    if let Source::Rootfs {
        command,
        memory_max,
        pids_max,
        cwd,
        ..
    } = &req.source
    {
        if command.is_empty() {
            return Err(PodError::invalid(
                "command",
                "a command is required with rootfs",
            ));
        }
        if memory_max.is_some_and(|m| m <= 0) {
            return Err(PodError::invalid(
                "memoryMax",
                "must be a positive number of bytes",
            ));
        }
        if pids_max.is_some_and(|m| m <= 0) {
            return Err(PodError::invalid("pidsMax", "must be positive"));
        }
        if !cwd.starts_with('/') {
            return Err(PodError::invalid("cwd", "must be an absolute path"));
        }
    }
    Ok(())
}

/// Checks a rate limit's numbers.
pub fn check_limit(l: &Limit) -> Result<(), PodError> {
    if l.bytes_per_second == 0 {
        return Err(PodError::invalid("bytesPerSecond", "must be positive"));
    }
    if l.burst == 0 {
        return Err(PodError::invalid("burst", "must be positive"));
    }
    Ok(())
}

/// Creates a container: writes or checks its bundle, runs `runtime create`
/// with the container's stdout and stderr on pipes that feed its log, and
/// starts watching its init process.
pub async fn create(pod: &Rc<Pod>, req: CreateRequest) -> Result<Rc<Container>, PodError> {
    check_values(&req)?;
    let id = req.id.clone();
    if pod.containers.borrow().contains_key(&id) || !pod.reserved.borrow_mut().insert(id.clone()) {
        return Err(PodError::ContainerExists(id));
    }
    let _reservation = Reservation {
        pod,
        id: id.clone(),
    };

    let dir = pod.config.state_dir.join("containers").join(&id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| PodError::system(format!("creating {}", dir.display()), e))?;
    let result = create_in(pod, &req, &dir).await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// The log driver a CreateContainer asked for.
fn log_driver(pod: &Pod, req: &CreateRequest) -> Result<Box<dyn LogDriver>, PodError> {
    Ok(match req.log.driver {
        DriverKind::Cri => {
            let path = pod.config.log_dir.join(format!("{}.log", req.id));
            let max_line = req.log.max_line.unwrap_or(crate::logs::DEFAULT_MAX_LINE);
            let file = CriFile::open(&path, max_line, req.log.rotation)
                .map_err(|e| PodError::system(format!("opening {}", path.display()), e))?;
            Box::new(file)
        }
        DriverKind::None => Box::new(Discard),
    })
}

/// The runtime's stdio for `create` (the container inherits it) and
/// podmon's ends: pipes, or for terminals /dev/null until the pty arrives.
struct CreateStdio {
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    outputs: Vec<(Stream, OwnedFd)>,
    stdin_w: Option<OwnedFd>,
}

impl CreateStdio {
    fn new(terminal: bool, want_stdin: bool) -> Result<CreateStdio, PodError> {
        let pipe = || process::pipe().map_err(|e| PodError::system("pipe", e));
        let null = || process::devnull().map_err(|e| PodError::system("/dev/null", e));
        if terminal {
            return Ok(CreateStdio {
                stdin: None,
                stdout: Some(null()?),
                stderr: Some(null()?),
                outputs: Vec::new(),
                stdin_w: None,
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin, stdin_w) = match want_stdin {
            true => pipe().map(|(r, w)| (Some(r), Some(w)))?,
            false => (None, None),
        };
        Ok(CreateStdio {
            stdin,
            stdout: Some(out_w),
            stderr: Some(err_w),
            outputs: vec![(Stream::Stdout, out_r), (Stream::Stderr, err_r)],
            stdin_w,
        })
    }

    /// Takes the pty master as the container's output (and stdin).
    fn use_pty(&mut self, master: &OwnedFd, want_stdin: bool) -> Result<(), PodError> {
        let dup = || master.try_clone().map_err(|e| PodError::system("dup", e));
        self.outputs = vec![(Stream::Stdout, dup()?)];
        if want_stdin {
            self.stdin_w = Some(dup()?);
        }
        Ok(())
    }
}

/// Runs `runtime create`; returns the container's init process, watched.
async fn runtime_create(
    pod: &Pod,
    id: &str,
    args: &[std::ffi::OsString],
    stdio: &mut CreateStdio,
    dir: &Path,
) -> Result<Watched, PodError> {
    let claim = PendingClaim::new();
    let runtime = &pod.config.runtime.path;
    let (runc, _, _) = process::spawn(
        runtime,
        args,
        stdio.stdin.take(),
        stdio.stdout.take(),
        stdio.stderr.take(),
    )
    .map_err(|e| PodError::system(format!("running {}", runtime.display()), e))?;
    let status = runc
        .wait()
        .await
        .map_err(|e| PodError::system("waiting for the runtime", e))?;
    if status.exit_code() != 0 {
        let out = process::Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        // What the runtime printed went to the container's pipes; its
        // --log file has the message.
        let err = runtime_error(pod, "create", &out, Some(&dir.join("runtime.log")));
        let _ = run_runtime(pod, "delete", pod.config.runtime.delete_args(id, true)).await;
        return Err(err);
    }
    let pid_file = dir.join("pid");
    let pid = std::fs::read(&pid_file)
        .map_err(|e| PodError::system(format!("reading {}", pid_file.display()), e))
        .and_then(|c| runtime::parse_pid_file(&c).map_err(|e| PodError::system("pid file", e)))?;
    let init = Watched::open(pid).map_err(|e| PodError::system(format!("pidfd_open({pid})"), e))?;
    drop(claim);
    process::reap_strays();
    Ok(init)
}

async fn create_in(
    pod: &Rc<Pod>,
    req: &CreateRequest,
    dir: &Path,
) -> Result<Rc<Container>, PodError> {
    let id = &req.id;
    let bundle = prepare_bundle(pod, dir, req)?;
    let terminal = bundle_wants_terminal(&bundle)?;
    let driver = log_driver(pod, req)?;
    let pid_file = dir.join("pid");
    let runtime_log = dir.join("runtime.log");
    let console = match terminal {
        true => {
            let path = dir.join("console.sock");
            let c = ConsoleSocket::bind(&path)
                .map_err(|e| PodError::system(format!("console socket {}", path.display()), e))?;
            Some(c)
        }
        false => None,
    };
    let rt = &pod.config.runtime;
    let args = match &console {
        Some(c) => rt.create_args_with_console(id, &bundle, &pid_file, &runtime_log, c.path()),
        None => rt.create_args(id, &bundle, &pid_file, &runtime_log),
    };
    let mut stdio = CreateStdio::new(terminal, req.stdin)?;
    let init = runtime_create(pod, id, &args, &mut stdio, dir).await?;
    let pid = init.pid();
    let mut pty = None;
    if let Some(console) = &console {
        let master = match sync::timeout(Duration::from_secs(5), console.receive()).await {
            Some(Ok(m)) => m,
            failed => {
                let why = match failed {
                    Some(Err(e)) => e.to_string(),
                    _ => "nothing arrived within 5 s".into(),
                };
                // The runtime kills the init process; reap it.
                let _ = run_runtime(pod, "delete", rt.delete_args(id, true)).await;
                let _ = sync::timeout(DRAIN_TIMEOUT, init.wait()).await;
                return Err(PodError::System(format!(
                    "receiving the pty from the runtime: {why}"
                )));
            }
        };
        stdio.use_pty(&master, req.stdin)?;
        pty = Some(Rc::new(master));
    }
    let stdin_w = stdio.stdin_w.take();
    let log = LogSink::start(driver, std::mem::take(&mut stdio.outputs), req.log.limit);
    let cgroup = match crate::cgroups::locate::paths_for_pid(pid) {
        Ok(p) => Some(p),
        Err(e) => {
            log::warn!(
                "container {id}: no cgroup found for pid {pid}: {e}; no stats or OOM detection"
            );
            None
        }
    };
    {
        let events = Rc::downgrade(pod);
        let id = id.clone();
        log.on_drop(Box::new(move |bytes| {
            let Some(pod) = events.upgrade() else { return };
            // Output of a container whose `started` is not out yet is
            // reported right after it, so events keep their causal order.
            if let Ok(c) = pod.get(&id)
                && c.state.borrow().starting
            {
                c.dropped_before_start
                    .set(c.dropped_before_start.get() + bytes);
                return;
            }
            emit_dropped(&pod, &id, bytes);
        }));
    }

    let init = Rc::new(init);
    let container = Rc::new(Container {
        id: id.clone(),
        bundle,
        dir: dir.to_owned(),
        created_at: SystemTime::now(),
        log,
        state: RefCell::new(State {
            status: Status::Created,
            process: Some(init.clone()),
            started_at: None,
            finished_at: None,
            exit: None,
            oom_killed: false,
            starting: false,
        }),
        changed: Default::default(),
        stdin: StdinSlot::new(stdin_w, req.stdin_once),
        pty,
        oom_reported: Default::default(),
        dropped_before_start: Default::default(),
        oom_base: cgroup
            .as_ref()
            .and_then(CgroupPaths::oom_kills)
            .unwrap_or(0),
        cgroup,
    });
    container.oom_reported.set(container.oom_base);
    pod.containers
        .borrow_mut()
        .insert(id.clone(), container.clone());
    let oom_task = container
        .cgroup
        .as_ref()
        .and_then(|paths| match OomWatch::new(paths) {
            Ok(w) => Some(reactor::spawn(watch_oom(pod.clone(), container.clone(), w))),
            Err(e) => {
                log::warn!("container {id}: no OOM notifications: {e}");
                None
            }
        });
    reactor::spawn(monitor(pod.clone(), container.clone(), init, oom_task));
    pod.events.emit(Event::new(EventKind::Created, id));
    log::info!("created container {id} (pid {pid})");
    Ok(container)
}

/// Emits `logDropped`.
fn emit_dropped(pod: &Pod, id: &str, bytes: u64) {
    pod.events
        .emit(Event::new(EventKind::LogDropped { bytes }, id));
}

/// Emits an `oom` event whenever the container's cgroup counts a new OOM kill.
async fn watch_oom(pod: Rc<Pod>, c: Rc<Container>, w: OomWatch) {
    loop {
        if let Err(e) = w.changed().await {
            log::debug!("container {}: OOM watch ended: {e}", c.id);
            return;
        }
        report_oom(&pod, &c);
    }
}

/// Emits an `oom` event if the cgroup counts more OOM kills than reported.
/// Called by the watcher and once more at exit, in case the kernel's
/// notification had not been read yet.
fn report_oom(pod: &Pod, c: &Container) {
    let Some(now) = c.cgroup.as_ref().and_then(CgroupPaths::oom_kills) else {
        return;
    };
    if now > c.oom_reported.get() {
        c.oom_reported.set(now);
        log::warn!("container {}: the OOM killer killed a process", c.id);
        pod.events.emit(Event::new(EventKind::Oom, &c.id));
    }
}

/// Waits for the init process to exit, then for its output to reach the
/// log, then records the exit and tells the waiters.
async fn monitor(
    pod: Rc<Pod>,
    c: Rc<Container>,
    init: Rc<Watched>,
    oom_task: Option<reactor::TaskId>,
) {
    let status = match init.wait().await {
        Ok(s) => s,
        Err(e) => {
            log::error!("container {}: waiting for pid {}: {e}", c.id, init.pid());
            ExitInfo::UNKNOWN
        }
    };
    {
        let mut st = c.state.borrow_mut();
        st.process = None;
        st.finished_at = Some(SystemTime::now());
        st.exit = Some(status);
        // Killed by SIGKILL while its cgroup counted a new OOM kill: the OOM
        // killer did it.
        st.oom_killed = status.signal == Some(libc::SIGKILL)
            && c.cgroup
                .as_ref()
                .and_then(CgroupPaths::oom_kills)
                .is_some_and(|n| n > c.oom_base);
    }
    if let Some(t) = oom_task {
        reactor::abort(t);
    }
    report_oom(&pod, &c);
    // A StartContainer in flight reports `started` first.
    c.changed
        .wait_until(|| (!c.state.borrow().starting).then_some(()))
        .await;
    log::info!("container {} exited: {}", c.id, status.exit_code());
    // Wait for the pipes to close and everything to be written. Only a
    // pipe that stays open with nothing coming (held by a process outside
    // the container) ends the wait early; a slow drain (a rate limit) is
    // waited for.
    let mut seen = c.log.bytes_read();
    while sync::timeout(DRAIN_TIMEOUT, c.log.drained())
        .await
        .is_none()
    {
        let now = c.log.bytes_read();
        if now == seen {
            log::warn!(
                "container {}: output pipes open and idle {}s after exit; reporting the exit",
                c.id,
                DRAIN_TIMEOUT.as_secs()
            );
            c.log.flushed().await;
            break;
        }
        seen = now;
    }
    if let Some(dir) = &pod.config.exit_dir
        && let Err(e) = write_atomically(dir, &c.id, &status.exit_code().to_string())
    {
        log::error!("container {}: exit file: {e}", c.id);
    }
    if let Some(dir) = &pod.config.oom_dir
        && c.state.borrow().oom_killed
        && let Err(e) = write_atomically(dir, &c.id, "")
    {
        log::error!("container {}: oom file: {e}", c.id);
    }
    c.state.borrow_mut().status = Status::Stopped;
    c.changed.notify_all();
    let oom_killed = c.state.borrow().oom_killed;
    pod.events.emit(Event::new(
        EventKind::Exited {
            exit: status,
            oom_killed,
        },
        &c.id,
    ));
}

/// Writes `<dir>/<id>` atomically (temp file, rename), as conmon does its
/// exit files, so readers never see a partial file.
fn write_atomically(dir: &Path, id: &str, contents: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{id}.tmp"));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, dir.join(id))
}

/// Starts a created container's process.
pub async fn start(pod: &Pod, id: &str) -> Result<Rc<Container>, PodError> {
    let c = pod.get(id)?;
    let status = c.status();
    if status != Status::Created {
        return Err(PodError::InvalidState {
            id: id.to_owned(),
            status,
            reason: "only a created container can be started".into(),
        });
    }
    {
        // The process may run (and exit) before `runtime start` returns:
        // the start time is taken now, and the monitor holds the exit back
        // until `started` is out, so events and times stay in order.
        let mut st = c.state.borrow_mut();
        if st.starting {
            return Err(PodError::InvalidState {
                id: id.to_owned(),
                status,
                reason: "it is being started".into(),
            });
        }
        st.starting = true;
        st.started_at = Some(SystemTime::now());
    }
    let result = run_runtime(pod, "start", pod.config.runtime.start_args(id)).await;
    {
        let mut st = c.state.borrow_mut();
        st.starting = false;
        match &result {
            Err(_) => st.started_at = None,
            // It may have exited already; the monitor then owns the status.
            Ok(_) if st.status == Status::Created && st.exit.is_none() => {
                st.status = Status::Running
            }
            Ok(_) => {}
        }
    }
    if result.is_ok() {
        pod.events.emit(Event::new(EventKind::Started, id));
    }
    let held = c.dropped_before_start.take();
    if held > 0 {
        emit_dropped(pod, id, held);
    }
    c.changed.notify_all();
    result.map(|_| c)
}

/// Sends a signal to the init process (through its pidfd), or to every
/// process of the container (through the runtime) when `all`.
pub async fn kill(pod: &Pod, id: &str, signal: i32, all: bool) -> Result<(), PodError> {
    let c = pod.get(id)?;
    let init = c.state.borrow().process.clone();
    let Some(init) = init else {
        return Err(PodError::InvalidState {
            id: id.to_owned(),
            status: c.status(),
            reason: "its process has exited".into(),
        });
    };
    if all {
        run_runtime(pod, "kill", pod.config.runtime.kill_args(id, signal, true)).await?;
    } else {
        init.signal(signal)
            .map_err(|e| PodError::system(format!("signal {signal} to pid {}", init.pid()), e))?;
    }
    Ok(())
}

/// Waits until the container is stopped (its exit recorded and its log complete).
pub async fn wait(pod: &Pod, id: &str) -> Result<Rc<Container>, PodError> {
    let c = pod.get(id)?;
    c.changed
        .wait_until(|| (c.status() == Status::Stopped).then_some(()))
        .await;
    Ok(c)
}

/// Deletes a container: runtime state, podmon's directory, the record.
pub async fn delete(pod: &Pod, id: &str, force: bool) -> Result<(), PodError> {
    let c = pod.get(id)?;
    let status = c.status();
    if status == Status::Running && !force {
        return Err(PodError::InvalidState {
            id: id.to_owned(),
            status,
            reason: "stop it first, or delete with force".into(),
        });
    }
    if status != Status::Stopped {
        // A created or running container: the runtime kills it.
        run_runtime(pod, "delete", pod.config.runtime.delete_args(id, true)).await?;
        if sync::timeout(DRAIN_TIMEOUT * 2, wait(pod, id))
            .await
            .is_none()
        {
            return Err(PodError::System(format!(
                "container {id} did not stop after SIGKILL"
            )));
        }
    } else if let Err(e) =
        run_runtime(pod, "delete", pod.config.runtime.delete_args(id, false)).await
    {
        // Already gone from the runtime is fine; anything else is reported.
        match &e {
            PodError::Runtime { message, .. }
                if message.contains("does not exist") || message.contains("not exist") => {}
            _ => return Err(e),
        }
    }
    pod.containers.borrow_mut().remove(id);
    if let Err(e) = std::fs::remove_dir_all(&c.dir) {
        log::warn!("removing {}: {e}", c.dir.display());
    }
    pod.events.emit(Event::new(EventKind::Deleted, id));
    log::info!("deleted container {id}");
    Ok(())
}

/// How long containers get to exit after SIGTERM when the monitor stops.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stops the pod: SIGTERM to every container still alive, SIGKILL after a
/// grace period, then deletes them all from the runtime, so no container
/// outlives its monitor (its output pipes would break) and no cgroup stays.
pub async fn shutdown(pod: &Pod) {
    let all = pod.list();
    for c in &all {
        if let Some(p) = c.state.borrow().process.clone() {
            let _ = p.signal(libc::SIGTERM);
        }
    }
    let deadline = std::time::Instant::now() + STOP_GRACE;
    for c in &all {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if sync::timeout(left, wait(pod, &c.id)).await.is_none() {
            log::warn!(
                "container {} ignored SIGTERM for {}s: SIGKILL",
                c.id,
                STOP_GRACE.as_secs()
            );
            if let Some(p) = c.state.borrow().process.clone() {
                let _ = p.signal(libc::SIGKILL);
            }
        }
    }
    for c in &all {
        if let Err(e) = delete(pod, &c.id, true).await {
            log::warn!("deleting container {}: {e}", c.id);
        }
    }
    remove_pod_cgroups(&pod.config.name);
}

/// Removes the pod's parent cgroups (`/podmon/<pod>` in every hierarchy),
/// which the runtime leaves behind when it deletes a container's own.
fn remove_pod_cgroups(pod: &str) {
    let Ok(roots) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut candidates: Vec<PathBuf> = vec![PathBuf::from("/sys/fs/cgroup")];
    candidates.extend(roots.flatten().map(|e| e.path()));
    for root in candidates {
        let dir = root.join("podmon").join(pod);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
            let _ = std::fs::remove_dir(root.join("podmon"));
        }
    }
}
