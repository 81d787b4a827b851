//! The logs of deleted containers, readable by id until the monitor ends:
//! DeleteContainer removes the container and podmon's directory, never its
//! log file, and an engine (or `podmon logs`) still asks for it by id, as
//! kubelet reads a terminated container's log. Only the paths are kept,
//! at most [`MAX`] of them, the oldest forgotten first (its file stays).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

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

    /// The log of deleted container `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<PathBuf> {
        let logs = self.logs.borrow();
        logs.iter().find(|(i, _)| i == id).map(|(_, p)| p.clone())
    }
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
}
