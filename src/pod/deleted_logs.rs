//! The logs of deleted containers, readable by id until the monitor ends:
//! DeleteContainer removes the container and podmon's directory, never its
//! log file, and an engine (or `podmon logs`) still asks for it by id, as
//! kubelet reads a terminated container's log. Only the paths are kept,
//! at most [`MAX`] of them, the oldest forgotten first (its file stays).
//! PurgeLog removes such a log's files and forgets it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use crate::logs::logfile::LogDir;
use crate::sys::error::SysError;

/// Most deleted containers whose log is remembered.
pub const MAX: usize = 1024;

/// Id → log path of deleted containers, oldest first.
#[derive(Debug, Default)]
pub struct DeletedLogs {
    logs: RefCell<VecDeque<(String, PathBuf)>>,
}

impl DeletedLogs {
    /// Remembers the log of container `id`, just deleted.
    pub fn remember(&self, id: &str, path: &Path) {
        let mut logs = self.logs.borrow_mut();
        logs.retain(|(i, _)| i != id);
        if logs.len() == MAX {
            logs.pop_front();
        }
        logs.push_back((id.to_owned(), path.to_owned()));
    }

    /// Forgets `id` (a new container of that id has its own log now).
    pub fn forget(&self, id: &str) {
        self.logs.borrow_mut().retain(|(i, _)| i != id);
    }

    /// Removes the files of deleted container `id`'s log (`ID.log` and its
    /// rotated files) and forgets it: None when it is not remembered, else
    /// the paths removed (none if someone removed them already).
    pub fn purge(&self, id: &str) -> Option<Result<Vec<PathBuf>, SysError>> {
        let path = self.get(id)?;
        let removed = purge_files(&path)
            .map_err(|e| SysError::at("removing a deleted container's log", &path, &e));
        if removed.is_ok() {
            self.forget(id);
        }
        Some(removed)
    }

    /// The log of deleted container `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<PathBuf> {
        let logs = self.logs.borrow();
        logs.iter().find(|(i, _)| i == id).map(|(_, p)| p.clone())
    }
}

fn purge_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let removed = LogDir::open(dir)?.remove_all(name)?;
    Ok(removed.into_iter().map(|n| dir.join(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_latest_wins() {
        let d = DeletedLogs::default();
        for i in 0..MAX + 5 {
            d.remember(&format!("c{i}"), Path::new(&format!("/l/c{i}.log")));
        }
        assert_eq!(d.get("c0"), None, "the oldest are forgotten");
        assert_eq!(d.get("c5"), Some(PathBuf::from("/l/c5.log")));
        d.remember("c5", Path::new("/other"));
        assert_eq!(d.get("c5"), Some(PathBuf::from("/other")));
        assert_eq!(d.logs.borrow().len(), MAX);
        d.forget("c5");
        assert_eq!(d.get("c5"), None);
    }

    #[test]
    fn purge_removes_the_log_and_its_rotated_files() {
        let dir = std::env::temp_dir().join(format!("podmon-purge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["a.log", "a.log.1", "a.log.2", "a.log.4", "b.log"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let d = DeletedLogs::default();
        d.remember("a", &dir.join("a.log"));
        assert!(d.purge("b").is_none(), "not remembered");
        let removed = d.purge("a").unwrap().unwrap();
        assert_eq!(
            removed,
            ["a.log", "a.log.1", "a.log.2"].map(|f| dir.join(f))
        );
        assert!(dir.join("b.log").exists() && dir.join("a.log.4").exists());
        assert!(d.purge("a").is_none(), "forgotten once purged");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
