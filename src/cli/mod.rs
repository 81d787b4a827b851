//! Command line of the `podmon` binary: `podmon serve` for the monitor, and
//! thin client subcommands that call its Varlink API.

mod args;
mod client;
mod errors;
mod events;
mod failure;
pub mod generate;
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
mod version;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use args::{ClientCommand, CreateArgs, ExecArgs, LogLimitArgs, LogsArgs, ServeArgs};
pub use client::run_client;
pub use failure::{Failure, names as error_names, report};

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

/// Parses the process's arguments. A usage error is printed as clap does,
/// or, with `--json` among the arguments, as a JSON error (exit 2 either
/// way); `--version` also names the runtime `serve` would use.
pub fn parse() -> Cli {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<OsString>) -> Cli {
    let mut cmd = Cli::command();
    if before_dashes(&args).any(|a| a == "--version" || a == "-V") {
        // Printed once, then the process exits: leaking it is free.
        cmd = cmd.version(&*Box::leak(version::text().into_boxed_str()));
    }
    let parsed = cmd
        .try_get_matches_from_mut(&args)
        .and_then(|m| Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd)));
    match parsed {
        Ok(cli) => cli,
        Err(err) if err.use_stderr() && before_dashes(&args).any(|a| a == "--json") => {
            let failure = Failure::invalid_argument(&err);
            failure::print(&failure, true, &mut std::io::stderr().lock());
            std::process::exit(failure.status)
        }
        Err(err) => err.exit(),
    }
}

/// The arguments before a `--` (after it they are a container's command).
fn before_dashes(args: &[OsString]) -> impl Iterator<Item = &OsString> {
    args.iter().skip(1).take_while(|a| *a != "--")
}

/// Runs a client subcommand of `cli` and returns the exit status; a
/// failure is reported on stderr (as JSON with `--json`).
pub fn client_main(cli: &Cli, cmd: &ClientCommand) -> i32 {
    cli.client_socket()
        .and_then(|socket| run_client(cmd.clone(), socket, cli.json))
        .unwrap_or_else(|e| report(&e, cli.json))
}

impl Cli {
    /// The socket a client subcommand connects to; there is no default,
    /// because guessing the wrong pod's monitor would be worse than asking.
    pub fn client_socket(&self) -> anyhow::Result<&Path> {
        self.socket.as_deref().ok_or_else(|| {
            Failure::no_socket(format!(
                "no socket given: use --socket PATH or set PODMON_SOCKET (e.g. {RUN_DIR}/POD.sock)"
            ))
            .into()
        })
    }
}

#[cfg(test)]
mod tests;
