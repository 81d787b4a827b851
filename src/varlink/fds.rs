//! File descriptors passed with Varlink messages, the sd-varlink way: they
//! ride on the sendmsg(2) that carries the first byte of a message (SCM_RIGHTS)
//! and the message's parameters refer to them by index, 0 for the first
//! (`sd_varlink_push_fd`, `varlinkctl --push-fd`).
//!
//! A message's descriptors are a [`PassedFds`]: the method's handler takes
//! those its parameters name, each at most once; whatever nobody took is
//! closed when the call is over, so a descriptor sent to podmon is never
//! kept by accident.

use std::cell::RefCell;
use std::os::fd::OwnedFd;

use thiserror::Error;

/// Most descriptors one message may carry. systemd's own services take a
/// handful per call; the kernel's own bound (SCM_MAX_FD) is 253.
pub const MAX_FDS_PER_MESSAGE: usize = 64;

/// What arrived with one message.
#[derive(Debug, Default)]
pub struct Passed {
    /// The descriptors, in the order sent.
    pub fds: Vec<OwnedFd>,
    /// More than [`MAX_FDS_PER_MESSAGE`] came: none was kept.
    pub too_many: bool,
}

/// Why a parameter's descriptor indices are refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FdIndexError {
    /// No descriptor with this index came with the call.
    #[error("index {index} names no descriptor: {count} came with the call")]
    OutOfRange {
        /// The index given.
        index: i64,
        /// How many descriptors came.
        count: usize,
    },
    /// The index was already taken (by this parameter or another).
    #[error("index {index} is used twice")]
    Twice {
        /// The index given.
        index: i64,
    },
}

/// The descriptors of one call, taken by index. Interior mutability lets
/// handlers take them through the shared replier of the call.
#[derive(Debug, Default)]
pub struct PassedFds {
    fds: RefCell<Vec<Option<OwnedFd>>>,
}

impl PassedFds {
    /// The descriptors that came with a message, in order.
    pub fn new(fds: Vec<OwnedFd>) -> Self {
        PassedFds {
            fds: RefCell::new(fds.into_iter().map(Some).collect()),
        }
    }

    /// How many descriptors came (taken or not).
    pub fn count(&self) -> usize {
        self.fds.borrow().len()
    }

    /// Takes the descriptors at `indices`, in that order. On an error none
    /// is taken (they stay, and are closed with the call).
    pub fn take(&self, indices: &[i64]) -> Result<Vec<OwnedFd>, FdIndexError> {
        let mut fds = self.fds.borrow_mut();
        let count = fds.len();
        let mut seen = Vec::with_capacity(indices.len());
        for &index in indices {
            let i = usize::try_from(index)
                .ok()
                .filter(|&i| i < count)
                .ok_or(FdIndexError::OutOfRange { index, count })?;
            if seen.contains(&i) || fds[i].is_none() {
                return Err(FdIndexError::Twice { index });
            }
            seen.push(i);
        }
        Ok(seen
            .into_iter()
            .map(|i| fds[i].take().expect("checked above"))
            .collect())
    }

    /// Closes every descriptor not taken; how many were.
    pub fn close_rest(&self) -> usize {
        let mut fds = self.fds.borrow_mut();
        let n = fds.iter().filter(|f| f.is_some()).count();
        fds.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> PassedFds {
        let (r, _w) = std::io::pipe().unwrap();
        let fds = (0..3)
            .map(|_| OwnedFd::from(r.try_clone().unwrap()))
            .collect();
        PassedFds::new(fds)
    }

    #[test]
    fn indices_take_each_descriptor_once() {
        let p = three();
        assert_eq!(
            p.take(&[3]).unwrap_err(),
            FdIndexError::OutOfRange { index: 3, count: 3 }
        );
        assert_eq!(
            p.take(&[-1]).unwrap_err(),
            FdIndexError::OutOfRange {
                index: -1,
                count: 3
            }
        );
        assert_eq!(
            p.take(&[1, 1]).unwrap_err(),
            FdIndexError::Twice { index: 1 }
        );
        // A failed take takes nothing.
        assert_eq!(p.take(&[2, 0]).unwrap().len(), 2);
        assert_eq!(p.take(&[0]).unwrap_err(), FdIndexError::Twice { index: 0 });
        assert_eq!(p.close_rest(), 1);
        assert_eq!(p.count(), 0);
    }
}
