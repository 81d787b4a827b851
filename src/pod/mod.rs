//! The pod: its containers and the operations on them, independent of the
//! Varlink wire format (the `api` module maps these to methods).

mod container;
pub mod events;
pub mod exec;
pub mod id;
pub mod lifecycle;
mod stdin;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

pub use container::{Container, Status, exit_reason};
pub use lifecycle::{CreateRequest, Source};

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
    /// Where `<id>` exit-code files go, when set.
    pub exit_dir: Option<PathBuf>,
    /// Where `<id>` files mark containers the OOM killer ended, when set.
    pub oom_dir: Option<PathBuf>,
}

/// Why an operation on the pod failed; each maps to a named Varlink error.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// No container has this id.
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// The id is taken (or being created).
    #[error("container exists: {0}")]
    ContainerExists(String),
    /// A parameter's value cannot be used.
    #[error("invalid {parameter}: {reason}")]
    InvalidValue {
        /// The parameter's name as in the IDL.
        parameter: &'static str,
        /// Why.
        reason: String,
    },
    /// The container's status does not allow the operation.
    #[error("container {id} is {}: {reason}", status.as_str())]
    InvalidState {
        /// Container id.
        id: String,
        /// Its status.
        status: Status,
        /// Why that status does not allow the call.
        reason: String,
    },
    /// The OCI runtime failed.
    #[error("{runtime} {command} failed: {message}")]
    Runtime {
        /// Runtime name ("runc").
        runtime: String,
        /// The subcommand ("create").
        command: &'static str,
        /// The runtime's own message.
        message: String,
        /// Its exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// podmon itself failed (files, processes).
    #[error("{0}")]
    System(String),
}

impl PodError {
    fn invalid(parameter: &'static str, reason: impl std::fmt::Display) -> PodError {
        PodError::InvalidValue {
            parameter,
            reason: reason.to_string(),
        }
    }

    fn system(what: impl std::fmt::Display, e: impl std::fmt::Display) -> PodError {
        PodError::System(format!("{what}: {e}"))
    }
}

/// The pod's containers plus the ids being created right now.
pub struct Pod {
    /// Configuration.
    pub config: PodConfig,
    containers: RefCell<BTreeMap<String, Rc<Container>>>,
    reserved: RefCell<HashSet<String>>,
    /// The event stream.
    pub events: events::Events,
    /// Execs running now, by exec id.
    pub execs: RefCell<std::collections::HashMap<String, exec::ExecEntry>>,
    /// When the monitor started.
    pub started_at: std::time::SystemTime,
}

impl Pod {
    /// An empty pod.
    pub fn new(config: PodConfig) -> Rc<Pod> {
        Rc::new(Pod {
            config,
            containers: RefCell::new(BTreeMap::new()),
            reserved: RefCell::new(HashSet::new()),
            events: Default::default(),
            execs: Default::default(),
            started_at: std::time::SystemTime::now(),
        })
    }

    /// Looks a container up.
    pub fn get(&self, id: &str) -> Result<Rc<Container>, PodError> {
        self.containers
            .borrow()
            .get(id)
            .cloned()
            .ok_or_else(|| PodError::NoSuchContainer(id.to_owned()))
    }

    /// Every container, ordered by id.
    pub fn list(&self) -> Vec<Rc<Container>> {
        self.containers.borrow().values().cloned().collect()
    }
}
