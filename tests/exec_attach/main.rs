//! Exec, ExecSync and Attach against a real `podmon serve` with runc: exit
//! codes, timeouts, output caps, the framing of upgraded connections,
//! terminals, shared attach sessions, slow clients and concurrency.

#[path = "../common/mod.rs"]
mod common;

mod attach;
mod errors;
mod exec_bytes;
mod exec_stream;
mod exec_sync;
mod support;
mod upgraded;
