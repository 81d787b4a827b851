//! io.podmon.Pod.KillContainer

use std::rc::Rc;

use serde::Deserialize;

use super::{HandlerError, Replier};
use crate::pod::{Pod, lifecycle};
use crate::varlink::{Call, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    id: String,
    signal: Option<String>,
    all: Option<bool>,
}

/// Sends a signal (default SIGTERM) to the container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let signal = match &p.signal {
        None => libc::SIGTERM,
        Some(s) => {
            crate::sys::signal::parse_signal(s).map_err(|e| super::invalid_value("signal", e))?
        }
    };
    lifecycle::kill(pod, &p.id, signal, p.all.unwrap_or(false)).await?;
    r.reply(Default::default()).await?;
    Ok(())
}
