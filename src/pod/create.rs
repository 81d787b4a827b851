//! CreateContainer: the bundle, the runtime's `create` with the container's
//! stdout and stderr on pipes that feed its log, and the record plus the
//! monitor task that watches its init process.
//!
//! A create runs as a task of its own (`detach`): a client that hangs up
//! cannot stop it halfway. It ends with the container in the pod's table
//! (listed, and deleted at shutdown when the monitor stops its containers)
//! or rolled back: no runtime record, no directory, no reservation.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;

use super::container::{Container, Parts};
use super::detach::detached;
use super::events::{Event, EventKind};
use super::request::{self, CreateRequest};
use super::status::State;
use super::stdin::StdinSlot;
use super::stdio::ProcessStdio;
use super::{Pod, PodError, Status, bundle, monitor, persist};
use crate::logs::LogSink;
use crate::logs::cri::Stream;
use crate::logs::driver::LogDriver;
use crate::logs::journal::Identity;
use crate::logs::open::{self, DriverSpec};
use crate::oci::driver::DriverError;
use crate::oci::driver::Launch;
use crate::sys::capture::read_available;
use crate::sys::error::SysError;
use crate::sys::process::Watched;

/// Most bytes of the runtime's stderr added to a failure.
const STDERR_CAP: usize = 16 << 10;

/// Removes an id reservation when creation ends, however it ends.
struct Reservation<'a> {
    pod: &'a Pod,
    id: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pod.reserved.borrow_mut().remove(&self.id);
        self.pod.reserved_changed.notify_all();
    }
}

/// The descriptors a CreateContainer call passed.
#[derive(Debug, Default)]
pub struct CreateFds {
    /// Passed into the container as its fds 3, 4, ... (closed here once
    /// the runtime has them).
    pub preserve: Vec<OwnedFd>,
    /// Kept open until the container has exited, then closed.
    pub hold: Vec<OwnedFd>,
}

/// Creates a container: writes or checks its bundle, runs `runtime create`
/// with the container's stdout and stderr on pipes that feed its log, and
/// starts watching its init process. Runs to its end (or its rollback) even
/// if the caller stops waiting.
pub async fn create(
    pod: &Rc<Pod>,
    req: CreateRequest,
    fds: CreateFds,
) -> Result<Rc<Container>, PodError> {
    let pod = pod.clone();
    detached(async move { create_now(&pod, req, fds).await }).await
}

async fn create_now(
    pod: &Rc<Pod>,
    req: CreateRequest,
    fds: CreateFds,
) -> Result<Rc<Container>, PodError> {
    request::check_values(&req)?;
    if let Some(kill_containers) = pod.stopping() {
        return Err(PodError::ShuttingDown(kill_containers));
    }
    let id = req.id.clone();
    if pod.containers.borrow().contains_key(&id) || !pod.reserved.borrow_mut().insert(id.clone()) {
        return Err(PodError::ContainerExists(id));
    }
    let _reservation = Reservation {
        pod,
        id: id.clone(),
    };

    // A container the runtime knows and we do not is not ours to touch.
    if pod.driver.state(&id).await?.is_some() {
        return Err(PodError::ContainerExists(id));
    }
    let dir = pod.config.state_dir.join("containers").join(&id);
    // A directory with a record is a container this monitor could not
    // re-adopt (a record it cannot read, say): not ours to remove. One
    // without is what a create that never finished left.
    if dir.join(super::state::store::RECORD).exists() {
        log::warn!(
            "container {id}: {} holds a record this monitor did not adopt: create refused",
            dir.display()
        );
        return Err(PodError::ContainerExists(id));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut mkdir = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(mkdir.recursive(true), 0o700);
    mkdir
        .create(&dir)
        .map_err(|e| SysError::at("creating", &dir, &e))?;
    let result = create_in(pod, &req, &dir, fds).await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// The log drivers a CreateContainer asked for: a file that cannot be
/// opened, or a journal socket nobody listens on, fails the create with
/// `SystemError` naming the path and errno (ENOENT, ECONNREFUSED).
fn log_driver(pod: &Pod, req: &CreateRequest) -> Result<Box<dyn LogDriver>, PodError> {
    let file = pod.config.log_dir.join(format!("{}.log", req.id));
    let spec = DriverSpec {
        kind: req.log.driver,
        file: &file,
        max_line: req.log.max_line.unwrap_or(crate::logs::DEFAULT_MAX_LINE),
        rotation: req.log.rotation,
        journal: &pod.config.journal_socket,
        identity: Identity::new(&req.id, req.log.tag.as_deref()),
    };
    open::drivers(&spec, false).map_err(|f| SysError::at(f.op, &f.path, &f.error).into())
}

/// What `runtime create` brought: the init process, its pty, podmon's ends.
struct Created {
    init: Watched,
    pty: Option<Rc<std::os::fd::OwnedFd>>,
    stdio: ProcessStdio,
}

/// Runs `runtime create` for the bundle; returns the watched init process
/// and podmon's ends of its stdio.
async fn run_create(
    pod: &Pod,
    req: &CreateRequest,
    dir: &Path,
    bundle: &Path,
    preserve_fds: Vec<OwnedFd>,
) -> Result<Created, PodError> {
    let terminal = bundle::wants_terminal(bundle)?;
    let mut stdio = ProcessStdio::new(terminal, req.stdin)?;
    let launch = Launch {
        dir,
        stdio: std::mem::take(&mut stdio.runtime),
        terminal,
        deadline: None,
        preserve_fds,
    };
    let launched = match pod.driver.create(&req.id, bundle, launch).await {
        Ok(l) => l,
        Err(e) => return Err(with_stderr(e, &stdio).into()),
    };
    let mut pty = None;
    if let Some(master) = launched.pty {
        stdio.use_pty(&master, req.stdin)?;
        pty = Some(Rc::new(master));
    }
    Ok(Created {
        init: launched.process,
        pty,
        stdio,
    })
}

/// A runtime failure with what the runtime wrote to the new process's
/// stderr (and stdout) pipes, which podmon's ends still hold.
pub(super) fn with_stderr(e: DriverError, stdio: &ProcessStdio) -> DriverError {
    let DriverError::Failed(mut f) = e else {
        return e;
    };
    for fd in [&stdio.stderr, &stdio.stdout].into_iter().flatten() {
        f = f.with_stderr(&read_available(fd.as_fd(), STDERR_CAP));
    }
    DriverError::Failed(f)
}

async fn create_in(
    pod: &Rc<Pod>,
    req: &CreateRequest,
    dir: &Path,
    fds: CreateFds,
) -> Result<Rc<Container>, PodError> {
    let id = &req.id;
    let bundle = bundle::prepare(pod, dir, req)?;
    let driver = log_driver(pod, req)?;
    let Created {
        init,
        pty,
        mut stdio,
    } = run_create(pod, req, dir, &bundle, fds.preserve).await?;
    let pid = init.pid();
    keep_fds(pod, id, &stdio, pty.as_deref());
    let outputs = [
        stdio.stdout.take().map(|fd| (Stream::Stdout, fd)),
        stdio.stderr.take().map(|fd| (Stream::Stderr, fd)),
    ];
    let log = LogSink::start(
        driver,
        outputs.into_iter().flatten().collect(),
        req.log.limit,
        req.log.sync,
    );
    report_drops(pod, id, &log);
    let cgroup = match crate::cgroups::locate::paths_for_pid(pid) {
        Ok(p) => Some(p),
        Err(e) => {
            log::warn!(
                "container {id}: no cgroup found for pid {pid}: {e}; no stats or OOM detection"
            );
            None
        }
    };
    let init = Rc::new(init);
    let settings = persist::settings(pod, req, pid);
    let container = Container::assemble(Parts {
        id: id.clone(),
        bundle,
        dir: dir.to_owned(),
        created_at: SystemTime::now(),
        log,
        state: State {
            status: Status::Created,
            process: Some(init.clone()),
            started_at: None,
            finished_at: None,
            exit: None,
            oom_killed: false,
            starting: false,
        },
        stdin: StdinSlot::new(stdio.stdin.take(), req.stdin_once),
        pty,
        cgroup,
        settings,
    });
    pod.containers
        .borrow_mut()
        .insert(id.clone(), container.clone());
    pod.deleted_logs.forget(id);
    persist::save(pod, &container);
    monitor::watch(pod, &container, monitor::Init::Watch(init));
    hold_until_exit(&container, fds.hold);
    pod.events.emit(Event::new(EventKind::Created, id));
    log::info!("created container {id} (pid {pid})");
    Ok(container)
}

/// Keeps `fds` open until the container has stopped (its exit recorded:
/// every delete and the pod's shutdown pass there), then closes them.
fn hold_until_exit(c: &Rc<Container>, fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    let c = c.clone();
    crate::reactor::spawn(async move {
        c.changed
            .wait_until(|| (c.status() == Status::Stopped).then_some(()))
            .await;
        log::debug!("container {}: closing {} held descriptors", c.id, fds.len());
        drop(fds);
    });
}

/// Hands the container's pipe ends (or its pty master) to the service
/// manager's store, before the log takes them.
fn keep_fds(pod: &Pod, id: &str, stdio: &ProcessStdio, pty: Option<&std::os::fd::OwnedFd>) {
    use super::fdstore::{self, Role};
    let fds: Vec<(Role, std::os::fd::BorrowedFd<'_>)> = match pty {
        Some(master) => vec![(Role::Pty, master.as_fd())],
        None => [
            (Role::Output(Stream::Stdout), stdio.stdout.as_ref()),
            (Role::Output(Stream::Stderr), stdio.stderr.as_ref()),
            (Role::Stdin, stdio.stdin.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, fd)| fd.map(|fd| (role, fd.as_fd())))
        .collect(),
    };
    fdstore::keep(pod, id, &fds);
}

/// Turns the log's dropped bytes into `logDropped` events.
fn report_drops(pod: &Rc<Pod>, id: &str, log: &LogSink) {
    let events = Rc::downgrade(pod);
    let id = id.to_owned();
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

/// Emits `logDropped`.
pub(super) fn emit_dropped(pod: &Pod, id: &str, bytes: u64) {
    pod.events
        .emit(Event::new(EventKind::LogDropped { bytes }, id));
}
