//! The files of a CRI log on disk: `ID.log` and its rotated `ID.log.N`,
//! always reached relative to a descriptor of the log directory and never
//! through a symbolic link someone planted there.
//!
//! Every open is `openat(dir, name, O_NOFOLLOW | O_NONBLOCK)` and then
//! checked to be a regular file, so a link at `LOGDIR/ID.log` fails with
//! ELOOP (its target untouched) and a FIFO or device planted there can
//! neither block the loop nor receive output. Renames are `renameat`
//! within the directory; a rename never follows a link at its target name
//! (it replaces the link itself). The file created after a rotation is
//! opened with `O_EXCL`: it must be the one podmon just made.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// A log directory, held open so that every file operation names files
/// relative to the same directory.
#[derive(Debug)]
pub struct LogDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// Opens a directory (following links in its path: it is the operator's
/// configured log directory, which podmon created).
fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `fd` if it is a regular file, with O_NONBLOCK (used only so that opening
/// a planted FIFO cannot block) cleared again: io_uring would otherwise
/// answer EAGAIN instead of waiting for the page cache.
fn regular(fd: OwnedFd, keep: OFlags) -> io::Result<OwnedFd> {
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    rustix::fs::fcntl_setfl(&fd, keep)?;
    Ok(fd)
}

/// Opens a log file for reading, without following a link at its last
/// component; `path` is a log file's full path as the sink reports it.
pub fn open_read(path: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    regular(fd, OFlags::empty())
}

/// `NAME.N`.
fn rotated(name: &str, n: u32) -> String {
    format!("{name}.{n}")
}

fn ignore_missing(r: rustix::io::Result<()>) -> io::Result<()> {
    match r {
        Err(rustix::io::Errno::NOENT) => Ok(()),
        r => Ok(r?),
    }
}

impl LogDir {
    /// Opens the directory at `path`.
    pub fn open(path: &Path) -> io::Result<LogDir> {
        Ok(LogDir {
            path: path.to_owned(),
            fd: open_dir(path)?,
        })
    }

    /// The directory's descriptor; if the directory was removed (and so
    /// nothing can be created in it any more) it is opened again by path,
    /// so that writing resumes once the operator recreates it.
    fn dir(&mut self) -> io::Result<BorrowedFd<'_>> {
        if rustix::fs::fstat(&self.fd)?.st_nlink == 0 {
            self.fd = open_dir(&self.path)?;
        }
        Ok(self.fd.as_fd())
    }

    /// Opens (creating, mode 0640) `name` for appending; returns it and its
    /// size. With `exclusive` the file must not exist yet.
    pub fn open_append(&mut self, name: &str, exclusive: bool) -> io::Result<(OwnedFd, u64)> {
        let mut flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::APPEND
            | OFlags::CLOEXEC
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK;
        if exclusive {
            flags |= OFlags::EXCL;
        }
        let fd = rustix::fs::openat(self.dir()?, name, flags, Mode::from_raw_mode(0o640))?;
        let fd = regular(fd, OFlags::APPEND)?;
        let size = rustix::fs::fstat(&fd)?.st_size as u64;
        Ok((fd, size))
    }

    /// Whether `name` exists (as anything, a link included).
    fn exists(dir: BorrowedFd<'_>, name: &str) -> io::Result<bool> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Rotates `name`: `name.N-1` → `name.N` … `name` → `name.1`, keeping
    /// `keep` rotated files (0: `name` is removed). Only files that exist
    /// are renamed: the shift stops at the first missing index, so a
    /// rotation costs one `statat` and one `renameat` per rotated file
    /// there is (at most `keep`), however large `keep` is. Returns how many
    /// rotated files were moved up.
    pub fn rotate(&mut self, name: &str, keep: u32) -> io::Result<u32> {
        let dir = self.dir()?;
        if keep == 0 {
            ignore_missing(rustix::fs::unlinkat(dir, name, AtFlags::empty()))?;
            return Ok(0);
        }
        // name.1 … name.present exist; name.keep, if it exists, is the
        // oldest and is replaced by the last rename.
        let mut present = 0;
        while present + 1 < keep && LogDir::exists(dir, &rotated(name, present + 1))? {
            present += 1;
        }
        for n in (1..=present).rev() {
            let (from, to) = (rotated(name, n), rotated(name, n + 1));
            ignore_missing(rustix::fs::renameat(dir, &from, dir, &to))?;
        }
        // A log someone removed is not an error: the new file replaces it.
        ignore_missing(rustix::fs::renameat(dir, name, dir, rotated(name, 1)))?;
        Ok(present)
    }

    /// Removes `name` and its rotated files `name.1` … (up to the first
    /// missing index after 1, at most `MAX_ROTATED` + 1 of them): a purge
    /// of a deleted container's log. A link at one of the names is removed
    /// itself, never followed. Returns the names removed.
    pub fn remove_all(&mut self, name: &str) -> io::Result<Vec<String>> {
        const MAX_ROTATED: u32 = 64;
        let dir = self.dir()?;
        let mut removed = Vec::new();
        for n in 0..=MAX_ROTATED {
            let file = if n == 0 {
                name.to_owned()
            } else {
                rotated(name, n)
            };
            match rustix::fs::unlinkat(dir, &file, AtFlags::empty()) {
                Ok(()) => removed.push(file),
                Err(rustix::io::Errno::NOENT) if n > 0 => break,
                Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[path = "logfile_tests.rs"]
mod tests;
