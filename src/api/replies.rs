//! A session's output as `more` replies, for clients that cannot upgrade.

use std::future::Future;

use serde::Serialize;

use crate::logs::cri::Stream;
use crate::logs::hub::{Next, SUBSCRIBER_CAP};
use crate::proto::errors::{LimitExceeded, ProtoError};
use crate::proto::{AttachReply, ExecReply};
use crate::session::{End, Output};
use crate::sys::process::ExitInfo;

/// A reply that carries one chunk of output (Exec's and Attach's).
pub trait Chunk: Serialize {
    /// The reply for `text` read from `stream`.
    fn chunk(stream: Stream, text: String) -> Self;
}

/// Exec's and Attach's replies carry output in the same two fields.
macro_rules! chunk {
    ($($reply:ident),*) => {
        $(impl Chunk for $reply {
            fn chunk(stream: Stream, text: String) -> Self {
                let (stdout, stderr) = split(stream, text);
                $reply {
                    stdout,
                    stderr,
                    ..$reply::default()
                }
            }
        })*
    };
}

chunk!(ExecReply, AttachReply);

fn split(stream: Stream, text: String) -> (Option<String>, Option<String>) {
    if stream == Stream::Stdout {
        (Some(text), None)
    } else {
        (None, Some(text))
    }
}

/// Sends a session's output as `more` replies of type `R` (chunks as text;
/// invalid UTF-8 replaced), then waits for the exit code. The caller sends
/// the final reply after an exit; a client that fell behind is cut off here
/// with `LimitExceeded` ("output").
pub async fn replies<R: Chunk>(
    r: &mut super::Replier<'_>,
    mut output: Output,
    exit: impl Future<Output = ExitInfo>,
) -> End {
    loop {
        match output.next().await {
            Next::Chunk(s, b) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                let reply = crate::varlink::params::encode(&R::chunk(s, text));
                if r.reply_continues(reply).await.is_err() {
                    return End::ClientGone;
                }
            }
            Next::Overflowed => {
                // The client read too slowly: it learns why its stream ends,
                // and the connection closes after that reply.
                let e = LimitExceeded::new("output", SUBSCRIBER_CAP).into_varlink();
                let _ = r.cut_off(e).await;
                return End::Overflowed;
            }
            Next::Closed => break,
        }
    }
    End::Exited(exit.await)
}
