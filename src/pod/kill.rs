//! KillContainer: a signal to the init process, or to all of the
//! container's processes.

use std::rc::Rc;

use super::detach::detached;
use super::status::Operation;
use super::{Pod, PodError};
use crate::sys::error::SysError;

/// Sends a signal to the init process (through its pidfd), or to every
/// process of the container (through the runtime, in a task of its own that
/// the caller going away does not stop) when `all`.
pub async fn kill(pod: &Rc<Pod>, id: &str, signal: i32, all: bool) -> Result<(), PodError> {
    let c = pod.get(id)?;
    let init = {
        let st = c.state.borrow();
        st.check(id, Operation::Kill)?;
        st.process
            .clone()
            .expect("Kill is refused without a process")
    };
    if all {
        let (pod, id) = (pod.clone(), id.to_owned());
        detached(async move { pod.driver.kill(&id, signal, true).await }).await?;
    } else {
        init.signal(signal).map_err(|e| {
            SysError::io(format!("sending signal {signal} to pid {}", init.pid()), &e)
        })?;
    }
    Ok(())
}
