//! The pod: its containers and the operations on them, independent of the
//! Varlink wire format (the `api` module maps these to methods). One file
//! per operation; the runtime is reached through [`Driver`] only, so the
//! operations run against a fake runtime in the unit tests.

pub mod adopt;
mod bundle;
mod container;
mod create;
mod delete;
pub mod deleted_logs;
mod detach;
mod error;
mod event;
pub mod events;
pub mod exec;
mod exit;
pub mod fdstore;
pub mod id;
pub mod journal;
mod kill;
pub mod lifecycle;
pub mod limits;
mod monitor;
pub mod netns;
mod persist;
pub mod port_forward;
mod request;
pub mod run_in_pod;
pub mod sandbox;
mod shutdown;
mod start;
pub mod state;
mod status;
mod stdin;
mod stdio;
#[cfg(test)]
mod tests;
mod together;
mod wait;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

pub use adopt::open_state;
pub use container::{Container, exit_reason};
pub use error::{Field, PodError};
pub use exit::ExitRequest;
pub use status::{Operation, Status};

use crate::oci::driver::Driver;
use crate::oci::runtime::Runtime;

/// Where the pod keeps its files and which runtime it drives.
#[derive(Debug, Clone)]
pub struct PodConfig {
    /// The pod's name.
    pub name: String,
    /// The OCI runtime (with its per-pod `--root`).
    pub runtime: Runtime,
    /// podmon's state for this pod: one directory per container.
    pub state_dir: PathBuf,
    /// Where `<id>.log` files go.
    pub log_dir: PathBuf,
    /// The journal's native socket, for the journald log driver.
    pub journal_socket: PathBuf,
    /// Where `<id>` exit-code files go, when set.
    pub exit_dir: Option<PathBuf>,
    /// Where `<id>` files mark containers the OOM killer ended, when set.
    pub oom_dir: Option<PathBuf>,
    /// The service manager, for its file-descriptor store (or none).
    pub notifier: Rc<crate::sys::sdnotify::Notifier>,
    /// The parent of each container's `cgroupsPath` (`PARENT/ID`):
    /// `/podmon/POD`, or `UNIT/containers` when podmon runs as a systemd
    /// service with its cgroup delegated (see `cgroups::unit`).
    pub cgroup_parent: String,
}

/// The pod's containers plus the ids being created right now.
pub struct Pod {
    /// Configuration.
    pub config: PodConfig,
    containers: RefCell<BTreeMap<String, Rc<Container>>>,
    reserved: RefCell<HashSet<String>>,
    /// Woken when a create ends (its reservation goes), for the shutdown.
    reserved_changed: crate::reactor::sync::Notify,
    /// How the monitor was asked to exit, once it was (see [`ExitRequest`]).
    exit: RefCell<Option<ExitRequest>>,
    /// Shutdown calls that will request the exit once they are done.
    exit_claims: std::cell::Cell<usize>,
    /// Set by the first stop request (see `exit.rs`): creates are refused.
    stopping: std::cell::Cell<Option<bool>>,
    /// Woken when `exit` or `exit_claims` change, for the server's main task.
    exit_changed: crate::reactor::sync::Notify,
    /// The event stream.
    pub events: events::Events,
    /// Execs running now, by exec id.
    pub execs: RefCell<std::collections::HashMap<String, exec::ExecEntry>>,
    /// When the monitor started.
    pub started_at: std::time::SystemTime,
    /// Runs the OCI runtime.
    driver: Rc<dyn Driver>,
    /// The records in the state directory.
    store: state::Store,
    /// The pod's shared namespaces and their init, when it has them.
    sandbox: RefCell<Option<Rc<sandbox::Sandbox>>>,
    /// The logs of deleted containers, still readable by id.
    pub deleted_logs: deleted_logs::DeletedLogs,
}

impl Pod {
    /// An empty pod that drives `config.runtime`, its events journaled in
    /// the state directory (which must exist): numbering goes on after the
    /// journal's last event.
    pub fn new(config: PodConfig) -> Result<Rc<Pod>, journal::JournalError> {
        let driver = Rc::new(config.runtime.clone());
        Pod::with_driver(config, driver)
    }

    /// An empty pod whose runtime operations go to `driver` (a fake one in
    /// tests; `config.runtime` then only names it).
    pub fn with_driver(
        config: PodConfig,
        driver: Rc<dyn Driver>,
    ) -> Result<Rc<Pod>, journal::JournalError> {
        let events = events::Events::open(&config.state_dir)?;
        Ok(Rc::new(Pod {
            driver,
            store: state::Store::new(config.state_dir.clone()),
            config,
            containers: RefCell::new(BTreeMap::new()),
            reserved: RefCell::new(HashSet::new()),
            reserved_changed: Default::default(),
            exit: RefCell::new(None),
            exit_claims: Default::default(),
            stopping: Default::default(),
            exit_changed: Default::default(),
            events,
            execs: Default::default(),
            started_at: std::time::SystemTime::now(),
            sandbox: RefCell::new(None),
            deleted_logs: Default::default(),
        }))
    }

    /// Looks a container up. An id that no container could have is
    /// `InvalidValue` (not "no such container"), for every method alike.
    pub fn get(&self, id: &str) -> Result<Rc<Container>, PodError> {
        id::validate_id(id).map_err(|e| PodError::invalid(Field::Id, e))?;
        self.containers
            .borrow()
            .get(id)
            .cloned()
            .ok_or_else(|| PodError::NoSuchContainer(id.to_owned()))
    }

    /// The pod's sandbox, if it has one.
    pub fn sandbox(&self) -> Option<Rc<sandbox::Sandbox>> {
        self.sandbox.borrow().clone()
    }

    /// Gives the pod the sandbox made (or re-adopted) at start.
    pub fn set_sandbox(&self, sb: Option<Rc<sandbox::Sandbox>>) {
        *self.sandbox.borrow_mut() = sb;
    }

    /// Every container, ordered by id.
    pub fn list(&self) -> Vec<Rc<Container>> {
        self.containers.borrow().values().cloned().collect()
    }
}
