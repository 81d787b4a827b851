//! StartContainer: the runtime's `start`, with the record and the events
//! kept in order however fast the process exits. It runs as a task of its
//! own: a caller that goes away cannot leave the container "starting" (its
//! exit would be held back forever).

use std::rc::Rc;
use std::time::SystemTime;

use super::container::Container;
use super::create::emit_dropped;
use super::detach::detached;
use super::events::{Event, EventKind};
use super::status::Operation;
use super::{Pod, PodError, Status, persist};

/// Starts a created container's process; runs to its end even if the
/// caller stops waiting.
pub async fn start(pod: &Rc<Pod>, id: &str) -> Result<Rc<Container>, PodError> {
    let (pod, id) = (pod.clone(), id.to_owned());
    detached(async move { start_now(&pod, &id).await }).await
}

async fn start_now(pod: &Pod, id: &str) -> Result<Rc<Container>, PodError> {
    let c = pod.get(id)?;
    {
        // The process may run (and exit) before `runtime start` returns:
        // the start time is taken now, and the monitor holds the exit back
        // until `started` is out, so events and times stay in order.
        let mut st = c.state.borrow_mut();
        st.check(id, Operation::Start)?;
        st.starting = true;
        st.started_at = Some(SystemTime::now());
    }
    let result = pod.driver.start(id).await;
    {
        let mut st = c.state.borrow_mut();
        st.starting = false;
        match &result {
            Err(_) => st.started_at = None,
            // It may have exited already; the monitor then owns the status.
            Ok(_) if st.status == Status::Created && st.exit.is_none() => {
                st.status = Status::Running
            }
            Ok(_) => {}
        }
    }
    if result.is_ok() {
        // Running, or exited already (the monitor writes the exit next).
        persist::save(pod, &c);
        pod.events.emit(Event::new(EventKind::Started, id));
    }
    let held = c.dropped_before_start.take();
    if held > 0 {
        emit_dropped(pod, id, held);
    }
    c.changed.notify_all();
    result.map(|_| c).map_err(PodError::from)
}
