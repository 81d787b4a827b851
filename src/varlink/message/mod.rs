//! Varlink call and reply messages, and the error replies defined by
//! `org.varlink.service`.
//!
//! Parsing is strict where the specification demands the connection be
//! closed (malformed JSON, a non-object message, a missing or non-string
//! `method`, non-boolean flags, conflicting flags, unknown unprefixed header
//! fields, duplicate header fields): those are [`ProtocolError`]s. Vendor
//! extension headers (keys containing a `.`) are ignored, as the
//! specification asks. A `method` string that is not `interface.Member`
//! parses ([`Call::names_a_method`] tells): it gets `MethodNotFound`.

mod call;
mod error;
mod header;
mod names;
mod reply;

use thiserror::Error;

pub use call::Call;
pub use error::{
    INTERFACE_NOT_FOUND, INVALID_PARAMETER, METHOD_NOT_FOUND, METHOD_NOT_IMPLEMENTED,
    PERMISSION_DENIED, VarlinkError,
};
pub use reply::Reply;

/// A message that breaks the wire protocol.
///
/// There is no reply for these: a server (or client) that sees one closes the
/// connection. The variants exist so the log says what the peer got wrong.
#[derive(Debug, Error)]
pub enum ProtocolError {
    /// The message between two NULs was empty.
    #[error("empty message")]
    Empty,
    /// The message is not valid UTF-8 JSON.
    #[error("malformed JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The message is valid JSON but not an object.
    #[error("message is not a JSON object")]
    NotAnObject,
    /// A header field appears twice, so its value is ambiguous.
    #[error("duplicate field {0:?}")]
    DuplicateField(String),
    /// An unprefixed header field the specification does not define.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// A call without `method`.
    #[error("call without \"method\"")]
    MissingMethod,
    /// A header field has the wrong JSON type.
    #[error("field {field:?} must be {expected}")]
    InvalidType {
        /// The header field.
        field: &'static str,
        /// What the specification requires, e.g. "a boolean".
        expected: &'static str,
    },
    /// More than one of `oneway`, `more` and `upgrade` is true.
    #[error("at most one of \"oneway\", \"more\" and \"upgrade\" may be set")]
    ConflictingFlags,
    /// A reply sets `continues` together with `error`.
    #[error("error reply with \"continues\" set")]
    ErrorWithContinues,
    /// A reply sets `continues` although the call did not set `more`.
    #[error("reply with \"continues\" to a call without \"more\"")]
    UnexpectedContinues,
    /// A reply's `error` is not a qualified error name.
    #[error("invalid error name {0:?}")]
    InvalidErrorName(String),
}

/// The object inside a `json!` literal, for building parameters in tests.
#[cfg(test)]
fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}
