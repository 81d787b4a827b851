//! Write-behind: a log file keeps only a few windows of its data in the
//! page cache, so a container that writes gigabytes reuses the same pages
//! instead of taking fresh ones for every megabyte.
//!
//! Why: on these machines (a VM whose balloon has free page reporting on)
//! a page that stayed free for a couple of seconds goes back to the host,
//! and the first touch of it afterwards costs a host fault. Writing 1 GiB
//! into such pages took 1.75 s of system time; into pages freed a moment
//! before, 0.23 s (`dd bs=1M count=1024`, one run each, see the README's
//! Benchmarks). Every large log write took fresh pages, because the kernel
//! lets a file's clean cache grow until memory runs short, so log speed
//! depended on what the machine did seconds earlier. The same bound also
//! keeps a burst from piling up dirty data that a later `fdatasync` (the
//! `exit` sync policy) or the kernel's flusher must write at once.
//!
//! How: once a window of [`WINDOW`] bytes is written, its writeback is
//! started (`SYNC_FILE_RANGE_WRITE`); the window before it is waited for
//! and dropped from the cache (`POSIX_FADV_DONTNEED`), so its pages are
//! free, and still warm, when the next window needs pages. Both run on
//! io-wq workers, never on the loop; the writer task waits for them while
//! the pumps keep filling the other buffer. At most two windows per
//! container are dirty or cached by this file's writes. On the epoll
//! backend, which has no workers, nothing is done: the kernel's own
//! writeback applies there.

use std::io;
use std::os::fd::BorrowedFd;

use crate::reactor::ops;

/// Bytes per window: large enough that the two extra operations per window
/// cost nothing measurable (one pair per 8 MiB), small enough that two of
/// them are a modest share of memory per container.
pub const WINDOW: u64 = 8 << 20;

/// Where a file's write-behind stands.
#[derive(Debug)]
pub struct WriteBehind {
    /// End of the last window whose writeback was started; always a
    /// multiple of [`WINDOW`].
    started: u64,
    /// Off after the first `Unsupported`: the backend cannot do it.
    off: bool,
}

impl WriteBehind {
    /// For a file that already holds `size` bytes (appending after a
    /// restart or a reopen): what is there is left to the kernel.
    pub fn new(size: u64) -> WriteBehind {
        WriteBehind {
            started: size / WINDOW * WINDOW,
            off: false,
        }
    }

    /// Called after each write, with the file's size now: starts writeback
    /// of every window completed since, and drops the one before each.
    /// Its errors are only logged: the data was written, and the sync
    /// policy (or the reader of a failed writeback) reports what matters.
    pub async fn advance(&mut self, fd: BorrowedFd<'_>, size: u64) {
        while !self.off && size >= self.started + WINDOW {
            let window = self.started;
            self.started += WINDOW;
            if let Err(e) = Self::window_done(fd, window).await {
                if e.kind() == io::ErrorKind::Unsupported {
                    self.off = true;
                } else {
                    log::debug!("log write-behind at offset {window}: {e}");
                }
            }
        }
    }

    async fn window_done(fd: BorrowedFd<'_>, window: u64) -> io::Result<()> {
        const LEN: u32 = WINDOW as u32;
        ops::sync_range(fd, window, LEN, libc::SYNC_FILE_RANGE_WRITE).await?;
        let Some(before) = window.checked_sub(WINDOW) else {
            return Ok(());
        };
        let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        ops::sync_range(fd, before, LEN, wait).await?;
        ops::fadvise(fd, before, LEN, libc::POSIX_FADV_DONTNEED).await
    }
}
