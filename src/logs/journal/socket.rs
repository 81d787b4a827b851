//! The journal's native socket: one datagram per entry, non-blocking, on
//! the event loop.
//!
//! The socket is connected (a datagram socket may be), which is what lets
//! the loop wait for journald: an unconnected sender always polls
//! writable, while a connected one polls writable only once the
//! journal's receive queue has room again. So a slow journald makes the
//! writer wait (and, through the pumps' high-water mark, the container's
//! writes block); nothing is dropped. An entry too big for a datagram
//! (EMSGSIZE: the socket's send buffer, about 208 KiB by default) goes the
//! way `sd_journal_sendv` sends it: written to a sealed memfd whose
//! descriptor travels alone in an empty datagram (SCM_RIGHTS). A journald
//! that restarted leaves the old connection refused: the next send
//! connects again.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};

use crate::reactor::ops;

/// A connection to the journal's socket, made again when it breaks.
#[derive(Debug)]
pub struct JournalSocket {
    path: PathBuf,
    fd: Option<OwnedFd>,
}

/// A new non-blocking datagram socket connected to `path`: ENOENT when
/// nothing is there, ECONNREFUSED when no journald listens.
fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    let addr = SocketAddrUnix::new(path)?;
    rustix::net::connect(&fd, &addr)?;
    Ok(fd)
}

/// Errors after which a new connection may work: journald restarted.
fn broken(e: Errno) -> bool {
    matches!(e, Errno::CONNREFUSED | Errno::NOTCONN | Errno::CONNRESET)
}

impl JournalSocket {
    /// Connects to the journal at `path` now, so a missing journal is the
    /// caller's error at once.
    pub fn open(path: &Path) -> io::Result<JournalSocket> {
        Ok(JournalSocket {
            path: path.to_owned(),
            fd: Some(connect(path)?),
        })
    }

    /// A socket that connects at its first send (a re-adopted container
    /// whose journal is not there yet: its sends fail, and are retried,
    /// until it is).
    pub fn lazy(path: &Path) -> JournalSocket {
        JournalSocket {
            path: path.to_owned(),
            fd: None,
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connects again (ReopenLog: the journal was restarted elsewhere).
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.fd = None;
        self.fd = Some(connect(&self.path)?);
        Ok(())
    }

    fn connected(&mut self) -> io::Result<BorrowedFd<'_>> {
        if self.fd.is_none() {
            self.fd = Some(connect(&self.path)?);
        }
        Ok(self.fd.as_ref().expect("connected").as_fd())
    }

    /// Sends one entry, waiting (on the loop) while the journal's queue
    /// is full; an entry too big for a datagram goes through a memfd.
    pub async fn send(&mut self, entry: &[u8]) -> io::Result<()> {
        let mut reconnected = false;
        loop {
            let fd = self.connected()?;
            let r = rustix::net::send(fd, entry, SendFlags::DONTWAIT | SendFlags::NOSIGNAL);
            match r {
                Ok(_) => return Ok(()),
                Err(Errno::AGAIN) => ops::writable(fd).await?,
                Err(Errno::INTR) => {}
                Err(Errno::MSGSIZE | Errno::NOBUFS) => return self.send_memfd(entry).await,
                Err(e) if broken(e) && !reconnected => {
                    reconnected = true;
                    self.fd = None;
                }
                Err(e) => {
                    if broken(e) {
                        self.fd = None;
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// An entry in a sealed memfd, its descriptor sent in an empty
    /// datagram: journald reads the entry from the file (it takes only
    /// sealed memfds, so the data cannot change under it). The copy into
    /// the memfd is a memory copy of at most one entry (logMaxLine, at
    /// most 1 MiB, plus the fields) on the loop.
    async fn send_memfd(&mut self, entry: &[u8]) -> io::Result<()> {
        let memfd = sealed_memfd(entry)?;
        let fds = [memfd.as_fd()];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        loop {
            let fd = self.connected()?;
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
                return Err(io::Error::other("a descriptor does not fit"));
            }
            let r = rustix::net::sendmsg(
                fd,
                &[IoSlice::new(&[])],
                &mut control,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            );
            match r {
                Ok(_) => return Ok(()),
                Err(Errno::AGAIN) => ops::writable(fd).await?,
                Err(Errno::INTR) => {}
                Err(e) => {
                    if broken(e) {
                        self.fd = None;
                    }
                    return Err(e.into());
                }
            }
        }
    }
}

/// A memfd holding `data`, sealed against any change (as journald wants).
fn sealed_memfd(data: &[u8]) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(
        "podmon-journal-entry",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut done = 0;
    while done < data.len() {
        match rustix::io::write(&fd, &data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    /// A socket that stands for journald: its datagrams, and the memfd
    /// contents of the empty ones.
    fn receive(server: &UnixDatagram) -> Vec<u8> {
        let mut buf = vec![0u8; 300 << 10];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            server,
            &mut [io::IoSliceMut::new(&mut buf)],
            &mut control,
            rustix::net::RecvFlags::empty(),
        )
        .unwrap();
        if got.bytes > 0 {
            return buf[..got.bytes].to_vec();
        }
        let fd = control
            .drain()
            .find_map(|m| match m {
                rustix::net::RecvAncillaryMessage::ScmRights(mut r) => r.next(),
                _ => None,
            })
            .expect("an empty datagram carries a memfd");
        let seals = rustix::fs::fcntl_get_seals(&fd).unwrap();
        assert!(seals.contains(SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW));
        // The sender's writes left the shared offset at the end (journald
        // maps the file).
        let mut f = std::fs::File::from(fd);
        std::io::Seek::rewind(&mut f).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        data
    }

    /// A fresh socket path for one test on one backend.
    fn socket_path(test: &str, b: crate::reactor::Backend) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "podmon-journal-{test}-{}-{b:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("socket")
    }

    #[test]
    fn small_entries_go_as_datagrams_and_big_ones_through_a_memfd() {
        crate::reactor::tests::on_both(|b| async move {
            let path = socket_path("sizes", b);
            let server = UnixDatagram::bind(&path).unwrap();
            let mut s = JournalSocket::open(&path).unwrap();
            s.send(b"MESSAGE=hi\n").await.unwrap();
            assert_eq!(receive(&server), b"MESSAGE=hi\n");
            let big = vec![b'x'; 280 << 10];
            s.send(&big).await.unwrap();
            let got = receive(&server);
            assert!(
                got == big,
                "{} bytes came back, not the {} sent",
                got.len(),
                big.len()
            );
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        });
    }

    #[test]
    fn a_missing_journal_is_an_error_at_open_and_a_restarted_one_is_found_again() {
        crate::reactor::tests::on_both(|b| async move {
            let path = socket_path("restart", b);
            let e = JournalSocket::open(&path).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
            let server = UnixDatagram::bind(&path).unwrap();
            let mut s = JournalSocket::open(&path).unwrap();
            drop(server);
            std::fs::remove_file(&path).unwrap();
            let again = UnixDatagram::bind(&path).unwrap();
            s.send(b"MESSAGE=after\n").await.unwrap();
            assert_eq!(receive(&again), b"MESSAGE=after\n");
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        });
    }

    #[test]
    fn a_full_journal_queue_makes_the_sender_wait_and_loses_nothing() {
        crate::reactor::tests::on_both(|b| async move {
            let path = socket_path("full", b);
            let server = UnixDatagram::bind(&path).unwrap();
            let mut s = JournalSocket::open(&path).unwrap();
            const N: usize = 3000;
            // The reader starts late: the queue fills and the sends wait
            // for writability on the loop until it drains.
            let reader = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                (0..N).map(|_| receive(&server)).collect::<Vec<_>>()
            });
            let started = std::time::Instant::now();
            for i in 0..N {
                s.send(format!("MESSAGE={i}\n").as_bytes()).await.unwrap();
            }
            assert!(started.elapsed() >= std::time::Duration::from_millis(250));
            let got = reader.join().unwrap();
            for (i, g) in got.iter().enumerate() {
                assert_eq!(g, format!("MESSAGE={i}\n").as_bytes());
            }
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        });
    }
}
