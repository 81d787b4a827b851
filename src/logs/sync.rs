//! When a log reaches the disk (`logSync`): at the container's exit (the
//! default, as conmon does), about once a second while it writes, or when
//! the kernel gets to it. A sync never runs on the loop: on io_uring it is
//! an IORING_OP_FSYNC (DATASYNC) on an io-wq worker; on the epoll backend,
//! which has no workers, a `sync --data` child process does it on a
//! descriptor of the same file, and the loop waits for the child's pidfd.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::reactor::ops;
use crate::sys::process;

/// The sync policy of a container's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSync {
    /// Once the container's output ended and is written: WaitContainer
    /// answers after the log is on disk.
    #[default]
    Exit,
    /// Also in the background, at most once a second while it writes.
    Interval,
    /// Never: the kernel's writeback decides.
    Never,
}

/// Writes the file's data (and the metadata needed to read it) to disk.
pub async fn data_sync(fd: BorrowedFd<'_>) -> io::Result<()> {
    match ops::fdatasync(fd).await {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => by_child(fd).await,
        other => other,
    }
}

/// `sync --data /dev/stdin` with a duplicate of `fd` as its stdin: it
/// opens the same file again and fdatasyncs it (any descriptor of a file
/// syncs its data).
async fn by_child(fd: BorrowedFd<'_>) -> io::Result<()> {
    let stdin = fd.as_fd().try_clone_to_owned()?;
    let args = [OsString::from("--data"), OsString::from("/dev/stdin")];
    let (child, _, _) = process::spawn(Path::new("sync"), &args, Some(stdin), None, None)?;
    let status = child.wait().await?;
    match status.code {
        Some(0) => Ok(()),
        _ => Err(io::Error::other(format!(
            "sync --data ended with {status:?}"
        ))),
    }
}
