//! The `podmon` command line as a person uses it, against a real
//! `podmon serve` with runc: exec (exit codes, streams, timeouts, piped
//! stdin, a pty), attach with the detach keys, logs, stats, pod, events,
//! shutdown, the messages and exit statuses of mistakes, the `--json`
//! contract, ListContainers/Stats without `more`, and scripts/install.
//!
//! Terminals are real pseudo-terminals opened here (openpty), with the
//! podmon client as the session leader whose controlling terminal is the
//! pty's slave side.

#[path = "../common/mod.rs"]
mod common;

mod attach;
mod errors;
mod exec;
mod install;
mod json;
mod logs;
mod no_more;
mod pty;
mod shutdown;
mod stats;
mod support;
