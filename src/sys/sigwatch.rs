//! Signals as events on the loop: SIGCHLD, SIGTERM, SIGINT and SIGHUP are
//! blocked and read from a signalfd through io_uring, so no signal handler
//! ever runs and no system call is interrupted.

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use crate::reactor::ops;

/// The signals the monitor handles.
const WATCHED: [i32; 4] = [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// A signalfd for the watched signals.
pub struct SignalWatch {
    fd: OwnedFd,
    buf: Vec<u8>,
}

fn watched_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in WATCHED {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

impl SignalWatch {
    /// Blocks the watched signals on this (the only) thread and opens the
    /// signalfd. Children get an empty mask again: the standard library
    /// resets it when it spawns a process.
    pub fn new() -> io::Result<SignalWatch> {
        let set = watched_set();
        // SAFETY: `set` is initialised; the old mask is not needed.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: `set` is initialised; -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: signalfd returned a new descriptor that we own alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(SignalWatch {
            fd,
            buf: Vec::with_capacity(std::mem::size_of::<libc::signalfd_siginfo>() * 8),
        })
    }

    /// Waits for the next signals; returns their numbers (several may have
    /// arrived; equal pending signals merge into one, as always).
    ///
    /// Cancel-safe: it waits for readiness and then reads at once, so a
    /// caller that drops it (a `select` another branch won) loses no
    /// signal and no buffer.
    pub async fn next(&mut self) -> io::Result<Vec<i32>> {
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        loop {
            ops::readable(self.fd.as_fd()).await?;
            self.buf.clear();
            self.buf.reserve(size * 8);
            let spare = &mut self.buf.spare_capacity_mut()[..size * 8];
            let n = match rustix::io::read(&self.fd, spare) {
                Ok((init, _)) => init.len(),
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            // SAFETY: read(2) initialised the first `n` spare bytes.
            unsafe { self.buf.set_len(n) };
            return Ok(self
                .buf
                .chunks_exact(size)
                .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as i32)
                .collect());
        }
    }
}
