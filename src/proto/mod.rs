//! The `io.podmon.Pod` contract as code: what server, CLI, tests and
//! benches all speak.

pub mod frame;
