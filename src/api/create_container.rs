//! io.podmon.Pod.CreateContainer

use std::path::PathBuf;
use std::rc::Rc;

use super::{HandlerError, Replier, decode, fd_index, invalid, map};
use crate::logs::driver::{DriverKind, Rotation};
use crate::pod::lifecycle::{self, CreateFds, CreateRequest, LogOptions, Source};
use crate::pod::sandbox::NsKind;
use crate::pod::{Pod, limits};
use crate::proto;
use crate::varlink::{Call, params};

/// Longest journal tag, in bytes.
const LOG_TAG_MAX: usize = 256;

/// The drivers `logDriver` or `logDrivers` name (default the CRI file),
/// and which of the two parameters named them.
fn drivers(p: &proto::CreateContainer) -> Result<(DriverKind, &'static str), HandlerError> {
    let list = match (&p.log_driver, &p.log_drivers) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "logDrivers",
                "give logDriver or logDrivers, not both",
            ));
        }
        (None, None) => return Ok((DriverKind::Cri, "logDriver")),
        (Some(d), None) => return Ok((map::driver(*d), "logDriver")),
        (None, Some(list)) => list,
    };
    let (mut cri, mut journald, mut none) = (false, false, false);
    for d in list {
        let (seen, name) = match d {
            proto::LogDriver::Cri => (&mut cri, "cri"),
            proto::LogDriver::Journald => (&mut journald, "journald"),
            proto::LogDriver::None => (&mut none, "none"),
        };
        if std::mem::replace(seen, true) {
            return Err(invalid("logDrivers", format!("{name:?} given twice")));
        }
    }
    match (none, cri || journald) {
        (true, true) => Err(invalid("logDrivers", "\"none\" goes alone")),
        (false, false) => Err(invalid("logDrivers", "an empty list: give [\"none\"]")),
        _ => Ok((DriverKind::of(cri, journald), "logDrivers")),
    }
}

/// The journal tag: only with the journald driver (as conmon refuses
/// `--log-tag` for a file), bounded, and no control character that would
/// break a field or a terminal.
fn log_tag(tag: Option<String>, driver: DriverKind) -> Result<Option<String>, HandlerError> {
    let Some(tag) = tag else { return Ok(None) };
    if !driver.has_journald() {
        return Err(invalid("logTag", "only with the journald log driver"));
    }
    if tag.is_empty() || tag.len() > LOG_TAG_MAX || tag.chars().any(char::is_control) {
        return Err(invalid(
            "logTag",
            format!("1 to {LOG_TAG_MAX} bytes without control characters"),
        ));
    }
    Ok(Some(tag))
}

/// Turns the wire parameters into a request: exactly one of bundle and
/// rootfs, and the rootfs-only fields only with rootfs.
fn request(p: proto::CreateContainer) -> Result<CreateRequest, HandlerError> {
    let (driver, driver_param) = drivers(&p)?;
    let log = LogOptions {
        driver,
        tag: log_tag(p.log_tag.clone(), driver)?,
        limit: p.log_rate_limit.map(map::limit_from_wire),
        max_line: p
            .log_max_line
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        rotation: Rotation {
            max_size: p.log_max_size,
            max_files: p.log_max_files.unwrap_or(1),
        },
        sync: p.log_sync.map(map::log_sync).unwrap_or_default(),
    };
    if !log.driver.has_cri() && (p.log_max_size.is_some() || p.log_max_files.is_some()) {
        return Err(invalid(driver_param, "rotation needs the cri log driver"));
    }
    let source = match (p.bundle, p.rootfs) {
        (Some(_), Some(_)) => {
            return Err(invalid("rootfs", "give either bundle or rootfs, not both"));
        }
        (None, None) => return Err(invalid("bundle", "give either bundle or rootfs")),
        (Some(bundle), None) => {
            let rootfs_only = [
                ("command", p.command.is_some()),
                ("env", p.env.is_some()),
                ("cwd", p.cwd.is_some()),
                ("hostname", p.hostname.is_some()),
                ("memoryMax", p.memory_max.is_some()),
                ("pidsMax", p.pids_max.is_some()),
                ("terminal", p.terminal.is_some()),
                ("width", p.width.is_some()),
                ("height", p.height.is_some()),
            ];
            if let Some((name, _)) = rootfs_only.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    name,
                    "only with rootfs; a bundle's config.json says this",
                ));
            }
            Source::Bundle(PathBuf::from(bundle))
        }
        (None, Some(rootfs)) => Source::Rootfs {
            rootfs: PathBuf::from(rootfs),
            command: p.command.unwrap_or_default(),
            env: p.env.unwrap_or_default(),
            cwd: p.cwd.unwrap_or_else(|| "/".into()),
            hostname: p.hostname.unwrap_or_else(|| p.id.clone()),
            memory_max: p.memory_max,
            pids_max: p.pids_max,
        },
    };
    let own_namespaces = p
        .own_namespaces
        .unwrap_or_default()
        .iter()
        .map(|k| match NsKind::parse(k) {
            // Its own would need maps of its own: the pod's apply.
            Some(NsKind::User) => Err(invalid(
                "ownNamespaces",
                "a container cannot have a user namespace of its own: it shares the pod's maps",
            )),
            Some(kind) => Ok(kind),
            None => Err(invalid(
                "ownNamespaces",
                format!("unknown kind {k:?} (net, ipc, uts, pid)"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if p.join_pod.is_some() && matches!(source, Source::Rootfs { .. }) {
        return Err(invalid(
            "joinPod",
            "only with bundle; rootfs containers always join",
        ));
    }
    Ok(CreateRequest {
        own_namespaces,
        join_pod: p.join_pod.unwrap_or(false),
        id: p.id,
        source,
        log,
        stdin: p.stdin.unwrap_or(false),
        stdin_once: p.stdin_once.unwrap_or(false),
        terminal: p.terminal.unwrap_or(false),
        console_size: limits::console_size(p.width, p.height, p.terminal.unwrap_or(false))?,
    })
}

/// The descriptors the call passed, taken by the indices of
/// `preserveFds` and `holdFds`; any other is closed.
fn passed_fds(p: &mut proto::CreateContainer, r: &Replier<'_>) -> Result<CreateFds, HandlerError> {
    let fds = r.passed_fds();
    let preserve = fds
        .take(&p.preserve_fds.take().unwrap_or_default())
        .map_err(|e| fd_index("preserveFds", e))?;
    let hold = fds
        .take(&p.hold_fds.take().unwrap_or_default())
        .map_err(|e| fd_index("holdFds", e))?;
    let unused = fds.close_rest();
    if unused > 0 {
        log::debug!(
            "container {}: {unused} descriptors named by no parameter closed",
            p.id
        );
    }
    Ok(CreateFds { preserve, hold })
}

/// Creates a container from a bundle or from rootfs + command.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let mut p: proto::CreateContainer = decode(call)?;
    let fds = passed_fds(&mut p, r)?;
    let c = lifecycle::create(pod, request(p)?, fds).await?;
    r.reply(params::encode(&proto::ContainerReply {
        container: map::container_info(&c),
    }))
    .await?;
    Ok(())
}
