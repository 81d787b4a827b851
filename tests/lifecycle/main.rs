//! Container lifecycle through the CLI and through raw Varlink calls.

#[path = "../common/mod.rs"]
mod common;

mod basics;
mod limits;
mod signals;
