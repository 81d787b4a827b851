//! The `io.podmon.Pod` Varlink interface: one handler function per method,
//! one dispatch table, and the mapping of pod errors to Varlink errors.

mod attach;
mod create_container;
mod delete_container;
mod exec;
mod exec_sync;
mod get_container;
mod get_pod;
mod kill_container;
mod list_containers;
mod map;
mod open_console;
mod port_forward;
mod purge_log;
mod read_logs;
mod reexec;
mod reopen_log;
mod replier;
mod replies;
mod resize;
mod run_in_pod;
mod set_log_rate_limit;
mod shutdown;
mod start_container;
mod stats;
mod wait_container;
mod watch_events;

use std::rc::Rc;

use serde_json::json;

pub use replier::{Replier, UpgradeIo};

use crate::oci::driver::RuntimeFailure;
use crate::pod::{Field, Pod, PodError};
use crate::proto::errors::ProtoError;
use crate::proto::{self, INTERFACE};
use crate::varlink::service::{self, Interface, ServiceInfo};
use crate::varlink::{Call, VarlinkError, params};

/// Interfaces this service implements besides org.varlink.service.
pub const INTERFACES: &[Interface] = &[Interface {
    name: INTERFACE,
    description: proto::DESCRIPTION,
}];

/// The call's parameters as the method's request type; anything that does
/// not fit is `org.varlink.service.InvalidParameter`, except an integer
/// beyond what its field can hold, which is `InvalidValue` like any other
/// value out of its range (the IDL's `int` is 64 bits).
fn decode<M: proto::Method>(call: &Call) -> Result<M, HandlerError> {
    params::try_decode(&call.parameters).map_err(|e| {
        log::debug!("{}: {}", e.parameter, e.reason);
        let reply = if e.integer_out_of_range() {
            let reason = e.reason.trim_start_matches("invalid value: ");
            invalid_value(&e.parameter, format!("out of range: {reason}"))
        } else {
            VarlinkError::from(e)
        };
        HandlerError::Reply(reply)
    })
}

/// The InvalidValue error for a check that only the wire has (which
/// parameters go together, which need `upgrade`): the pod model never sees
/// such requests.
fn invalid(parameter: &str, reason: impl std::fmt::Display) -> HandlerError {
    HandlerError::Reply(invalid_value(parameter, reason))
}

/// The `user` parameter of Exec and ExecSync, as the pod takes it.
fn user(text: Option<&str>) -> Result<Option<(u32, Option<u32>)>, HandlerError> {
    text.map(|t| {
        proto::parse_user(t)
            .map(|u| (u.uid, u.gid))
            .map_err(|e| invalid("user", e))
    })
    .transpose()
}

/// What a handler can fail with: an error reply for the caller, or a broken
/// connection (then there is nobody to reply to).
#[derive(Debug)]
pub enum HandlerError {
    /// Send this error reply.
    Reply(VarlinkError),
    /// Writing to the connection failed.
    Io(std::io::Error),
}

impl From<VarlinkError> for HandlerError {
    fn from(e: VarlinkError) -> Self {
        HandlerError::Reply(e)
    }
}

impl From<std::io::Error> for HandlerError {
    fn from(e: std::io::Error) -> Self {
        HandlerError::Io(e)
    }
}

impl From<PodError> for HandlerError {
    fn from(e: PodError) -> Self {
        HandlerError::Reply(pod_error(e))
    }
}

/// The named Varlink error for a pod error (the IDL's error list).
pub fn pod_error(e: PodError) -> VarlinkError {
    let name = |n: &str| format!("{INTERFACE}.{n}");
    match e {
        PodError::NoSuchContainer(id) => {
            VarlinkError::new(name("NoSuchContainer"), json!({ "id": id }))
        }
        PodError::ContainerExists(id) => {
            VarlinkError::new(name("ContainerExists"), json!({ "id": id }))
        }
        PodError::InvalidValue { field, reason } => invalid_value(parameter(field), reason),
        PodError::InvalidState { id, status, reason } => VarlinkError::new(
            name("InvalidState"),
            json!({ "id": id, "status": status, "reason": reason }),
        ),
        PodError::Runtime(RuntimeFailure {
            runtime,
            command,
            message,
            exit_code,
        }) => {
            let mut p = json!({ "runtime": runtime, "command": command, "message": message });
            if let Some(c) = exit_code {
                p["exitCode"] = json!(c);
            }
            VarlinkError::new(name("RuntimeError"), p)
        }
        PodError::NoNamespace(namespace) => proto::errors::NoNamespace { namespace }.into_varlink(),
        PodError::ShuttingDown(kill_containers) => {
            proto::errors::ShuttingDown { kill_containers }.into_varlink()
        }
        PodError::ConnectionRefused { port, message } => proto::errors::ConnectionRefused {
            port: i64::from(port),
            message,
        }
        .into_varlink(),
        PodError::System(e) => {
            let mut p = json!({ "message": e.to_string(), "operation": e.operation });
            if let Some(path) = &e.path {
                p["path"] = json!(path.display().to_string());
            }
            if let Some(errno) = e.errno {
                p["errno"] = json!(errno);
            }
            VarlinkError::new(name("SystemError"), p)
        }
    }
}

/// The error for descriptors sent to a method that takes none: an
/// `InvalidValue` of the pseudo-parameter `fileDescriptors`.
fn unexpected_fds(method: &str, count: usize) -> VarlinkError {
    invalid_value(
        "fileDescriptors",
        format!("{method} takes no file descriptors; the {count} sent were closed"),
    )
}

/// The InvalidValue error for a parameter's descriptor indices.
fn fd_index(parameter: &str, e: crate::varlink::FdIndexError) -> HandlerError {
    invalid(parameter, e)
}

/// The IDL's `InvalidValue` error: `parameter` as the method names it.
pub(crate) fn invalid_value(parameter: &str, reason: impl std::fmt::Display) -> VarlinkError {
    proto::errors::InvalidValue {
        parameter: parameter.to_owned(),
        reason: reason.to_string(),
    }
    .into_varlink()
}

/// The parameter that carries a pod [`Field`], as the IDL names it.
fn parameter(field: Field) -> &'static str {
    match field {
        Field::Id => "id",
        Field::Bundle => "bundle",
        Field::Rootfs => "rootfs",
        Field::Command => "command",
        Field::Env => "env",
        Field::Cwd => "cwd",
        Field::MemoryMax => "memoryMax",
        Field::PidsMax => "pidsMax",
        Field::LogMaxLine => "logMaxLine",
        Field::LogMaxSize => "logMaxSize",
        Field::BytesPerSecond => "bytesPerSecond",
        Field::Burst => "burst",
        Field::Hostname => "hostname",
        Field::LogMaxFiles => "logMaxFiles",
        Field::Width => "width",
        Field::Height => "height",
        Field::Tail => "tail",
        Field::TimeoutSeconds => "timeoutSeconds",
        Field::MaxOutput => "maxOutput",
        Field::User => "user",
        Field::Timeout => "timeout",
        Field::JoinPod => "joinPod",
        Field::Namespaces => "namespaces",
        Field::Port => "port",
    }
}

/// Declares the [`Method`] enum from the one dispatch table below: each
/// method's request type (which gives its name), its handler's module and
/// the least [`Role`] that may call it.
macro_rules! dispatch_table {
    ($($method:ident => $module:ident, $role:ident),* $(,)?) => {
        /// The methods of io.podmon.Pod.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Method {
            $(#[doc = concat!("io.podmon.Pod.", stringify!($method))] $method),*
        }

        impl Method {
            /// Every method, for looking one up by name.
            const ALL: &[Method] = &[$(Method::$method),*];

            /// The member name, as the request type says it.
            fn name(self) -> &'static str {
                match self {
                    $(Method::$method => <proto::$method as proto::Method>::NAME),*
                }
            }

            /// The least role that may call the method.
            fn role(self) -> Role {
                match self {
                    $(Method::$method => Role::$role),*
                }
            }

            async fn handle(
                self,
                pod: &Rc<Pod>,
                call: &Call,
                r: &mut Replier<'_>,
            ) -> Result<(), HandlerError> {
                match self {
                    $(Method::$method => $module::handle(pod, call, r).await),*
                }
            }
        }
    };
}

dispatch_table! {
    CreateContainer => create_container, Full,
    StartContainer => start_container, Full,
    KillContainer => kill_container, Full,
    WaitContainer => wait_container, Full,
    DeleteContainer => delete_container, Full,
    GetContainer => get_container, ReadOnly,
    ListContainers => list_containers, ReadOnly,
    SetLogRateLimit => set_log_rate_limit, Full,
    ReopenLog => reopen_log, Full,
    PurgeLog => purge_log, Full,
    ReadLogs => read_logs, ReadOnly,
    ExecSync => exec_sync, Full,
    Exec => exec, Full,
    Attach => attach, Full,
    OpenConsole => open_console, Full,
    Resize => resize, Full,
    Stats => stats, ReadOnly,
    GetPod => get_pod, ReadOnly,
    WatchEvents => watch_events, ReadOnly,
    Shutdown => shutdown, Full,
    Reexec => reexec, Full,
    RunInPod => run_in_pod, Full,
    PortForward => port_forward, Full,
}

impl Method {
    /// Methods that can take the connection over with `upgrade`.
    fn upgrades(self) -> bool {
        matches!(self, Method::Exec | Method::Attach | Method::PortForward)
    }

    /// Methods that take descriptors passed with the call (by index, in
    /// their parameters); any other call that brings some is refused.
    fn takes_fds(self) -> bool {
        matches!(self, Method::CreateContainer)
    }

    fn from_member(member: &str) -> Option<Method> {
        Method::ALL.iter().copied().find(|m| m.name() == member)
    }
}

/// What a connection's peer may call, decided once from its credentials
/// when it connected (`server/access.rs`): a monitoring agent gets
/// `ReadOnly` and needs no root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The methods that only look: GetContainer, ListContainers, ReadLogs,
    /// Stats, GetPod, WatchEvents (and org.varlink.service).
    ReadOnly,
    /// Every method.
    Full,
}

/// The IDL's `PermissionDenied` error for `method`.
pub fn permission_denied(method: &str, reason: impl std::fmt::Display) -> VarlinkError {
    proto::errors::PermissionDenied {
        method: method.to_owned(),
        reason: reason.to_string(),
    }
    .into_varlink()
}

/// The service's GetInfo data.
pub fn service_info() -> ServiceInfo {
    ServiceInfo {
        vendor: "podmon".into(),
        product: "podmon".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        url: String::new(),
    }
}

/// Handles one call completely, replies included, for a peer with `role`
/// (a method above it is `PermissionDenied`; the connection stays). An
/// `Err` means the connection is broken and must be closed.
pub async fn dispatch(
    pod: &Rc<Pod>,
    call: &Call,
    role: Role,
    r: &mut Replier<'_>,
) -> std::io::Result<()> {
    let method = (call.interface() == INTERFACE)
        .then(|| Method::from_member(call.member()))
        .flatten();
    let passed = r.passed_fds().count();
    let result = if passed > 0 && !method.is_some_and(Method::takes_fds) {
        // Closed at once: nothing may keep them.
        r.passed_fds().close_rest();
        Err(HandlerError::Reply(unexpected_fds(&call.method, passed)))
    } else if call.upgrade && !method.is_some_and(Method::upgrades) {
        // Only some methods take the connection over.
        Err(HandlerError::Reply(VarlinkError::invalid_parameter(
            "upgrade",
        )))
    } else if call.interface() == "org.varlink.service" {
        match service::handle(call, &service_info(), INTERFACES) {
            Ok(reply) => r.reply(reply.parameters).await.map_err(HandlerError::Io),
            Err(e) => Err(HandlerError::Reply(e)),
        }
    } else if call.interface() == INTERFACE {
        match Method::from_member(call.member()) {
            Some(m) if role < m.role() => Err(HandlerError::Reply(permission_denied(
                &call.method,
                "this connection may only call methods that change nothing",
            ))),
            Some(m) => m.handle(pod, call, r).await,
            None => Err(HandlerError::Reply(VarlinkError::method_not_found(
                &call.method,
            ))),
        }
    } else {
        Err(HandlerError::Reply(service::unknown_method(
            call, INTERFACES,
        )))
    };
    match result {
        Ok(()) => Ok(()),
        Err(HandlerError::Reply(e)) => {
            log::debug!("{} failed: {}", call.method, e.name);
            r.error(e).await
        }
        Err(HandlerError::Io(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::error::SysError;

    #[test]
    fn system_errors_carry_operation_path_and_errno() {
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = pod_error(SysError::at("writing", std::path::Path::new("/s/pid"), &io).into());
        assert_eq!(e.name, "io.podmon.Pod.SystemError");
        let p = &e.parameters;
        assert_eq!(p["operation"], "writing");
        assert_eq!(p["path"], "/s/pid");
        assert_eq!(p["errno"], libc::ENOSPC);
        assert!(
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("writing /s/pid: ")),
            "{p:?}"
        );
        // Unknown path and errno are left out, not null.
        let e = pod_error(SysError::other("receiving the pty", "nothing came").into());
        assert_eq!(
            serde_json::Value::Object(e.parameters),
            json!({ "message": "receiving the pty: nothing came", "operation": "receiving the pty" })
        );
    }

    #[test]
    fn invalid_values_name_the_idl_parameter() {
        let e = pod_error(PodError::InvalidValue {
            field: Field::MemoryMax,
            reason: "must be positive".into(),
        });
        assert_eq!(e.name, "io.podmon.Pod.InvalidValue");
        assert_eq!(
            serde_json::Value::Object(e.parameters),
            json!({ "parameter": "memoryMax", "reason": "must be positive" })
        );
    }

    #[test]
    fn read_only_peers_may_call_exactly_the_methods_that_only_look() {
        let read_only: Vec<&str> = Method::ALL
            .iter()
            .filter(|m| m.role() == Role::ReadOnly)
            .map(|m| m.name())
            .collect();
        assert_eq!(
            read_only,
            [
                "GetContainer",
                "ListContainers",
                "ReadLogs",
                "Stats",
                "GetPod",
                "WatchEvents"
            ]
        );
        let e = permission_denied("io.podmon.Pod.KillContainer", "read-only");
        assert_eq!(e.name, "io.podmon.Pod.PermissionDenied");
        assert_eq!(
            serde_json::Value::Object(e.parameters),
            json!({ "method": "io.podmon.Pod.KillContainer", "reason": "read-only" })
        );
    }

    #[test]
    fn the_dispatch_table_serves_every_method_of_the_idl() {
        let declared = proto::DESCRIPTION
            .lines()
            .filter(|l| l.starts_with("method "))
            .count();
        assert_eq!(declared, Method::ALL.len());
        for &m in Method::ALL {
            assert!(
                proto::DESCRIPTION.contains(&format!("\nmethod {}(", m.name())),
                "{m:?}"
            );
            assert!(matches!(Method::from_member(m.name()), Some(n) if n.name() == m.name()));
        }
    }
}
