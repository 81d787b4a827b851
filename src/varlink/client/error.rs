//! What can go wrong on a client connection, from `connect` to the reply.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::varlink::frame::FrameError;
use crate::varlink::message::{ProtocolError, VarlinkError};

/// Why a call did not produce a successful reply.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket could not be connected; names the path because "connection
    /// refused" alone does not tell the user which socket was tried.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// What `connect` reported.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the connection failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The service sent something that is not a valid reply.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The service's reply stream could not be framed (e.g. too large).
    #[error("protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The service answered with an error reply.
    #[error("{}", VarlinkDisplay { name, parameters })]
    Varlink {
        /// Qualified error name.
        name: String,
        /// Error parameters.
        parameters: Map<String, Value>,
    },
    /// The service closed the connection before the reply was complete.
    #[error("connection closed by the service before the reply")]
    Closed,
    /// The caller passed parameters that are not a JSON object.
    #[error("call parameters must be a JSON object")]
    InvalidParameters,
    /// [`Client::expect_eof`](super::Client::expect_eof) gave up: the
    /// service kept the connection open (or reading failed) where it should
    /// have closed it. Carries what arrived meanwhile, which usually shows
    /// why.
    #[error(
        "connection not closed ({source}); received {:?}",
        String::from_utf8_lossy(received)
    )]
    NotClosed {
        /// Why reading stopped, e.g. the read timeout.
        #[source]
        source: io::Error,
        /// Every byte received and not yet returned as a reply.
        received: Vec<u8>,
    },
}

impl ClientError {
    /// The error reply's name, when the service sent one; lets callers react
    /// to specific errors without matching on the whole enum.
    pub fn varlink_name(&self) -> Option<&str> {
        match self {
            ClientError::Varlink { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl From<VarlinkError> for ClientError {
    fn from(err: VarlinkError) -> Self {
        ClientError::Varlink {
            name: err.name,
            parameters: err.parameters,
        }
    }
}

/// Formats an error reply like [`VarlinkError`]'s `Display`.
struct VarlinkDisplay<'a> {
    name: &'a str,
    parameters: &'a Map<String, Value>,
}

impl fmt::Display for VarlinkDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        VarlinkError {
            name: self.name.to_owned(),
            parameters: self.parameters.clone(),
        }
        .fmt(f)
    }
}
