//! `podmon serve`: sets the process up as the pod's monitor and runs the
//! event loop: the Varlink listener, the connections, and signals.

mod conn;

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::oci::runtime::Runtime;
use crate::pod::{Pod, PodConfig};
use crate::reactor::{self, ops};
use crate::sys::sigwatch::SignalWatch;

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
    /// podmon's state directory for the pod.
    pub state_dir: PathBuf,
    /// Where container logs go.
    pub log_dir: PathBuf,
    /// Where exit-code files go, if anywhere.
    pub exit_dir: Option<PathBuf>,
    /// Where OOM marker files go, if anywhere.
    pub oom_dir: Option<PathBuf>,
}

/// Why the monitor could not start (it never panics for these).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A directory could not be created.
    #[error("cannot create {0}: {1}")]
    Dir(PathBuf, io::Error),
    /// No usable OCI runtime.
    #[error(transparent)]
    Runtime(#[from] crate::oci::runtime::RuntimeLocateError),
    /// The socket could not be set up.
    #[error("socket {0}: {1}")]
    Socket(PathBuf, io::Error),
    /// Another monitor answers on the socket.
    #[error("socket {0} is in use by a running server")]
    SocketInUse(PathBuf),
    /// Process setup (subreaper, signals) failed.
    #[error("{0}: {1}")]
    Setup(&'static str, io::Error),
    /// The event loop could not run.
    #[error(transparent)]
    Loop(#[from] reactor::RunError),
}

/// Entries in the io_uring submission queue.
const RING_ENTRIES: u32 = 256;

/// A listening socket passed by systemd-style socket activation, if any.
fn activated_listener() -> Option<OwnedFd> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: i32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: only the environment-variable edits; single-threaded at start-up.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    // SAFETY: by the socket activation protocol, fd 3 is ours and open.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
    Some(fd)
}

/// Binds the socket, replacing a stale socket file but never a live server.
fn bind(path: &Path) -> Result<OwnedFd, ServeError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ServeError::Dir(parent.to_owned(), e))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(ServeError::SocketInUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(|e| ServeError::Socket(path.to_owned(), e))?;
    }
    let l = UnixListener::bind(path).map_err(|e| ServeError::Socket(path.to_owned(), e))?;
    Ok(OwnedFd::from(l))
}

fn mkdir(p: &Path) -> Result<(), ServeError> {
    std::fs::create_dir_all(p).map_err(|e| ServeError::Dir(p.to_owned(), e))
}

/// Runs the monitor until SIGTERM or SIGINT, then stops and deletes the
/// pod's containers: none outlives its monitor.
pub fn serve(cfg: ServeConfig) -> Result<(), ServeError> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| ServeError::Setup("PR_SET_CHILD_SUBREAPER", e.into()))?;
    reactor::init(RING_ENTRIES).map_err(reactor::RunError::from)?;
    mkdir(&cfg.state_dir)?;
    mkdir(&cfg.log_dir)?;
    for d in [&cfg.exit_dir, &cfg.oom_dir].into_iter().flatten() {
        mkdir(d)?;
    }
    let runtime = Runtime::locate(cfg.runtime.as_deref(), cfg.state_dir.join("runtime"))?
        .with_timeout(cfg.runtime_timeout);
    let (listener, owned_path) = match activated_listener() {
        Some(fd) => (fd, None),
        None => (bind(&cfg.socket)?, Some(cfg.socket.clone())),
    };
    let signals = SignalWatch::new().map_err(|e| ServeError::Setup("signalfd", e))?;
    let pod = Pod::new(PodConfig {
        name: cfg.pod.clone(),
        runtime,
        state_dir: cfg.state_dir.clone(),
        log_dir: cfg.log_dir.clone(),
        exit_dir: cfg.exit_dir.clone(),
        oom_dir: cfg.oom_dir.clone(),
    });
    log::info!(
        "pod {} serving on {} with {}",
        cfg.pod,
        owned_path
            .as_deref()
            .unwrap_or(Path::new("an activated socket"))
            .display(),
        pod.config.runtime.path.display()
    );
    let result = reactor::run(async move {
        let acceptor = reactor::spawn(accept_loop(pod.clone(), listener));
        handle_signals(signals).await;
        reactor::abort(acceptor);
        crate::pod::lifecycle::shutdown(&pod).await;
        reactor::stop();
    });
    if let Some(p) = owned_path {
        let _ = std::fs::remove_file(p);
    }
    result.map_err(Into::into)
}

async fn accept_loop(pod: Rc<Pod>, listener: OwnedFd) {
    loop {
        match ops::accept(listener.as_fd()).await {
            Ok(sock) => {
                reactor::spawn(conn::serve(pod.clone(), sock));
            }
            Err(e) => {
                // Out of fds or memory: back off instead of spinning.
                log::warn!("accept: {e}");
                ops::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle_signals(mut signals: SignalWatch) {
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
                libc::SIGHUP => log::info!("SIGHUP ignored"),
                _ => {
                    log::info!("signal {sig}: stopping the pod's containers and exiting");
                    return;
                }
            }
        }
    }
}
