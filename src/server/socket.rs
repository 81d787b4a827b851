//! The Varlink socket `podmon serve` binds: never in place of anything but
//! a stale socket, and with its final mode before anyone can reach it.
//!
//! The socket is bound in a private directory (`0700`, made next to the
//! socket's path), given its mode and group there, and renamed into place:
//! no window in which it has the umask's mode, and no chmod through a path
//! someone else could swap for a link.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::access::AccessConfig;
use crate::sys::files::PRIVATE_DIR;

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another monitor answers on the socket.
    #[error("socket {} is in use by a running server", .0.display())]
    InUse(PathBuf),
    /// Something that is not a socket is at the path: it is left alone.
    #[error("{} exists and is a {kind}, not a socket: refusing to replace it", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
        /// What is there.
        kind: &'static str,
    },
    /// A system call failed.
    #[error("socket {}: {op}: {source}", path.display())]
    Io {
        /// What failed ("bind", "chmod", "removing the stale socket").
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The error, with its errno.
        #[source]
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SocketError {
    let path = path.to_owned();
    move |source| SocketError::Io { op, path, source }
}

/// The mode of the socket file: root only, the allowed group too, or
/// everyone when uids other than root are allowed (the peer check is then
/// the gate: a socket file cannot be opened for some uids only).
pub fn socket_mode(access: &AccessConfig) -> u32 {
    if access.admits_other_uids() {
        0o666
    } else if access.group().is_some() {
        0o660
    } else {
        0o600
    }
}

/// The mode of the socket's directory when podmon creates it: enough for
/// the peers the socket's mode lets in to reach it, and no listing by others.
pub fn socket_dir_mode(access: &AccessConfig) -> u32 {
    let mut m = PRIVATE_DIR;
    if access.group().is_some() {
        m |= 0o050;
    }
    if access.admits_other_uids() {
        m |= 0o011;
    }
    m
}

/// A socket podmon bound, removed at exit if it is still the same file.
#[derive(Debug)]
pub struct BoundSocket {
    path: PathBuf,
    id: FileId,
}

/// What tells one file from another that took its name (and maybe its
/// inode number) later: device, inode and change time.
type FileId = (u64, u64, i64, i64);

fn file_id(m: &std::fs::Metadata) -> FileId {
    (m.dev(), m.ino(), m.ctime(), m.ctime_nsec())
}

impl BoundSocket {
    /// The socket this monitor bound before it exec'd itself (a live
    /// upgrade), taken over as if bound now: removed at exit if still ours.
    pub fn taken_over(path: &Path) -> Option<BoundSocket> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(BoundSocket {
            path: path.to_owned(),
            id: file_id(&m),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file, unless something else is there now.
    pub fn remove(self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if file_id(&m) == self.id => {
                let _ = std::fs::remove_file(&self.path);
            }
            Ok(_) => log::warn!("{}: not our socket any more; left", self.path.display()),
            Err(_) => {}
        }
    }
}

/// Refuses a path where anything but a stale socket is, and removes a
/// stale socket (one nobody answers on).
fn clear(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    let kind = FileType::from_raw_mode(meta.mode());
    if kind != FileType::Socket {
        return Err(SocketError::NotASocket {
            path: path.to_owned(),
            kind: kind_name(kind),
        });
    }
    // A monitor killed a moment ago may still have its listener open for
    // some milliseconds (the kernel tears its io_uring down afterwards,
    // and a pending poll holds the socket): a socket that still takes
    // connections is asked again for a while before it counts as in use.
    let end = std::time::Instant::now() + STALE_GRACE;
    loop {
        match UnixStream::connect(path) {
            Ok(_) if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(_) => return Err(SocketError::InUse(path.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                log::info!("removing the stale socket {}", path.display());
                return std::fs::remove_file(path)
                    .map_err(io_err("removing the stale socket", path));
            }
            Err(e) => return Err(io_err("connecting to the old socket", path)(e)),
        }
    }
}

/// How long a socket that takes connections may be a dying monitor's.
const STALE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "fifo",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "file of unknown type",
    }
}

/// Binds `path` (whose directory exists) with the mode and group `access`
/// asks for; returns the listening fd and what to remove at exit.
pub fn bind(path: &Path, access: &AccessConfig) -> Result<(OwnedFd, BoundSocket), SocketError> {
    clear(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| io_err("bind", path)(io::ErrorKind::InvalidInput.into()))?;
    let parent = path.parent().unwrap_or(Path::new("."));
    let private = parent.join(format!(
        ".{}.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR)
        .create(&private)
        .map_err(io_err("creating a private directory", &private))?;
    let result = bind_in(&private, path, access);
    let _ = std::fs::remove_dir(&private);
    result
}

/// Binds in the private directory, sets mode and group, renames into place.
fn bind_in(
    private: &Path,
    path: &Path,
    access: &AccessConfig,
) -> Result<(OwnedFd, BoundSocket), SocketError> {
    let tmp = private.join("sock");
    let listener = UnixListener::bind(&tmp).map_err(io_err("bind", &tmp))?;
    let staged = (|| {
        if let Some(g) = access.group() {
            std::os::unix::fs::chown(&tmp, None, Some(g)).map_err(io_err("chown", &tmp))?;
        }
        let mode = std::fs::Permissions::from_mode(socket_mode(access));
        std::fs::set_permissions(&tmp, mode).map_err(io_err("chmod", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err("renaming into place", path))?;
        std::fs::symlink_metadata(path).map_err(io_err("stat", path))
    })();
    match staged {
        Ok(meta) => Ok((
            OwnedFd::from(listener),
            BoundSocket {
                path: path.to_owned(),
                id: file_id(&meta),
            },
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podmon-sock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn binds_with_its_mode_and_refuses_what_is_not_a_stale_socket() {
        let d = scratch("bind");
        let path = d.join("p.sock");
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let bound = bind(&path, &AccessConfig::default());
        rustix::process::umask(old);
        let (fd, sock) = bound.unwrap();
        let m = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            m.mode() & 0o7777,
            0o600,
            "umask 000 gives no more than 0600"
        );
        assert!(UnixStream::connect(&path).is_ok());
        let e = bind(&path, &AccessConfig::default()).unwrap_err();
        assert!(matches!(e, SocketError::InUse(_)), "{e}");
        // No longer listening: stale, replaced.
        drop(fd);
        let (fd, sock2) = bind(&path, &AccessConfig::default()).unwrap();
        // The first socket's record does not remove the second one.
        sock.remove();
        assert!(path.exists());
        sock2.remove();
        assert!(!path.exists());
        drop(fd);
        // A regular file, a directory, a link are never removed.
        std::fs::write(&path, "data").unwrap();
        let e = bind(&path, &AccessConfig::default()).unwrap_err();
        assert!(e.to_string().contains("regular file"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
        let e = bind(&path, &AccessConfig::default()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "no leftovers");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn modes_follow_the_allow_lists() {
        let root = AccessConfig::default();
        assert_eq!((socket_mode(&root), socket_dir_mode(&root)), (0o600, 0o700));
        let group = AccessConfig {
            read_only_gids: vec![60],
            ..Default::default()
        };
        assert_eq!(
            (socket_mode(&group), socket_dir_mode(&group)),
            (0o660, 0o750)
        );
        let uid = AccessConfig {
            allow_uids: vec![1000],
            ..Default::default()
        };
        assert_eq!((socket_mode(&uid), socket_dir_mode(&uid)), (0o666, 0o711));
    }
}
