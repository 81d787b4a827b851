//! podmon: a pod-level container monitor. One process watches one pod's
//! containers through an OCI runtime and serves a Varlink API, all on one
//! io_uring event loop.

#![warn(missing_docs)]

pub(crate) mod api;
pub(crate) mod cgroups;
pub mod cli;
pub(crate) mod logs;
pub(crate) mod oci;
pub(crate) mod pod;
pub(crate) mod proto;
pub(crate) mod reactor;
pub mod server;
pub(crate) mod session;
pub(crate) mod sys;
pub mod varlink;
