//! The cgroup of the systemd service podmon runs as, when it runs as one.
//!
//! With `Delegate=yes` the unit's cgroup sub-tree is podmon's to arrange:
//! the containers go under it (`UNIT/containers/ID`, so `systemctl status`
//! shows them, the unit's limits and accounting cover them and stopping the
//! unit ends them), and podmon itself moves to `UNIT/monitor` (cgroup v2
//! lets a delegated tree hold processes only in its leaves once
//! controllers are enabled below it, which the runtime does). Elsewhere
//! the containers go to `/podmon/POD/ID` as before.
//!
//! Running as a service is detected from three things together:
//! `INVOCATION_ID` is set (systemd sets it for every unit it starts); our
//! cgroup in the hierarchy systemd tracks units with (`name=systemd` on a
//! legacy or hybrid host, else cgroup2) is a `….service` (or its
//! `monitor` child: a monitor already moved, after a live re-exec); and no
//! other process is in that cgroup. The last rule keeps a podmon that an
//! engine's own service started (it inherits `INVOCATION_ID`) out of the
//! engine's cgroup, which is not podmon's to arrange.
//!
//! The paths are runc's `cgroupsPath` with the cgroupfs driver: absolute,
//! relative to each hierarchy's root, the same path in every hierarchy.

use std::path::{Path, PathBuf};

use super::locate::{Membership, Mount};

/// The sub-cgroup of the unit that holds the containers' cgroups.
pub const CONTAINERS: &str = "containers";

/// The sub-cgroup of the unit podmon moves itself (and so its children:
/// the runtime while it runs, the pod's init) to.
pub const MONITOR: &str = "monitor";

/// Why podmon could not move itself into `UNIT/monitor`.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// A cgroup file or directory could not be read, made or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The service's cgroup, found by [`unit_from`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The unit's cgroup path, e.g. `/system.slice/podmon@web.service`.
    pub path: String,
    /// Whether podmon is already in `UNIT/monitor`.
    pub moved: bool,
}

impl Unit {
    /// The parent of the containers' `cgroupsPath`: `UNIT/containers`.
    pub fn containers_parent(&self) -> String {
        format!("{}/{CONTAINERS}", self.path.trim_end_matches('/'))
    }

    /// Where podmon runs: `UNIT/monitor`.
    pub fn monitor(&self) -> String {
        format!("{}/{MONITOR}", self.path.trim_end_matches('/'))
    }
}

/// The membership line of the hierarchy systemd tracks units with.
fn tracking<'a>(memberships: &'a [Membership<'a>]) -> Option<&'a Membership<'a>> {
    memberships
        .iter()
        .find(|m| m.has_controller("name=systemd"))
        .or_else(|| memberships.iter().find(|m| m.is_unified()))
}

/// Sans-IO: the unit podmon's cgroup (`proc_cgroup`, the text of
/// /proc/self/cgroup) says it runs as, given `INVOCATION_ID`. The check
/// that no one else is in the cgroup is [`detect`]'s.
pub fn unit_from(proc_cgroup: &str, invocation_id: Option<&str>) -> Option<Unit> {
    invocation_id.filter(|i| !i.is_empty())?;
    let memberships: Vec<Membership<'_>> =
        proc_cgroup.lines().filter_map(Membership::parse).collect();
    let path = tracking(&memberships)?.path.trim_end_matches('/');
    let is_service = |p: &str| {
        p.rsplit('/')
            .next()
            .is_some_and(|last| last.len() > ".service".len() && last.ends_with(".service"))
    };
    if let Some(parent) = path.strip_suffix(&format!("/{MONITOR}"))
        && is_service(parent)
    {
        return Some(Unit {
            path: parent.to_owned(),
            moved: true,
        });
    }
    is_service(path).then(|| Unit {
        path: path.to_owned(),
        moved: false,
    })
}

/// The directories of cgroup `path` in the hierarchies systemd tracks units
/// with (cgroup2 and `name=systemd`), where podmon is a member at `path`.
fn tracked_dirs(proc_cgroup: &str, mountinfo: &str, path: &str) -> Vec<PathBuf> {
    let mounts: Vec<Mount<'_>> = mountinfo.lines().filter_map(Mount::parse).collect();
    let mut dirs = Vec::new();
    for m in proc_cgroup.lines().filter_map(Membership::parse) {
        if m.path.trim_end_matches('/') != path {
            continue;
        }
        let dir = if m.is_unified() {
            mounts
                .iter()
                .filter(|mount| mount.fstype == "cgroup2")
                .find_map(|mount| mount.dir_for(path))
        } else if m.has_controller("name=systemd") {
            mounts
                .iter()
                .filter(|mount| mount.fstype == "cgroup" && mount.has_option("name=systemd"))
                .find_map(|mount| mount.dir_for(path))
        } else {
            None
        };
        dirs.extend(dir);
    }
    dirs
}

/// The unit podmon runs as, if it runs as one and is alone in its cgroup
/// (see the module's documentation). Reads /proc and the unit's
/// `cgroup.procs`; call it at start-up, before the loop.
pub fn detect() -> Option<Unit> {
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let invocation = std::env::var("INVOCATION_ID").ok();
    let unit = unit_from(&proc_cgroup, invocation.as_deref())?;
    if unit.moved {
        return Some(unit);
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let dirs = tracked_dirs(&proc_cgroup, &mountinfo, &unit.path);
    let own = std::process::id().to_string();
    let alone = !dirs.is_empty()
        && dirs.iter().all(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .is_ok_and(|procs| procs.lines().all(|p| p.trim() == own))
        });
    if !alone {
        log::info!(
            "INVOCATION_ID is set but cgroup {} is not podmon's alone: containers go to /podmon/POD",
            unit.path
        );
        return None;
    }
    Some(unit)
}

/// Moves podmon into `UNIT/monitor` in the hierarchies systemd tracks units
/// with, making the directory if needed (nothing to do once moved).
pub fn move_self(unit: &Unit) -> Result<(), UnitError> {
    if unit.moved {
        return Ok(());
    }
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| UnitError::Io { what, path, source }
    };
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(io("reading", Path::new("/proc/self/cgroup")))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(io("reading", Path::new("/proc/self/mountinfo")))?;
    for dir in tracked_dirs(&proc_cgroup, &mountinfo, &unit.path) {
        let monitor = dir.join(MONITOR);
        match std::fs::create_dir(&monitor) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("creating", &monitor)(e)),
        }
        let procs = monitor.join("cgroup.procs");
        std::fs::write(&procs, std::process::id().to_string()).map_err(io("writing", &procs))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "9:name=systemd:/system.slice/podmon@web.service\n\
        4:memory:/system.slice/podmon@web.service\n\
        1:cpu:/\n\
        0::/system.slice/podmon@web.service\n";

    #[test]
    fn a_service_with_an_invocation_id_is_a_unit() {
        let u = unit_from(HYBRID, Some("0123abcd")).unwrap();
        assert_eq!(u.path, "/system.slice/podmon@web.service");
        assert!(!u.moved);
        assert_eq!(
            u.containers_parent(),
            "/system.slice/podmon@web.service/containers"
        );
        assert_eq!(u.monitor(), "/system.slice/podmon@web.service/monitor");
        // Pure v2.
        let u = unit_from("0::/system.slice/podmon@x.service\n", Some("1")).unwrap();
        assert_eq!(u.path, "/system.slice/podmon@x.service");
    }

    #[test]
    fn a_moved_monitor_finds_its_unit() {
        let u = unit_from("0::/system.slice/podmon@web.service/monitor\n", Some("1")).unwrap();
        assert_eq!(u.path, "/system.slice/podmon@web.service");
        assert!(u.moved);
    }

    #[test]
    fn no_invocation_id_or_no_service_is_no_unit() {
        assert_eq!(unit_from(HYBRID, None), None);
        assert_eq!(unit_from(HYBRID, Some("")), None);
        for cgroup in [
            "0::/user.slice/user-0.slice/session-1.scope\n",
            "0::/\n",
            "0::/podmon/pod/monitor\n",
            "0::/.service\n",
            "",
        ] {
            assert_eq!(unit_from(cgroup, Some("1")), None, "{cgroup:?}");
        }
    }

    #[test]
    fn the_systemd_hierarchy_is_preferred_on_hybrid_hosts() {
        let cgroup = "9:name=systemd:/system.slice/podmon@a.service\n0::/\n";
        assert_eq!(
            unit_from(cgroup, Some("1")).unwrap().path,
            "/system.slice/podmon@a.service"
        );
    }

    #[test]
    fn tracked_dirs_are_the_unified_and_named_hierarchies() {
        let mountinfo = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
            40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let unit = "/system.slice/podmon@web.service";
        assert_eq!(
            tracked_dirs(HYBRID, mountinfo, unit),
            [
                PathBuf::from("/sys/fs/cgroup/systemd/system.slice/podmon@web.service"),
                PathBuf::from("/sys/fs/cgroup/unified/system.slice/podmon@web.service"),
            ]
        );
    }
}
