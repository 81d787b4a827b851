//! The pod's records kept up to date: the operations call here after each
//! change of a container's state, and a failure to write is logged, not
//! returned: the container runs on, watched by this monitor, only a new
//! monitor after a crash would not find it.
//!
//! The writes are synchronous and fsync on the loop's thread (see
//! `state::store`): small files, once per create, start, exit, rate limit
//! change and delete, but on a disk each fsync blocks the loop for about a
//! millisecond, tens under load.

use super::container::{Container, Settings};
use super::request::CreateRequest;
use super::state::record::ExecRecord;
use super::state::{ContainerRecord, ExitRecord, LogRecord, PodRecord, SCHEMA_VERSION, pidstat};
use super::{Pod, PodConfig};
use crate::logs::ratelimit::Limit;

/// The record's settings for a container being created by `req`, whose
/// init process is `pid`: its start time is read now, before the monitor
/// task can reap it, so the pid cannot name another process yet.
pub(super) fn settings(pod: &Pod, req: &CreateRequest, pid: i32) -> Settings {
    let pid_start_time = match pidstat::start_time(pid) {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!("container {}: no start time for pid {pid}: {e}", req.id);
            None
        }
    };
    let path = req
        .log
        .driver
        .has_cri()
        .then(|| pod.config.log_dir.join(format!("{}.log", req.id)));
    Settings {
        log: LogRecord {
            driver: req.log.driver,
            path,
            limit: req.log.limit,
            max_line: req.log.max_line,
            max_size: req.log.rotation.max_size,
            max_files: req.log.rotation.max_files,
            sync: req.log.sync,
            tag: req.log.tag.clone(),
        },
        stdin: req.stdin,
        stdin_once: req.stdin_once,
        pid,
        pid_start_time,
    }
}

/// The container's record as of now.
pub(super) fn record(c: &Container) -> ContainerRecord {
    let st = c.state.borrow();
    let s = &c.settings;
    ContainerRecord {
        version: SCHEMA_VERSION,
        id: c.id.clone(),
        bundle: c.bundle.clone(),
        // SetLogRateLimit may have changed the limit since.
        log: LogRecord {
            limit: c.log.limit(),
            ..s.log.clone()
        },
        stdin: s.stdin,
        stdin_once: s.stdin_once,
        terminal: c.pty.is_some(),
        created_at: c.created_at,
        status: st.status,
        pid: Some(s.pid),
        pid_start_time: s.pid_start_time,
        started_at: st.started_at,
        finished_at: st.finished_at,
        exit: st.exit.map(|e| ExitRecord::seen(e, st.oom_killed)),
    }
}

/// Writes the container's record; a failure is logged.
pub(super) fn save(pod: &Pod, c: &Container) {
    if let Err(e) = pod.store.save_container(&record(c)) {
        log::error!("container {}: its state record was not written: {e}", c.id);
    }
}

/// Before a live upgrade (reaping held): the record of every container
/// whose init was reaped but whose exit is not recorded yet (its monitor
/// task waits for the log), so the new image reports the real exit.
pub fn save_pending_exits(pod: &Pod) {
    for c in pod.list() {
        let pending = {
            let st = c.state.borrow();
            st.exit.is_some() && st.status != super::Status::Stopped
        };
        if pending {
            save(pod, &c);
        }
    }
}

/// Records a running exec (its directory goes, with the record, when it
/// ends), so that a monitor after a crash kills it: its client is gone.
pub(super) fn save_exec(pod: &Pod, container: &str, exec_id: &str, pid: i32, terminal: bool) {
    let pid_start_time = match pidstat::start_time(pid) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("container {container}: {exec_id}: no start time for pid {pid}: {e}");
            return;
        }
    };
    let r = ExecRecord {
        version: SCHEMA_VERSION,
        exec_id: exec_id.to_owned(),
        container: container.to_owned(),
        pid,
        pid_start_time,
        terminal,
        started_at: std::time::SystemTime::now(),
        exit: None,
    };
    if let Err(e) = pod.store.save_exec(&r) {
        log::warn!("container {container}: {exec_id}: its record was not written: {e}");
    }
}

/// SetLogRateLimit: the new limit (or none) for the container's log, and
/// its record, so a new monitor would go on with the same limit.
pub fn set_log_limit(pod: &Pod, c: &Container, limit: Option<Limit>) {
    c.log.set_limit(limit);
    save(pod, c);
}

/// Removes the container's record before its directory; a failure is
/// logged (the directory's removal may still take it).
pub(super) fn remove(pod: &Pod, id: &str) {
    if let Err(e) = pod.store.remove_container(id) {
        log::error!("container {id}: its state record was not removed: {e}");
    }
}

/// The record of this monitor's options.
pub(super) fn pod_record(c: &PodConfig) -> PodRecord {
    PodRecord {
        version: SCHEMA_VERSION,
        name: c.name.clone(),
        runtime: c.runtime.path.clone(),
        runtime_root: c.runtime.root.clone(),
        log_dir: c.log_dir.clone(),
        exit_dir: c.exit_dir.clone(),
        oom_dir: c.oom_dir.clone(),
    }
}
