//! io.podmon.Pod.PurgeLog

use std::rc::Rc;

use super::{HandlerError, Replier, decode, params};
use crate::pod::{Pod, PodError};
use crate::proto;
use crate::varlink::Call;

/// Removes a deleted container's kept log (DeleteContainer leaves it for
/// readers). A container that still exists keeps its log: delete it first.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::PurgeLog = decode(call)?;
    if let Ok(c) = pod.get(&p.id) {
        return Err(PodError::InvalidState {
            id: p.id,
            status: c.status(),
            reason: "it still exists: PurgeLog removes a deleted container's log".into(),
        }
        .into());
    }
    let Some(purged) = pod.deleted_logs.purge(&p.id) else {
        return Err(PodError::NoSuchContainer(p.id).into());
    };
    let files = purged.map_err(PodError::System)?;
    let files = files.iter().map(|f| f.display().to_string()).collect();
    r.reply(params::encode(&proto::PurgeLogReply { files }))
        .await?;
    Ok(())
}
