//! A fake OCI runtime for the pod's unit tests: no root, no runc. `create`
//! starts a real unprivileged `sleep` as the container init (so pidfds,
//! waiting and signals are real), `exec` runs the process JSON's args.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::oci::driver::{Driver, DriverError, Launch, Launched, Op, RuntimeFailure};
use crate::oci::output::RuntimeState;
use crate::sys::error::SysError;
use crate::sys::process;

/// What the fake runtime was asked to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Create(String),
    Exec(String),
    Start(String),
    Kill { id: String, signal: i32, all: bool },
    Delete { id: String, force: bool },
    State(String),
}

/// The runtime's records: container id to init pid.
#[derive(Default)]
pub struct FakeRuntime {
    pub calls: RefCell<Vec<Call>>,
    records: RefCell<HashMap<String, i32>>,
    /// `delete` fails (after forgetting the container when `forgets`).
    pub delete_fails: Cell<bool>,
    /// A failing `delete` still removes the record (as when the runtime
    /// had already cleaned up).
    pub forgets: Cell<bool>,
    /// A pidfd of every init started, so that no `sleep` outlives the test
    /// that made it (an orphan keeps the test's inherited descriptors).
    inits: RefCell<Vec<OwnedFd>>,
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        for fd in self.inits.get_mut().drain(..) {
            let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
        }
    }
}

impl FakeRuntime {
    fn failed(command: &'static str, message: &str) -> DriverError {
        DriverError::Failed(RuntimeFailure {
            runtime: "fake".into(),
            command,
            message: message.into(),
            exit_code: Some(1),
        })
    }

    fn signal(pid: i32, signal: i32) {
        if let (Some(p), Some(s)) = (
            rustix::process::Pid::from_raw(pid),
            rustix::process::Signal::from_named_raw(signal),
        ) {
            let _ = rustix::process::kill_process(p, s);
        }
    }
}

/// Runs `program args` with the launch's stdio, as the runtime would.
fn launch(program: &Path, args: &[OsString], launch: Launch<'_>) -> Result<Launched, DriverError> {
    let stdio = launch.stdio;
    let (process, _, _) = process::spawn(program, args, stdio.stdin, stdio.stdout, stdio.stderr)
        .map_err(|e| SysError::at("running", program, &e))?;
    Ok(Launched { process, pty: None })
}

/// The args of a process JSON file.
fn process_args(path: &Path) -> Vec<String> {
    let text = std::fs::read(path).expect("process.json");
    let v: serde_json::Value = serde_json::from_slice(&text).expect("json");
    serde_json::from_value(v["args"].clone()).expect("args")
}

impl Driver for FakeRuntime {
    fn create<'a>(&'a self, id: &'a str, _bundle: &'a Path, l: Launch<'a>) -> Op<'a, Launched> {
        Box::pin(async move {
            self.calls.borrow_mut().push(Call::Create(id.into()));
            let launched = launch(Path::new("sleep"), &["1000".into()], l)?;
            let pid = launched.process.pid();
            if let Some(p) = rustix::process::Pid::from_raw(pid)
                && let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
            {
                self.inits.borrow_mut().push(fd);
            }
            self.records.borrow_mut().insert(id.into(), pid);
            Ok(launched)
        })
    }

    fn exec<'a>(&'a self, id: &'a str, process_json: &'a Path, l: Launch<'a>) -> Op<'a, Launched> {
        Box::pin(async move {
            self.calls.borrow_mut().push(Call::Exec(id.into()));
            let args = process_args(process_json);
            let rest: Vec<OsString> = args[1..].iter().map(OsString::from).collect();
            launch(&PathBuf::from(&args[0]), &rest, l)
        })
    }

    fn start<'a>(&'a self, id: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            self.calls.borrow_mut().push(Call::Start(id.into()));
            Ok(())
        })
    }

    fn kill<'a>(&'a self, id: &'a str, signal: i32, all: bool) -> Op<'a, ()> {
        Box::pin(async move {
            let (id, all) = (id.to_owned(), all);
            self.calls.borrow_mut().push(Call::Kill {
                id: id.clone(),
                signal,
                all,
            });
            let pid = self.records.borrow().get(&id).copied();
            let pid = pid.ok_or_else(|| FakeRuntime::failed("kill", "no such container"))?;
            FakeRuntime::signal(pid, signal);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, id: &'a str, force: bool) -> Op<'a, ()> {
        Box::pin(async move {
            self.calls.borrow_mut().push(Call::Delete {
                id: id.into(),
                force,
            });
            if self.delete_fails.get() {
                if self.forgets.get() {
                    self.records.borrow_mut().remove(id);
                }
                return Err(FakeRuntime::failed("delete", "some wording"));
            }
            let pid = self.records.borrow_mut().remove(id);
            match (pid, force) {
                (Some(pid), true) => FakeRuntime::signal(pid, libc::SIGKILL),
                (Some(_), false) => {}
                (None, _) => return Err(FakeRuntime::failed("delete", "no such container")),
            }
            Ok(())
        })
    }

    fn state<'a>(&'a self, id: &'a str) -> Op<'a, Option<RuntimeState>> {
        Box::pin(async move {
            self.calls.borrow_mut().push(Call::State(id.into()));
            Ok(self.records.borrow().get(id).map(|&pid| RuntimeState {
                id: id.into(),
                pid,
                status: "running".into(),
                bundle: PathBuf::new(),
            }))
        })
    }
}
