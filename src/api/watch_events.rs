//! io.podmon.Pod.WatchEvents

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::Pod;
use crate::pod::events::Next;
use crate::proto::errors::{ProtoError, WatcherTooSlow};
use crate::proto::{self, ContainerInfo, WatchEventsReply};
use crate::varlink::{Call, VarlinkError, params};

/// The current state of every container first, then one reply per event,
/// until the client leaves. Subscribing and taking the snapshot happen in
/// one step of the loop, so no event falls between them.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::WatchEvents = decode(call)?;
    if !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let snapshot: Vec<ContainerInfo> = match &p.id {
        Some(id) => vec![map::container_info(&*pod.get(id)?)],
        None => pod.list().iter().map(|c| map::container_info(c)).collect(),
    };
    let watcher = pod.events.watch(p.id.clone());
    let first = WatchEventsReply {
        containers: Some(snapshot),
        event: None,
    };
    r.reply_continues(params::encode(&first)).await?;
    loop {
        match watcher.next().await {
            Next::Event(e) => {
                let out = WatchEventsReply {
                    containers: None,
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
