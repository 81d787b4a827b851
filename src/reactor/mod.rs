//! podmon's event loop: one thread, one io_uring ring, a tiny executor.
//!
//! The interface is deliberately narrow (read, write, send, recv, accept,
//! wait-readable, sleep) so that an epoll backend could implement the same
//! functions for hosts where io_uring is disabled.

mod executor;
pub mod ops;
mod ring;
pub mod sync;

pub use executor::{TaskId, abort, spawn, stop};
pub use ring::RingError;

/// Sets up this thread's ring. Done first, so a host where io_uring is
/// disabled is told so before anything else happens.
pub fn init(entries: u32) -> Result<(), RingError> {
    ring::init(entries)
}

/// Runs `main` and every task it spawns on the ring set up by `init`, until
/// `stop` is called or no task is left, then cancels what remains.
pub fn run(main: impl std::future::Future<Output = ()> + 'static) -> Result<(), RunError> {
    spawn(main);
    let r = executor::run();
    executor::drop_all();
    // Let the cancellations of dropped operations complete before the ring goes.
    let _ = ring::turn(false);
    ring::shutdown();
    r.map_err(RunError::Loop)
}

/// Why the event loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The ring could not be created.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// io_uring_enter failed unexpectedly.
    #[error("event loop failed: {0}")]
    Loop(std::io::Error),
}
