//! Runs one client subcommand: makes its call, prints the result and picks
//! the exit status.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::failure::Failure;
use super::output::{self, ContainerView};
use super::request::{Plan, Request, plan};
use super::{ClientCommand, events, interactive, logs, port_forward, reexec, stats};
use crate::proto::{self, call};
use crate::varlink::client::{Client, ClientError};

/// Runs `cmd` against the monitor at `socket` and returns the process exit
/// status: 0 on success, the container's exit code for `wait`.
///
/// With `json` the output is one JSON document (the reply of the call
/// made), or one per line for the commands that stream.
///
/// Failures come back as errors whose message is already readable (e.g.
/// "no such container: web") and that carry a [`Failure`] (the Varlink
/// error name and parameters); print them with [`report`](super::report),
/// which also gives the exit status.
pub fn run_client(cmd: ClientCommand, socket: &Path, json: bool) -> anyhow::Result<i32> {
    // Streaming subcommands drive their connections themselves.
    let mut req = match plan(&cmd)? {
        Plan::Call(req) => req,
        Plan::Exec(args) => {
            if json && (args.interactive || args.tty) {
                return Err(Failure::json_unsupported(
                    "exec -i/-t",
                    "an interactive session's output is the process's raw bytes; \
                     without -i and -t, exec --json prints the ExecSync reply",
                )
                .into());
            }
            return interactive::exec(args, socket, json);
        }
        Plan::Attach { id, stdin } => {
            if json {
                return Err(Failure::json_unsupported(
                    "attach",
                    "it relays the container's raw output (and stdin); \
                     use logs -f --json for records",
                )
                .into());
            }
            return interactive::attach(id, stdin, socket);
        }
        Plan::Logs(args) => return logs::run(args, socket, json),
        Plan::Stats { id, watch } => return stats::run(id, watch, socket, json),
        Plan::Events { id, since } => return events::run(id, since, socket, json),
        Plan::Upgrade { timeout } => return reexec::run(socket, timeout, json),
        Plan::PortForward(args) => return port_forward::run(args, socket, json),
    };
    // A terminal container's pty starts at our window's size.
    if let Request::Create(create) = &mut req
        && create.terminal == Some(true)
        && create.rootfs.is_some()
        && let Some((cols, rows)) = super::term::window_size()
    {
        create.width = Some(cols);
        create.height = Some(rows);
    }
    let mut client = Client::connect(socket).map_err(|err| Failure::client(&err, socket))?;
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let code = execute(req, &mut client, json, &mut out, &mut err).map_err(|e| match e {
        Stop::Call(call) => anyhow::Error::new(Failure::client(&call, socket)),
        Stop::Output(io) => anyhow::Error::new(io).context("cannot write output"),
    })?;
    out.flush().context("cannot write output")?;
    Ok(code)
}

/// What stopped a subcommand after connecting.
#[derive(Debug)]
enum Stop {
    /// The call failed (error reply, broken connection, ...).
    Call(ClientError),
    /// Printing the result failed.
    Output(io::Error),
}

impl From<ClientError> for Stop {
    fn from(err: ClientError) -> Self {
        Stop::Call(err)
    }
}

impl From<io::Error> for Stop {
    fn from(err: io::Error) -> Self {
        Stop::Output(err)
    }
}

/// Writes a reply as one line of JSON (`--json`).
fn json_line<T: Serialize>(out: &mut impl Write, reply: &T) -> io::Result<()> {
    writeln!(out, "{}", output::json_line(&call::to_map(reply)))
}

/// Makes the call and prints its result to `out` (and notes to `err`).
fn execute(
    req: Request,
    client: &mut Client,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, Stop> {
    match req {
        Request::Ps(r) => list(client, &r, json, out),
        Request::Create(r) => show_id(call::call(client, &*r)?, json, out),
        Request::Start(r) => show_id(call::call(client, &r)?, json, out),
        Request::Wait(r) => {
            let reply = call::call(client, &r)?;
            if json {
                json_line(out, &reply)?;
            } else {
                match reply.exit_code {
                    Some(code) => writeln!(out, "{code}")?,
                    // No code to print: say why instead of making one up.
                    None => writeln!(out, "unknown ({})", reply.reason)?,
                }
                if let Some(note) = output::signal_note(reply.signal.as_deref()) {
                    writeln!(err, "{note}")?;
                }
            }
            Ok(output::exit_status(reply.exit_code.map(i64::from)))
        }
        Request::State(r) => {
            let reply = call::call(client, &r)?;
            if json {
                json_line(out, &reply)?;
            } else {
                let view = ContainerView::from(&reply.container);
                write!(out, "{}", output::format_state(&view))?;
            }
            Ok(0)
        }
        Request::Pod(r) => {
            let reply = call::call(client, &r)?;
            if json {
                json_line(out, &reply)?;
            } else {
                write!(out, "{}", events::format_pod(&reply))?;
            }
            Ok(0)
        }
        Request::SetLogLimit(r) => {
            let reply = call::call(client, &r)?;
            if json {
                json_line(out, &reply)?;
            } else {
                write!(out, "{}", events::format_log_limit(&reply))?;
            }
            Ok(0)
        }
        Request::Kill(r) => quiet(&call::call(client, &r)?, json, out),
        Request::Delete(r) => quiet(&call::call(client, &r)?, json, out),
        Request::ReopenLog(r) => quiet(&call::call(client, &r)?, json, out),
        Request::PurgeLog(r) => {
            let reply = call::call(client, &r)?;
            if json {
                json_line(out, &reply)?;
            } else {
                for f in &reply.files {
                    writeln!(out, "{f}")?;
                }
            }
            Ok(0)
        }
        Request::Resize(r) => quiet(&call::call(client, &r)?, json, out),
        Request::Shutdown(r) => quiet(&call::call(client, &r)?, json, out),
    }
}

/// Replies that print nothing but `--json`.
fn quiet<T: Serialize>(reply: &T, json: bool, out: &mut impl Write) -> Result<i32, Stop> {
    if json {
        json_line(out, reply)?;
    }
    Ok(0)
}

/// `create` and `start` print the container's id.
fn show_id(reply: proto::ContainerReply, json: bool, out: &mut impl Write) -> Result<i32, Stop> {
    if json {
        json_line(out, &reply)?;
    } else {
        writeln!(out, "{}", reply.container.id)?;
    }
    Ok(0)
}

/// `ps`: one reply listing every container (without `more`); `--json`
/// prints it as `{"containers": [...]}`.
fn list(
    client: &mut Client,
    req: &proto::ListContainers,
    json: bool,
    out: &mut impl Write,
) -> Result<i32, Stop> {
    let reply = call::call(client, req)?;
    let containers = reply.containers.unwrap_or_default();
    if json {
        let all = proto::ListContainersReply {
            container: None,
            containers: Some(containers),
        };
        json_line(out, &all)?;
    } else {
        let views: Vec<ContainerView> = containers.iter().map(ContainerView::from).collect();
        write!(out, "{}", output::format_table(&views))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
