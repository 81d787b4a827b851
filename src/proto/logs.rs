//! The log methods: reading records, the rate limit, reopening the file.

use serde::{Deserialize, Serialize};

use super::container::{ContainerReply, Empty, LogRateLimit};
use super::method;

/// One record of a CRI log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// RFC 3339 UTC with nanoseconds: when podmon read the output.
    pub timestamp: String,
    /// "stdout" or "stderr".
    pub stream: String,
    /// The line continues in the next record.
    pub partial: bool,
    /// The bytes without the newline; invalid UTF-8 replaced.
    pub text: String,
}

/// SetLogRateLimit: without `limit`, removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLogRateLimit {
    /// Container id.
    pub id: String,
    /// The new limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LogRateLimit>,
}

/// ReopenLog, for outside rotators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReopenLog {
    /// Container id.
    pub id: String,
}

/// PurgeLog: removes a deleted container's kept log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeLog {
    /// Container id.
    pub id: String,
}

/// The files PurgeLog removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeLogReply {
    /// Their paths.
    pub files: Vec<String>,
}

/// ReadLogs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadLogs {
    /// Container id.
    pub id: String,
    /// Only the last N records: 0 ..= 1000000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<i64>,
    /// Only records at or after this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Keep the call open for new records (needs `more`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow: Option<bool>,
}

/// A batch of records, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadLogsReply {
    /// The records.
    pub records: Vec<LogRecord>,
}

method! {
    SetLogRateLimit => ContainerReply,
    ReopenLog => Empty,
    PurgeLog => PurgeLogReply,
    ReadLogs => ReadLogsReply,
}
