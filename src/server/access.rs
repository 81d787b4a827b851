//! Who may use the monitor: every accepted connection's peer credentials
//! (`SO_PEERCRED`, taken by the kernel when the peer connected, so a
//! client cannot lie about them) against the allow-lists of `podmon serve`.
//! Root always has the full role; `--allow-uid`/`--allow-gid` add peers
//! with the full role, `--read-only-uid`/`--read-only-gid` peers that may
//! only look; anyone else is refused: one `PermissionDenied` reply to their
//! first call, then the connection is closed.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use crate::api::{self, Replier, Role};
use crate::reactor::{ops, sync};
use crate::varlink::{Call, FrameDecoder};

/// How long a refused peer may take to send its first call.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest first call of a refused peer that is read to answer it.
const REFUSE_MAX_MESSAGE: usize = 64 * 1024;

/// The allow-lists: which uids and gids get which role. The groups checked
/// are the peer's effective group and its supplementary groups when it
/// connected (SO_PEERCRED and SO_PEERGROUPS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    /// Uids with the full role (root always has it).
    pub allow_uids: Vec<u32>,
    /// Gids with the full role.
    pub allow_gids: Vec<u32>,
    /// Uids that may only call the methods that change nothing.
    pub read_only_uids: Vec<u32>,
    /// Gids that may only call the methods that change nothing.
    pub read_only_gids: Vec<u32>,
}

impl AccessConfig {
    /// Whether anyone but root may connect: then the socket must let them.
    pub fn admits_others(&self) -> bool {
        self.admits_other_uids() || self.group().is_some()
    }

    /// Whether uids other than root are allowed (by uid, whatever their group).
    pub fn admits_other_uids(&self) -> bool {
        self.allow_uids
            .iter()
            .chain(&self.read_only_uids)
            .any(|&u| u != 0)
    }

    /// The group the socket and the directories are shared with: the first
    /// `--allow-gid`, else the first `--read-only-gid`.
    pub fn group(&self) -> Option<u32> {
        self.allow_gids
            .first()
            .or(self.read_only_gids.first())
            .copied()
    }

    /// The role of a peer with uid `uid` in the groups `gids` (its
    /// effective gid and its supplementary groups), `None` when refused.
    pub fn role(&self, uid: u32, gids: &[u32]) -> Option<Role> {
        let ours = rustix::process::geteuid().as_raw();
        let in_any = |list: &[u32]| gids.iter().any(|g| list.contains(g));
        if uid == 0 || uid == ours || self.allow_uids.contains(&uid) || in_any(&self.allow_gids) {
            return Some(Role::Full);
        }
        if self.read_only_uids.contains(&uid) || in_any(&self.read_only_gids) {
            return Some(Role::ReadOnly);
        }
        None
    }
}

/// A refused peer, for the log and the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Its uid.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
    /// Its pid when it connected (0 outside our pid namespace).
    pub pid: i32,
}

/// The peer's credentials as the kernel recorded them at connect time.
/// (Through libc: rustix's `UCred` holds a non-zero pid, and the kernel
/// reports pid 0 for a peer outside our pid namespace.)
fn peer_credentials(sock: &OwnedFd) -> std::io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let size = std::mem::size_of::<libc::ucred>();
    let mut len = size as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes, and `len` is the size
    // of `cred`, so the kernel writes no more than that; checked below.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if len as usize != size {
        return Err(std::io::Error::other(format!(
            "SO_PEERCRED gave {len} bytes, not {size}"
        )));
    }
    Ok(cred)
}

/// The peer's supplementary groups when it connected (SO_PEERGROUPS).
fn peer_groups(sock: &OwnedFd) -> std::io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = std::mem::size_of_val(groups.as_slice()) as libc::socklen_t;
        // SAFETY: the buffer is valid for writes of `len` bytes, the
        // kernel writes at most that (or fails with ERANGE and the size it
        // needs in `len`); the length it reports is checked below.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if r == 0 && n <= groups.len() {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = std::io::Error::last_os_error();
        // Too small: the kernel said how large (a group list is bounded,
        // NGROUPS_MAX = 65536).
        if r != 0 && e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

/// Checks the peer of an accepted connection; its role, or why not.
pub(crate) fn check(cfg: &AccessConfig, sock: &OwnedFd) -> Result<Role, Option<Refused>> {
    let creds = peer_credentials(sock).and_then(|c| {
        let mut gids = peer_groups(sock)?;
        gids.push(c.gid);
        Ok((c, gids))
    });
    match creds {
        Ok((cred, gids)) => cfg.role(cred.uid, &gids).ok_or(Some(Refused {
            uid: cred.uid,
            gid: cred.gid,
            pid: cred.pid,
        })),
        Err(e) => {
            // Without credentials nobody can say who it is: refused.
            log::warn!("SO_PEERCRED on a new connection: {e}");
            Err(None)
        }
    }
}

/// Answers a refused peer's first call with `PermissionDenied` (nothing for
/// a oneway call), within `REFUSE_TIMEOUT` (2 s), and closes the connection.
pub(crate) async fn refuse(sock: OwnedFd, who: Option<Refused>) {
    let reason = match who {
        Some(r) => {
            log::warn!(
                "refused a connection from uid {} gid {} (pid {}): not on the allow-list",
                r.uid,
                r.gid,
                r.pid
            );
            format!(
                "uid {} gid {} may not use this monitor (see --allow-uid, --allow-gid)",
                r.uid, r.gid
            )
        }
        None => "the peer's credentials are unknown".to_owned(),
    };
    let Some(Some(call)) = sync::timeout(REFUSE_TIMEOUT, first_call(&sock)).await else {
        return;
    };
    let mut r = Replier::new(sock.as_fd(), &call);
    let e = api::permission_denied(&call.method, reason);
    let _ = sync::timeout(REFUSE_TIMEOUT, r.error(e)).await;
}

/// Reads the peer's first call; `None` when it closes or sends anything else.
async fn first_call(sock: &OwnedFd) -> Option<Call> {
    let mut dec = FrameDecoder::new(REFUSE_MAX_MESSAGE);
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some(frame) = dec.next_frame().ok()? {
            return Call::parse(&frame).ok();
        }
        let (r, b) = ops::recv(sock.as_fd(), buf).await;
        buf = b;
        match r {
            Ok(n) if n > 0 => {
                dec.push(&buf);
                buf.clear();
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_of_a_socketpair_are_ours() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = OwnedFd::from(a);
        let cred = peer_credentials(&fd).unwrap();
        assert_eq!(cred.uid, rustix::process::geteuid().as_raw());
        assert_eq!(cred.pid as u32, std::process::id());
        let ours = rustix::process::getgroups().unwrap();
        let mut theirs = peer_groups(&fd).unwrap();
        let mut ours: Vec<u32> = ours.into_iter().map(|g| g.as_raw()).collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(theirs, ours);
        // Our own uid always has the full role.
        assert_eq!(check(&AccessConfig::default(), &fd), Ok(Role::Full));
    }

    #[test]
    fn roles_from_the_allow_lists() {
        let cfg = AccessConfig {
            allow_uids: vec![1000],
            allow_gids: vec![50],
            read_only_uids: vec![2000],
            read_only_gids: vec![60],
        };
        assert_eq!(cfg.role(0, &[0]), Some(Role::Full));
        assert_eq!(cfg.role(1000, &[7]), Some(Role::Full));
        assert_eq!(cfg.role(7, &[50]), Some(Role::Full));
        assert_eq!(cfg.role(2000, &[7]), Some(Role::ReadOnly));
        assert_eq!(cfg.role(7, &[7, 60]), Some(Role::ReadOnly));
        // A full uid in a read-only group keeps the full role, and so does
        // a read-only uid in a full group.
        assert_eq!(cfg.role(1000, &[60]), Some(Role::Full));
        assert_eq!(cfg.role(2000, &[60, 50]), Some(Role::Full));
        assert_eq!(cfg.role(65534, &[65534]), None);
        assert_eq!(cfg.group(), Some(50));
        assert!(cfg.admits_others());
        // Root only by default.
        let root = AccessConfig::default();
        assert_eq!(root.role(0, &[0]), Some(Role::Full));
        assert_eq!(root.role(65534, &[0]), None);
        assert!(!root.admits_others());
        let ro_group = AccessConfig {
            read_only_gids: vec![60],
            ..Default::default()
        };
        assert_eq!(ro_group.group(), Some(60));
        assert!(!ro_group.admits_other_uids());
    }
}
