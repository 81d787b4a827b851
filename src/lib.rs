//! podmon: a pod-level container monitor. One process watches one pod's
//! containers through an OCI runtime and serves a Varlink API, all on one
//! io_uring event loop.

pub mod reactor;
