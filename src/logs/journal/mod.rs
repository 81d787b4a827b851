//! The journald log driver: a container's lines as entries of the
//! systemd journal, sent in its native protocol (see `format.rs` for the
//! fields, `socket.rs` for the datagrams, the memfd for big entries and
//! the waiting), alone or next to the CRI file (`both.rs`).

pub mod both;
pub mod format;
pub mod socket;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;

use super::driver::{LogDriver, RecordFormat, WriteResult};
pub use format::{Identity, JournalFormat};
pub use socket::JournalSocket;

/// Sends a container's output to journald, one entry per line (or piece
/// of a long line).
pub struct JournalDriver {
    socket: JournalSocket,
    format: Rc<JournalFormat>,
}

impl JournalDriver {
    /// A driver for container `who` on `socket`, lines split at `max_line`.
    pub fn new(socket: JournalSocket, who: &Identity, max_line: usize) -> JournalDriver {
        JournalDriver {
            socket,
            format: Rc::new(JournalFormat::new(who, max_line)),
        }
    }

    /// Sends every framed entry of `buf`; on error the buffer comes back
    /// holding the entries not yet sent (the failed one first).
    pub(crate) async fn send_all(&mut self, mut buf: Vec<u8>) -> WriteResult {
        let mut sent = 0;
        let mut failed = None;
        for entry in format::frames(&buf) {
            if let Err(e) = self.socket.send(entry).await {
                failed = Some(e);
                break;
            }
            sent += format::FRAME_HEADER + entry.len();
        }
        match failed {
            Some(e) => {
                buf.drain(..sent);
                (Err(with_path(e, self.socket.path())), buf)
            }
            None => {
                buf.clear();
                (Ok(()), buf)
            }
        }
    }

    /// Connects to the journal again (the error keeps its errno).
    pub(crate) fn reconnect(&mut self) -> io::Result<()> {
        self.socket.reconnect()
    }
}

/// An error that names the journal's socket (the sink's message has no
/// file path to add for this driver).
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("sending to the journal at {}: {e}", path.display()),
    )
}

impl LogDriver for JournalDriver {
    fn formatter(&self) -> Rc<dyn RecordFormat> {
        self.format.clone()
    }

    fn write(&mut self, buf: Vec<u8>) -> Pin<Box<dyn Future<Output = WriteResult> + '_>> {
        Box::pin(self.send_all(buf))
    }

    /// ReopenLog connects to the journal again.
    fn reopen(&mut self) -> io::Result<()> {
        self.reconnect()
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn generation(&self) -> u64 {
        0
    }
}
