//! io.podmon.Pod.WaitContainer

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::{Pod, lifecycle};
use crate::proto;
use crate::varlink::{Call, params};

/// Waits until the container stopped and its log is complete.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::WaitContainer = decode(call)?;
    let c = lifecycle::wait(pod, &p.id).await?;
    let (exit, oom_killed) = {
        let st = c.state.borrow();
        (st.exit, st.oom_killed)
    };
    let out = proto::WaitContainerReply {
        oom_killed,
        reason: exit
            .map_or("Error", |e| crate::pod::exit_reason(e, oom_killed))
            .to_owned(),
        exit_code: exit.and_then(|e| e.known_code()),
        signal: exit.and_then(|e| e.signal_name()),
        container: map::container_info(&c),
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
