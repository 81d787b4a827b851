//! Turns client failures into messages a person can act on.
//!
//! Varlink error names are precise but terse; the CLI says what happened in
//! words and keeps the details (runtime message, parameter name) that explain
//! it.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use crate::proto::errors::{
    ContainerExists, EventsExpired, InvalidState, InvalidValue, NoSuchContainer, PermissionDenied,
    ProtoError, RuntimeError, SystemError, WatcherTooSlow,
};
use crate::varlink::client::ClientError;
use crate::varlink::message;

/// One readable line for `podmon: <message>`.
pub fn describe(err: &ClientError, socket: &Path) -> String {
    match err {
        ClientError::Connect { source, .. } => describe_connect(source, socket),
        ClientError::Varlink { name, parameters } => describe_varlink(name, parameters),
        ClientError::Closed => format!(
            "the monitor at {} closed the connection before replying",
            socket.display()
        ),
        other => other.to_string(),
    }
}

fn describe_connect(source: &io::Error, socket: &Path) -> String {
    let path = socket.display();
    match source.kind() {
        io::ErrorKind::NotFound => {
            format!("no monitor socket at {path} (is `podmon serve` running for this pod?)")
        }
        io::ErrorKind::ConnectionRefused => {
            format!("connection refused by {path} (the monitor is not running or not listening)")
        }
        io::ErrorKind::PermissionDenied => format!("permission denied connecting to {path}"),
        _ => format!("cannot connect to {path}: {source}"),
    }
}

/// Renders an error reply of `io.podmon.Pod` or `org.varlink.service`;
/// unknown errors fall back to `name: key=value, ...`.
pub fn describe_varlink(name: &str, parameters: &Map<String, Value>) -> String {
    let s = |key: &str| text(parameters, key);
    match name {
        n if n == NoSuchContainer::ERROR => format!("no such container: {}", s("id")),
        n if n == ContainerExists::ERROR => format!("container already exists: {}", s("id")),
        n if n == InvalidValue::ERROR => {
            format!("invalid value for {}: {}", s("parameter"), s("reason"))
        }
        n if n == InvalidState::ERROR => {
            format!("container {} is {}: {}", s("id"), s("status"), s("reason"))
        }
        n if n == RuntimeError::ERROR => {
            let runtime = s("runtime");
            let runtime = Path::new(&runtime)
                .file_name()
                .map_or(runtime.clone(), |n| n.to_string_lossy().into_owned());
            let mut out = format!(
                "runtime error ({runtime} {}): {}",
                s("command"),
                s("message")
            );
            if let Some(code) = parameters.get("exitCode").and_then(Value::as_i64) {
                out.push_str(&format!(" (exit status {code})"));
            }
            out
        }
        n if n == SystemError::ERROR => format!("monitor error: {}", s("message")),
        n if n == PermissionDenied::ERROR => {
            format!("permission denied for {}: {}", s("method"), s("reason"))
        }
        n if n == WatcherTooSlow::ERROR => {
            "the monitor cut off this watcher: it fell too far behind and events were lost"
                .to_owned()
        }
        n if n == EventsExpired::ERROR => format!(
            "the events after that seq are no longer kept: the oldest is {} (use --since {} or more)",
            s("oldest"),
            parameters
                .get("oldest")
                .and_then(Value::as_u64)
                .map_or(0, |o| o.saturating_sub(1))
        ),
        message::INVALID_PARAMETER => format!("invalid parameter: {}", s("parameter")),
        message::METHOD_NOT_FOUND => format!(
            "the monitor does not know method {} (is it an older version?)",
            s("method")
        ),
        message::METHOD_NOT_IMPLEMENTED => {
            format!("the monitor does not implement method {}", s("method"))
        }
        message::INTERFACE_NOT_FOUND => {
            format!(
                "the socket does not serve interface {} (is it a podmon socket?)",
                s("interface")
            )
        }
        message::PERMISSION_DENIED => "permission denied".to_owned(),
        _ => {
            let mut out = name.to_owned();
            let mut sep = ": ";
            for (key, value) in parameters {
                out.push_str(sep);
                out.push_str(key);
                out.push('=');
                out.push_str(&value_text(value));
                sep = ", ";
            }
            out
        }
    }
}

/// A parameter as text: strings bare, `?` when absent, other JSON as JSON.
fn text(parameters: &Map<String, Value>, key: &str) -> String {
    parameters
        .get(key)
        .map_or_else(|| "?".to_owned(), value_text)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn varlink(name: &str, p: Value) -> String {
        describe(
            &ClientError::Varlink {
                name: name.into(),
                parameters: params(p),
            },
            Path::new("/run/podmon/p.sock"),
        )
    }

    #[test]
    fn pod_errors() {
        assert_eq!(
            varlink("io.podmon.Pod.NoSuchContainer", json!({"id": "web"})),
            "no such container: web"
        );
        assert_eq!(
            varlink("io.podmon.Pod.ContainerExists", json!({"id": "web"})),
            "container already exists: web"
        );
        assert_eq!(
            varlink(
                "io.podmon.Pod.InvalidValue",
                json!({"parameter": "id", "reason": "too long"})
            ),
            "invalid value for id: too long"
        );
        assert_eq!(
            varlink(
                "io.podmon.Pod.InvalidState",
                json!({"id": "web", "status": "running", "reason": "delete needs --force"})
            ),
            "container web is running: delete needs --force"
        );
        assert_eq!(
            varlink(
                "io.podmon.Pod.RuntimeError",
                json!({"runtime": "/usr/bin/runc", "command": "start", "message": "container not found"})
            ),
            "runtime error (runc start): container not found"
        );
        assert_eq!(
            varlink(
                "io.podmon.Pod.RuntimeError",
                json!({"runtime": "crun", "command": "create", "message": "boom", "exitCode": 1})
            ),
            "runtime error (crun create): boom (exit status 1)"
        );
    }

    #[test]
    fn monitor_errors() {
        assert_eq!(
            varlink(
                "io.podmon.Pod.SystemError",
                json!({"message": "open log: ENOSPC"})
            ),
            "monitor error: open log: ENOSPC"
        );
        assert!(
            varlink("io.podmon.Pod.WatcherTooSlow", json!({"dropped": true})).contains("watcher")
        );
        assert!(
            varlink("io.podmon.Pod.EventsExpired", json!({"oldest": 10001}))
                .contains("--since 10000")
        );
        assert_eq!(
            varlink(
                "io.podmon.Pod.PermissionDenied",
                json!({"method": "io.podmon.Pod.KillContainer", "reason": "read-only"})
            ),
            "permission denied for io.podmon.Pod.KillContainer: read-only"
        );
    }

    #[test]
    fn service_and_unknown_errors() {
        assert_eq!(
            varlink(
                "org.varlink.service.InvalidParameter",
                json!({"parameter": "memoryMax"})
            ),
            "invalid parameter: memoryMax"
        );
        assert_eq!(
            varlink("org.varlink.service.PermissionDenied", json!({})),
            "permission denied"
        );
        assert!(
            varlink(
                "org.varlink.service.MethodNotFound",
                json!({"method": "io.podmon.Pod.X"})
            )
            .contains("io.podmon.Pod.X")
        );
        assert_eq!(
            varlink("org.example.Odd", json!({"a": "b", "n": 1})),
            "org.example.Odd: a=b, n=1"
        );
        assert_eq!(varlink("org.example.Bare", json!({})), "org.example.Bare");
        // Missing parameters do not break rendering.
        assert_eq!(
            varlink("io.podmon.Pod.NoSuchContainer", json!({})),
            "no such container: ?"
        );
    }

    #[test]
    fn connection_errors_name_the_socket() {
        let sock = Path::new("/run/podmon/p.sock");
        for kind in [
            io::ErrorKind::NotFound,
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::Other,
        ] {
            let err = ClientError::Connect {
                path: sock.to_owned(),
                source: io::Error::from(kind),
            };
            let text = describe(&err, sock);
            assert!(text.contains("/run/podmon/p.sock"), "{text}");
        }
        assert!(describe(&ClientError::Closed, sock).contains("/run/podmon/p.sock"));
    }
}
