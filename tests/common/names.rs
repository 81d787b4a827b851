//! The interface's method and error names, taken from `podmon::proto`, so a
//! name changed there fails to compile here instead of failing at run time.

use podmon::proto::errors::{self, ProtoError};
use podmon::proto::{self, Method};

/// The interface name.
pub const INTERFACE: &str = proto::INTERFACE;

pub const CREATE_CONTAINER: &str = <proto::CreateContainer as Method>::METHOD;
pub const START_CONTAINER: &str = <proto::StartContainer as Method>::METHOD;
pub const KILL_CONTAINER: &str = <proto::KillContainer as Method>::METHOD;
pub const WAIT_CONTAINER: &str = <proto::WaitContainer as Method>::METHOD;
pub const DELETE_CONTAINER: &str = <proto::DeleteContainer as Method>::METHOD;
pub const GET_CONTAINER: &str = <proto::GetContainer as Method>::METHOD;
pub const LIST_CONTAINERS: &str = <proto::ListContainers as Method>::METHOD;
pub const SET_LOG_RATE_LIMIT: &str = <proto::SetLogRateLimit as Method>::METHOD;
pub const REOPEN_LOG: &str = <proto::ReopenLog as Method>::METHOD;
pub const PURGE_LOG: &str = <proto::PurgeLog as Method>::METHOD;
pub const READ_LOGS: &str = <proto::ReadLogs as Method>::METHOD;
pub const EXEC_SYNC: &str = <proto::ExecSync as Method>::METHOD;
pub const EXEC: &str = <proto::Exec as Method>::METHOD;
pub const ATTACH: &str = <proto::Attach as Method>::METHOD;
pub const STATS: &str = <proto::Stats as Method>::METHOD;
pub const GET_POD: &str = <proto::GetPod as Method>::METHOD;
pub const WATCH_EVENTS: &str = <proto::WatchEvents as Method>::METHOD;
pub const SHUTDOWN: &str = <proto::Shutdown as Method>::METHOD;
pub const RUN_IN_POD: &str = <proto::RunInPod as Method>::METHOD;

pub const EVENTS_EXPIRED: &str = <errors::EventsExpired as ProtoError>::ERROR;
pub const NO_SUCH_CONTAINER: &str = <errors::NoSuchContainer as ProtoError>::ERROR;
pub const CONTAINER_EXISTS: &str = <errors::ContainerExists as ProtoError>::ERROR;
pub const INVALID_VALUE: &str = <errors::InvalidValue as ProtoError>::ERROR;
pub const INVALID_STATE: &str = <errors::InvalidState as ProtoError>::ERROR;
pub const SHUTTING_DOWN: &str = <errors::ShuttingDown as ProtoError>::ERROR;
pub const RUNTIME_ERROR: &str = <errors::RuntimeError as ProtoError>::ERROR;
