//! Command line of the `podmon` binary: `podmon serve` for the monitor, and
//! thin client subcommands that call its Varlink API.

mod args;
mod client;
mod errors;
mod events;
mod interactive;
mod logs;
mod output;
mod port_forward;
mod reexec;
mod request;
mod size;
mod stats;
mod term;
mod upgrade;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use args::{ClientCommand, CreateArgs, ExecArgs, LogLimitArgs, LogsArgs, ServeArgs};
pub use client::{report, run_client};

/// Where pods' sockets and state live unless told otherwise.
pub const RUN_DIR: &str = "/run/podmon";

/// Top-level arguments.
#[derive(Debug, Parser)]
#[command(name = "podmon", version, about = "Pod-level container monitor")]
pub struct Cli {
    /// Varlink socket of the pod's monitor (serve: where to listen; default
    /// /run/podmon/POD.sock).
    #[arg(long, env = "PODMON_SOCKET", global = true)]
    pub socket: Option<PathBuf>,
    /// Print replies as JSON instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The monitor itself or one of the client subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the monitor of one pod, serving its Varlink API.
    Serve(Box<ServeArgs>),
    /// Client subcommands, flattened so they appear as `podmon create` etc.
    #[command(flatten)]
    Client(ClientCommand),
}

impl Cli {
    /// The socket a client subcommand connects to; there is no default,
    /// because guessing the wrong pod's monitor would be worse than asking.
    pub fn client_socket(&self) -> anyhow::Result<&Path> {
        self.socket.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "no socket given: use --socket PATH or set PODMON_SOCKET (e.g. {RUN_DIR}/POD.sock)"
            )
        })
    }
}

#[cfg(test)]
mod tests;
