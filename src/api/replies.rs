//! A session's output as `more` replies, for clients that cannot upgrade.

use std::future::Future;

use crate::logs::cri::Stream;
use crate::logs::hub::Next;
use crate::session::{End, Output};
use crate::sys::process::ExitInfo;

/// Sends a session's output as `more` replies (chunks as text; invalid
/// UTF-8 replaced), then waits for the exit code. The caller sends the
/// final reply.
pub async fn replies(
    r: &mut super::Replier<'_>,
    mut output: Output,
    exit: impl Future<Output = ExitInfo>,
) -> End {
    loop {
        match output.next().await {
            Next::Chunk(s, b) => {
                let text = Some(String::from_utf8_lossy(&b).into_owned());
                let mut m = serde_json::Map::new();
                let key = if s == Stream::Stdout {
                    "stdout"
                } else {
                    "stderr"
                };
                m.insert(key.into(), serde_json::Value::from(text));
                if r.reply_continues(m).await.is_err() {
                    return End::ClientGone;
                }
            }
            Next::Overflowed => return End::Overflowed,
            Next::Closed => break,
        }
    }
    End::Exited(exit.await)
}
