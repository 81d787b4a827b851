//! The Varlink protocol (UAPI.20), sans IO: framing, messages, typed
//! parameters, the `org.varlink.service` interface, and the one blocking
//! client that the CLI, the integration tests and the benches share.
//!
//! The server's reactor owns the sockets; everything here only transforms
//! bytes and values, so it is tested without any I/O (the client excepted).

pub mod client;
pub mod fds;
pub(crate) mod frame;
pub(crate) mod message;
pub(crate) mod params;
pub(crate) mod service;

pub use fds::{FdIndexError, MAX_FDS_PER_MESSAGE, Passed, PassedFds};
pub use frame::{FrameDecoder, FrameError};
pub use message::{Call, ProtocolError, Reply, VarlinkError};
