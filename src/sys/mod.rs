//! The system underneath the pod: child processes and their reaping, the
//! console socket that brings a pty master, signal names and the signalfd,
//! and the monitor's own resource figures.

pub mod console;
pub mod error;
pub mod process;
pub mod selfstat;
pub mod signal;
pub mod sigwatch;
pub mod time;
