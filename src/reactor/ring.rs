//! The io_uring ring and the table of operations in flight.
//!
//! Every submitted operation has a slot here. The slot owns whatever memory the
//! kernel reads or writes for that operation (a buffer, a timespec, a socket
//! address) until its completion arrives, so memory the kernel may still touch
//! is never freed, even if the future that asked for the operation is dropped.

use std::cell::RefCell;
use std::io;
use std::task::Waker;

use io_uring::{IoUring, opcode, squeue, types};

/// user_data of requests whose completion nobody waits for (cancellations).
const IGNORED: u64 = u64::MAX;

/// Memory that the kernel uses while an operation is in flight; the slot keeps
/// it alive and hands it back with the result.
#[derive(Debug, Default)]
pub enum Owned {
    /// Nothing beyond the file descriptor.
    #[default]
    Nothing,
    /// A data buffer that the kernel reads from or writes into.
    Buf(Vec<u8>),
    /// The relative time of a timeout: never read by podmon, only kept
    /// alive while the kernel reads it.
    #[allow(dead_code)]
    Timespec(Box<types::Timespec>),
    /// A socket address a connect reads: kept alive, never read back.
    #[allow(dead_code)]
    Addr(Box<libc::sockaddr_storage>),
}

enum SlotState {
    /// Submitted; the waker of the future that waits for it, if polled.
    Waiting(Option<Waker>),
    /// Completed with this result (a byte count, a file descriptor or -errno).
    Done(i32),
    /// Its future was dropped: the slot is freed when the completion comes.
    Orphaned,
}

struct Slot {
    state: SlotState,
    owned: Owned,
}

/// Why the ring could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// io_uring_setup failed: disabled by sysctl, blocked by seccomp, or too old a kernel.
    #[error(
        "cannot create an io_uring instance: {0} (io_uring may be disabled by the sysctl kernel.io_uring_disabled or by a seccomp profile)"
    )]
    Setup(io::Error),
    /// The epoll fallback could not be set up either.
    #[error("cannot create an epoll instance for the fallback event loop: {0}")]
    Epoll(io::Error),
    /// PODMON_REACTOR names no backend.
    #[error("PODMON_REACTOR={0:?}: expected io_uring, epoll or auto")]
    Choice(String),
}

/// The ring plus the slots of the operations it has in flight.
pub(crate) struct Ring {
    uring: IoUring,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
}

thread_local! {
    static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
}

/// Completion queue entries (16 bytes each).
const CQ_ENTRIES: u32 = 512;

impl Ring {
    fn build(entries: u32) -> Result<IoUring, RingError> {
        // The fastest mode first: one issuer, task work deferred to our own
        // io_uring_enter calls, so the kernel never interrupts us.
        // The submission queue only holds what one turn submits (a full
        // one is flushed and refilled); completions can come all at once,
        // so the completion queue stays at 512, as with 256 entries.
        let tuned = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .setup_cqsize(CQ_ENTRIES)
            .build(entries);
        match tuned {
            Ok(r) => Ok(r),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                log::debug!("io_uring without DEFER_TASKRUN: {e}");
                IoUring::builder()
                    .setup_cqsize(CQ_ENTRIES)
                    .build(entries)
                    .map_err(RingError::Setup)
            }
            Err(e) => Err(RingError::Setup(e)),
        }
    }
}

/// Creates this thread's ring. Must be called once before any operation.
pub(crate) fn init(entries: u32) -> Result<(), RingError> {
    let uring = Ring::build(entries)?;
    // Buffered file writes run on io-wq kernel workers; a few are plenty
    // for log files and keep a flood from spawning dozens of threads.
    let mut max = [2u32, 2u32];
    if let Err(e) = uring.submitter().register_iowq_max_workers(&mut max) {
        log::debug!("cannot cap io-wq workers: {e}");
    }
    RING.with(|r| {
        *r.borrow_mut() = Some(Ring {
            uring,
            slots: Vec::new(),
            free: Vec::new(),
        })
    });
    Ok(())
}

/// Drops this thread's ring (after the loop ended).
pub(crate) fn shutdown() {
    RING.with(|r| r.borrow_mut().take());
}

fn with<T>(f: impl FnOnce(&mut Ring) -> T) -> T {
    RING.with(|r| {
        let mut r = r.borrow_mut();
        let ring = r.as_mut().expect("reactor ring not initialised");
        f(ring)
    })
}

fn push_entry(ring: &mut Ring, entry: &squeue::Entry) {
    loop {
        // SAFETY: every pointer in `entry` points into memory owned by a slot
        // (or static data), which lives until the completion arrives.
        let pushed = unsafe { ring.uring.submission().push(entry) };
        if pushed.is_ok() {
            return;
        }
        // The submission queue is full: hand it to the kernel and retry.
        if let Err(e) = ring.uring.submit() {
            log::warn!("io_uring submit failed: {e}");
        }
    }
}

/// Submits `entry` and returns the slot key that its completion will fill.
///
/// # Safety
/// Every pointer in `entry` must point into `owned` (or into memory that
/// outlives the operation), and file descriptors must stay open until the
/// completion; the slot keeps `owned` alive for exactly that long.
pub(crate) unsafe fn submit(entry: squeue::Entry, owned: Owned) -> usize {
    with(|ring| {
        let slot = Slot {
            state: SlotState::Waiting(None),
            owned,
        };
        let key = match ring.free.pop() {
            Some(k) => {
                ring.slots[k] = Some(slot);
                k
            }
            None => {
                ring.slots.push(Some(slot));
                ring.slots.len() - 1
            }
        };
        push_entry(ring, &entry.user_data(key as u64));
        key
    })
}

/// Polls a slot: the result and the owned memory once complete.
pub(crate) fn poll_slot(key: usize, waker: &Waker) -> Option<(i32, Owned)> {
    with(|ring| {
        let slot = ring.slots[key].as_mut().expect("live slot");
        match slot.state {
            SlotState::Done(res) => {
                let slot = ring.slots[key].take().expect("live slot");
                ring.free.push(key);
                Some((res, slot.owned))
            }
            SlotState::Waiting(ref mut w) => {
                match w {
                    Some(old) if old.will_wake(waker) => {}
                    _ => *w = Some(waker.clone()),
                }
                None
            }
            SlotState::Orphaned => unreachable!("polled an orphaned slot"),
        }
    })
}

/// The future of a slot was dropped before completion: cancel the request and
/// free the slot when the kernel is done with its memory.
pub(crate) fn orphan(key: usize) {
    // During thread teardown the ring may be gone already; then the kernel
    // side is gone too and there is nothing to cancel.
    let _ = RING.try_with(|r| {
        let mut r = r.borrow_mut();
        let Some(ring) = r.as_mut() else { return };
        let Some(slot) = ring.slots[key].as_mut() else {
            return;
        };
        if let SlotState::Done(_) = slot.state {
            ring.slots[key] = None;
            ring.free.push(key);
            return;
        }
        slot.state = SlotState::Orphaned;
        let cancel = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(IGNORED);
        push_entry(ring, &cancel);
    });
}

/// Asks the kernel to cancel the operation in `key` while its future keeps
/// waiting: unlike `orphan`, the slot stays live, so the operation's own
/// completion (its data, if it finished first, or -ECANCELED) still reaches
/// the waiting future. Nothing comes of cancelling a completed operation.
pub(crate) fn cancel(key: usize) {
    with(|ring| {
        let live = ring.slots[key]
            .as_ref()
            .is_some_and(|s| matches!(s.state, SlotState::Waiting(_)));
        if !live {
            return;
        }
        // The key cannot be reused before this is submitted: completions
        // are only reaped in `turn`, after it submits what is queued.
        let cancel = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(IGNORED);
        push_entry(ring, &cancel);
    });
}

/// Submits what is queued, waits for at least one completion if `wait`,
/// and dispatches every completion to its slot.
pub(crate) fn turn(wait: bool) -> io::Result<()> {
    let wakers = with(|ring| -> io::Result<Vec<Waker>> {
        let want = usize::from(wait);
        match ring.uring.submit_and_wait(want) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        let mut wakers = Vec::new();
        let Ring {
            uring, slots, free, ..
        } = ring;
        for cqe in uring.completion() {
            let key = cqe.user_data();
            if key == IGNORED {
                continue;
            }
            let key = key as usize;
            let Some(slot) = slots.get_mut(key).and_then(Option::as_mut) else {
                log::warn!("completion for unknown slot {key}");
                continue;
            };
            match std::mem::replace(&mut slot.state, SlotState::Done(cqe.result())) {
                SlotState::Waiting(w) => wakers.extend(w),
                SlotState::Orphaned => {
                    slots[key] = None;
                    free.push(key);
                }
                SlotState::Done(_) => log::warn!("second completion for slot {key}"),
            }
        }
        Ok(wakers)
    })?;
    for w in wakers {
        w.wake();
    }
    Ok(())
}
