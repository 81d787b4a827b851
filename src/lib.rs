//! podmon: a pod-level container monitor. One process watches one pod's
//! containers through an OCI runtime and serves a Varlink API, all on one
//! io_uring event loop.

#![warn(missing_docs)]

pub mod api;
pub mod cgroups;
pub mod cli;
pub mod logs;
pub mod oci;
pub mod pod;
pub mod proto;
pub mod reactor;
pub mod server;
pub mod session;
pub mod sys;
pub mod varlink;
