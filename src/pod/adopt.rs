//! Re-adoption: a monitor that starts on a state directory a previous
//! monitor used (it crashed, was restarted, or exec'd a new binary of
//! itself) takes its containers over from their records.
//!
//! A container recorded as created or running is adopted when its init is
//! still the process recorded (same pid, same start time in
//! `/proc/PID/stat`) and, unless it is still our child, the runtime agrees
//! (`state` names the same pid, created or running). Its log continues on
//! the pipes the service manager's store (or the exec'ing monitor) passed
//! back. One whose init is gone is reported stopped with reason
//! `MonitorDown` and no exit code: only the parent learns an exit status,
//! and the parent of a process whose monitor died is someone else. A
//! stopped container keeps the exit it was recorded with.
//!
//! Claiming comes first and without awaiting anything ([`claim`]): every
//! init that is still our child is tracked before any runtime runs, so the
//! stray reaper cannot take an exit that happened during an upgrade.

use std::rc::Rc;

use super::container::{Container, Parts, Settings};
use super::fdstore::{self, Role};
use super::monitor::{self, Init};
use super::state::{ContainerRecord, ExitRecord, Loaded, pidstat};
use super::status::State;
use super::stdin::StdinSlot;
use super::{Pod, Status, persist};
use crate::logs::LogSink;
use crate::logs::cri::Stream;
use crate::logs::driver::{Discard, DriverKind, LogDriver, Rotation};
use crate::logs::journal::Identity;
use crate::logs::open::{self, DriverSpec};
use crate::sys::listen_fds::ListenFds;
use crate::sys::process::{ExitInfo, Watched};

/// Opens the pod's state at start-up: reads what a previous monitor on
/// this state directory left (removing writes it left half done), claims
/// the inits of its containers that still run (before anything could reap
/// one: see `adopt`), then writes this monitor's options to
/// `STATE/pod.json`. The claimed containers go to [`adopt`].
pub fn open_state(pod: &Pod) -> Vec<Claimed> {
    let ours = persist::pod_record(&pod.config);
    let claimed = match pod.store.load_all() {
        Ok(previous) => {
            if let Some(p) = previous.pod.as_ref().filter(|p| **p != ours) {
                log::warn!(
                    "the previous monitor of this state directory ran with other options: {p:?}"
                );
            }
            claim(previous)
        }
        Err(e) => {
            log::error!("the state records could not be read: {e}");
            Vec::new()
        }
    };
    if let Err(e) = pod.store.save_pod(&ours) {
        log::error!("the pod's state record was not written: {e}");
    }
    claimed
}

/// A recorded container and, if its init is still the process recorded,
/// the watch on it.
pub struct Claimed {
    record: ContainerRecord,
    init: Option<Watched>,
}

/// Opens a pidfd on every recorded init that is still the process the
/// record names; returns the containers to adopt. Runs before anything
/// can reap a child.
pub fn claim(previous: Loaded) -> Vec<Claimed> {
    for e in &previous.execs {
        kill_orphan_exec(e.pid, e.pid_start_time, &e.exec_id);
    }
    previous
        .containers
        .into_iter()
        .map(|record| {
            let init = match (record.status, record.pid, record.pid_start_time) {
                (Status::Stopped, _, _) => None,
                (_, Some(pid), Some(start)) => {
                    watch_recorded(&format!("container {}", record.id), pid, start)
                }
                _ => None,
            };
            Claimed { record, init }
        })
        .collect()
}

/// The watch on `pid` if it is still the process started at `start`.
fn watch_recorded(what: &str, pid: i32, start: u64) -> Option<Watched> {
    let same = |s: &pidstat::ProcStat| s.start_time == start;
    let before = pidstat::stat(pid).ok().filter(same)?;
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let w = match Watched::adopt(pid, before.ppid == me) {
        Ok(w) => w,
        Err(e) => {
            log::warn!("{what}: pid {pid} could not be watched: {e}");
            return None;
        }
    };
    // The pidfd names what the pid named when it was opened: the same
    // process only if it still has the recorded start time.
    pidstat::stat(pid).ok().filter(same).map(|_| w)
}

/// An exec a previous monitor ran has lost its client (every exec ends
/// with its connection): it is killed, if it still runs.
fn kill_orphan_exec(pid: i32, start: u64, exec_id: &str) {
    if let Some(w) = watch_recorded(exec_id, pid, start) {
        log::warn!("{exec_id} (pid {pid}) of a previous monitor lost its client: killing it");
        let _ = w.signal(libc::SIGKILL);
    }
}

/// Takes the claimed containers into the pod: checks with the runtime,
/// restores each one's log on the descriptors passed back, and watches it.
/// Descriptors nobody claims are closed.
pub async fn adopt(pod: &Rc<Pod>, claimed: Vec<Claimed>, mut passed: ListenFds) {
    for Claimed { record, init } in claimed {
        let init = match init {
            Some(w) => confirm(pod, &record.id, w).await,
            None => None,
        };
        let c = restore(pod, &record, init.is_some(), &mut passed);
        pod.containers
            .borrow_mut()
            .insert(record.id.clone(), c.clone());
        match (record.status, init) {
            (Status::Stopped, _) => {}
            (_, Some(w)) => {
                let w = Rc::new(w);
                c.state.borrow_mut().process = Some(w.clone());
                log::info!(
                    "re-adopted container {} ({}, pid {}{})",
                    c.id,
                    record.status.as_str(),
                    w.pid(),
                    if w.is_child() { ", our child" } else { "" }
                );
                monitor::watch(pod, &c, Init::Watch(w));
            }
            // Reaped by the image before an upgrade, which recorded how it
            // ended; or gone while nobody watched.
            (_, None) => {
                let ended = record.exit.map_or(ExitInfo::UNKNOWN, exit_info);
                monitor::watch(pod, &c, Init::Ended(ended));
            }
        }
    }
    if !passed.is_empty() {
        log::warn!("{} passed descriptors are left over", passed.len());
    }
    for left in passed.into_vec() {
        log::warn!(
            "passed descriptor {} belongs to no container of this pod: closed",
            left.name
        );
    }
}

/// The watch, if the runtime agrees the container lives with that pid; a
/// child needs no agreement (its exit status will tell the truth, also of
/// an exit that happened while the monitor exec'd itself).
async fn confirm(pod: &Pod, id: &str, w: Watched) -> Option<Watched> {
    if w.is_child() {
        return Some(w);
    }
    match pod.driver.state(id).await {
        Ok(Some(st))
            if st.pid == w.pid() && matches!(st.status.as_str(), "created" | "running") =>
        {
            Some(w)
        }
        Ok(other) => {
            log::warn!(
                "container {id}: the runtime says {:?}, not pid {} alive: not re-adopted",
                other.map(|s| (s.status, s.pid)),
                w.pid()
            );
            None
        }
        Err(e) => {
            log::warn!("container {id}: runtime state failed ({e}): not re-adopted");
            None
        }
    }
}

/// The container as its record describes it, its log going on with the
/// passed pipes (a stopped one, or one whose init is gone, only drains).
fn restore(pod: &Pod, r: &ContainerRecord, alive: bool, passed: &mut ListenFds) -> Rc<Container> {
    let pty = fdstore::take(passed, &r.id, Role::Pty).map(Rc::new);
    let mut pipes = Vec::new();
    let mut stdin = fdstore::take(passed, &r.id, Role::Stdin);
    match &pty {
        Some(master) => {
            pipes.extend(master.try_clone().ok().map(|fd| (Stream::Stdout, fd)));
            if r.stdin {
                stdin = master.try_clone().ok();
            }
        }
        None => {
            for s in [Stream::Stdout, Stream::Stderr] {
                pipes.extend(fdstore::take(passed, &r.id, Role::Output(s)).map(|fd| (s, fd)));
            }
        }
    }
    if alive && pipes.is_empty() && r.log.driver != DriverKind::None {
        log::warn!(
            "container {}: its output pipes were not passed back (no file-descriptor store): its log has stopped",
            r.id
        );
    }
    let log = LogSink::start(driver(pod, r), pipes, r.log.limit, r.log.sync);
    Container::assemble(Parts {
        id: r.id.clone(),
        bundle: r.bundle.clone(),
        dir: pod.config.state_dir.join("containers").join(&r.id),
        created_at: r.created_at,
        log,
        state: state_of(r),
        stdin: StdinSlot::new(stdin.filter(|_| alive), r.stdin_once),
        pty,
        cgroup: r
            .pid
            .filter(|_| alive)
            .and_then(|pid| crate::cgroups::locate::paths_for_pid(pid).ok()),
        settings: Settings {
            log: r.log.clone(),
            stdin: r.stdin,
            stdin_once: r.stdin_once,
            pid: r.pid.unwrap_or(0),
            pid_start_time: r.pid_start_time,
        },
    })
}

/// The log drivers the record names, appending to the same file; a
/// journal not there yet is connected to at the first write.
fn driver(pod: &Pod, r: &ContainerRecord) -> Box<dyn LogDriver> {
    let kind = match (&r.log.path, r.log.driver.has_cri()) {
        (Some(_), _) | (None, false) => r.log.driver,
        // A record with the file's driver and no file: nothing to write to.
        (None, true) => DriverKind::of(false, r.log.driver.has_journald()),
    };
    let file = r.log.path.clone().unwrap_or_default();
    let spec = DriverSpec {
        kind,
        file: &file,
        max_line: r.log.max_line.unwrap_or(crate::logs::DEFAULT_MAX_LINE),
        rotation: Rotation {
            max_size: r.log.max_size,
            max_files: r.log.max_files,
        },
        journal: &pod.config.journal_socket,
        identity: Identity::new(&r.id, r.log.tag.as_deref()),
    };
    match open::drivers(&spec, true) {
        Ok(d) => d,
        Err(f) => {
            log::error!(
                "container {}: log {} not reopened: {}",
                r.id,
                f.path.display(),
                f.error
            );
            // The file is gone; the journal (which opens lazily) goes on.
            let journal = DriverSpec {
                kind: DriverKind::Journald,
                ..spec
            };
            match kind.has_journald() {
                true => open::drivers(&journal, true).unwrap_or_else(|_| Box::new(Discard)),
                false => Box::new(Discard),
            }
        }
    }
}

/// The mutable state as recorded (the process is set by the caller).
fn state_of(r: &ContainerRecord) -> State {
    let exit = r.exit.map(exit_info);
    State {
        status: r.status,
        process: None,
        started_at: r.started_at,
        finished_at: r.finished_at,
        exit,
        oom_killed: r.exit.is_some_and(|e| e.oom_killed),
        starting: false,
    }
}

fn exit_info(e: ExitRecord) -> ExitInfo {
    ExitInfo {
        code: e.code,
        signal: e.signal,
    }
}
