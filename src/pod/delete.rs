//! DeleteContainer: the runtime's record, podmon's directory, the record.
//! Run as a task of its own for the api, so a caller that goes away cannot
//! leave the runtime's record gone and podmon's still there.

use std::rc::Rc;

use super::detach::detached;
use super::events::{Event, EventKind};
use super::monitor::DRAIN_TIMEOUT;
use super::status::Operation;
use super::wait::wait;
use super::{Pod, PodError, persist};
use crate::reactor::sync;
use crate::sys::error::SysError;

/// Deletes a container; runs to its end even if the caller stops waiting.
pub async fn delete(pod: &Rc<Pod>, id: &str, force: bool) -> Result<(), PodError> {
    let (pod, id) = (pod.clone(), id.to_owned());
    detached(async move { delete_now(&pod, &id, force).await }).await
}

/// Deletes a container: runtime state, podmon's directory, the record.
pub(super) async fn delete_now(pod: &Pod, id: &str, force: bool) -> Result<(), PodError> {
    let c = pod.get(id)?;
    let status = c.status();
    c.state.borrow().check(id, Operation::Delete { force })?;
    if status.delete_kills() {
        // A created or running container: the runtime kills it.
        pod.driver.delete(id, true).await?;
        if sync::timeout(DRAIN_TIMEOUT * 2, wait(pod, id))
            .await
            .is_none()
        {
            return Err(SysError::other(
                format!("deleting container {id}"),
                "it did not stop after SIGKILL",
            )
            .into());
        }
    } else if let Err(e) = pod.driver.delete(id, false).await {
        // Already gone from the runtime is fine: asked whether it still
        // keeps a record, not by the wording of its message.
        if !matches!(pod.driver.state(id).await, Ok(None)) {
            return Err(e.into());
        }
    }
    pod.containers.borrow_mut().remove(id);
    if let Some(log) = c.log.path() {
        pod.deleted_logs.remember(id, log);
    }
    persist::remove(pod, id);
    super::fdstore::forget(pod, id);
    if let Err(e) = std::fs::remove_dir_all(&c.dir) {
        log::warn!("removing {}: {e}", c.dir.display());
    }
    pod.events.emit(Event::new(EventKind::Deleted, id));
    log::info!("deleted container {id}");
    Ok(())
}
