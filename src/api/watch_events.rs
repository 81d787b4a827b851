//! io.podmon.Pod.WatchEvents

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::events::{Event, Next};
use crate::pod::{ContainerInfo, Pod};
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: Option<String>,
}

#[derive(Serialize)]
struct Out {
    #[serde(skip_serializing_if = "Option::is_none")]
    containers: Option<Vec<ContainerInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<Event>,
}

/// The current state of every container first, then one reply per event,
/// until the client leaves. Subscribing and taking the snapshot happen in
/// one step of the loop, so no event falls between them.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    if !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let snapshot: Vec<ContainerInfo> = match &p.id {
        Some(id) => vec![pod.get(id)?.info()],
        None => pod.list().iter().map(|c| c.info()).collect(),
    };
    let watcher = pod.events.watch(p.id.clone());
    let first = Out {
        containers: Some(snapshot),
        event: None,
    };
    r.reply_continues(params::encode(&first)).await?;
    loop {
        match watcher.next().await {
            Next::Event(e) => {
                let out = Out {
                    containers: None,
                    event: Some(e),
                };
                r.reply_continues(params::encode(&out)).await?;
            }
            Next::Overflowed => {
                return Err(VarlinkError::new(
                    "io.podmon.Pod.WatcherTooSlow",
                    serde_json::json!({ "dropped": true }),
                )
                .into());
            }
        }
    }
}
