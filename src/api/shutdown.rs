//! io.podmon.Pod.Shutdown

use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{ExitRequest, Pod, lifecycle, limits};
use crate::proto;
use crate::varlink::Call;

/// Ends the monitor, with the containers (`killContainers`: stopped and
/// deleted before the reply) or without them (left running). The exit
/// itself is the server's: this only claims it, and the claim requests it
/// when the handler ends, replied or cut off by a hang-up.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::Shutdown = decode(call)?;
    let grace = limits::shutdown_timeout(p.timeout)?;
    let kill_containers = p.kill_containers.unwrap_or(false);
    let _exit = pod.claim_exit(ExitRequest::Stop {
        kill_containers,
        grace,
    });
    if kill_containers {
        log::info!("Shutdown: stopping the pod's containers ({grace:?} before SIGKILL)");
        lifecycle::stop_containers_detached(pod, grace).await;
    } else {
        log::info!("Shutdown: exiting, leaving the pod's containers running");
    }
    r.reply(Default::default()).await?;
    Ok(())
}
