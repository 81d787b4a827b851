//! Gates: a container waits for a file the test creates, so the test
//! decides when it goes on.

use std::fs;
use std::path::PathBuf;

use super::rootfs;

/// A gate: the container waits until the host creates a file in the shared rootfs's /tmp.
pub struct Gate {
    host: PathBuf,
    inside: String,
}

impl Gate {
    /// The gate of container `id` in pod `pod`; the name carries both and
    /// the test process's pid, so tests running in parallel never share one.
    pub(super) fn new(pod: &str, id: &str) -> Gate {
        let name = format!("gate-{pod}-{}-{id}", std::process::id());
        let host = rootfs().join("tmp").join(&name);
        let _ = fs::remove_file(&host);
        Gate {
            host,
            inside: format!("/tmp/{name}"),
        }
    }

    /// `sh -c` script that waits for the gate, then runs `then`.
    pub fn script(&self, then: &str) -> String {
        format!(
            "while [ ! -e {} ]; do usleep 20000; done; {then}",
            self.inside
        )
    }

    pub fn open(&self) {
        fs::write(&self.host, b"go").unwrap();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.host);
    }
}
