//! Linux namespaces for the pod's sandbox: their kinds, the namespaced
//! sysctls, bringing `lo` up, setting the host name, pinning a namespace
//! with a bind mount of `/proc/PID/ns/X` (pinns' layout). Starting a
//! child in new namespaces is `nsspawn.rs`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::error::SysError;

/// A namespace kind the pod can share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NsKind {
    /// Network.
    Net,
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Host and domain name.
    Uts,
    /// Process ids (`shareProcessNamespace`).
    Pid,
    /// User and group ids (`--uid-map`, `--gid-map`): made first, it owns
    /// the other new namespaces of the pod.
    User,
}

impl NsKind {
    /// The name in `--namespaces` and in `/proc/PID/ns/`.
    pub fn name(self) -> &'static str {
        match self {
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Pid => "pid",
            NsKind::User => "user",
        }
    }

    /// The `linux.namespaces[].type` of an OCI config.
    pub fn oci_type(self) -> &'static str {
        match self {
            NsKind::Net => "network",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Pid => "pid",
            NsKind::User => "user",
        }
    }

    /// The directory under the base that pins this kind (pinns' layout,
    /// which CNI plugins and `ip netns` know for the network one).
    pub fn pin_dir(self) -> &'static str {
        match self {
            NsKind::Net => "netns",
            NsKind::Ipc => "ipcns",
            NsKind::Uts => "utsns",
            NsKind::Pid => "pidns",
            NsKind::User => "userns",
        }
    }

    /// The `CLONE_NEW*` flag.
    pub(crate) fn clone_flag(self) -> libc::c_int {
        match self {
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::User => libc::CLONE_NEWUSER,
        }
    }

    /// The kind named `s` ("net", also "network"), if any.
    pub fn parse(s: &str) -> Option<NsKind> {
        Some(match s {
            "net" | "network" => NsKind::Net,
            "ipc" => NsKind::Ipc,
            "uts" => NsKind::Uts,
            "pid" => NsKind::Pid,
            "user" => NsKind::User,
            _ => return None,
        })
    }
}

/// Where a pod namespace of one kind comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsChoice {
    /// A new one, made and pinned by the monitor.
    New,
    /// The host's: containers join the monitor's own.
    Host,
    /// An existing pinned one (a path such as `/run/netns/x`).
    Join(PathBuf),
}

/// Why a sandbox option was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NsOptionError {
    /// An unknown namespace kind in `--namespaces`.
    #[error("unknown namespace kind {0:?} (net, ipc, uts, pid, user)")]
    UnknownKind(String),
    /// A kind named twice.
    #[error("namespace kind {0} given twice")]
    Twice(&'static str),
    /// `kind=VALUE` where VALUE is neither `host` nor an absolute path.
    #[error("namespace {kind}={value:?}: give host or an absolute path")]
    BadChoice {
        /// The kind.
        kind: &'static str,
        /// What followed the '='.
        value: String,
    },
    /// A `--sysctl` without '='.
    #[error("sysctl {0:?} is not of the form key=value")]
    SysctlSyntax(String),
    /// A sysctl that no namespace of the pod confines: writing it would
    /// change the host.
    #[error("sysctl {key} is not namespaced{}: it would change the host, refused", .needs.map(|k| format!(" without a new {k} namespace")).unwrap_or_default())]
    SysctlNotNamespaced {
        /// The key.
        key: String,
        /// The kind of namespace that would confine it, if one would.
        needs: Option<&'static str>,
    },
    /// `--hostname` without a new UTS namespace.
    #[error("--hostname needs a new uts namespace (--namespaces ...,uts)")]
    HostnameWithoutUts,
    /// A sysctl key with characters that are no sysctl's.
    #[error("sysctl key {0:?} is not a sysctl name")]
    SysctlKey(String),
    /// A user namespace (new or joined) without both id maps.
    #[error(
        "a user namespace needs --uid-map and --gid-map (CONTAINER:HOST:SIZE), each mapping container id 0"
    )]
    UserWithoutMaps,
    /// `user=/path`: the pod's new namespaces would belong to the host's
    /// user namespace, which the containers in the joined one cannot enter.
    #[error(
        "user=PATH is not supported: give user (a new one, with --uid-map/--gid-map) or user=host"
    )]
    JoinUser,
    /// Id maps without a user namespace to apply them to.
    #[error("--uid-map and --gid-map need a user namespace (--namespaces ...,user)")]
    MapsWithoutUser,
    /// A malformed or inconsistent id map.
    #[error(transparent)]
    IdMap(#[from] crate::sys::idmap::IdMapError),
}

/// Parses `--namespaces`: comma-separated kinds, each `kind`, `kind=host`
/// or `kind=/path`.
pub fn parse_namespaces(s: &str) -> Result<Vec<(NsKind, NsChoice)>, NsOptionError> {
    let mut out: Vec<(NsKind, NsChoice)> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        let kind = NsKind::parse(name).ok_or_else(|| NsOptionError::UnknownKind(name.into()))?;
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(NsOptionError::Twice(kind.name()));
        }
        let choice = match value {
            None => NsChoice::New,
            Some("host") => NsChoice::Host,
            Some(p) if p.starts_with('/') => NsChoice::Join(PathBuf::from(p)),
            Some(v) => {
                return Err(NsOptionError::BadChoice {
                    kind: kind.name(),
                    value: v.into(),
                });
            }
        };
        out.push((kind, choice));
    }
    Ok(out)
}

/// Parses one `--sysctl key=value`.
pub fn parse_sysctl(s: &str) -> Result<(String, String), NsOptionError> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| NsOptionError::SysctlSyntax(s.into()))?;
    let k = k.trim();
    let ok = !k.is_empty()
        && !k.starts_with('.')
        && !k.contains("..")
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if !ok || k.contains('/') && k.contains('.') {
        return Err(NsOptionError::SysctlKey(k.into()));
    }
    Ok((k.replace('/', "."), v.trim().to_owned()))
}

/// The IPC sysctls a new IPC namespace confines: runc's list
/// (libcontainer/configs/validate: `validateSysctl`), which follows the
/// kernel's ipc_sysctls table.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Which namespace kind confines sysctl `key`, after runc's validation
/// (`fs.mqueue.*` and the IPC list need ipc, `net.*` needs net,
/// `kernel.hostname`/`kernel.domainname` need uts); `None` for every
/// other key: a host-wide setting such as `vm.swappiness`.
pub fn sysctl_namespace(key: &str) -> Option<NsKind> {
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(NsKind::Ipc)
    } else if key.starts_with("net.") {
        Some(NsKind::Net)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(NsKind::Uts)
    } else {
        None
    }
}

/// Refuses a sysctl unless the pod makes a new namespace of the kind that
/// confines it (`new` lists the kinds the monitor makes).
pub fn check_sysctl(key: &str, new: &[NsKind]) -> Result<(), NsOptionError> {
    match sysctl_namespace(key) {
        Some(k) if new.contains(&k) => Ok(()),
        needs => Err(NsOptionError::SysctlNotNamespaced {
            key: key.into(),
            needs: needs.map(NsKind::name),
        }),
    }
}

/// Writes `value` to `/proc/sys/KEY` (dots become slashes), in the
/// namespaces of the calling process.
pub fn write_sysctl(key: &str, value: &str) -> Result<(), SysError> {
    let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&path, value.as_bytes()).map_err(|e| SysError::at("writing", &path, &e))
}

/// Sets the host name of the calling process's UTS namespace.
pub fn set_hostname(name: &str) -> Result<(), SysError> {
    // SAFETY: the pointer and length describe `name`'s bytes, alive for
    // the call; sethostname only reads them.
    let rc = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(SysError::io("sethostname", &io::Error::last_os_error()));
    }
    Ok(())
}

/// Brings the loopback interface of the calling process's network
/// namespace up, as `ip link set lo up` would, with SIOCSIFFLAGS on an
/// AF_INET socket (no `ip` binary needed).
pub fn loopback_up() -> Result<(), SysError> {
    let err = |op: &'static str| SysError::io(op, &io::Error::last_os_error());
    // SAFETY: plain socket(2); the descriptor is owned right below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err("socket(AF_INET)"));
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of the
    // ifreq we pass, which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(err("SIOCGIFFLAGS lo"));
    }
    // SAFETY: the union member SIOCGIFFLAGS just wrote.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: as above; SIOCSIFFLAGS reads the name and flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(err("SIOCSIFFLAGS lo"));
    }
    Ok(())
}

/// The pin file of `kind` for `pod` under `base`: `BASE/netns/POD` etc.
pub fn pin_path(base: &Path, kind: NsKind, pod: &str) -> PathBuf {
    base.join(kind.pin_dir()).join(pod)
}

pub(crate) fn cstring(p: &Path) -> Result<CString, SysError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| SysError::other("path with NUL", p.display()).with_path(p))
}

/// Pins namespace `kind` of process `pid` at `target` (an empty file
/// bind-mounted over by `/proc/PID/ns/X`): the namespace lives as long as
/// the mount, whatever becomes of the process.
pub fn pin(pid: i32, kind: NsKind, target: &Path) -> Result<(), SysError> {
    if let Some(dir) = target.parent() {
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(b.recursive(true), 0o755);
        b.create(dir)
            .map_err(|e| SysError::at("creating", dir, &e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(|e| SysError::at("creating", target, &e))?;
    let src = PathBuf::from(format!("/proc/{pid}/ns/{}", kind.name()));
    let (csrc, ctarget) = (cstring(&src)?, cstring(target)?);
    // SAFETY: both strings are NUL-terminated and alive for the call; no
    // file system type or data for a bind mount.
    let rc = unsafe {
        libc::mount(
            csrc.as_ptr(),
            ctarget.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        let _ = std::fs::remove_file(target);
        return Err(SysError::at(
            format!("bind-mounting {}", src.display()),
            target,
            &e,
        ));
    }
    Ok(())
}

/// Removes a pin: a lazy unmount (MNT_DETACH, so a process that still has
/// it open does not make it fail) and the file. A pin already gone is fine.
pub fn unpin(target: &Path) -> Result<(), SysError> {
    let c = cstring(target)?;
    // SAFETY: a NUL-terminated path alive for the call.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point (any more); ENOENT: no file.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) {
            return Err(SysError::at("unmounting", target, &e));
        }
    }
    match std::fs::remove_file(target) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SysError::at("removing", target, &e)),
        _ => Ok(()),
    }
}

/// Whether `path` is a namespace file (on nsfs): a pin whose mount is
/// still there, or `/proc/PID/ns/X`.
pub fn is_namespace_file(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let Ok(c) = cstring(path) else { return false };
    // SAFETY: statfs is plain old data; zeroes are valid; `c` is alive.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a buffer of the right type.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == NSFS_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_parse() {
        assert_eq!(
            parse_namespaces("net,ipc=host,uts=/run/utsns/x,pid").unwrap(),
            vec![
                (NsKind::Net, NsChoice::New),
                (NsKind::Ipc, NsChoice::Host),
                (NsKind::Uts, NsChoice::Join("/run/utsns/x".into())),
                (NsKind::Pid, NsChoice::New),
            ]
        );
        assert_eq!(parse_namespaces("").unwrap(), vec![]);
        assert!(matches!(
            parse_namespaces("net,mnt"),
            Err(NsOptionError::UnknownKind(k)) if k == "mnt"
        ));
        assert!(matches!(
            parse_namespaces("net,net=host"),
            Err(NsOptionError::Twice("net"))
        ));
        assert!(matches!(
            parse_namespaces("net=relative"),
            Err(NsOptionError::BadChoice { .. })
        ));
    }

    #[test]
    fn sysctls_parse_and_check() {
        assert_eq!(
            parse_sysctl("net.ipv4.ip_unprivileged_port_start=0").unwrap(),
            ("net.ipv4.ip_unprivileged_port_start".into(), "0".into())
        );
        assert_eq!(
            parse_sysctl("net/ipv4/ip_forward=1").unwrap().0,
            "net.ipv4.ip_forward"
        );
        assert!(parse_sysctl("novalue").is_err());
        assert!(parse_sysctl("../etc=1").is_err());
        assert!(parse_sysctl("net..x=1").is_err());
        let new = [NsKind::Net, NsKind::Ipc];
        assert!(check_sysctl("net.ipv4.ip_forward", &new).is_ok());
        assert!(check_sysctl("kernel.shmmax", &new).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", &new).is_ok());
        let e = check_sysctl("vm.swappiness", &new).unwrap_err();
        assert!(
            e.to_string().contains("vm.swappiness is not namespaced"),
            "{e}"
        );
        let e = check_sysctl("kernel.hostname", &new).unwrap_err();
        assert!(e.to_string().contains("without a new uts namespace"), "{e}");
        assert!(check_sysctl("net.core.somaxconn", &[NsKind::Ipc]).is_err());
        assert!(check_sysctl("kernel.shmall_x", &new).is_err());
    }

    #[test]
    fn pin_layout() {
        assert_eq!(
            pin_path(Path::new("/run/podmon/ns"), NsKind::Net, "p1"),
            Path::new("/run/podmon/ns/netns/p1")
        );
        assert_eq!(NsKind::Net.oci_type(), "network");
    }
}
