//! Stopping the pod with its monitor: no container outlives it.

use std::path::PathBuf;
use std::time::Duration;

use super::Pod;
use super::delete::delete_now;
use super::wait::wait;
use crate::reactor::sync;

/// How long containers get to exit after SIGTERM when the monitor stops.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long the monitor waits at exit for the last events to be journaled.
const JOURNAL_FLUSH: Duration = Duration::from_secs(5);

/// Stops the pod: SIGTERM to every container still alive, SIGKILL after a
/// grace period, then deletes them all from the runtime, so no container
/// outlives its monitor (its output pipes would break) and no cgroup stays.
pub async fn shutdown(pod: &Pod) {
    // A create still running (its client may be gone) ends first, with its
    // container in the table or rolled back: it is then stopped like the rest.
    let creating = pod
        .reserved_changed
        .wait_until(|| pod.reserved.borrow().is_empty().then_some(()));
    if sync::timeout(pod.config.runtime.timeout + STOP_GRACE, creating)
        .await
        .is_none()
    {
        log::warn!(
            "creates still running at shutdown: {:?}",
            pod.reserved.borrow()
        );
    }
    let all = pod.list();
    for c in &all {
        if let Some(p) = c.state.borrow().process.clone() {
            let _ = p.signal(libc::SIGTERM);
        }
    }
    let deadline = std::time::Instant::now() + STOP_GRACE;
    for c in &all {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if sync::timeout(left, wait(pod, &c.id)).await.is_none() {
            log::warn!(
                "container {} ignored SIGTERM for {}s: SIGKILL",
                c.id,
                STOP_GRACE.as_secs()
            );
            if let Some(p) = c.state.borrow().process.clone() {
                let _ = p.signal(libc::SIGKILL);
            }
        }
    }
    for c in &all {
        if let Err(e) = delete_now(pod, &c.id, true).await {
            log::warn!("deleting container {}: {e}", c.id);
        }
    }
    remove_pod_cgroups(&pod.config.name);
    // The deletes' events, and any before them, are in the journal before
    // the monitor exits (unless the disk stays full that long).
    if sync::timeout(JOURNAL_FLUSH, pod.events.flushed())
        .await
        .is_none()
    {
        log::warn!("event journal: events not yet written at exit are lost");
    }
}

/// Removes the pod's parent cgroups (`/podmon/<pod>` in every hierarchy),
/// which the runtime leaves behind when it deletes a container's own.
/// `/podmon` itself stays: it is shared by every pod on the host, and
/// removing it while another monitor's runtime creates `/podmon/<other>/<id>`
/// makes that create fail (ENOENT between its two mkdirs).
fn remove_pod_cgroups(pod: &str) {
    let Ok(roots) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut candidates: Vec<PathBuf> = vec![PathBuf::from("/sys/fs/cgroup")];
    candidates.extend(roots.flatten().map(|e| e.path()));
    for root in candidates {
        let dir = root.join("podmon").join(pod);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
