//! The task that watches a container's init process: OOM kills while it
//! runs, and at exit the record, the exit files and the `exited` event,
//! once every byte of its output is in the log.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::container::Container;
use super::events::{Event, EventKind};
use super::{Pod, Status, persist};
use crate::cgroups::CgroupPaths;
use crate::cgroups::oom::OomWatch;
use crate::reactor::{self, sync};
use crate::sys::files::{self, FileError};
use crate::sys::process::{ExitInfo, Watched};

/// How long an exited container's pipes may stay open (held by a process
/// outside its PID namespace) before the exit is reported anyway.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The init process a monitor task watches, or how it ended before this
/// monitor could watch it.
pub(super) enum Init {
    /// Running (or a zombie): its end comes through the pidfd.
    Watch(Rc<Watched>),
    /// Gone already: reaped by the image before a live upgrade (its status
    /// recorded), or ended while no monitor watched ([`ExitInfo::UNKNOWN`]).
    Ended(ExitInfo),
}

/// Starts the tasks that watch a container: its OOM kills and its init.
/// An init that ended already has its exit reported once its pipes (if a
/// previous monitor passed them on) are drained.
pub(super) fn watch(pod: &Rc<Pod>, c: &Rc<Container>, init: Init) {
    let oom_task = c
        .cgroup
        .as_ref()
        .and_then(|paths| match OomWatch::new(paths) {
            Ok(w) => Some(reactor::spawn(watch_oom(pod.clone(), c.clone(), w))),
            Err(e) => {
                log::warn!("container {}: no OOM notifications: {e}", c.id);
                None
            }
        });
    reactor::spawn(monitor(pod.clone(), c.clone(), init, oom_task));
}

/// Emits an `oom` event whenever the container's cgroup counts a new OOM kill.
async fn watch_oom(pod: Rc<Pod>, c: Rc<Container>, w: OomWatch) {
    loop {
        if let Err(e) = w.changed().await {
            log::debug!("container {}: OOM watch ended: {e}", c.id);
            return;
        }
        report_oom(&pod, &c);
    }
}

/// Emits an `oom` event if the cgroup counts more OOM kills than reported.
/// Called by the watcher and once more at exit, in case the kernel's
/// notification had not been read yet.
fn report_oom(pod: &Pod, c: &Container) {
    let Some(now) = c.cgroup.as_ref().and_then(CgroupPaths::oom_kills) else {
        return;
    };
    if now > c.oom_reported.get() {
        c.oom_reported.set(now);
        log::warn!("container {}: the OOM killer killed a process", c.id);
        pod.events.emit(Event::new(EventKind::Oom, &c.id));
    }
}

/// Waits for the init process to exit, then for its output to reach the
/// log, then records the exit and tells the waiters.
async fn monitor(pod: Rc<Pod>, c: Rc<Container>, init: Init, oom_task: Option<reactor::TaskId>) {
    let status = match &init {
        Init::Watch(init) => match init.wait().await {
            Ok(s) => s,
            Err(e) => {
                log::error!("container {}: waiting for pid {}: {e}", c.id, init.pid());
                ExitInfo::UNKNOWN
            }
        },
        Init::Ended(status) => *status,
    };
    record_exit(&c, status);
    if let Some(t) = oom_task {
        reactor::abort(t);
    }
    report_oom(&pod, &c);
    // A StartContainer in flight reports `started` first.
    c.changed
        .wait_until(|| (!c.state.borrow().starting).then_some(()))
        .await;
    match status.known_code() {
        Some(code) => log::info!("container {} exited: {code}", c.id),
        None => log::warn!(
            "container {} ended while no monitor was its parent: its exit code is not known",
            c.id
        ),
    }
    drain(&c).await;
    write_exit_files(&pod, &c, status);
    c.state.borrow_mut().status = Status::Stopped;
    // On disk before anyone hears of the exit.
    persist::save(&pod, &c);
    c.changed.notify_all();
    let oom_killed = c.state.borrow().oom_killed;
    pod.events.emit(Event::new(
        EventKind::Exited {
            exit: status,
            oom_killed,
        },
        &c.id,
    ));
}

/// Records how the init process ended (the status stays until drained).
fn record_exit(c: &Container, status: ExitInfo) {
    let mut st = c.state.borrow_mut();
    st.process = None;
    // An exit recorded before an upgrade keeps its time and OOM verdict.
    st.finished_at.get_or_insert_with(SystemTime::now);
    st.exit = Some(status);
    // Killed by SIGKILL while its cgroup counted a new OOM kill: the OOM
    // killer did it.
    st.oom_killed = st.oom_killed
        || status.signal == Some(libc::SIGKILL)
            && c.cgroup
                .as_ref()
                .and_then(CgroupPaths::oom_kills)
                .is_some_and(|n| n > c.oom_base);
}

/// Waits for the pipes to close and everything to be written. Only a pipe
/// that stays open with nothing coming (held by a process outside the
/// container) ends the wait early; a slow drain (a rate limit) is waited for.
async fn drain(c: &Container) {
    let mut seen = c.log.bytes_read();
    while sync::timeout(DRAIN_TIMEOUT, c.log.drained())
        .await
        .is_none()
    {
        let now = c.log.bytes_read();
        if now == seen {
            log::warn!(
                "container {}: output pipes open and idle {}s after exit; reporting the exit",
                c.id,
                DRAIN_TIMEOUT.as_secs()
            );
            c.log.flushed().await;
            break;
        }
        seen = now;
    }
}

/// The exit-code and OOM files, where the pod is configured to write them.
/// An exit whose code is not known gets no exit file: none is made up.
fn write_exit_files(pod: &Pod, c: &Container, status: ExitInfo) {
    if let Some(dir) = &pod.config.exit_dir
        && status.known_code().is_some()
        && let Err(e) = write_atomically(dir, &c.id, &status.exit_code().to_string())
    {
        log::error!("container {}: exit file: {e}", c.id);
    }
    if let Some(dir) = &pod.config.oom_dir
        && c.state.borrow().oom_killed
        && let Err(e) = write_atomically(dir, &c.id, "")
    {
        log::error!("container {}: oom file: {e}", c.id);
    }
}

/// Writes `<dir>/<id>` atomically (temp file, rename), as conmon does its
/// exit files, so readers never see a partial file; nothing planted in the
/// directory (a link at `.ID.tmp` or `ID`) is followed.
fn write_atomically(dir: &Path, id: &str, contents: &str) -> Result<(), FileError> {
    files::write_file(dir, id, contents, files::SHARED_FILE)
}
