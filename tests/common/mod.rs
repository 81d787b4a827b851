//! Test harness for podmon's integration tests.
//!
//! Nothing here skips: when the machine cannot run containers (not root, no
//! runc, no busybox) every test fails with a message that says what is
//! missing and how to install it (`scripts/install-deps`).
//!
//! Each `Pod` is one `podmon serve` process with its own socket, state, log
//! and exit directories under `$TMPDIR/podmon-tests/NAME.PID.N`, so tests
//! run in parallel. Dropping a `Pod` stops the server, deletes whatever
//! runc still holds in `STATE/runtime` and removes the directory (kept, with
//! the server's log printed, when the test failed).
//!
//! The test files use everything as `common::NAME`; the modules only sort
//! it: `env` (preconditions, rootfs, tools), `pod` (the server for one
//! test) and `calls` (its shorthands), `client` (Varlink), `names` (method and error names from
//! `podmon::proto`), `gate`,
//! `peer` (clients that are not root), `process` (commands with a deadline), `procfs`, `shape` (replies against
//! the IDL) and `time`.
// Each test binary uses only part of the harness.
#![allow(dead_code, unused_imports)]

mod calls;
mod children;
mod client;
mod env;
mod gate;
mod names;
mod peer;
mod pod;
mod process;
mod procfs;
mod shape;
mod time;

pub use children::*;
pub use client::*;
pub use env::*;
pub use gate::*;
pub use names::*;
pub use peer::*;
pub use pod::*;
pub use process::*;
pub use procfs::*;
pub use shape::*;
pub use time::*;
