//! Descriptors a child gets as its fds 3, 4, ... (what the runtime's
//! `--preserve-fds` then passes into the container).
//!
//! Placing them happens between fork and exec with dup2(2), which must not
//! land on a descriptor the child still needs: the sources are first
//! duplicated above the target range, and every free number inside the
//! range is taken by a placeholder for the time of the spawn, so the
//! close-on-exec pipe the standard library opens to report exec failures
//! cannot be given one of the target numbers.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// The first target number.
const FIRST: RawFd = 3;

/// Descriptors ready to be placed in a child; hold it until the spawn
/// has returned, then drop it (the parent's copies close).
#[derive(Debug, Default)]
pub struct Placement {
    /// Duplicates of the descriptors to pass, all numbered above the
    /// target range, close-on-exec.
    sources: Vec<OwnedFd>,
    /// Placeholders on the free numbers of the target range.
    _holes: Vec<OwnedFd>,
}

impl Placement {
    /// Prepares `fds` to become the child's fds 3, 4, ... in this order.
    pub fn new(fds: &[OwnedFd]) -> io::Result<Placement> {
        let Some(first) = fds.first() else {
            return Ok(Placement::default());
        };
        let n = RawFd::try_from(fds.len()).map_err(io::Error::other)?;
        let mut holes = Vec::new();
        for target in FIRST..FIRST + n {
            // SAFETY: F_GETFD on any number only reads its flags.
            if unsafe { libc::fcntl(target, libc::F_GETFD) } == -1 {
                // The lowest free number from `target` is `target` itself.
                holes.push(rustix::io::fcntl_dupfd_cloexec(first.as_fd(), target)?);
            }
        }
        let sources = fds
            .iter()
            .map(|fd| rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), FIRST + n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Placement {
            sources,
            _holes: holes,
        })
    }

    /// The numbers to hand to [`place`] in the child.
    pub fn sources(&self) -> Vec<RawFd> {
        self.sources.iter().map(AsRawFd::as_raw_fd).collect()
    }
}

/// In the child, between fork and exec: `sources[i]` becomes fd `3 + i`,
/// without close-on-exec. Only dup2(2), which is async-signal-safe.
pub fn place(sources: &[RawFd]) -> io::Result<()> {
    for (i, &src) in sources.iter().enumerate() {
        let target = FIRST + i as RawFd;
        // SAFETY: dup2 on numbers that are open in the child (the sources
        // were duplicated before the fork); the targets are not used by
        // anything the child needs (see `Placement::new`).
        if unsafe { libc::dup2(src, target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::process::CommandExt;

    #[test]
    fn the_child_gets_the_descriptors_as_3_and_4_in_order() {
        let (mut r1, w1) = std::io::pipe().unwrap();
        let (mut r2, w2) = std::io::pipe().unwrap();
        // w2 first: it becomes fd 3.
        let fds = [OwnedFd::from(w2), OwnedFd::from(w1)];
        let placement = Placement::new(&fds).unwrap();
        assert!(placement.sources().iter().all(|&fd| fd >= FIRST + 2));
        let sources = placement.sources();
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", "echo three >&3; echo four >&4"]);
        // SAFETY: `place` only calls dup2(2).
        unsafe { cmd.pre_exec(move || place(&sources)) };
        let status = cmd.status().unwrap();
        drop(placement);
        drop(fds);
        assert!(status.success());
        let (mut a, mut b) = (String::new(), String::new());
        r2.read_to_string(&mut a).unwrap();
        r1.read_to_string(&mut b).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("three\n", "four\n"));
    }
}
