//! The `io.podmon.Pod` contract as code: what server, CLI, tests and
//! benches all speak.
//!
//! Every method is a request type implementing [`Method`], which ties it to
//! its name on the wire and to its reply type; the records of the IDL
//! (`ContainerInfo`, `Event`, the stats) and its errors live beside them.
//! The server decodes calls into these types and replies with them, the CLI
//! builds them and reads them back, so a field renamed here is renamed for
//! both, and `idl_tests` holds them to `varlink/io.podmon.Pod.varlink`.

pub mod call;
pub mod container;
pub mod errors;
pub mod events;
pub mod exec;
pub mod frame;
pub mod logs;
pub mod podnet;
pub mod shutdown;
pub mod stats;
pub mod user;

#[cfg(test)]
mod idl;
#[cfg(test)]
mod idl_tests;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use call::call;
pub use container::{
    ConsoleReply, ContainerInfo, ContainerReply, ContainerStatus, CreateContainer, DeleteContainer,
    GetContainer, KillContainer, ListContainers, ListContainersReply, LogDriver, LogPolicy,
    LogRateLimit, LogSync, OpenConsole, StartContainer, WaitContainer, WaitContainerReply,
};
pub use events::{Event, EventDetail, WatchEvents, WatchEventsReply};
pub use exec::{Attach, AttachReply, Exec, ExecReply, ExecSync, ExecSyncReply, Resize};
pub use logs::{
    LogRecord, PurgeLog, PurgeLogReply, ReadLogs, ReadLogsReply, ReopenLog, SetLogRateLimit,
};
pub use podnet::{PortForward, RunInPod};
pub use shutdown::{Reexec, Shutdown};
pub use stats::{
    BlockIoStats, ContainerStats, CpuStats, GetPod, GetPodReply, LogStats, MemoryStats,
    MonitorStats, PidsStats, PodInit, PodNamespace, Stats, StatsReply,
};
pub use user::parse_user;

/// The interface name, the prefix of every method and error name.
pub const INTERFACE: &str = "io.podmon.Pod";

/// The interface's IDL, served verbatim by GetInterfaceDescription and
/// checked against these types by the tests.
pub const DESCRIPTION: &str = include_str!("../../varlink/io.podmon.Pod.varlink");

/// A method of io.podmon.Pod: the request type is the method's parameters,
/// so a caller cannot send one method's parameters under another's name or
/// read a reply as the wrong type.
pub trait Method: Serialize + DeserializeOwned {
    /// The member name, e.g. `CreateContainer`.
    const NAME: &'static str;
    /// The fully qualified name sent on the wire, e.g.
    /// `io.podmon.Pod.CreateContainer`.
    const METHOD: &'static str;
    /// What each reply carries.
    type Reply: Serialize + DeserializeOwned;
}

/// Implements [`Method`] for a request type named like its method.
macro_rules! method {
    ($($name:ident => $reply:ty),* $(,)?) => {
        $(impl $crate::proto::Method for $name {
            const NAME: &'static str = stringify!($name);
            const METHOD: &'static str = concat!("io.podmon.Pod.", stringify!($name));
            type Reply = $reply;
        })*
    };
}
pub(crate) use method;
