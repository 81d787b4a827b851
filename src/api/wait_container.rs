//! io.podmon.Pod.WaitContainer

use std::rc::Rc;

use serde::Serialize;

use super::{HandlerError, Replier};
use crate::pod::{ContainerInfo, Pod, lifecycle};
use crate::varlink::{Call, params};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out {
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
    oom_killed: bool,
    reason: &'static str,
    container: ContainerInfo,
}

/// Waits until the container stopped and its log is complete.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: super::IdOnly = params::decode(&call.parameters)?;
    let c = lifecycle::wait(pod, &p.id).await?;
    let (exit, oom_killed) = {
        let st = c.state.borrow();
        (st.exit, st.oom_killed)
    };
    let out = Out {
        oom_killed,
        reason: exit.map_or("Error", |e| crate::pod::exit_reason(e, oom_killed)),
        exit_code: exit.map_or(-1, |e| e.exit_code()),
        signal: exit.and_then(|e| e.signal_name()),
        container: c.info(),
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
