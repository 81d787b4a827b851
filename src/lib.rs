//! podmon: a pod-level container monitor. One process watches one pod's
//! containers through an OCI runtime and serves a Varlink API, all on one
//! io_uring event loop.

#![warn(missing_docs)]

pub mod api;
pub mod cgroups;
pub mod cli;
pub mod console;
pub mod cri;
pub mod id;
pub mod logs;
pub mod oci;
pub mod oom;
pub mod pod;
pub mod process;
pub mod ratelimit;
pub mod reactor;
pub mod selfstat;
pub mod server;
pub mod signal;
pub mod sigwatch;
pub mod stream;
pub mod varlink;
