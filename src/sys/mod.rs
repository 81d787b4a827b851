//! The system underneath the pod: child processes and their reaping, the
//! console socket that brings a pty master, signal names and the signalfd,
//! the monitor's own resource figures, and the files it writes without
//! following links (`files`).

pub mod console;
pub mod error;
pub mod files;
pub mod process;
pub mod selfstat;
pub mod signal;
pub mod sigwatch;
pub mod time;
