//! The pod's sandbox: the namespaces its containers share (network, IPC,
//! UTS and, if asked, pid and user), made by the monitor at start, pinned under a
//! base directory in pinns' layout (`BASE/netns/POD` ...) and held by the
//! pod's init, a child of the monitor in those namespaces (`init.rs`).
//!
//! The monitor never enters them: it clones the init into them and
//! bind-mounts `/proc/INIT/ns/X` onto the pin files (`make.rs`). A record
//! in `STATE/sandbox.json` lets a restarted or upgraded monitor find the
//! pins and re-adopt the init instead of making new ones. The sandbox ends
//! with the pod (Shutdown with killContainers, or `--kill-on-exit` and a
//! signal): the init is stopped and the pins unmounted and removed.

mod bundle;
pub mod init;
mod make;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::sys::ns::NsKind;
pub use bundle::join_bundle;
pub use make::open;

use crate::reactor::sync;
use crate::sys::error::SysError;
use crate::sys::idmap::{self, IdMaps};
use crate::sys::ns::{self, NsChoice, NsOptionError};
use crate::sys::process::Watched;

/// The record's name in the state directory.
const RECORD: &str = "sandbox.json";

/// How long the init may take to stop on SIGTERM before SIGKILL.
const INIT_STOP: Duration = Duration::from_secs(5);

/// What `podmon serve` was asked for: which namespaces the pod has, and
/// how they are set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Each kind the pod shares, and where it comes from.
    pub namespaces: Vec<(NsKind, NsChoice)>,
    /// Sysctls written in the new namespaces.
    pub sysctls: Vec<(String, String)>,
    /// The host name of a new UTS namespace.
    pub hostname: Option<String>,
    /// Where the pins go (`BASE/netns/POD` ...).
    pub base: PathBuf,
    /// The uid and gid maps of the pod's user namespace, if it has one.
    pub id_maps: Option<IdMaps>,
}

impl SandboxSpec {
    /// The kinds the monitor makes (not the host's, not joined ones).
    pub fn new_kinds(&self) -> Vec<NsKind> {
        self.namespaces
            .iter()
            .filter(|(_, c)| *c == NsChoice::New)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Refuses, before anything starts, sysctls no new namespace of the
    /// pod confines, and a host name without a new UTS namespace.
    pub fn validate(&self) -> Result<(), NsOptionError> {
        let new = self.new_kinds();
        for (k, _) in &self.sysctls {
            ns::check_sysctl(k, &new)?;
        }
        if self.hostname.is_some() && !new.contains(&NsKind::Uts) {
            return Err(NsOptionError::HostnameWithoutUts);
        }
        let user = match self.namespaces.iter().find(|(k, _)| *k == NsKind::User) {
            Some((_, NsChoice::Join(_))) => return Err(NsOptionError::JoinUser),
            Some((_, NsChoice::New)) => true,
            _ => false,
        };
        match &self.id_maps {
            Some(_) if !user => Err(NsOptionError::MapsWithoutUser),
            Some(m) if !idmap::maps_root(&m.uid) || !idmap::maps_root(&m.gid) => {
                Err(NsOptionError::UserWithoutMaps)
            }
            None if user => Err(NsOptionError::UserWithoutMaps),
            _ => Ok(()),
        }
    }
}

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// An option was refused.
    #[error(transparent)]
    Option(#[from] NsOptionError),
    /// A system call failed.
    #[error("pod sandbox: {0}")]
    Sys(#[from] SysError),
    /// The init reported a failure or never got ready.
    #[error("pod init: {0}")]
    Init(String),
}

/// One namespace of the pod as the containers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodNamespace {
    /// "net", "ipc", "uts" or "pid".
    pub kind: String,
    /// The path containers join; none for the host's.
    pub path: Option<PathBuf>,
    /// A pin this monitor made (its to remove at the end of the pod).
    pub pinned: bool,
}

impl PodNamespace {
    /// The kind, parsed.
    pub fn ns_kind(&self) -> Option<NsKind> {
        NsKind::parse(&self.kind)
    }
}

/// What `STATE/sandbox.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxRecord {
    /// The pod's namespaces.
    pub namespaces: Vec<PodNamespace>,
    /// The init's pid, when there is an init.
    pub init_pid: Option<i32>,
    /// Its start time (`/proc/PID/stat` field 22), naming it with the pid.
    pub init_start_time: Option<u64>,
    /// The maps of the pod's user namespace, which a container joining it
    /// must repeat in its config (runc checks them against the namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_maps: Option<IdMaps>,
}

/// The live sandbox of the pod.
#[derive(Debug)]
pub struct Sandbox {
    /// The record, as written.
    pub record: SandboxRecord,
    /// The init, watched (reaped when it ends).
    pub init: Option<Rc<Watched>>,
    /// Set while the pod ends: the init's exit is expected then.
    closing: Cell<bool>,
    /// The state directory, whose record goes at the end.
    state_dir: PathBuf,
}

impl Sandbox {
    /// What a container joins, per OCI type, for the pod kinds it does not
    /// ask a namespace of its own for: `(type, Some(path))` to join,
    /// `(type, None)` for the host's (no entry in the config).
    pub fn joins(&self, own: &[NsKind]) -> Vec<(String, Option<PathBuf>)> {
        self.record
            .namespaces
            .iter()
            .filter_map(|n| {
                let k = n.ns_kind()?;
                (!own.contains(&k)).then(|| (k.oci_type().to_owned(), n.path.clone()))
            })
            .collect()
    }

    /// The maps a container joining the pod's user namespace gives the
    /// runtime; none when the pod has none (or the container its own).
    pub fn id_maps(&self, own: &[NsKind]) -> Option<&IdMaps> {
        let joined = self
            .joins(own)
            .iter()
            .any(|(t, p)| t == NsKind::User.oci_type() && p.is_some());
        joined.then_some(self.record.id_maps.as_ref()).flatten()
    }

    /// The init's resident memory in bytes, read now.
    pub fn init_rss(&self) -> Option<u64> {
        let pid = self.init.as_ref()?.pid();
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        crate::sys::selfstat::parse_vm_rss(&text)
    }

    /// Logs an error if the init dies before the end of the pod: the pinned
    /// namespaces stay usable, a pod pid namespace does not.
    pub async fn watch_init(self: Rc<Self>) {
        let Some(init) = self.init.clone() else {
            return;
        };
        let status = init.wait().await;
        if !self.closing.get() {
            log::error!(
                "the pod's init {} ended ({status:?}) before the pod: the pinned namespaces stay, a pod pid namespace can take no new process",
                init.pid()
            );
        }
    }

    /// Ends the sandbox with the pod: SIGTERM to the init (SIGKILL after
    /// a grace), then the pins unmounted and removed, then the record.
    pub async fn close(&self) {
        self.closing.set(true);
        if let Some(init) = &self.init {
            let _ = init.signal(libc::SIGTERM);
            if sync::timeout(INIT_STOP, init.wait()).await.is_none() {
                log::warn!("the pod's init {} ignored SIGTERM: SIGKILL", init.pid());
                let _ = init.signal(libc::SIGKILL);
                let _ = init.wait().await;
            }
        }
        for n in self.record.namespaces.iter().filter(|n| n.pinned) {
            if let Some(p) = &n.path
                && let Err(e) = ns::unpin(p)
            {
                log::error!("removing the pod's {} namespace: {e}", n.kind);
            }
        }
        remove_record(&self.state_dir);
        log::info!("the pod's sandbox is gone");
    }
}

/// Removes `STATE/sandbox.json`.
fn remove_record(state_dir: &Path) {
    let path = state_dir.join(RECORD);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        log::error!("{}", SysError::at("removing", &path, &e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: &str, sysctls: &[&str]) -> SandboxSpec {
        SandboxSpec {
            namespaces: ns::parse_namespaces(ns).unwrap(),
            sysctls: sysctls
                .iter()
                .map(|s| ns::parse_sysctl(s).unwrap())
                .collect(),
            hostname: None,
            base: "/run/podmon/ns".into(),
            id_maps: None,
        }
    }

    #[test]
    fn validate_refuses_host_sysctls() {
        assert!(
            spec("net,ipc", &["net.ipv4.ip_forward=1"])
                .validate()
                .is_ok()
        );
        assert!(
            spec("net=host", &["net.ipv4.ip_forward=1"])
                .validate()
                .is_err()
        );
        assert!(spec("net", &["vm.swappiness=10"]).validate().is_err());
        let mut s = spec("net", &[]);
        s.hostname = Some("x".into());
        assert!(matches!(
            s.validate(),
            Err(NsOptionError::HostnameWithoutUts)
        ));
    }

    #[test]
    fn joins_skip_own_kinds() {
        let sb = Sandbox {
            record: SandboxRecord {
                namespaces: vec![
                    PodNamespace {
                        kind: "net".into(),
                        path: Some("/b/netns/p".into()),
                        pinned: true,
                    },
                    PodNamespace {
                        kind: "ipc".into(),
                        path: None,
                        pinned: false,
                    },
                ],
                init_pid: None,
                init_start_time: None,
                id_maps: None,
            },
            init: None,
            closing: Cell::new(false),
            state_dir: "/nonexistent".into(),
        };
        assert_eq!(
            sb.joins(&[]),
            vec![
                ("network".into(), Some(PathBuf::from("/b/netns/p"))),
                ("ipc".into(), None)
            ]
        );
        assert_eq!(sb.joins(&[NsKind::Net]), vec![("ipc".into(), None)]);
    }
}
