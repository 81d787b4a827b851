//! io.podmon.Pod.WatchEvents

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::events::{Event, EventKind, Next};
use crate::pod::{ContainerInfo, Pod};
use crate::sys::time::rfc3339_nanos;
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: Option<String>,
}

/// Event of the IDL: one record with the fields of its kind.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    kind: &'static str,
    id: String,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oom_killed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_dropped: Option<u64>,
}

impl From<Event> for WireEvent {
    fn from(e: Event) -> WireEvent {
        let mut w = WireEvent {
            kind: e.kind.name(),
            id: e.id,
            timestamp: rfc3339_nanos(e.at),
            exit_code: None,
            signal: None,
            oom_killed: None,
            exec_id: None,
            bytes_dropped: None,
        };
        match e.kind {
            EventKind::Exited { exit, oom_killed } => {
                w.exit_code = Some(exit.exit_code());
                w.signal = exit.signal_name();
                w.oom_killed = Some(oom_killed);
            }
            EventKind::ExecStarted { exec_id } => w.exec_id = Some(exec_id),
            EventKind::ExecExited { exec_id, exit } => {
                w.exec_id = Some(exec_id);
                w.exit_code = Some(exit.exit_code());
                w.signal = exit.signal_name();
            }
            EventKind::LogDropped { bytes } => w.bytes_dropped = Some(bytes),
            EventKind::Created | EventKind::Started | EventKind::Oom | EventKind::Deleted => {}
        }
        w
    }
}

#[derive(Serialize)]
struct Out {
    #[serde(skip_serializing_if = "Option::is_none")]
    containers: Option<Vec<ContainerInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<WireEvent>,
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
                    event: Some(e.into()),
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
