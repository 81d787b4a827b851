//! io.podmon.Pod.WatchEvents

use std::rc::Rc;

use super::{HandlerError, Replier, decode, invalid, map};
use crate::pod::events::{Next, WatchError};
use crate::pod::{Pod, PodError};
use crate::proto::errors::{EventsExpired, ProtoError, WatcherTooSlow};
use crate::proto::{self, ContainerInfo, WatchEventsReply};
use crate::varlink::{Call, VarlinkError, params};

/// The current state of every container first (with the seq of the last
/// event before it), then one reply per event, until the client leaves.
/// Subscribing and taking the snapshot happen in one step of the loop, so
/// no event falls between them; with `since` the watcher starts further
/// back, at the journaled events after `since`, and walks on into live ones.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::WatchEvents = decode(call)?;
    if !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let snapshot: Vec<ContainerInfo> = match &p.id {
        Some(id) => match pod.get(id) {
            Ok(c) => vec![map::container_info(&c)],
            // With `since`, a deleted container's history is still asked for.
            Err(PodError::NoSuchContainer(_)) if p.since.is_some() => vec![],
            Err(e) => return Err(e.into()),
        },
        None => pod.list().iter().map(|c| map::container_info(c)).collect(),
    };
    let watcher = pod
        .events
        .watch(p.id.clone(), p.since)
        .map_err(|e| match e {
            WatchError::Expired { oldest, .. } => {
                HandlerError::Reply(EventsExpired { oldest }.into_varlink())
            }
            WatchError::Future { .. } => invalid("since", e),
        })?;
    let first = WatchEventsReply {
        containers: Some(snapshot),
        seq: Some(pod.events.last_seq()),
        event: None,
    };
    r.reply_continues(params::encode(&first)).await?;
    loop {
        match watcher.next().await {
            Next::Event(e) => {
                let out = WatchEventsReply {
                    containers: None,
                    seq: None,
                    event: Some(map::event(e)),
                };
                r.reply_continues(params::encode(&out)).await?;
            }
            Next::Overflowed => {
                return Err(WatcherTooSlow { dropped: true }.into_varlink().into());
            }
        }
    }
}
