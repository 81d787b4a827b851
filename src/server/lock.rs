//! One monitor per state directory: an exclusive `flock` on
//! `STATE/monitor.lock`, held for the monitor's life (the kernel drops it
//! when the process ends, however it ends), with the holder's pid in the
//! file so a second monitor can say who is in the way.

use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};

use crate::sys::files::PRIVATE_FILE;

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "monitor.lock";

/// Why the state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another monitor holds the lock.
    #[error("state directory {} is in use by another monitor (pid {})", dir.display(), pid.map_or("unknown".to_owned(), |p| p.to_string()))]
    InUse {
        /// The state directory.
        dir: PathBuf,
        /// The pid written by the holder, if readable.
        pid: Option<u32>,
    },
    /// The lock file could not be opened, locked or written.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What failed ("opening", "flock", "writing").
        op: &'static str,
        /// The lock file.
        path: PathBuf,
        /// The error, with its errno.
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// Takes the lock of the state directory opened as `dir` (at path
/// `dir_path`), or says which monitor holds it.
pub fn lock(dir: &OwnedFd, dir_path: &Path) -> Result<StateLock, LockError> {
    let path = dir_path.join(LOCK_FILE);
    let io = |op, source: std::io::Error| LockError::Io {
        op,
        path: path.clone(),
        source,
    };
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, LOCK_FILE, flags, Mode::from_raw_mode(PRIVATE_FILE))
        .map_err(|e| io("opening", e.into()))?;
    let mut file = std::fs::File::from(fd);
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::InUse {
                dir: dir_path.to_owned(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(e) => return Err(io("flock", e.into())),
    }
    file.set_len(0).map_err(|e| io("truncating", e))?;
    file.rewind().map_err(|e| io("writing", e))?;
    writeln!(file, "{}", std::process::id()).map_err(|e| io("writing", e))?;
    Ok(StateLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::files::ensure_dir;

    #[test]
    fn a_second_lock_names_the_holder() {
        let d = std::env::temp_dir().join(format!("podmon-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let dir = ensure_dir(&d, 0o700, None).unwrap();
        let held = lock(&dir.fd, &d).unwrap();
        let text = std::fs::read_to_string(d.join(LOCK_FILE)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        // flock locks belong to the open file: a second open conflicts.
        let e = lock(&dir.fd, &d).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "state directory {} is in use by another monitor (pid {})",
                d.display(),
                std::process::id()
            )
        );
        drop(held);
        lock(&dir.fd, &d).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
