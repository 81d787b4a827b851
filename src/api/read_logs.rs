//! io.podmon.Pod.ReadLogs

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid};
use crate::logs::reader::{Query, Reader};
use crate::pod::{Pod, PodError, lifecycle, limits};
use crate::proto::{self, LogRecord, ReadLogsReply};
use crate::sys::error::SysError;
use crate::sys::time::parse_rfc3339;
use crate::varlink::{Call, VarlinkError, params};

/// Streams log records in batches: one reply per batch with `more`.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::ReadLogs = decode(call)?;
    let c = pod.get(&p.id)?;
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
    let mut reader = Reader::open(c.log.clone(), &q)
        .map_err(|e| PodError::System(SysError::io("opening the log", &e)))?;
    let mut all = Vec::new();
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
            all.extend(records);
        }
    }
    if follow {
        // The log can be complete (its pipes closed) while the container
        // still runs: follow lasts until it has stopped.
        lifecycle::wait(pod, &p.id).await?;
    }
    r.reply(params::encode(&ReadLogsReply { records: all }))
        .await?;
    Ok(())
}
