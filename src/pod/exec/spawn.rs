//! Starting an exec: its directory and process JSON, the runtime's `exec`
//! through the driver, and its entry in the pod's table. The start runs as
//! a task of its own: an exec the runtime starts after its caller left is
//! killed and reaped (its `ExecProcess` is dropped), never left running.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use super::process_json::process_json;
use super::{DirGuard, ExecEntry, ExecProcess, ExecSpec, Reaper, Registration};
use crate::oci::driver::Launch;
use crate::pod::create::with_stderr;
use crate::pod::detach::detached;
use crate::pod::events::{Event, EventKind};
use crate::pod::status::Operation;
use crate::pod::stdio::ProcessStdio;
use crate::pod::{Pod, PodError};
use crate::sys::error::SysError;
use crate::sys::files::{self, PRIVATE_FILE};

thread_local! {
    static NEXT_EXEC: Cell<u64> = const { Cell::new(1) };
}

/// A new exec id, unique within the pod.
fn next_exec_id() -> String {
    let n = NEXT_EXEC.with(|c| {
        let n = c.get();
        c.set(n + 1);
        n
    });
    format!("exec-{n}")
}

/// Starts `spec` in container `id` with pipes for stdout and stderr (and
/// stdin when `want_stdin`); returns once the process runs. The runtime
/// gets until `deadline` (when earlier than its own timeout).
pub async fn spawn_exec(
    pod: &Rc<Pod>,
    id: &str,
    spec: &ExecSpec,
    want_stdin: bool,
    deadline: Option<Instant>,
) -> Result<ExecProcess, PodError> {
    let (pod, id, spec) = (pod.clone(), id.to_owned(), spec.clone());
    detached(async move { spawn_now(&pod, &id, &spec, want_stdin, deadline).await }).await
}

async fn spawn_now(
    pod: &Rc<Pod>,
    id: &str,
    spec: &ExecSpec,
    want_stdin: bool,
    deadline: Option<Instant>,
) -> Result<ExecProcess, PodError> {
    crate::pod::limits::check_exec(spec)?;
    let c = pod.get(id)?;
    c.state.borrow().check(id, Operation::Exec)?;
    let exec_id = next_exec_id();
    let dir = c.dir.join("execs").join(&exec_id);
    std::fs::create_dir_all(&dir).map_err(|e| SysError::at("creating", &dir, &e))?;
    let guard = DirGuard(dir.clone());
    let process_file = dir.join("process.json");
    let json = process_json(&c, spec)?;
    files::write_file(&dir, "process.json", json.to_string(), PRIVATE_FILE)
        .map_err(SysError::from)?;
    let mut stdio = ProcessStdio::new(spec.terminal, want_stdin)?;
    let launch = Launch {
        dir: &dir,
        stdio: std::mem::take(&mut stdio.runtime),
        terminal: spec.terminal,
        deadline,
        preserve_fds: Vec::new(),
    };
    let launched = match pod.driver.exec(id, &process_file, launch).await {
        Ok(l) => l,
        Err(e) => return Err(with_stderr(e, &stdio).into()),
    };
    // From here on a failure (or the caller going away) kills and reaps it.
    let process = Rc::new(launched.process);
    let reaper = Reaper {
        pod: Rc::downgrade(pod),
        container: id.to_owned(),
        exec_id: exec_id.clone(),
        process: process.clone(),
    };
    log::debug!("container {id}: {exec_id} started (pid {})", process.pid());
    super::super::persist::save_exec(pod, id, &exec_id, process.pid(), spec.terminal);
    pod.events.emit(Event::new(
        EventKind::ExecStarted {
            exec_id: exec_id.clone(),
        },
        id,
    ));
    let mut pty = None;
    if let Some(master) = launched.pty {
        stdio.use_pty(&master, want_stdin)?;
        pty = Some(Rc::new(master));
    }
    pod.execs.borrow_mut().insert(
        exec_id.clone(),
        ExecEntry {
            container: id.to_owned(),
            pty: pty.clone(),
        },
    );
    let registration = Registration {
        pod: Rc::downgrade(pod),
        exec_id: exec_id.clone(),
    };
    Ok(ExecProcess {
        _registration: registration,
        exec_id,
        process,
        stdin: stdio.stdin,
        stdout: stdio.stdout,
        stderr: stdio.stderr,
        pty,
        _dir: guard,
        _reaper: reaper,
    })
}
