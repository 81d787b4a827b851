//! The container operations the api calls, by name: each lives in its own
//! file (`create`, `start`, `kill`, `wait`, `delete`, `shutdown`; the
//! log's rate limit, which the state record keeps, in `persist`).

pub use super::create::{CreateFds, create};
pub use super::delete::delete;
pub use super::kill::kill;
pub use super::persist::{save_pending_exits, set_log_limit};
pub use super::request::{CreateRequest, LogOptions, Source, check_limit};
pub use super::shutdown::{shutdown, stop_containers_detached, wait_creates};
pub use super::start::start;
pub use super::wait::wait;
