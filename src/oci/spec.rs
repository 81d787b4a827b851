//! The OCI `config.json` podmon writes for "rootfs + command" containers.
//!
//! Modelled on `runc spec`'s default (same namespaces, mounts, capabilities,
//! masked/readonly paths) with a writable root filesystem, the caller's
//! command and optional memory/pids limits. Building is pure; only
//! [`write_config`] touches the disk.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxIdMapping, LinuxIdMappingBuilder,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use thiserror::Error;

use crate::sys::files;
use crate::sys::idmap::{IdMap, IdMaps};

/// PATH given to containers whose env has none (same as `runc spec`/Docker).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a "rootfs + command" container needs; everything else is fixed policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimpleSpec {
    /// Root filesystem directory on the host; must be absolute so the bundle
    /// can live anywhere.
    pub rootfs: PathBuf,
    /// Command and arguments; must not be empty.
    pub args: Vec<String>,
    /// "KEY=value" entries; PATH is added when missing.
    pub env: Vec<String>,
    /// Working directory inside the container; must be absolute.
    pub cwd: String,
    /// UTS hostname for the container.
    pub hostname: String,
    /// memory.limit in bytes (-1 = unlimited).
    pub memory_max: Option<i64>,
    /// pids.limit (-1 = unlimited).
    pub pids_max: Option<i64>,
    /// linux.cgroupsPath, e.g. "/podmon/POD/ID" (cgroupfs driver).
    pub cgroups_path: String,
    /// Allocate a pty; then `runc create` needs `--console-socket`.
    pub terminal: bool,
    /// The pty's initial size (columns, rows), with `terminal`.
    pub console_size: Option<(u16, u16)>,
    /// The pod's shared namespaces this container joins, by OCI type
    /// ("network" ...): a path to join, or `None` for the host's (no entry,
    /// so the runtime keeps its own). Kinds not listed get new ones.
    pub joins: Vec<(String, Option<PathBuf>)>,
    /// The id maps of the pod's user namespace, when `joins` has it: runc
    /// needs them repeated in the config of a container that joins it.
    pub id_maps: Option<IdMaps>,
}

/// Why no config could be built or written.
#[derive(Debug, Error)]
pub enum SpecError {
    /// runc resolves a relative root against the bundle, not our cwd.
    #[error("rootfs {0:?} is not an absolute path")]
    RootfsNotAbsolute(PathBuf),
    /// Nothing to run.
    #[error("command (args) is empty")]
    EmptyArgs,
    /// The OCI spec requires an absolute cwd.
    #[error("working directory {0:?} is not an absolute path")]
    CwdNotAbsolute(String),
    /// Env entries without '=' are silently dropped by some runtimes.
    #[error("environment entry {0:?} is not of the form KEY=value")]
    BadEnv(String),
    /// 0 or below -1 is not a meaningful limit.
    #[error("{what} limit {value} is invalid (must be positive, or -1 for unlimited)")]
    BadLimit {
        /// "memory" or "pids".
        what: &'static str,
        /// The refused value.
        value: i64,
    },
    /// The oci-spec builders refused a value.
    #[error("building OCI spec: {0}")]
    Build(#[from] OciSpecError),
    /// Serializing config.json failed.
    #[error("serializing config.json: {0}")]
    Serialize(#[from] serde_json::Error),
    /// Creating the bundle or writing config.json failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What we were doing ("creating", "writing", "renaming to").
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Builds the full OCI spec: new pid, mount, ipc, uts and (empty) network
/// namespaces; `runc spec`'s mounts, capabilities, masked and readonly
/// paths; writable root; the standard devices cgroup allow-list; limits.
pub fn build_spec(s: &SimpleSpec) -> Result<Spec, SpecError> {
    validate(s)?;
    let mut process = ProcessBuilder::default();
    if let (true, Some((width, height))) = (s.terminal, s.console_size) {
        let size = oci_spec::runtime::BoxBuilder::default()
            .width(u64::from(width))
            .height(u64::from(height))
            .build()?;
        process = process.console_size(size);
    }
    let process = process
        .terminal(s.terminal)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(s.args.clone())
        .env(env_with_defaults(&s.env, s.terminal))
        .cwd(&s.cwd)
        .capabilities(default_capabilities()?)
        .rlimits(vec![
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .hard(1024u64)
                .soft(1024u64)
                .build()?,
        ])
        .no_new_privileges(true)
        .build()?;
    let root = RootBuilder::default()
        .path(&s.rootfs)
        .readonly(false)
        .build()?;

    let mut resources = LinuxResourcesBuilder::default().devices(device_rules()?);
    if let Some(limit) = s.memory_max {
        resources = resources.memory(LinuxMemoryBuilder::default().limit(limit).build()?);
    }
    if let Some(limit) = s.pids_max {
        resources = resources.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    let mut linux = LinuxBuilder::default();
    if let Some(m) = &s.id_maps {
        linux = linux
            .uid_mappings(oci_maps(&m.uid)?)
            .gid_mappings(oci_maps(&m.gid)?);
    }
    let linux = linux
        .namespaces(namespaces(&s.joins)?)
        .resources(resources.build()?)
        .cgroups_path(PathBuf::from(&s.cgroups_path))
        .masked_paths(strings(MASKED_PATHS))
        .readonly_paths(strings(READONLY_PATHS))
        .build()?;

    let mut spec = SpecBuilder::default()
        .version(oci_spec::runtime::VERSION)
        .root(root)
        .process(process)
        .hostname(&s.hostname)
        .mounts(mounts()?)
        .linux(linux)
        .build()?;
    // A shared UTS namespace has the pod's host name: the runtime would set
    // the container's in it (or refuse one without a UTS namespace).
    if s.joins.iter().any(|(t, _)| t == "uts") {
        spec.set_hostname(None);
    }
    Ok(spec)
}

/// Writes `config.json` into `bundle` (creating it) via a temp file and a
/// rename, so a runtime never reads a half-written config.
pub fn write_config(bundle: &Path, spec: &Spec) -> Result<(), SpecError> {
    let io = |op, path: &Path| {
        let path = path.to_owned();
        move |source| SpecError::Io { op, path, source }
    };
    fs::create_dir_all(bundle).map_err(io("creating", bundle))?;
    let mut json = serde_json::to_vec_pretty(spec)?;
    json.push(b'\n');
    // Atomically, mode 0600, following no link planted in the bundle.
    files::write_file(bundle, "config.json", &json, files::PRIVATE_FILE).map_err(|e| match e {
        files::FileError::Io { op, path, source } => SpecError::Io { op, path, source },
        other => io("opening", bundle)(std::io::Error::other(other)),
    })
}

fn validate(s: &SimpleSpec) -> Result<(), SpecError> {
    if !s.rootfs.is_absolute() {
        return Err(SpecError::RootfsNotAbsolute(s.rootfs.clone()));
    }
    if s.args.is_empty() {
        return Err(SpecError::EmptyArgs);
    }
    if !s.cwd.starts_with('/') {
        return Err(SpecError::CwdNotAbsolute(s.cwd.clone()));
    }
    if let Some(bad) = s.env.iter().find(|e| e.find('=').is_none_or(|i| i == 0)) {
        return Err(SpecError::BadEnv(bad.clone()));
    }
    for (what, value) in [("memory", s.memory_max), ("pids", s.pids_max)] {
        if let Some(value) = value.filter(|&v| v == 0 || v < -1) {
            return Err(SpecError::BadLimit { what, value });
        }
    }
    Ok(())
}

/// The caller's env plus PATH (and TERM for terminals) when they are missing.
fn env_with_defaults(env: &[String], terminal: bool) -> Vec<String> {
    let has = |key: &str| env.iter().any(|e| e.split('=').next() == Some(key));
    let mut out = env.to_vec();
    if !has("PATH") {
        out.insert(0, DEFAULT_PATH.to_owned());
    }
    if terminal && !has("TERM") {
        out.push("TERM=xterm".to_owned());
    }
    out
}

/// `runc spec`'s capability set: bounding/effective/permitted/ambient.
fn default_capabilities() -> Result<oci_spec::runtime::LinuxCapabilities, OciSpecError> {
    let caps: oci_spec::runtime::Capabilities = [
        Capability::AuditWrite,
        Capability::Kill,
        Capability::NetBindService,
    ]
    .into_iter()
    .collect();
    LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps.clone())
        .ambient(caps)
        .build()
}

/// New pid, network, IPC, UTS and mount namespaces, but for the kinds in
/// `joins`: those join the path given, or (no path) are left out, so the
/// container stays in the host's.
fn namespaces(joins: &[(String, Option<PathBuf>)]) -> Result<Vec<LinuxNamespace>, OciSpecError> {
    let mut out = Vec::new();
    for (typ, name) in [
        (LinuxNamespaceType::Pid, "pid"),
        (LinuxNamespaceType::Network, "network"),
        (LinuxNamespaceType::Ipc, "ipc"),
        (LinuxNamespaceType::Uts, "uts"),
        (LinuxNamespaceType::Mount, "mount"),
    ] {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        match joins.iter().find(|(t, _)| t == name) {
            None => {}
            Some((_, Some(path))) => b = b.path(path.clone()),
            Some((_, None)) => continue,
        }
        out.push(b.build()?);
    }
    if let Some((_, Some(path))) = joins.iter().find(|(t, _)| t == "user") {
        out.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .path(path.clone())
                .build()?,
        );
    }
    Ok(out)
}

/// Id maps as the OCI config's `uidMappings` / `gidMappings`.
fn oci_maps(maps: &[IdMap]) -> Result<Vec<LinuxIdMapping>, OciSpecError> {
    maps.iter()
        .map(|m| {
            LinuxIdMappingBuilder::default()
                .container_id(m.container_id)
                .host_id(m.host_id)
                .size(m.size)
                .build()
        })
        .collect()
}

/// (destination, type, source, options) as in `runc spec`.
const MOUNTS: [(&str, &str, &str, &[&str]); 7] = [
    ("/proc", "proc", "proc", &[]),
    (
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    ),
    (
        "/dev/pts",
        "devpts",
        "devpts",
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    ),
    (
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ),
    (
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    ),
    (
        "/sys",
        "sysfs",
        "sysfs",
        &["nosuid", "noexec", "nodev", "ro"],
    ),
    (
        "/sys/fs/cgroup",
        "cgroup",
        "cgroup",
        &["nosuid", "noexec", "nodev", "relatime", "ro"],
    ),
];

fn mounts() -> Result<Vec<Mount>, OciSpecError> {
    MOUNTS
        .iter()
        .map(|&(dst, typ, src, opts)| {
            let mut m = MountBuilder::default()
                .destination(dst)
                .typ(typ)
                .source(src);
            if !opts.is_empty() {
                m = m.options(strings(opts));
            }
            m.build()
        })
        .collect()
}

/// Deny every device, then allow the ones a container always needs
/// (null, zero, full, random, urandom, tty, ptmx, pts/*), like containerd.
fn device_rules() -> Result<Vec<LinuxDeviceCgroup>, OciSpecError> {
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?;
    let allowed: [(i64, Option<i64>); 8] = [
        (1, Some(3)), // null
        (1, Some(5)), // zero
        (1, Some(7)), // full
        (1, Some(8)), // random
        (1, Some(9)), // urandom
        (5, Some(0)), // tty
        (5, Some(2)), // ptmx
        (136, None),  // pts/*
    ];
    let mut rules = vec![deny_all];
    for (major, minor) in allowed {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(major)
            .access("rwm");
        if let Some(minor) = minor {
            b = b.minor(minor);
        }
        rules.push(b.build()?);
    }
    Ok(rules)
}

/// Hidden from the container, as `runc spec` does.
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// Read-only in the container, as `runc spec` does.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&s| s.to_owned()).collect()
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
