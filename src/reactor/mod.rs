//! podmon's event loop: one thread, one io_uring ring, a tiny executor.
//!
//! The interface is deliberately narrow (read, write, send, recv, accept,
//! wait-readable, sleep) so that an epoll backend can implement the same
//! functions for hosts where io_uring is disabled; `init` picks it when the
//! ring cannot be created.

mod backend;
mod connect;
mod epoll;
mod executor;
pub mod msg;
mod op;
pub mod ops;
#[cfg(test)]
mod read_until_tests;
mod ring;
mod select;
pub mod sync;
#[cfg(test)]
pub(crate) mod tests;

pub use backend::Backend;
pub use executor::{TaskId, abort, spawn, stop};
pub use ring::RingError;

/// The environment variable that chooses the backend: `io_uring` (fail
/// if it is unavailable), `epoll` (never try io_uring), or unset/`auto`.
pub const BACKEND_ENV: &str = "PODMON_REACTOR";

/// Sets up this thread's ring, or the epoll backend where io_uring is
/// unavailable (`PODMON_REACTOR` can force either). Done first, so a host
/// that cannot run the loop at all is told so before anything else happens.
pub fn init(entries: u32) -> Result<(), RingError> {
    let choice = std::env::var(BACKEND_ENV).unwrap_or_default();
    match choice.as_str() {
        "io_uring" => init_with(Backend::IoUring, entries),
        "epoll" => {
            log::warn!(
                "io_uring not used: {BACKEND_ENV}=epoll is set; using the epoll backend (slower)"
            );
            init_with(Backend::Epoll, entries)
        }
        "" | "auto" => match init_with(Backend::IoUring, entries) {
            Ok(()) => Ok(()),
            Err(e) => {
                log::warn!("io_uring is unavailable, using the epoll backend (slower): {e}");
                init_with(Backend::Epoll, entries)
            }
        },
        other => Err(RingError::Choice(other.to_owned())),
    }
}

/// Sets up the given backend on this thread, with no fallback.
pub(crate) fn init_with(b: Backend, entries: u32) -> Result<(), RingError> {
    match b {
        Backend::IoUring => ring::init(entries)?,
        Backend::Epoll => epoll::init().map_err(RingError::Epoll)?,
    }
    backend::set(b);
    Ok(())
}

/// Runs `main` and every task it spawns on the backend set up by `init`,
/// until `stop` is called or no task is left, then cancels what remains.
pub fn run(main: impl std::future::Future<Output = ()> + 'static) -> Result<(), RunError> {
    spawn(main);
    let r = executor::run();
    executor::drop_all();
    // Let the cancellations of dropped operations complete before the ring goes.
    let _ = backend::turn(false);
    backend::shutdown();
    r.map_err(RunError::Loop)
}

/// Why the event loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The ring could not be created.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// io_uring_enter (or epoll_wait) failed unexpectedly.
    #[error("event loop failed: {0}")]
    Loop(std::io::Error),
}

/// A receive in flight on the client socket, handed over from the
/// connection so no byte is lost at the switch to frames.
pub type PendingRecv<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (std::io::Result<usize>, Vec<u8>)> + 'a>>;
