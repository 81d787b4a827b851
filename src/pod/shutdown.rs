//! Ending the monitor: either stopping the pod with it (SIGTERM to every
//! container, SIGKILL after a grace, delete all, remove the pod's cgroups)
//! or leaving the containers running, their records in the state directory
//! for a later monitor. Which one is the engine's choice (`--kill-on-exit`,
//! `Shutdown(killContainers)`); the journal is flushed either way.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::Pod;
use super::delete::delete_now;
use super::detach::detached;
use super::together;
use super::wait::wait;
use crate::reactor::sync;

/// How long the monitor waits at exit for the last events to be journaled.
const JOURNAL_FLUSH: Duration = Duration::from_secs(5);

/// Everything the monitor does on its way out: stops and deletes the
/// containers with `kill_containers` (see [`stop_containers`]), else leaves
/// them as they are; then flushes the event journal.
pub async fn shutdown(pod: &Rc<Pod>, kill_containers: bool, grace: Duration) {
    if kill_containers {
        stop_containers(pod, grace).await;
        // The containers are gone: the pod's namespaces go with the pod.
        if let Some(sb) = pod.sandbox() {
            sb.close().await;
            pod.set_sandbox(None);
        }
    } else {
        leave_containers(pod).await;
    }
    flush_journal(pod).await;
}

/// Stops the pod: SIGTERM to every container still alive, SIGKILL after
/// `grace`, then deletes them all from the runtime, and removes the pod's
/// cgroups, so no container and no cgroup outlives the call. Creates in
/// flight end first. Safe to call twice (the second finds nothing).
///
/// The containers are stopped and deleted side by side, each on its own as
/// soon as it is down: the runtime's deletes (~0.1 s each with runc) are
/// what a teardown waits for, and the driver bounds how many run at once.
/// One that fails is logged and does not hold up the others.
pub async fn stop_containers(pod: &Rc<Pod>, grace: Duration) {
    creates_done(pod, pod.config.runtime.timeout + grace).await;
    let all = pod.list();
    for c in &all {
        if let Some(p) = c.state.borrow().process.clone() {
            let _ = p.signal(libc::SIGTERM);
        }
    }
    let started = Instant::now();
    let deadline = started + grace;
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    // Each a task of its own (awaited here), not a hundred futures polled
    // by one task: that way (tried first) the wake-ups of some runtimes'
    // exits were lost on both backends, leaving them zombies and the
    // teardown stuck; one task each is how every other call runs too.
    let stops = ids.iter().map(|id| {
        let (pod, id) = (pod.clone(), id.to_string());
        detached(async move { stop_one(&pod, &id, grace, deadline).await })
    });
    let results = together::all(stops).await;
    let failed: Vec<&str> = ids
        .iter()
        .zip(&results)
        .filter(|(_, ok)| !**ok)
        .map(|(id, _)| *id)
        .collect();
    if !all.is_empty() {
        log::info!(
            "stopped the pod: {} of {} containers deleted in {} ms{}",
            all.len() - failed.len(),
            all.len(),
            started.elapsed().as_millis(),
            match failed.is_empty() {
                true => String::new(),
                false => format!("; not deleted: {}", failed.join(", ")),
            }
        );
    }
    remove_pod_cgroups(&pod.config.name);
}

/// Stops one container (SIGKILL at `deadline` if SIGTERM did not end it)
/// and deletes it; false when the delete failed (logged with the reason).
async fn stop_one(pod: &Pod, id: &str, grace: Duration, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if sync::timeout(left, wait(pod, id)).await.is_none() {
        log::warn!("container {id} ignored SIGTERM for {grace:?}: SIGKILL");
        let process = pod
            .get(id)
            .ok()
            .and_then(|c| c.state.borrow().process.clone());
        if let Some(p) = process {
            let _ = p.signal(libc::SIGKILL);
        }
    }
    match delete_now(pod, id, true).await {
        Ok(()) => true,
        Err(e) => {
            log::warn!("deleting container {id}: {e}");
            false
        }
    }
}

/// [`stop_containers`] as a task of its own: a Shutdown whose client hangs
/// up does not leave the pod half stopped.
pub async fn stop_containers_detached(pod: &Rc<Pod>, grace: Duration) {
    let pod = pod.clone();
    detached(async move { stop_containers(&pod, grace).await }).await
}

/// Leaves every container as it is: running ones keep running (the kernel
/// reparents them when the monitor is gone) and their records stay in
/// `STATE/containers/`, for a new monitor on the same state directory.
/// Creates in flight end first, so their records are written too.
async fn leave_containers(pod: &Pod) {
    creates_done(pod, pod.config.runtime.timeout).await;
    // What the logs read is written before the exit (what is still in a
    // pipe stays there, for a monitor the service manager hands it to).
    for c in pod.list() {
        if sync::timeout(JOURNAL_FLUSH, c.log.park()).await.is_none() {
            log::warn!("container {}: its log did not settle before the exit", c.id);
        }
    }
    let ids: Vec<String> = pod.list().iter().map(|c| c.id.clone()).collect();
    log::info!(
        "exiting without stopping the pod's containers: {} left as they are{}, their records kept in {}",
        ids.len(),
        if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(", "))
        },
        pod.config.state_dir.join("containers").display()
    );
}

/// Before a live upgrade hands the pod over: the creates in flight end
/// (within the runtime's deadline), so every container has its record.
pub async fn wait_creates(pod: &Pod) {
    creates_done(pod, pod.config.runtime.timeout).await;
}

/// Waits (at most `limit`) until no create is running: one whose client is
/// gone still ends, with its container in the table or rolled back.
async fn creates_done(pod: &Pod, limit: Duration) {
    let creating = pod
        .reserved_changed
        .wait_until(|| pod.reserved.borrow().is_empty().then_some(()));
    if sync::timeout(limit, creating).await.is_none() {
        log::warn!(
            "creates still running at shutdown: {:?}",
            pod.reserved.borrow()
        );
    }
}

/// The last events (the deletes', and any before them) are in the journal
/// before the monitor exits, unless the disk stays full that long.
async fn flush_journal(pod: &Pod) {
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
