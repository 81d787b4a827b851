//! The logging pipeline end to end, against a real `podmon serve` and runc:
//! byte-exact CRI logs for large mixed output, rate limits (block and drop,
//! changed at run time), rotation under load, ReopenLog, ReadLogs (follow,
//! tail, since), a full disk, a flooding container next to a quiet one, and
//! the journald driver against a real systemd-journald.
//!
//! Every test has its own pod. Tests that load the CPU (or whose timing a
//! loaded CPU would distort) take `HEAVY`, so that on a small machine they do
//! not run at the same time as each other.

#[path = "../common/mod.rs"]
mod common;

mod exact;
mod files;
mod flood;
mod journald;
mod links;
mod rate_limit;
mod read_logs;
mod rotated;
mod support;
mod sync;
