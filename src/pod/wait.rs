//! WaitContainer: until the exit is recorded and the log complete.

use std::rc::Rc;

use super::container::Container;
use super::{Pod, PodError, Status};

/// Waits until the container is stopped (its exit recorded and its log complete).
pub async fn wait(pod: &Pod, id: &str) -> Result<Rc<Container>, PodError> {
    let c = pod.get(id)?;
    c.changed
        .wait_until(|| (c.status() == Status::Stopped).then_some(()))
        .await;
    Ok(c)
}
