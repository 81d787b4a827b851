//! `podmon serve`: sets the process up as the pod's monitor and runs the
//! event loop: the Varlink listener, the connections, and signals.

mod accept;
pub mod access;
mod activation;
mod conn;
mod lock;
mod socket;
mod upgrade;

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::oci::runtime::Runtime;
use crate::pod::sandbox::{SandboxError, SandboxSpec};
use crate::pod::{ExitRequest, Pod, PodConfig, limits};
use crate::reactor::sync::{Either, select};
use crate::reactor::{self, ops};
use crate::sys::files::{self, FileError, PRIVATE_DIR};
use crate::sys::idmap::{self, IdMaps};
use crate::sys::ns::{self, NsChoice, NsKind, NsOptionError};
use crate::sys::reexec;
use crate::sys::sdnotify::{Notifier, State};
use crate::sys::sigwatch::SignalWatch;
use access::AccessConfig;
use activation::{Activation, ActivationError, Passed};
use lock::LockError;
use socket::{BoundSocket, SocketError};

/// Everything `podmon serve` needs, after defaults are applied.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The pod's name.
    pub pod: String,
    /// The Varlink socket path (ignored when a socket is passed in LISTEN_FDS).
    pub socket: PathBuf,
    /// An explicit runtime binary; else crun, then runc, from PATH.
    pub runtime: Option<PathBuf>,
    /// The deadline of every runtime invocation.
    pub runtime_timeout: Duration,
    /// How many runtime processes run at once (`oci::limit`).
    pub runtime_concurrency: usize,
    /// podmon's state directory for the pod.
    pub state_dir: PathBuf,
    /// Where container logs go.
    pub log_dir: PathBuf,
    /// The journal's native socket (the journald log driver's).
    pub journal_socket: PathBuf,
    /// Where exit-code files go, if anywhere.
    pub exit_dir: Option<PathBuf>,
    /// Where OOM marker files go, if anywhere.
    pub oom_dir: Option<PathBuf>,
    /// Who may connect, and with which role.
    pub access: AccessConfig,
    /// On SIGTERM or SIGINT, stop and delete the pod's containers before
    /// exiting; without it they are left running (the engine's choice).
    pub kill_on_exit: bool,
    /// A pinned network namespace the pod joins (`--netns`, the older
    /// spelling of `--namespaces net=PATH`), if any.
    pub netns: Option<PathBuf>,
    /// The pod's shared namespaces, as given on the command line.
    pub sandbox: SandboxOptions,
}

/// `--namespaces`, `--sysctl`, `--hostname`, `--ns-base` as typed; parsed
/// and checked by [`serve`] before anything starts.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// `net,ipc,uts[,pid]`, each also `KIND=host` or `KIND=/path`.
    pub namespaces: Option<String>,
    /// `KEY=VALUE` entries.
    pub sysctls: Vec<String>,
    /// The host name of a new UTS namespace.
    pub hostname: Option<String>,
    /// The pins' base directory.
    pub base: PathBuf,
    /// `--uid-map` entries, `C:H:N`.
    pub uid_maps: Vec<String>,
    /// `--gid-map` entries.
    pub gid_maps: Vec<String>,
}

impl SandboxOptions {
    /// The checked sandbox spec; `netns` (the older `--netns PATH`) is
    /// `net=PATH`.
    fn spec(&self, netns: Option<&Path>) -> Result<SandboxSpec, SandboxError> {
        let mut namespaces = match &self.namespaces {
            Some(s) => ns::parse_namespaces(s)?,
            None => Vec::new(),
        };
        if let Some(p) = netns {
            if namespaces.iter().any(|(k, _)| *k == NsKind::Net) {
                return Err(NsOptionError::Twice("net").into());
            }
            namespaces.push((NsKind::Net, NsChoice::Join(p.to_owned())));
        }
        let spec = SandboxSpec {
            namespaces,
            sysctls: self
                .sysctls
                .iter()
                .map(|s| ns::parse_sysctl(s))
                .collect::<Result<_, _>>()?,
            hostname: self.hostname.clone(),
            base: self.base.clone(),
            id_maps: self.id_maps()?,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl SandboxOptions {
    /// The parsed id maps: none when neither option is given.
    fn id_maps(&self) -> Result<Option<IdMaps>, NsOptionError> {
        if self.uid_maps.is_empty() && self.gid_maps.is_empty() {
            return Ok(None);
        }
        Ok(Some(IdMaps {
            uid: idmap::parse_all("uid", &self.uid_maps)?,
            gid: idmap::parse_all("gid", &self.gid_maps)?,
        }))
    }
}

/// The first argument of the pod's init mode (see [`run_pod_init`]).
pub const POD_INIT_ARG: &str = crate::pod::sandbox::init::INIT_ARG;

/// The pod's init mode of the binary: the monitor clones it into the pod's
/// new namespaces; it sets them up and holds them, reaping, until SIGTERM.
pub fn run_pod_init(args: &[String]) -> i32 {
    crate::pod::sandbox::init::run(args)
}

/// Why the monitor could not start (it never panics for these).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A directory could not be created or is not safe to use.
    #[error(transparent)]
    Dir(#[from] FileError),
    /// The state directory lets others write in it: they could plant files
    /// where podmon and the runtime keep theirs.
    #[error(
        "state directory {} has mode {mode:o}: others may write in it; give one only root can write to",
        path.display()
    )]
    StateDirUnsafe {
        /// The state directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Another monitor holds the state directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// No usable OCI runtime.
    #[error(transparent)]
    Runtime(#[from] crate::oci::runtime::RuntimeLocateError),
    /// The socket could not be set up.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The descriptors passed by the service manager are unusable.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// Process setup (subreaper, signals) failed.
    #[error("{0}: {1}")]
    Setup(&'static str, io::Error),
    /// The event loop could not run.
    #[error(transparent)]
    Loop(#[from] reactor::RunError),
    /// The pod's namespaces could not be made (or an option was refused).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The event journal in the state directory could not be read.
    #[error("event journal: {0}")]
    Journal(#[from] crate::pod::journal::JournalError),
}

/// Entries in the io_uring submission queue: what one turn of the loop
/// submits; a full queue is flushed and refilled (64 x 64-byte entries).
const RING_ENTRIES: u32 = 64;

/// How long the monitor of one accepted connection (`Accept=yes`) waits
/// for the previous connection's monitor to release the state directory:
/// connections are served in turn, not refused while the last one exits.
const ONE_CONNECTION_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Takes the state directory's lock; with `wait`, retries every 20 ms
/// until it is free or `wait` is over (at start-up, before the loop).
fn lock_state(
    dir: &std::os::fd::OwnedFd,
    path: &Path,
    wait: Option<Duration>,
) -> Result<lock::StateLock, LockError> {
    let end = std::time::Instant::now() + wait.unwrap_or_default();
    loop {
        match lock::lock(dir, path) {
            Err(LockError::InUse { .. }) if std::time::Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The directories of the pod, created with their modes (or checked),
/// and the state directory locked (waiting up to `lock_wait` for it);
/// returns the lock, held until exit.
fn prepare_dirs(
    cfg: &ServeConfig,
    activated: bool,
    lock_wait: Option<Duration>,
) -> Result<lock::StateLock, ServeError> {
    let group = cfg.access.group().map(rustix::fs::Gid::from_raw);
    let shared = if group.is_some() { 0o750 } else { PRIVATE_DIR };
    // The socket's directory first (the state directory may be inside it),
    // made if missing; an existing one is the administrator's, left as is.
    if !activated
        && let Some(parent) = cfg.socket.parent().filter(|p| !p.as_os_str().is_empty())
        && std::fs::symlink_metadata(parent).is_err()
    {
        files::ensure_dir(parent, socket::socket_dir_mode(&cfg.access), group)?;
    }
    let state = files::ensure_dir(&cfg.state_dir, PRIVATE_DIR, None)?;
    if state.mode & 0o022 != 0 {
        return Err(ServeError::StateDirUnsafe {
            path: cfg.state_dir.clone(),
            mode: state.mode,
        });
    }
    let held = lock_state(&state.fd, &cfg.state_dir, lock_wait)?;
    for sub in ["runtime", "containers"] {
        files::ensure_dir(&cfg.state_dir.join(sub), PRIVATE_DIR, None)?;
    }
    for d in [
        Some(&cfg.log_dir),
        cfg.exit_dir.as_ref(),
        cfg.oom_dir.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        let dir = files::ensure_dir(d, shared, group)?;
        if !dir.created && dir.mode & 0o022 != 0 {
            log::warn!(
                "{} has mode {:o}: others may write in it (podmon follows no link they plant)",
                d.display(),
                dir.mode
            );
        }
    }
    Ok(held)
}

/// Runs the monitor until SIGTERM or SIGINT or a `Shutdown` call, then
/// exits, stopping and deleting the pod's containers only when asked to
/// (`--kill-on-exit`, `Shutdown(killContainers: true)`).
pub fn serve(cfg: ServeConfig) -> Result<(), ServeError> {
    // Refused options end the start before anything is made.
    let sandbox_spec = cfg.sandbox.spec(cfg.netns.as_deref())?;
    // First, before anything opens a descriptor or reads the environment.
    let Activation {
        listener: activated,
        // A previous monitor's container descriptors, by name, for the
        // re-adoption of its containers.
        inherited,
    } = Activation::from_env()?;
    // Set when this process exec'd itself (a live upgrade): the path of
    // the socket it had bound and now passed as "varlink".
    let taken_over = std::env::var_os(reexec::SOCKET_VAR)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    // Before anything could switch namespaces: PortForward's way back.
    if let Err(e) = crate::sys::netns::remember_own() {
        log::warn!("{e}: PortForward will fail");
    }
    if let Err(e) = reexec::remember_image() {
        log::warn!("{e}: live upgrades will fail");
    }
    let notifier = Rc::new(Notifier::from_env().unwrap_or_else(|e| {
        log::warn!("{e}: not notifying the service manager");
        Notifier::none()
    }));
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| ServeError::Setup("PR_SET_CHILD_SUBREAPER", e.into()))?;
    // Before anything is forked: children start in the monitor's cgroup.
    let cgroup_parent = containers_cgroup(&cfg.pod);
    reactor::init(RING_ENTRIES).map_err(reactor::RunError::from)?;
    let lock_wait =
        matches!(activated, Some(Passed::Connected(_))).then_some(ONE_CONNECTION_LOCK_WAIT);
    let _lock = prepare_dirs(&cfg, activated.is_some(), lock_wait)?;
    let runtime = Runtime::locate(cfg.runtime.as_deref(), cfg.state_dir.join("runtime"))?
        .with_timeout(cfg.runtime_timeout)
        .with_concurrency(cfg.runtime_concurrency);
    // The pod's namespaces, made (or re-adopted) before the socket is bound.
    let sandbox = crate::pod::sandbox::open(&sandbox_spec, &cfg.pod, &cfg.state_dir)?;
    let Serving {
        fd: listener,
        one,
        bound,
    } = serving_socket(&cfg, activated, taken_over.as_deref())?;
    let signals = SignalWatch::new().map_err(|e| ServeError::Setup("signalfd", e))?;
    let pod = Pod::new(PodConfig {
        name: cfg.pod.clone(),
        runtime,
        state_dir: cfg.state_dir.clone(),
        log_dir: cfg.log_dir.clone(),
        journal_socket: cfg.journal_socket.clone(),
        exit_dir: cfg.exit_dir.clone(),
        oom_dir: cfg.oom_dir.clone(),
        notifier: notifier.clone(),
        cgroup_parent,
    })?;
    let claimed = crate::pod::open_state(&pod);
    pod.set_sandbox(sandbox);
    let on = match (one, &bound) {
        (true, _) => "one accepted connection".to_owned(),
        (false, Some(b)) => b.path().display().to_string(),
        (false, None) => "an activated socket".to_owned(),
    };
    let serving = format!("pod {} serving on {on}", cfg.pod);
    log::info!("{serving} with {}", pod.config.runtime.path.display());
    let kill_on_exit = cfg.kill_on_exit;
    let socket = bound.as_ref().map(|b| b.path().to_owned());
    let result = reactor::run(async move {
        // Startup's code (argument parsing, setup) does not stay resident.
        crate::sys::resident::shed();
        let running = Running {
            pod,
            listener: Rc::new(listener),
            one,
            socket,
            notifier,
            serving,
            conns: Default::default(),
        };
        running
            .serve(claimed, inherited, signals, kill_on_exit, cfg.access)
            .await;
        reactor::stop();
    });
    if let Some(b) = bound {
        b.remove();
    }
    result.map_err(Into::into)
}

/// The Varlink socket: one to accept on, or a single connection a
/// service manager accepted (`Accept=yes`).
struct Serving {
    fd: OwnedFd,
    /// `fd` is one accepted connection.
    one: bool,
    /// The socket file when this monitor bound it (or took it over at a
    /// live upgrade), removed at exit.
    bound: Option<BoundSocket>,
}

/// The passed socket, or else `--socket` bound. An activated socket keeps
/// the mode its service manager gave it.
fn serving_socket(
    cfg: &ServeConfig,
    activated: Option<Passed>,
    taken_over: Option<&Path>,
) -> Result<Serving, ServeError> {
    Ok(match activated {
        Some(Passed::Listening(fd)) => Serving {
            fd,
            one: false,
            bound: taken_over.and_then(BoundSocket::taken_over),
        },
        Some(Passed::Connected(fd)) => Serving {
            fd,
            one: true,
            bound: None,
        },
        None => {
            let (fd, b) = socket::bind(&cfg.socket, &cfg.access)?;
            Serving {
                fd,
                one: false,
                bound: Some(b),
            }
        }
    })
}

/// The monitor once set up: what its main task needs until the exit.
struct Running {
    pod: Rc<Pod>,
    /// The listening socket, or the one connection when `one`.
    listener: Rc<OwnedFd>,
    /// Whether `listener` is a connection accepted by the service manager
    /// (served alone; the monitor exits when it closes).
    one: bool,
    /// "pod P serving on S", the start of the `STATUS=` line.
    serving: String,
    /// The socket's path when this monitor bound it.
    socket: Option<PathBuf>,
    notifier: Rc<Notifier>,
    conns: Rc<accept::Connections>,
}

impl Running {
    /// Re-adopts, serves until an exit is asked for, and exits that way.
    async fn serve(
        self,
        claimed: Vec<crate::pod::adopt::Claimed>,
        inherited: crate::sys::listen_fds::ListenFds,
        signals: SignalWatch,
        kill_on_exit: bool,
        access: AccessConfig,
    ) {
        let pod = &self.pod;
        if let Some(interval) = crate::sys::sdnotify::watchdog_from_env()
            && self.notifier.is_active()
        {
            reactor::spawn(activation::keep_watchdog(self.notifier.clone(), interval));
        }
        // Connections queue in the listener's backlog meanwhile.
        crate::pod::adopt::adopt(pod, claimed, inherited).await;
        if let Some(sb) = pod.sandbox() {
            reactor::spawn(sb.watch_init());
        }
        // Ready (READY=1) once re-adopted: what is accepted from now on is
        // served at once.
        reactor::spawn(activation::report_status(
            pod.clone(),
            self.notifier.clone(),
            self.serving.clone(),
        ));
        let acceptor = if self.one {
            reactor::spawn(accept::serve_one(
                pod.clone(),
                self.listener.clone(),
                access,
                kill_on_exit,
            ))
        } else {
            reactor::spawn(accept::accept_loop(
                pod.clone(),
                self.listener.clone(),
                access,
                self.conns.clone(),
            ))
        };
        match until_exit(pod, signals, kill_on_exit, acceptor).await {
            ExitRequest::Stop {
                kill_containers,
                grace,
            } => {
                let status = if kill_containers {
                    "stopping the pod's containers"
                } else {
                    "exiting, leaving the pod's containers running"
                };
                activation::tell(&self.notifier, &[State::Stopping, State::Status(status)]);
                reactor::abort(acceptor);
                crate::pod::lifecycle::shutdown(pod, kill_containers, grace).await;
            }
            ExitRequest::Reexec => {
                activation::tell(
                    &self.notifier,
                    &[State::Status("upgrading: exec'ing the binary on disk")],
                );
                reactor::abort(acceptor);
                upgrade::upgrade(
                    pod,
                    upgrade::Handover {
                        listener: &self.listener,
                        socket: self.socket.as_deref(),
                        conns: &self.conns,
                    },
                )
                .await;
            }
        }
    }
}

/// The parent of the containers' cgroups: under the unit's own cgroup when
/// podmon runs as a systemd service (moving itself to `UNIT/monitor`), else
/// `/podmon/POD`. A failed move is logged and falls back to the latter.
fn containers_cgroup(pod: &str) -> String {
    use crate::cgroups::unit;
    let fallback = format!("/podmon/{pod}");
    let Some(u) = unit::detect() else {
        return fallback;
    };
    match unit::move_self(&u) {
        Ok(()) => {
            log::info!(
                "running as systemd unit {}: podmon in {}, containers under {}",
                u.path,
                u.monitor(),
                u.containers_parent()
            );
            u.containers_parent()
        }
        Err(e) => {
            log::warn!("{e}: containers go to {fallback}, outside the unit's cgroup");
            fallback
        }
    }
}

/// Waits for the first of SIGTERM/SIGINT and an exit request (a Shutdown
/// call), then for every Shutdown still running to end; returns how to
/// exit. A signal stops accepting at once and asks for the exit
/// `--kill-on-exit` says. Signals are read (strays reaped) to the end.
async fn until_exit(
    pod: &Pod,
    mut signals: SignalWatch,
    kill_on_exit: bool,
    acceptor: reactor::TaskId,
) -> ExitRequest {
    let first = select(handle_signals(&mut signals), pod.exit_requested()).await;
    reactor::spawn(async move {
        loop {
            let sig = handle_signals(&mut signals).await;
            log::info!("signal {sig}: already exiting");
        }
    });
    match first {
        Either::Left(libc::SIGHUP) => {
            log::info!("SIGHUP: upgrading (exec'ing the binary on disk)");
            reactor::abort(acceptor);
            pod.request_exit(ExitRequest::Reexec);
            pod.exit_requested().await
        }
        Either::Left(sig) => {
            if kill_on_exit {
                log::info!("signal {sig}: stopping the pod's containers and exiting");
            } else {
                log::info!(
                    "signal {sig}: exiting, leaving the pod's containers running (--kill-on-exit would stop them)"
                );
            }
            reactor::abort(acceptor);
            pod.request_exit(ExitRequest::Stop {
                kill_containers: kill_on_exit,
                grace: Duration::from_secs(limits::SHUTDOWN_TIMEOUT_DEFAULT.unsigned_abs()),
            });
            pod.exit_requested().await
        }
        Either::Right(request) => request,
    }
}

/// Reads signals until SIGTERM or SIGINT, which it returns: SIGCHLD reaps
/// strays, SIGHUP is ignored.
async fn handle_signals(signals: &mut SignalWatch) -> i32 {
    loop {
        let got = match signals.next().await {
            Ok(s) => s,
            Err(e) => {
                log::error!("reading signals: {e}");
                ops::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        for sig in got {
            match sig {
                libc::SIGCHLD => crate::sys::process::reap_strays(),
                libc::SIGHUP => match crate::sys::reexec::check_image() {
                    Ok(_) => return sig,
                    Err(e) => log::error!("SIGHUP: no upgrade: {e}"),
                },
                _ => return sig,
            }
        }
    }
}
