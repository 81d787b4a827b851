//! A failed command, for a person (`podmon: MESSAGE`) and for a script
//! (`--json`: `{"error": NAME, "parameters": {...}}` on stderr): one value
//! carries both, so the two never tell different stories.
//!
//! Errors the monitor sent keep their Varlink name and parameters; what
//! fails on the client's side gets an `io.podmon.Cli.*` name (see
//! [`names`]), or a standard one where it fits.

use std::io;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::errors;
use crate::varlink::client::ClientError;

/// The names of the errors the command line makes itself.
pub mod names {
    /// A usage error: an unknown option, a value that does not parse, a
    /// missing argument (clap's message in `message`); exit status 2.
    pub const INVALID_ARGUMENT: &str = "io.podmon.Cli.InvalidArgument";
    /// Neither `--socket` nor `PODMON_SOCKET` names a monitor.
    pub const NO_SOCKET: &str = "io.podmon.Cli.NoSocket";
    /// The socket could not be connected (`socket`, `errno`, `message`).
    pub const CANNOT_CONNECT: &str = "io.podmon.Cli.CannotConnect";
    /// The monitor closed the connection before it replied (`socket`).
    pub const CONNECTION_CLOSED: &str = "io.podmon.Cli.ConnectionClosed";
    /// The monitor's reply made no sense, or reading it failed.
    pub const PROTOCOL_ERROR: &str = "io.podmon.Cli.ProtocolError";
    /// The command has no JSON form (`attach`, `exec -i`/`-t`); exit 2.
    pub const JSON_UNSUPPORTED: &str = "io.podmon.Cli.JsonUnsupported";
    /// An exec or attach session ended with the monitor's error frame.
    pub const SESSION_ERROR: &str = "io.podmon.Cli.SessionError";
    /// `podmon upgrade` did not see the new image serve in place.
    pub const UPGRADE_FAILED: &str = "io.podmon.Cli.UpgradeFailed";
    /// Anything else: the client's own failure (writing the output, a
    /// local file), said in `message`.
    pub const ERROR: &str = "io.podmon.Cli.Error";
}

/// Exit status of a failed command.
pub const FAILED: i32 = 1;
/// Exit status of a usage error, as clap uses it.
pub const USAGE: i32 = 2;

/// One failure: its error name and parameters, the sentence a person
/// reads, and the exit status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// A Varlink error name.
    pub name: String,
    /// Its parameters.
    pub parameters: Map<String, Value>,
    /// What `podmon: ...` says.
    pub message: String,
    /// The exit status: [`FAILED`] or [`USAGE`].
    pub status: i32,
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Failure {
    /// A failure of the client's own with `parameters` and `message`.
    pub fn new(name: &str, parameters: Value, message: impl Into<String>) -> Failure {
        Failure {
            name: name.to_owned(),
            parameters: object(parameters),
            message: message.into(),
            status: FAILED,
        }
    }

    /// A client-side failure said only in words ([`names::ERROR`]).
    pub fn other(message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure::new(names::ERROR, json!({ "message": message }), message)
    }

    /// The same failure with the usage exit status.
    pub fn usage(self) -> Failure {
        Failure {
            status: USAGE,
            ..self
        }
    }

    /// A failed call to the monitor at `socket`: the monitor's own error
    /// keeps its name and parameters.
    pub fn client(err: &ClientError, socket: &Path) -> Failure {
        let message = errors::describe(err, socket);
        let path = socket.display().to_string();
        match err {
            ClientError::Varlink { name, parameters } => Failure {
                name: name.clone(),
                parameters: parameters.clone(),
                message,
                status: FAILED,
            },
            ClientError::Connect { source, .. } => Failure::new(
                names::CANNOT_CONNECT,
                json!({"socket": path, "errno": source.raw_os_error(), "message": source.to_string()}),
                message,
            ),
            ClientError::Closed => {
                Failure::new(names::CONNECTION_CLOSED, json!({ "socket": path }), message)
            }
            other => Failure::new(
                names::PROTOCOL_ERROR,
                json!({"socket": path, "message": other.to_string()}),
                message,
            ),
        }
    }

    /// No socket given.
    pub fn no_socket(message: String) -> Failure {
        Failure::new(names::NO_SOCKET, json!({}), message)
    }

    /// `command` has no JSON form.
    pub fn json_unsupported(command: &str, reason: &str) -> Failure {
        Failure::new(
            names::JSON_UNSUPPORTED,
            json!({"command": command, "reason": reason}),
            format!("{command} has no --json form: {reason}"),
        )
        .usage()
    }

    /// A command-line usage error found by clap.
    pub fn invalid_argument(err: &clap::Error) -> Failure {
        use clap::error::{ContextKind, ContextValue};
        let context = |kind| match err.get(kind) {
            Some(ContextValue::String(s)) => Value::from(s.as_str()),
            Some(ContextValue::Strings(v)) => Value::from(v.join(" ")),
            _ => Value::Null,
        };
        let rendered = err.render().to_string();
        // clap says "error: WHAT" (on one or more lines), then after a
        // blank line the usage and tips.
        let what = rendered
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        let what = what.strip_prefix("error: ").unwrap_or(&what).to_owned();
        let mut parameters = json!({
            "kind": format!("{:?}", err.kind()),
            "message": what,
        });
        for (key, kind) in [
            ("argument", ContextKind::InvalidArg),
            ("value", ContextKind::InvalidValue),
        ] {
            let v = context(kind);
            if !v.is_null() {
                parameters[key] = v;
            }
        }
        Failure::new(names::INVALID_ARGUMENT, parameters, what).usage()
    }

    /// The `--json` form: `{"error": NAME, "parameters": {...}}`.
    pub fn to_json(&self) -> Value {
        json!({"error": self.name, "parameters": self.parameters})
    }
}

/// `err` as a [`Failure`]: the one in its chain (with the chain's context
/// in the message), else a [`names::ERROR`] saying what went wrong.
pub fn of(err: &anyhow::Error) -> Failure {
    let message = format!("{err:#}");
    match err.downcast_ref::<Failure>() {
        Some(f) => Failure {
            message,
            ..f.clone()
        },
        None => Failure::other(message),
    }
}

/// Prints a failed command on stderr, as `podmon: MESSAGE` or (`json`)
/// as one line of JSON, and returns its exit status.
pub fn report(err: &anyhow::Error, json: bool) -> i32 {
    let failure = of(err);
    print(&failure, json, &mut io::stderr().lock());
    failure.status
}

/// Writes `failure` to `out` in either form.
pub fn print(failure: &Failure, json: bool, out: &mut impl io::Write) {
    let _ = if json {
        writeln!(out, "{}", failure.to_json())
    } else {
        writeln!(out, "podmon: {}", failure.message)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use clap::Parser;

    #[test]
    fn varlink_errors_keep_name_and_parameters() {
        let err = ClientError::Varlink {
            name: "io.podmon.Pod.NoSuchContainer".into(),
            parameters: object(json!({"id": "web"})),
        };
        let f = Failure::client(&err, Path::new("/s"));
        assert_eq!(
            f.to_json(),
            json!({"error": "io.podmon.Pod.NoSuchContainer", "parameters": {"id": "web"}})
        );
        assert_eq!(f.message, "no such container: web");
        assert_eq!(f.status, FAILED);
    }

    #[test]
    fn client_side_errors_are_named() {
        let err = ClientError::Connect {
            path: "/s".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        let f = Failure::client(&err, Path::new("/s"));
        assert_eq!(f.name, names::CANNOT_CONNECT);
        assert_eq!(f.parameters["socket"], "/s");
        assert_eq!(f.parameters["errno"], libc::ENOENT);
        let f = Failure::client(&ClientError::Closed, Path::new("/s"));
        assert_eq!(f.name, names::CONNECTION_CLOSED);
        let unsupported = Failure::json_unsupported("attach", "raw output");
        assert_eq!(unsupported.status, USAGE);
        assert_eq!(unsupported.parameters["command"], "attach");
    }

    #[test]
    fn context_is_in_the_message_not_the_name() {
        let inner = Failure::new(names::UPGRADE_FAILED, json!({"x": 1}), "inner");
        let err = anyhow::Error::new(inner).context("outer");
        let f = of(&err);
        assert_eq!(f.name, names::UPGRADE_FAILED);
        assert_eq!(f.message, "outer: inner");
        let plain: anyhow::Result<()> = Err(io::Error::other("EPIPE")).context("cannot write");
        let f = of(&plain.unwrap_err());
        assert_eq!(f.name, names::ERROR);
        assert_eq!(f.parameters["message"], "cannot write: EPIPE");
        let mut out = Vec::new();
        print(&f, true, &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"], names::ERROR);
        let mut out = Vec::new();
        print(&f, false, &mut out);
        assert_eq!(out, b"podmon: cannot write: EPIPE\n");
    }

    #[test]
    fn usage_errors_name_the_argument() {
        let err = crate::cli::Cli::try_parse_from(["podmon", "kill", "a", "--bogus"]).unwrap_err();
        let f = Failure::invalid_argument(&err);
        assert_eq!(f.name, names::INVALID_ARGUMENT);
        assert_eq!(f.status, USAGE);
        assert_eq!(f.parameters["argument"], "--bogus");
        assert!(f.message.contains("--bogus"), "{}", f.message);
        assert!(!f.message.starts_with("error:"), "{}", f.message);
        let err = crate::cli::Cli::try_parse_from(["podmon", "kill"]).unwrap_err();
        let f = Failure::invalid_argument(&err);
        assert_eq!(
            f.message,
            "the following required arguments were not provided: <ID>"
        );
    }
}
