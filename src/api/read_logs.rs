//! io.podmon.Pod.ReadLogs

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid};
use crate::logs::reader::{Query, Reader};
use crate::pod::{Pod, PodError, lifecycle, limits};
use crate::proto::errors::{LimitExceeded, ProtoError};
use crate::proto::{self, LogRecord, ReadLogsReply};
use crate::sys::error::SysError;
use crate::sys::time::parse_rfc3339;
use crate::varlink::{Call, VarlinkError, params};

/// Largest reply without `more`, counted as [`record_size`] does: a log
/// read whole is held in memory until it is sent.
const MAX_ONE_REPLY: usize = 8 << 20;

/// About what a record costs in the reply: its text and its fields.
fn record_size(r: &LogRecord) -> usize {
    r.text.len() + r.timestamp.len() + 64
}

/// Streams log records in batches: one reply per batch with `more`;
/// without it one reply of at most [`MAX_ONE_REPLY`] bytes.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::ReadLogs = decode(call)?;
    // A deleted container's log stays readable by id (never followed).
    let (live, finished) = match pod.get(&p.id) {
        Ok(c) => (Some(c), None),
        Err(e @ PodError::NoSuchContainer(_)) => match pod.deleted_logs.get(&p.id) {
            Some(path) => (None, Some(path)),
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let follow = p.follow.unwrap_or(false);
    if follow && !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let tail = limits::tail(p.tail)?;
    let since = match &p.since {
        Some(s) => Some(parse_rfc3339(s).ok_or_else(|| invalid("since", "not an RFC 3339 time"))?),
        None => None,
    };
    let q = Query {
        tail,
        since,
        follow,
    };
    let opened = match (&live, &finished) {
        (Some(c), _) => Reader::open(c.log.clone(), &q),
        (None, Some(path)) => Reader::open_finished(path, &q),
        (None, None) => Err(std::io::ErrorKind::NotFound.into()),
    };
    let mut reader = opened.map_err(|e| PodError::System(SysError::io("opening the log", &e)))?;
    let (mut all, mut size) = (Vec::new(), 0);
    loop {
        let batch = reader
            .next_batch()
            .await
            .map_err(|e| PodError::System(SysError::io("reading the log", &e)))?;
        let Some(batch) = batch else { break };
        let records: Vec<LogRecord> = batch
            .into_iter()
            .map(|r| LogRecord {
                timestamp: r.timestamp,
                stream: r.stream.as_str().to_owned(),
                partial: r.partial,
                text: String::from_utf8_lossy(&r.content).into_owned(),
            })
            .collect();
        if r.more() {
            r.reply_continues(params::encode(&ReadLogsReply { records }))
                .await?;
        } else {
            size += records.iter().map(record_size).sum::<usize>();
            if size > MAX_ONE_REPLY {
                // One reply holds everything: past the bound the client
                // must ask with `more` or `tail`.
                let e = LimitExceeded::new("replySize", MAX_ONE_REPLY);
                r.cut_off(e.into_varlink()).await?;
                return Ok(());
            }
            all.extend(records);
        }
    }
    if follow && live.is_some() {
        // The log can be complete (its pipes closed) while the container
        // still runs: follow lasts until it has stopped.
        lifecycle::wait(pod, &p.id).await?;
    }
    r.reply(params::encode(&ReadLogsReply { records: all }))
        .await?;
    Ok(())
}
