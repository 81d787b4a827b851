//! A single-threaded task executor on top of the ring (or epoll).
//!
//! Tasks are plain futures; a waker puts its task back on this thread's run
//! queue. When the queue is empty the thread sleeps in `io_uring_enter` (or
//! `epoll_wait`) until a completion or event arrives, so an idle monitor
//! makes no wakeups at all.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use super::backend;

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

struct TaskSlot {
    generation: u64,
    future: Option<BoxedTask>,
    /// Set while the task is being polled (its future is taken out).
    running: bool,
    /// Set when aborted while running: dropped after the poll returns.
    aborted: bool,
}

#[derive(Default)]
struct Executor {
    tasks: RefCell<Vec<TaskSlot>>,
    free: RefCell<Vec<usize>>,
    ready: RefCell<VecDeque<(usize, u64)>>,
    live: Cell<usize>,
    stop: Cell<bool>,
}

thread_local! {
    static EXEC: Executor = Executor::default();
}

/// Identifies a spawned task, so it can be aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskId {
    index: usize,
    generation: u64,
}

struct TaskWaker {
    index: usize,
    generation: u64,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Wakers are only ever used on the reactor thread; if one strays to
        // another thread it finds no tasks there and does nothing.
        let _ = EXEC.try_with(|e| {
            e.ready
                .borrow_mut()
                .push_back((self.index, self.generation))
        });
    }
}

/// Spawns a task onto this thread's executor. It runs until it completes or
/// is aborted; it never runs on another thread.
pub fn spawn(fut: impl Future<Output = ()> + 'static) -> TaskId {
    EXEC.with(|e| {
        let index = e.free.borrow_mut().pop();
        let mut tasks = e.tasks.borrow_mut();
        let index = match index {
            Some(i) => i,
            None => {
                tasks.push(TaskSlot {
                    generation: 0,
                    future: None,
                    running: false,
                    aborted: false,
                });
                tasks.len() - 1
            }
        };
        let slot = &mut tasks[index];
        slot.generation += 1;
        slot.future = Some(Box::pin(fut));
        slot.running = false;
        slot.aborted = false;
        let id = TaskId {
            index,
            generation: slot.generation,
        };
        e.ready.borrow_mut().push_back((index, id.generation));
        e.live.set(e.live.get() + 1);
        id
    })
}

/// Drops a task's future (cancelling the operations it waits for). Does
/// nothing if the task has finished already.
pub fn abort(id: TaskId) {
    let dropped = EXEC.with(|e| {
        let mut tasks = e.tasks.borrow_mut();
        let slot = tasks.get_mut(id.index)?;
        if slot.generation != id.generation {
            return None;
        }
        if slot.running {
            slot.aborted = true;
            return None;
        }
        let fut = slot.future.take()?;
        e.free.borrow_mut().push(id.index);
        e.live.set(e.live.get() - 1);
        Some(fut)
    });
    // Dropped outside the borrow: dropping may abort or spawn other tasks.
    drop(dropped);
}

/// Asks `run` to return after the current round of tasks.
pub fn stop() {
    EXEC.with(|e| e.stop.set(true));
}

/// Polls ready tasks until none is left, or (with `round`) only those that
/// were ready when it began: then tasks that keep waking themselves cannot
/// keep the loop from checking for events.
fn run_ready(round: bool) {
    let mut budget = if round {
        EXEC.with(|e| e.ready.borrow().len())
    } else {
        usize::MAX
    };
    loop {
        if budget == 0 {
            return;
        }
        budget -= 1;
        let next = EXEC.with(|e| e.ready.borrow_mut().pop_front());
        let Some((index, generation)) = next else {
            return;
        };
        let fut = EXEC.with(|e| {
            let mut tasks = e.tasks.borrow_mut();
            let slot = &mut tasks[index];
            if slot.generation != generation {
                return None;
            }
            let f = slot.future.take();
            slot.running = f.is_some();
            f
        });
        let Some(mut fut) = fut else { continue };
        let waker = Waker::from(Arc::new(TaskWaker { index, generation }));
        let mut cx = Context::from_waker(&waker);
        let poll = fut.as_mut().poll(&mut cx);
        let finished = EXEC.with(|e| {
            let mut tasks = e.tasks.borrow_mut();
            let slot = &mut tasks[index];
            slot.running = false;
            if poll.is_ready() || slot.aborted {
                slot.aborted = false;
                e.free.borrow_mut().push(index);
                e.live.set(e.live.get() - 1);
                Some(fut)
            } else {
                slot.future = Some(fut);
                None
            }
        });
        drop(finished);
    }
}

/// Runs tasks until `stop` is called or no task is left; sleeps in the
/// kernel whenever nothing is ready.
///
/// On io_uring every operation passes through the ring, so tasks are run
/// until none is ready. On epoll an operation on a descriptor that is
/// always ready (a flooding log pipe) completes without ever returning
/// Pending, so tasks run in rounds, and the epoll ops yield once their
/// per-turn budget is spent: the loop then checks for events (without
/// sleeping) before the next round, and no task starves the others.
pub fn run() -> std::io::Result<()> {
    let rounds = backend::is_epoll();
    loop {
        run_ready(rounds);
        let (stop, live, more) =
            EXEC.with(|e| (e.stop.get(), e.live.get(), !e.ready.borrow().is_empty()));
        if stop || live == 0 {
            return Ok(());
        }
        backend::turn(!more)?;
    }
}

/// Drops every remaining task (after `run` returned), while the ring still
/// exists, so their operations are cancelled cleanly.
pub fn drop_all() {
    let all: Vec<BoxedTask> = EXEC.with(|e| {
        let mut tasks = e.tasks.borrow_mut();
        e.live.set(0);
        e.ready.borrow_mut().clear();
        tasks.iter_mut().filter_map(|t| t.future.take()).collect()
    });
    drop(all);
}
