//! The epoll fallback backend, for hosts where io_uring is disabled (the
//! sysctl kernel.io_uring_disabled, or a seccomp profile that blocks it).
//!
//! It is readiness-based: an operation tries its system call on a
//! non-blocking descriptor, and only when that says EAGAIN does it register
//! interest here and sleep until `epoll_wait` reports the descriptor ready.
//! The kernel never holds on to our memory, so a dropped operation just
//! removes its interest; nothing has to outlive it.
//!
//! Registrations are one-shot (EPOLLONESHOT): after an event fires the
//! kernel disarms the descriptor, so a task that does not read at once (it
//! may be waiting for a slow writer) is not reported again and again.
//! Timers live in an ordered map; the nearest deadline is `epoll_wait`'s
//! timeout, and with no timers the loop sleeps until an event arrives.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::io::Errno;

mod ops;
pub(crate) use ops::*;

/// A task waiting for readiness of one descriptor.
struct Waiter {
    fd: RawFd,
    interest: EventFlags,
    /// `None` until polled; taken when the event fires.
    waker: Option<Waker>,
    fired: bool,
}

/// What the kernel knows about one descriptor number.
#[derive(Default)]
struct FdState {
    /// Registered with the epoll instance (possibly disarmed by ONESHOT).
    in_kernel: bool,
    /// The events currently armed; empty when disarmed.
    armed: EventFlags,
    /// Keys of the waiters that have not fired yet.
    waiters: Vec<usize>,
}

struct Poller {
    epoll: OwnedFd,
    fds: HashMap<RawFd, FdState>,
    waiters: Vec<Option<Waiter>>,
    free: Vec<usize>,
    /// Deadline and a unique number, to the waker of the sleeping task.
    timers: BTreeMap<(Instant, u64), Option<Waker>>,
    next_timer: u64,
    events: Vec<Event>,
}

thread_local! {
    static POLLER: RefCell<Option<Poller>> = const { RefCell::new(None) };
    /// Operations left before the running tasks must yield to the loop.
    static BUDGET: Cell<u32> = const { Cell::new(BUDGET_PER_TURN) };
}

/// How many operations tasks may start between two looks at epoll: enough
/// to batch work, few enough that a flood cannot delay other events much.
const BUDGET_PER_TURN: u32 = 64;

/// Spends one unit of the turn's budget; when none is left, yields once
/// (the task goes to the back of the run queue, behind a look at epoll).
/// io_uring needs nothing like this: every operation there goes through
/// the ring and so returns to the loop.
fn coop() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded || BUDGET.with(|b| b.get()) > 0 {
            BUDGET.with(|b| b.set(b.get().saturating_sub(1)));
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// Creates this thread's epoll instance.
pub(crate) fn init() -> io::Result<()> {
    let epoll = epoll::create(CreateFlags::CLOEXEC)?;
    POLLER.with(|p| {
        *p.borrow_mut() = Some(Poller {
            epoll,
            fds: HashMap::new(),
            waiters: Vec::new(),
            free: Vec::new(),
            timers: BTreeMap::new(),
            next_timer: 0,
            events: Vec::with_capacity(64),
        })
    });
    Ok(())
}

/// Drops this thread's epoll instance (after the loop ended).
pub(crate) fn shutdown() {
    POLLER.with(|p| p.borrow_mut().take());
}

fn with<T>(f: impl FnOnce(&mut Poller) -> T) -> T {
    POLLER.with(|p| {
        let mut p = p.borrow_mut();
        f(p.as_mut().expect("reactor epoll not initialised"))
    })
}

/// Like `with`, but does nothing during thread teardown or after shutdown
/// (then there is no interest left to remove).
fn try_with(f: impl FnOnce(&mut Poller)) {
    let _ = POLLER.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && let Some(p) = p.as_mut()
        {
            f(p)
        }
    });
}

impl Poller {
    /// Makes the kernel's registration of `fd` match its remaining waiters.
    fn sync(&mut self, fd: RawFd) -> io::Result<()> {
        let Some(state) = self.fds.get_mut(&fd) else {
            return Ok(());
        };
        let want = state.waiters.iter().fold(EventFlags::empty(), |acc, &k| {
            acc | self.waiters[k]
                .as_ref()
                .map_or(EventFlags::empty(), |w| w.interest)
        });
        if want == state.armed {
            return Ok(());
        }
        // SAFETY: `fd` is open: every waiter borrows it for as long as it is
        // registered, and with no waiters we only remove it (see below).
        let source = unsafe { BorrowedFd::borrow_raw(fd) };
        if want.is_empty() {
            // Cancelled before it fired: forget the descriptor entirely, so
            // that nothing of it remains once its owner closes it.
            let r = epoll::delete(&self.epoll, source);
            self.fds.remove(&fd);
            return match r {
                Ok(()) | Err(Errno::NOENT) | Err(Errno::BADF) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let data = EventData::new_u64(fd as u64);
        let flags = want | EventFlags::ONESHOT;
        // A number we registered may since have been closed and reused for
        // another file (the kernel then forgot it): fall back either way.
        let r = if state.in_kernel {
            match epoll::modify(&self.epoll, source, data, flags) {
                Err(Errno::NOENT) => epoll::add(&self.epoll, source, data, flags),
                r => r,
            }
        } else {
            match epoll::add(&self.epoll, source, data, flags) {
                Err(Errno::EXIST) => epoll::modify(&self.epoll, source, data, flags),
                r => r,
            }
        };
        match r {
            Ok(()) => {
                state.in_kernel = true;
                state.armed = want;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn register(&mut self, fd: RawFd, interest: EventFlags, waker: &Waker) -> io::Result<usize> {
        let waiter = Waiter {
            fd,
            interest,
            waker: Some(waker.clone()),
            fired: false,
        };
        let key = match self.free.pop() {
            Some(k) => {
                self.waiters[k] = Some(waiter);
                k
            }
            None => {
                self.waiters.push(Some(waiter));
                self.waiters.len() - 1
            }
        };
        self.fds.entry(fd).or_default().waiters.push(key);
        if let Err(e) = self.sync(fd) {
            self.remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Frees a waiter's key and takes it off its descriptor's list.
    fn remove(&mut self, key: usize) -> Option<RawFd> {
        let w = self.waiters[key].take()?;
        self.free.push(key);
        if w.fired {
            return None;
        }
        let state = self.fds.get_mut(&w.fd)?;
        state.waiters.retain(|&k| k != key);
        Some(w.fd)
    }

    fn dispatch(&mut self, wakers: &mut Vec<Waker>) {
        let events = std::mem::take(&mut self.events);
        for ev in &events {
            let fd = ev.data.u64() as RawFd;
            let flags = ev.flags;
            let Some(state) = self.fds.get_mut(&fd) else {
                continue;
            };
            // ONESHOT: the kernel disarmed the descriptor on reporting it.
            state.armed = EventFlags::empty();
            let all = flags.intersects(EventFlags::ERR | EventFlags::HUP);
            let waiters = &mut self.waiters;
            state.waiters.retain(|&k| {
                let Some(w) = waiters[k].as_mut() else {
                    return false;
                };
                if all || w.interest.intersects(flags) {
                    w.fired = true;
                    wakers.extend(w.waker.take());
                    false
                } else {
                    true
                }
            });
            // Re-arm for whoever still waits (a writer, when a reader fired).
            if let Err(e) = self.sync(fd) {
                log::warn!("epoll: cannot re-arm fd {fd}: {e}");
                self.fail_all(fd, wakers);
            }
        }
        self.events = events;
    }

    /// Wakes every waiter of `fd`; their retries meet the error themselves.
    fn fail_all(&mut self, fd: RawFd, wakers: &mut Vec<Waker>) {
        if let Some(state) = self.fds.get_mut(&fd) {
            for k in state.waiters.drain(..) {
                if let Some(w) = self.waiters[k].as_mut() {
                    w.fired = true;
                    wakers.extend(w.waker.take());
                }
            }
        }
    }

    fn fire_timers(&mut self, now: Instant, wakers: &mut Vec<Waker>) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            wakers.extend(entry.remove());
        }
    }
}

/// Waits for events (at most until the nearest timer if `wait`, not at all
/// otherwise) and wakes the tasks they concern.
pub(crate) fn turn(wait: bool) -> io::Result<()> {
    BUDGET.with(|b| b.set(BUDGET_PER_TURN));
    let wakers = with(|p| -> io::Result<Vec<Waker>> {
        let timeout = if !wait {
            Some(Duration::ZERO)
        } else {
            p.timers
                .first_key_value()
                .map(|((deadline, _), _)| deadline.saturating_duration_since(Instant::now()))
        };
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs() as _,
            tv_nsec: d.subsec_nanos() as _,
        });
        p.events.clear();
        let cap = p.events.capacity();
        match epoll::wait(
            &p.epoll,
            rustix::buffer::spare_capacity(&mut p.events),
            ts.as_ref(),
        ) {
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let mut wakers = Vec::new();
        p.dispatch(&mut wakers);
        if p.events.len() == cap {
            // A full batch: there may be more; grow for the next turn.
            p.events.reserve(cap);
        }
        p.fire_timers(Instant::now(), &mut wakers);
        Ok(wakers)
    })?;
    for w in wakers {
        w.wake();
    }
    Ok(())
}

/// Waits until `fd` reports one of `interest` (or an error or hang-up,
/// which the retried system call then reports itself).
struct Ready<'fd> {
    fd: BorrowedFd<'fd>,
    interest: EventFlags,
    key: Option<usize>,
}

impl Future for Ready<'_> {
    type Output = io::Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(key) = self.key else {
            let (fd, interest) = (self.fd.as_raw_fd(), self.interest);
            return match with(|p| p.register(fd, interest, cx.waker())) {
                Ok(key) => {
                    self.key = Some(key);
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            };
        };
        let fired = with(|p| {
            let w = p.waiters[key].as_mut().expect("live waiter");
            if w.fired {
                p.remove(key);
                true
            } else {
                match &w.waker {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => w.waker = Some(cx.waker().clone()),
                }
                false
            }
        });
        if fired {
            self.key = None;
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            try_with(|p| {
                if let Some(fd) = p.remove(key)
                    && let Err(e) = p.sync(fd)
                {
                    log::warn!("epoll: cannot update fd {fd}: {e}");
                }
            });
        }
    }
}

fn ready(fd: BorrowedFd<'_>, interest: EventFlags) -> Ready<'_> {
    Ready {
        fd,
        interest,
        key: None,
    }
}

/// `ops::sleep` on epoll: an entry in the timer map, from the first poll
/// (as an io_uring timeout counts from its submission).
pub(crate) fn sleep(d: Duration) -> Sleep {
    Sleep { d, key: None }
}

/// A pending `sleep`; dropping it removes its timer.
pub(crate) struct Sleep {
    d: Duration,
    key: Option<(Instant, u64)>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.key {
            None => {
                let Some(deadline) = Instant::now().checked_add(self.d) else {
                    // Practically forever: never fires.
                    return Poll::Pending;
                };
                let key = with(|p| {
                    p.next_timer += 1;
                    let key = (deadline, p.next_timer);
                    p.timers.insert(key, Some(cx.waker().clone()));
                    key
                });
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) => {
                let pending = with(|p| match p.timers.get_mut(&key) {
                    Some(w) => {
                        match w {
                            Some(old) if old.will_wake(cx.waker()) => {}
                            _ => *w = Some(cx.waker().clone()),
                        }
                        true
                    }
                    None => false,
                });
                if pending {
                    Poll::Pending
                } else {
                    self.key = None;
                    Poll::Ready(())
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            try_with(|p| {
                p.timers.remove(&key);
            });
        }
    }
}

/// Descriptors and timers with interest registered, for tests that check
/// that dropped operations leave nothing behind.
#[cfg(test)]
pub(crate) fn pending() -> (usize, usize) {
    with(|p| {
        let fds = p.fds.values().filter(|s| !s.waiters.is_empty()).count();
        (fds, p.timers.len())
    })
}
