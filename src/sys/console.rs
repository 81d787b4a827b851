//! Receiving a pty master from the runtime (`--console-socket`).
//!
//! For terminal containers and execs the runtime creates the pty inside the
//! container and sends its master over a UNIX socket that podmon listens
//! on, as an SCM_RIGHTS message. podmon keeps the master: it reads output
//! from it, writes input to it and resizes it.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use crate::reactor::ops;

/// A listening console socket; removed from the file system when dropped.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: OwnedFd,
}

impl ConsoleSocket {
    /// Listens at `path` (replacing a stale file).
    pub fn bind(path: &Path) -> io::Result<ConsoleSocket> {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        Ok(ConsoleSocket {
            path: path.to_owned(),
            listener: OwnedFd::from(l),
        })
    }

    /// The socket's path, for the runtime's command line.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the runtime to connect and send the pty master.
    pub async fn receive(&self) -> io::Result<OwnedFd> {
        let conn = ops::accept(self.listener.as_fd()).await?;
        loop {
            ops::readable(conn.as_fd()).await?;
            let mut name = [0u8; 256];
            let mut iov = [io::IoSliceMut::new(&mut name)];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            match rustix::net::recvmsg(
                &conn,
                &mut iov,
                &mut control,
                RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(_) => {}
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            for msg in control.drain() {
                if let RecvAncillaryMessage::ScmRights(mut fds) = msg
                    && let Some(fd) = fds.next()
                {
                    return Ok(fd);
                }
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the runtime sent no pty on the console socket",
            ));
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Applies a terminal size to a pty master (TIOCSWINSZ); the process gets
/// SIGWINCH from the kernel.
pub fn resize(pty: BorrowedFd<'_>, cols: u16, rows: u16) {
    let ws = rustix::termios::Winsize {
        ws_col: cols,
        ws_row: rows,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    if let Err(e) = rustix::termios::tcsetwinsize(pty, ws) {
        log::debug!("TIOCSWINSZ: {e}");
    }
}
