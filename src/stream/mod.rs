//! Live process I/O for clients: the output fan-out, the framing of
//! upgraded connections, and the sessions that run exec and attach.

pub mod frame;
pub mod hub;
pub mod session;
