//! A container's stdin: one write end, lent to one attached client at a time.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;

/// Shared write end of a container's stdin, lent to one client at a time.
#[derive(Default)]
pub struct StdinSlot {
    fd: RefCell<Option<Rc<OwnedFd>>>,
    lent: std::cell::Cell<bool>,
    once: std::cell::Cell<bool>,
}

impl StdinSlot {
    /// A slot holding `fd`; with `once`, stdin closes when the first client
    /// that had it lets go (CRI's stdinOnce).
    pub fn new(fd: Option<OwnedFd>, once: bool) -> Rc<Self> {
        Rc::new(StdinSlot {
            fd: RefCell::new(fd.map(Rc::new)),
            lent: Default::default(),
            once: std::cell::Cell::new(once),
        })
    }

    /// The write end, lent or not (for handing it over at an upgrade).
    pub fn fd(&self) -> Option<Rc<OwnedFd>> {
        self.fd.borrow().clone()
    }

    /// Lends stdin to a client if nobody has it.
    pub fn lend(self: &Rc<Self>) -> Option<(Rc<OwnedFd>, StdinLease)> {
        if self.lent.get() {
            return None;
        }
        let fd = self.fd.borrow().clone()?;
        self.lent.set(true);
        Some((fd, StdinLease(self.clone())))
    }

    /// Closes the container's stdin (its process reads EOF once no client
    /// holds a copy).
    pub fn close(&self) {
        self.fd.borrow_mut().take();
    }
}

/// A client's hold on a container's stdin; released when dropped.
pub struct StdinLease(Rc<StdinSlot>);

impl Drop for StdinLease {
    fn drop(&mut self) {
        self.0.lent.set(false);
        if self.0.once.get() {
            self.0.close();
        }
    }
}
