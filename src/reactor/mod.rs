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

/// Sets up the ring, runs `main` and every task it spawns until `stop` is
/// called or no task is left, then cancels what remains.
pub fn run(
    entries: u32,
    main: impl std::future::Future<Output = ()> + 'static,
) -> Result<(), RunError> {
    ring::init(entries)?;
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
