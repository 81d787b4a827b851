//! io.podmon.Pod.ListContainers

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::{ContainerInfo, Pod};
use crate::varlink::{Call, VarlinkError, params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {}

#[derive(Serialize)]
struct Out {
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<ContainerInfo>,
}

/// One reply per container with `more` (as io.systemd.Machine.List does);
/// without `more` only when there is at most one container.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let In {} = params::decode(&call.parameters)?;
    let all = pod.list();
    if all.len() > 1 && !r.more() {
        return Err(VarlinkError::expected_more().into());
    }
    let Some((last, rest)) = all.split_last() else {
        r.reply(params::encode(&Out { container: None })).await?;
        return Ok(());
    };
    for c in rest {
        r.reply_continues(params::encode(&Out {
            container: Some(c.info()),
        }))
        .await?;
    }
    r.reply(params::encode(&Out {
        container: Some(last.info()),
    }))
    .await?;
    Ok(())
}
