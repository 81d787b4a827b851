//! Which OCI runtime binary podmon drives (runc, crun) and where it keeps
//! the pod's container records. The command lines are in `argv`, what the
//! runtime prints is read in `output`, and running it is `driver`'s job.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use thiserror::Error;

use super::limit::{DEFAULT_CONCURRENCY, Limiter};

/// Runtimes tried on $PATH when none is configured, in order of preference
/// (crun starts faster; runc is the reference).
pub const SEARCH_ORDER: [&str; 2] = ["crun", "runc"];

/// How long one runtime invocation may take unless configured
/// (`--runtime-timeout`): far above a healthy runtime's tens of
/// milliseconds, yet a hung one cannot hold a call (or a container) forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One OCI runtime binary plus the per-pod state directory it keeps its
/// container records in (`--root`), so pods never see each other's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The runtime executable.
    pub path: PathBuf,
    /// Passed as `--root`: the runtime's state dir for this pod.
    pub root: PathBuf,
    /// The deadline of every invocation: then the runtime is killed (with
    /// everything it started) and the call fails naming the timeout.
    pub timeout: Duration,
    /// How many runtime processes run at once, shared by every clone: the
    /// deletes of a teardown overlap, bounded (see `limit`).
    pub limit: Rc<Limiter>,
}

/// Why no usable runtime binary was found.
#[derive(Debug, Error)]
pub enum RuntimeLocateError {
    /// The configured path does not exist or cannot be inspected.
    #[error("OCI runtime {path:?}: {source}")]
    Inaccessible {
        /// The configured path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configured path is a directory or lacks execute permission.
    #[error("OCI runtime {0:?} is not an executable file")]
    NotExecutable(PathBuf),
    /// Neither crun nor runc is on $PATH.
    #[error("no OCI runtime found: neither crun nor runc is on $PATH")]
    NotFound,
}

impl Runtime {
    /// Uses `explicit` if given (it must exist and be executable, else the
    /// error names it); otherwise the first of crun, runc on $PATH.
    pub fn locate(explicit: Option<&Path>, root: PathBuf) -> Result<Runtime, RuntimeLocateError> {
        if let Some(path) = explicit {
            let meta =
                std::fs::metadata(path).map_err(|source| RuntimeLocateError::Inaccessible {
                    path: path.to_owned(),
                    source,
                })?;
            if !is_executable(&meta) {
                return Err(RuntimeLocateError::NotExecutable(path.to_owned()));
            }
            if is_crun(path) && hybrid_cgroups() {
                log::warn!(
                    "{}: crun does not support hybrid cgroups ({HYBRID}); its creates may fail here",
                    path.display()
                );
            }
            return Ok(Runtime::new(path.to_owned(), root));
        }
        let search = std::env::var_os("PATH").unwrap_or_default();
        let found: Vec<PathBuf> = SEARCH_ORDER
            .iter()
            .filter_map(|name| find_on_path(&search, &[name]))
            .collect();
        let (path, why) = choose(found, hybrid_cgroups());
        if let Some(why) = why {
            log::info!("{why}");
        }
        path.map(|path| Runtime::new(path, root))
            .ok_or(RuntimeLocateError::NotFound)
    }

    /// `path` with the default timeout and bound.
    pub fn new(path: PathBuf, root: PathBuf) -> Runtime {
        Runtime {
            path,
            root,
            timeout: DEFAULT_TIMEOUT,
            limit: Rc::new(Limiter::new(DEFAULT_CONCURRENCY)),
        }
    }

    /// The same runtime with at most `n` of its processes at once (1: one
    /// after another, the baseline the teardown bench measures against).
    pub fn with_concurrency(self, n: usize) -> Runtime {
        Runtime {
            limit: Rc::new(Limiter::new(n)),
            ..self
        }
    }

    /// The same runtime with another deadline per invocation.
    pub fn with_timeout(self, timeout: Duration) -> Runtime {
        Runtime { timeout, ..self }
    }

    /// The binary's file name ("runc", "crun"), for messages and quirks.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap_or(self.path.as_os_str())
            .to_string_lossy()
            .into_owned()
    }
}

/// What a hybrid host is, for the log.
const HYBRID: &str = "cgroup2 at /sys/fs/cgroup/unified beside the v1 controllers";

/// Whether `path` is crun (by its file name, as `name` says it).
fn is_crun(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "crun")
}

/// Which of the runtimes `found` on $PATH (in [`SEARCH_ORDER`]) to use, and
/// why one was passed over: crun refuses every create on a hybrid-cgroup
/// host ("cgroups in hybrid mode not supported", crun 1.8), so there runc
/// goes first; crun alone is still taken (it may work with the unified
/// hierarchy out of its sight), with a warning.
fn choose(found: Vec<PathBuf>, hybrid: bool) -> (Option<PathBuf>, Option<String>) {
    if !hybrid {
        return (found.into_iter().next(), None);
    }
    let (cruns, others): (Vec<PathBuf>, Vec<PathBuf>) = found.into_iter().partition(|p| is_crun(p));
    match (cruns.first(), others.into_iter().next()) {
        (Some(crun), Some(other)) => {
            let why = format!(
                "OCI runtime: {} rather than {}: crun does not support hybrid cgroups ({HYBRID})",
                other.display(),
                crun.display()
            );
            (Some(other), Some(why))
        }
        (Some(crun), None) => {
            let why = format!(
                "OCI runtime: only {} found; it does not support hybrid cgroups ({HYBRID}), creates may fail",
                crun.display()
            );
            (Some(crun.clone()), Some(why))
        }
        (None, other) => (other, None),
    }
}

/// A hybrid cgroup host: /sys/fs/cgroup is the tmpfs of the v1 hierarchies
/// and a cgroup2 file system is mounted at /sys/fs/cgroup/unified. Two
/// statfs calls, once at start (never on the event loop's hot path).
fn hybrid_cgroups() -> bool {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
    let magic = |p: &str| rustix::fs::statfs(p).map(|s| s.f_type as u64).ok();
    magic("/sys/fs/cgroup") == Some(TMPFS_MAGIC)
        && magic("/sys/fs/cgroup/unified") == Some(CGROUP2_SUPER_MAGIC)
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

/// First `names` entry found as an executable file in a $PATH-style list.
fn find_on_path(search: &OsStr, names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        std::env::split_paths(search)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(name))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| is_executable(&m)))
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A runc with a per-pod root, for the argv tests too.
    pub(in crate::oci) fn rt() -> Runtime {
        Runtime::new("/usr/sbin/runc".into(), "/run/podmon/pod1/runc".into())
    }

    #[test]
    fn name_is_file_name() {
        assert_eq!(rt().name(), "runc");
        let crun = Runtime::new("/opt/bin/crun".into(), "/r".into());
        assert_eq!(crun.name(), "crun");
    }

    #[test]
    fn hybrid_hosts_prefer_runc_and_say_why() {
        let crun = PathBuf::from("/usr/bin/crun");
        let runc = PathBuf::from("/usr/sbin/runc");
        let both = vec![crun.clone(), runc.clone()];
        assert_eq!(choose(both.clone(), false), (Some(crun.clone()), None));
        let (path, why) = choose(both, true);
        assert_eq!(path, Some(runc.clone()));
        let why = why.expect("a reason");
        assert!(
            why.contains("hybrid") && why.contains("/usr/bin/crun"),
            "{why}"
        );
        let (path, why) = choose(vec![crun.clone()], true);
        assert_eq!(path, Some(crun));
        assert!(why.expect("a warning").contains("may fail"));
        assert_eq!(choose(vec![runc.clone()], true), (Some(runc), None));
        assert_eq!(choose(vec![], true), (None, None));
    }

    #[test]
    fn locate_explicit() {
        let dir = std::env::temp_dir().join(format!("podmon-rt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let exe = dir.join("myruntime");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let noexec = dir.join("noexec");
        std::fs::write(&noexec, "").expect("write");
        std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).expect("chmod");

        let r = Runtime::locate(Some(&exe), "/root".into()).expect("found");
        assert_eq!(r.path, exe);
        assert_eq!(r.root, PathBuf::from("/root"));
        assert_eq!(r.name(), "myruntime");
        assert_eq!(r.timeout, DEFAULT_TIMEOUT);
        let r = r.with_timeout(Duration::from_secs(3));
        assert_eq!(r.timeout, Duration::from_secs(3));

        let err = Runtime::locate(Some(&noexec), "/r".into()).expect_err("not executable");
        assert!(matches!(err, RuntimeLocateError::NotExecutable(_)));
        assert!(err.to_string().contains("noexec"), "{err}");
        let err = Runtime::locate(Some(&dir), "/r".into()).expect_err("a directory");
        assert!(matches!(err, RuntimeLocateError::NotExecutable(_)));
        let missing = dir.join("missing");
        let err = Runtime::locate(Some(&missing), "/r".into()).expect_err("missing");
        assert!(err.to_string().contains("missing"), "{err}");

        // PATH search order: crun before runc, first directory wins.
        let d1 = dir.join("d1");
        let d2 = dir.join("d2");
        for d in [&d1, &d2] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::copy(&exe, d1.join("runc")).expect("copy");
        std::fs::copy(&exe, d2.join("crun")).expect("copy");
        std::fs::copy(&noexec, d1.join("crun")).expect("copy");
        let search = std::env::join_paths([&d1, &d2]).expect("join");
        assert_eq!(find_on_path(&search, &SEARCH_ORDER), Some(d2.join("crun")));
        assert_eq!(find_on_path(&search, &["runc"]), Some(d1.join("runc")));
        assert_eq!(find_on_path(&search, &["nosuch"]), None);
        assert_eq!(find_on_path(OsStr::new("relative:"), &["runc"]), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
