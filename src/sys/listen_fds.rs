//! Descriptors passed by the service manager (`LISTEN_FDS`): the socket of
//! socket activation and, after a restart, whatever the previous monitor
//! put in the file-descriptor store (see `sdnotify`), each with its name.
//!
//! The protocol: `LISTEN_PID` is the pid the variables are meant for (a
//! child that inherited them must not take them), `LISTEN_FDS` the count
//! of descriptors from 3 on, `LISTEN_FDNAMES` their names separated by ':'
//! (all "unknown" when unset). Parsing ([`parse`]) is apart from taking
//! the descriptors ([`ListenFds::from_env`]) so the rules are testable
//! without a real environment.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::sys::error::SysError;

/// The first passed descriptor.
pub const LISTEN_FDS_START: RawFd = 3;

/// A bound on `LISTEN_FDS`, far above any real store (systemd's
/// `FileDescriptorStoreMax=` is at most 65536), so a bad value cannot make
/// podmon allocate or probe without end.
pub const MAX_LISTEN_FDS: usize = 1 << 17;

/// The name systemd gives descriptors when `LISTEN_FDNAMES` is unset.
pub const UNKNOWN_NAME: &str = "unknown";

/// Why the passed descriptors could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ListenFdsError {
    /// `LISTEN_PID` or `LISTEN_FDS` is not a non-negative number.
    #[error("{var}={value:?} is not a non-negative number")]
    NotANumber {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// `LISTEN_FDS` is above [`MAX_LISTEN_FDS`].
    #[error("LISTEN_FDS={count} is more than {MAX_LISTEN_FDS}")]
    TooMany {
        /// The count.
        count: usize,
    },
    /// `LISTEN_FDNAMES` has another number of names than `LISTEN_FDS`.
    #[error("LISTEN_FDNAMES has {names} names for LISTEN_FDS={count}")]
    NameCount {
        /// How many names.
        names: usize,
        /// How many descriptors.
        count: usize,
    },
    /// A descriptor the variables announce is not open.
    #[error("descriptor {fd} ({name}) announced by LISTEN_FDS is not open")]
    NotOpen {
        /// Its number.
        fd: RawFd,
        /// Its name.
        name: String,
    },
    /// Setting close-on-exec failed.
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// Reads the three variables' values: the names of the descriptors from 3
/// on, or `None` when they are not for the process `own_pid` (unset, or
/// `LISTEN_PID` another pid: inherited from a parent that did not take
/// them).
pub fn parse(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    own_pid: u32,
) -> Result<Option<Vec<String>>, ListenFdsError> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    let number = |var, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| ListenFdsError::NotANumber {
                var,
                value: value.to_owned(),
            })
    };
    if number("LISTEN_PID", pid)? != u64::from(own_pid) {
        return Ok(None);
    }
    let count = number("LISTEN_FDS", fds)?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count > MAX_LISTEN_FDS {
        return Err(ListenFdsError::TooMany { count });
    }
    let names: Vec<String> = match names {
        None => vec![UNKNOWN_NAME.to_owned(); count],
        Some("") if count == 0 => vec![],
        Some(n) => n.split(':').map(str::to_owned).collect(),
    };
    if names.len() != count {
        return Err(ListenFdsError::NameCount {
            names: names.len(),
            count,
        });
    }
    Ok(Some(names))
}

/// One passed descriptor and the name it came with.
#[derive(Debug)]
pub struct ListenFd {
    /// Its name: the socket unit's `FileDescriptorName=` (by default the
    /// unit's name), or the `FDNAME=` it was stored with.
    pub name: String,
    /// The descriptor, close-on-exec.
    pub fd: OwnedFd,
}

/// The descriptors passed to this process, in the order passed (fd 3 first).
#[derive(Debug, Default)]
pub struct ListenFds {
    fds: Vec<ListenFd>,
}

impl ListenFds {
    /// Takes the descriptors the environment announces for this process
    /// (none when it announces none), makes them close-on-exec and unsets
    /// `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` in every case, so
    /// nothing started later sees them and a second call takes nothing.
    /// Call it once, at start-up, before any thread is started.
    pub fn from_env() -> Result<ListenFds, ListenFdsError> {
        let var = |k: &str| std::env::var(k).ok();
        let parsed = parse(
            var("LISTEN_PID").as_deref(),
            var("LISTEN_FDS").as_deref(),
            var("LISTEN_FDNAMES").as_deref(),
            std::process::id(),
        );
        for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            // SAFETY: podmon is single-threaded at start-up (the contract
            // of this function), so no one reads the environment meanwhile.
            unsafe { std::env::remove_var(k) };
        }
        match parsed? {
            Some(names) => ListenFds::adopt(names),
            None => Ok(ListenFds::default()),
        }
    }

    /// Owns the descriptors 3.. named `names`, after checking that each is
    /// open.
    fn adopt(names: Vec<String>) -> Result<ListenFds, ListenFdsError> {
        let mut fds = Vec::with_capacity(names.len());
        for (raw, name) in (LISTEN_FDS_START..).zip(names) {
            // SAFETY: F_GETFD reads the flags of a descriptor number and
            // touches nothing; on a closed number it fails with EBADF.
            if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
                return Err(ListenFdsError::NotOpen { fd: raw, name });
            }
            // SAFETY: the number is open (checked above) and, by the
            // protocol, passed to this process for it to own; the variables
            // that announced it are unset, so nothing else takes it.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)
                .map_err(|e| SysError::io(format!("FD_CLOEXEC on passed fd {raw}"), &e.into()))?;
            fds.push(ListenFd { name, fd });
        }
        Ok(ListenFds { fds })
    }

    /// How many descriptors are left.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether none are left.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// The names of those left, in order, one per descriptor.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fds.iter().map(|f| f.name.as_str())
    }

    /// Removes and returns the first descriptor whose name satisfies `pred`.
    pub fn take_first(&mut self, pred: impl Fn(&str) -> bool) -> Option<ListenFd> {
        let i = self.fds.iter().position(|f| pred(&f.name))?;
        Some(self.fds.remove(i))
    }

    /// Removes and returns every descriptor named `name`, in order (one
    /// `FDSTORE=1` message may store several under one name).
    pub fn take_named(&mut self, name: &str) -> Vec<OwnedFd> {
        let (hit, rest): (Vec<ListenFd>, Vec<ListenFd>) = std::mem::take(&mut self.fds)
            .into_iter()
            .partition(|f| f.name == name);
        self.fds = rest;
        hit.into_iter().map(|f| f.fd).collect()
    }

    /// Those left, in order.
    pub fn into_vec(self) -> Vec<ListenFd> {
        self.fds
    }
}

impl From<Vec<ListenFd>> for ListenFds {
    fn from(fds: Vec<ListenFd>) -> ListenFds {
        ListenFds { fds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn for_us_with_and_without_names() {
        assert_eq!(
            parse(Some("7"), Some("2"), Some("varlink:stdin-x"), 7).unwrap(),
            names(&["varlink", "stdin-x"])
        );
        assert_eq!(
            parse(Some("7"), Some("2"), None, 7).unwrap(),
            names(&["unknown", "unknown"])
        );
        assert_eq!(
            parse(Some("7"), Some("0"), Some(""), 7).unwrap(),
            names(&[])
        );
        // Empty names are names (systemd allows them).
        assert_eq!(
            parse(Some("7"), Some("2"), Some(":b"), 7).unwrap(),
            names(&["", "b"])
        );
    }

    #[test]
    fn not_for_us() {
        assert_eq!(parse(None, Some("1"), None, 7).unwrap(), None);
        assert_eq!(parse(Some("7"), None, None, 7).unwrap(), None);
        assert_eq!(parse(Some("8"), Some("1"), None, 7).unwrap(), None);
        // Another pid's variables are not checked further.
        assert_eq!(parse(Some("8"), Some("x"), Some("a:b"), 7).unwrap(), None);
    }

    #[test]
    fn bad_values() {
        for (pid, fds) in [
            ("x", "1"),
            ("-7", "1"),
            (" 7", "1"),
            ("7", "-1"),
            ("7", "1x"),
            ("7", ""),
        ] {
            match parse(Some(pid), Some(fds), None, 7) {
                Err(ListenFdsError::NotANumber { var, value }) => {
                    assert!(value == pid || value == fds, "{var}={value}")
                }
                other => panic!("{pid} {fds}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(Some("7"), Some("1000000"), None, 7),
            Err(ListenFdsError::TooMany { count: 1_000_000 })
        ));
        assert!(matches!(
            parse(Some("7"), Some("2"), Some("varlink"), 7),
            Err(ListenFdsError::NameCount { names: 1, count: 2 })
        ));
        assert!(matches!(
            parse(Some("7"), Some("1"), Some("a:b"), 7),
            Err(ListenFdsError::NameCount { names: 2, count: 1 })
        ));
    }

    #[test]
    fn taking_by_name() {
        let fd = |name: &str| ListenFd {
            name: name.into(),
            fd: std::io::pipe().unwrap().0.into(),
        };
        let mut l = ListenFds::from(vec![fd("varlink"), fd("ctr-a"), fd("x"), fd("ctr-a")]);
        assert_eq!(
            l.names().collect::<Vec<_>>(),
            ["varlink", "ctr-a", "x", "ctr-a"]
        );
        assert_eq!(l.take_first(|n| n == "varlink").unwrap().name, "varlink");
        assert!(l.take_first(|n| n == "varlink").is_none());
        assert_eq!(l.take_named("ctr-a").len(), 2);
        assert_eq!(l.names().collect::<Vec<_>>(), ["x"]);
        assert_eq!(l.len(), 1);
        assert_eq!(l.into_vec().len(), 1);
    }
}
