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
            return Ok(Runtime::new(path.to_owned(), root));
        }
        let search = std::env::var_os("PATH").unwrap_or_default();
        find_on_path(&search, &SEARCH_ORDER)
            .map(|path| Runtime::new(path, root))
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
