//! The files and directories podmon writes, made so that nothing anyone
//! planted is followed: a directory is opened with `O_NOFOLLOW` and checked
//! to be ours, files are created relative to its fd with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` under a temporary name and renamed into
//! place, and every mode is set explicitly, whatever the umask.
//!
//! A symbolic link planted at the temporary name is removed (the link, never
//! its target) and the create retried once; one planted at the final name is
//! replaced by the rename, which does not follow it either.
//!
//! A write can be made durable too ([`Durability::Synced`]: fsync of the
//! file before the rename, of the directory after it), and a small file
//! podmon wrote is read back the same careful way ([`read_small`]).

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags};

use super::error::SysError;

/// Mode of the files podmon writes when no group may read them.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of exit and OOM files: what they say is no secret (the directory
/// decides who may look), and the engine may read them as another user.
pub const SHARED_FILE: u32 = 0o644;
/// Mode of the directories podmon creates when no group may enter them.
pub const PRIVATE_DIR: u32 = 0o700;

/// Why a file or directory could not be made safely.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A system call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What podmon was doing ("opening", "renaming").
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error, with its errno.
        #[source]
        source: std::io::Error,
    },
    /// The path is something else than a directory (a symbolic link is
    /// never followed).
    #[error("{} is not a directory but a {kind}", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A file read back is not a regular file (a link is never followed,
    /// and a FIFO would block the loop).
    #[error("{} is not a regular file but a {kind}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A file read back is larger than anything podmon writes there.
    #[error("{} has {size} bytes, more than the {max} podmon would write", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The most podmon reads.
        max: u64,
    },
    /// The directory belongs to another user, who could swap what is in it.
    #[error("{} is owned by uid {owner}, not by this monitor's uid {ours}", path.display())]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        ours: u32,
    },
}

impl FileError {
    fn io(op: &'static str, path: &Path, e: impl Into<std::io::Error>) -> FileError {
        FileError::Io {
            op,
            path: path.to_owned(),
            source: e.into(),
        }
    }
}

impl From<FileError> for SysError {
    fn from(e: FileError) -> SysError {
        match &e {
            FileError::Io { op, path, source } => SysError::at(*op, path, source),
            FileError::NotADirectory { path, .. } | FileError::NotOwned { path, .. } => {
                SysError::other("checking the directory", &e).with_path(path)
            }
            FileError::NotAFile { path, .. } | FileError::TooLarge { path, .. } => {
                SysError::other("checking the file", &e).with_path(path)
            }
        }
    }
}

/// What a file system object is, in words.
fn kind(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Socket => "socket",
        FileType::Fifo => "fifo",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "file of unknown type",
    }
}

/// Opens directory `path` without following a link at its last component,
/// and checks it belongs to us: only then are names in it ours to create.
pub fn open_dir(path: &Path) -> Result<OwnedFd, FileError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        // ELOOP: a symbolic link; ENOTDIR: something else.
        Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
            let t = std::fs::symlink_metadata(path)
                .map(|m| FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&m)))
                .unwrap_or(FileType::Unknown);
            return Err(FileError::NotADirectory {
                path: path.to_owned(),
                kind: kind(t),
            });
        }
        Err(e) => return Err(FileError::io("opening", path, e)),
    };
    check_owner(&fd, path)?;
    Ok(fd)
}

/// A directory [`ensure_dir`] made or found.
#[derive(Debug)]
pub struct Dir {
    /// It, opened (not through a link).
    pub fd: OwnedFd,
    /// Whether podmon created it now (then its mode is the one asked for).
    pub created: bool,
    /// Its permission bits.
    pub mode: u32,
}

/// Opens directory `path`, first creating it and any missing parents with
/// exactly `mode` and `group` (whatever the umask). An existing directory
/// is not changed: it must be a directory (not a link) and ours.
pub fn ensure_dir(path: &Path, mode: u32, group: Option<Gid>) -> Result<Dir, FileError> {
    let mut missing = vec![];
    let mut p = path;
    while std::fs::symlink_metadata(p).is_err() {
        missing.push(p);
        match p.parent().filter(|q| !q.as_os_str().is_empty()) {
            Some(q) => p = q,
            None => break,
        }
    }
    let mut created = false;
    for dir in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(PRIVATE_DIR).create(dir) {
            Ok(()) => {
                set_mode(&open_dir(dir)?, dir, mode, group)?;
                created = dir == path;
            }
            // Someone made it since: it is checked as an existing one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => created = false,
            Err(e) => return Err(FileError::io("creating", dir, e)),
        }
    }
    let fd = open_dir(path)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| FileError::io("stat", path, e))?;
    Ok(Dir {
        fd,
        created,
        mode: st.st_mode & 0o7777,
    })
}

/// Sets the group (first, as chown may clear set-id bits) and the mode.
fn set_mode(fd: &OwnedFd, path: &Path, bits: u32, group: Option<Gid>) -> Result<(), FileError> {
    if let Some(g) = group {
        rustix::fs::fchown(fd, None, Some(g)).map_err(|e| FileError::io("chown", path, e))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(bits)).map_err(|e| FileError::io("chmod", path, e))
}

/// Opens `name` in `dir` for writing as a new file, never through a link:
/// a link (or leftover) at `name` is unlinked and the create retried once.
fn create_new(dir: &OwnedFd, dir_path: &Path, name: &str, mode: u32) -> Result<OwnedFd, FileError> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let path = dir_path.join(name);
    let open = || rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode));
    let fd = match open() {
        Err(rustix::io::Errno::EXIST) => {
            log::warn!("{}: removing what was there before", path.display());
            rustix::fs::unlinkat(dir, name, AtFlags::empty())
                .map_err(|e| FileError::io("removing", &path, e))?;
            open()
        }
        other => other,
    }
    .map_err(|e| FileError::io("creating", &path, e))?;
    // The umask may have taken bits away: the mode is ours to say.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
        .map_err(|e| FileError::io("chmod", &path, e))?;
    Ok(fd)
}

/// Whether a finished write must outlive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The page cache is enough: readers on this boot see the whole file
    /// or none (exit and OOM files, which a reboot makes moot anyway).
    Cached,
    /// The file is fsynced before the rename and the directory after it,
    /// so after a power cut the name holds the old contents or the new,
    /// never an empty or partial file (the state a new monitor re-adopts).
    Synced,
}

/// Writes `bytes` to `name` in the directory `dir` (whose path `dir_path`
/// is for messages) atomically: a new temporary file `.NAME.tmp`, then a
/// rename, so readers see the whole file or none, and no link is followed.
pub fn write_atomic(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), FileError> {
    let mut fill = |f: &mut std::fs::File| f.write_all(bytes);
    write_atomic_with(dir, dir_path, name, mode, Durability::Cached, &mut fill)
}

/// The temporary name [`write_atomic`] writes `name` under before the
/// rename: a reader of the directory skips (or removes) such leftovers.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// [`write_atomic`] with the contents produced by `fill` (which writes
/// them into the new temporary file) and the given durability. A failure
/// of `fill` or of the rename removes the temporary file.
pub fn write_atomic_with(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    mode: u32,
    durability: Durability,
    fill: &mut dyn FnMut(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let tmp = temp_name(name);
    let tmp_path = dir_path.join(&tmp);
    let mut file = std::fs::File::from(create_new(dir, dir_path, &tmp, mode)?);
    let written = fill(&mut file).map_err(|e| FileError::io("writing", &tmp_path, e));
    let synced = written.and_then(|()| match durability {
        Durability::Cached => Ok(()),
        Durability::Synced => file
            .sync_all()
            .map_err(|e| FileError::io("syncing", &tmp_path, e)),
    });
    drop(file);
    if let Err(e) = synced {
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
        return Err(e);
    }
    rustix::fs::renameat(dir, &tmp, dir, name).map_err(|e| {
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
        FileError::io("renaming", &dir_path.join(name), e)
    })?;
    if durability == Durability::Synced {
        sync_dir(dir, dir_path)?;
    }
    Ok(())
}

/// Makes the names in directory `dir` (a rename, an unlink) durable.
pub fn sync_dir(dir: &OwnedFd, dir_path: &Path) -> Result<(), FileError> {
    rustix::fs::fsync(dir).map_err(|e| FileError::io("syncing", dir_path, e))
}

/// Opens the directory `name` inside `dir` (at `dir_path`) with
/// [`open_dir`]'s checks, relative to `dir`'s descriptor: a link planted
/// at any component below an already-checked directory is not followed.
pub fn open_subdir(dir: &OwnedFd, dir_path: &Path, name: &str) -> Result<OwnedFd, FileError> {
    let path = dir_path.join(name);
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
            let t = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|st| FileType::from_raw_mode(st.st_mode))
                .unwrap_or(FileType::Unknown);
            return Err(FileError::NotADirectory {
                path,
                kind: kind(t),
            });
        }
        Err(e) => return Err(FileError::io("opening", &path, e)),
    };
    check_owner(&fd, &path)?;
    Ok(fd)
}

/// Checks that the open directory `fd` belongs to us.
fn check_owner(fd: &OwnedFd, path: &Path) -> Result<(), FileError> {
    let st = rustix::fs::fstat(fd).map_err(|e| FileError::io("stat", path, e))?;
    let ours = rustix::process::geteuid().as_raw();
    if st.st_uid != ours {
        return Err(FileError::NotOwned {
            path: path.to_owned(),
            owner: st.st_uid,
            ours,
        });
    }
    Ok(())
}

/// Reads all of `name` in `dir` (at `dir_path`), never through a link,
/// and only a regular file of at most `max` bytes: what podmon wrote
/// itself and reads back, whatever was planted in its place.
pub fn read_small(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    max: u64,
) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let path = dir_path.join(name);
    // NONBLOCK: a FIFO planted there opens without waiting for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => {
            return Err(FileError::NotAFile {
                path,
                kind: kind(FileType::Symlink),
            });
        }
        Err(e) => return Err(FileError::io("opening", &path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| FileError::io("stat", &path, e))?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t != FileType::RegularFile {
        return Err(FileError::NotAFile {
            path,
            kind: kind(t),
        });
    }
    let size = st.st_size as u64;
    if size > max {
        return Err(FileError::TooLarge { path, size, max });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // One byte more than allowed tells a file that grew since the fstat.
    std::fs::File::from(fd)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io("reading", &path, e))?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            path,
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// [`write_atomic`] into the directory at `dir`, opened for this write
/// (with [`open_dir`]'s checks: not a link, ours).
pub fn write_file(
    dir: &Path,
    name: &str,
    bytes: impl AsRef<[u8]>,
    mode: u32,
) -> Result<(), FileError> {
    write_atomic(&open_dir(dir)?, dir, name, bytes.as_ref(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podmon-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn write_atomic_replaces_links_never_follows_them() {
        let d = scratch("links");
        let fd = ensure_dir(&d, 0o700, None).unwrap().fd;
        let victim = d.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, d.join(".c1.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, d.join("c1")).unwrap();
        write_atomic(&fd, &d, "c1", b"137", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let m = std::fs::symlink_metadata(d.join("c1")).unwrap();
        assert!(m.is_file(), "the link was replaced by a file");
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read_to_string(d.join("c1")).unwrap(), "137");
        assert!(!d.join(".c1.tmp").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn synced_writes_and_reads_back_follow_no_link() {
        let d = scratch("synced");
        let fd = ensure_dir(&d, 0o700, None).unwrap().fd;
        let mut fill = |f: &mut std::fs::File| f.write_all(b"{}");
        write_atomic_with(&fd, &d, "r", 0o600, Durability::Synced, &mut fill).unwrap();
        assert_eq!(read_small(&fd, &d, "r", 2).unwrap(), b"{}");
        let e = read_small(&fd, &d, "r", 1).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::TooLarge {
                    size: 2,
                    max: 1,
                    ..
                }
            ),
            "{e}"
        );
        // A failing fill leaves no temporary file and no file.
        let mut fail = |_: &mut std::fs::File| Err(std::io::Error::other("stop"));
        let e = write_atomic_with(&fd, &d, "s", 0o600, Durability::Synced, &mut fail);
        assert!(e.unwrap_err().to_string().starts_with("writing "));
        assert!(!d.join(".s.tmp").exists() && !d.join("s").exists());
        // A link or a FIFO is not read (the FIFO would block).
        std::os::unix::fs::symlink(d.join("r"), d.join("link")).unwrap();
        let e = read_small(&fd, &d, "link", 64).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        rustix::fs::mkfifoat(&fd, "fifo", Mode::from_raw_mode(0o600)).unwrap();
        let e = read_small(&fd, &d, "fifo", 64).unwrap_err();
        assert!(
            e.to_string().contains("not a regular file but a fifo"),
            "{e}"
        );
        // A subdirectory is opened relative to its parent, not through a link.
        std::fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink(d.join("sub"), d.join("sublink")).unwrap();
        open_subdir(&fd, &d, "sub").unwrap();
        let e = open_subdir(&fd, &d, "sublink").unwrap_err();
        assert!(
            matches!(
                e,
                FileError::NotADirectory {
                    kind: "symbolic link",
                    ..
                }
            ),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn ensure_dir_creates_with_exact_modes_and_leaves_existing_ones() {
        let d = scratch("modes");
        let sub = d.join("a/b");
        let old = rustix::process::umask(Mode::from_raw_mode(0o077));
        let made = ensure_dir(&sub, 0o750, None).unwrap();
        rustix::process::umask(old);
        assert!(made.created);
        assert_eq!(made.mode, 0o750, "the umask took no bits");
        assert_eq!(
            std::fs::metadata(d.join("a")).unwrap().mode() & 0o7777,
            0o750
        );
        // An existing directory keeps its mode.
        let logs = d.join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = ensure_dir(&logs, 0o700, None).unwrap();
        assert!(!found.created);
        assert_eq!(found.mode, 0o755);
        std::os::unix::fs::symlink(&logs, d.join("link")).unwrap();
        let e = ensure_dir(&d.join("link"), 0o700, None).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::fs::write(d.join("file"), "").unwrap();
        let e = open_dir(&d.join("file")).unwrap_err();
        assert!(e.to_string().contains("regular file"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn open_dir_refuses_a_directory_of_another_user() {
        let d = scratch("owner");
        std::fs::create_dir_all(&d).unwrap();
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&d, Some(65534), None).unwrap();
            let e = open_dir(&d).unwrap_err();
            assert!(matches!(e, FileError::NotOwned { owner: 65534, .. }), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
