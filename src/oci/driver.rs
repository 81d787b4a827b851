//! Running the OCI runtime: one operation per runtime verb, behind the
//! [`Driver`] trait so the pod can be tested against a fake runtime.
//!
//! `create` and `exec` are the two verbs that bring a new process: the
//! runtime runs with the process's stdio, writes its pid to a pid file and,
//! for a terminal, sends the pty master over a console socket. Until the
//! pid is read the new process may already be podmon's child (subreaper)
//! without podmon knowing it, so a [`PendingClaim`] holds the stray reaper
//! off for that window. Everything else is a command that runs to its end.
//!
//! Every invocation has a deadline (the runtime's `timeout`, capped by the
//! caller's own for an exec): then the runtime is killed with everything it
//! started, a half-made container is deleted (`delete --force`), and the
//! call fails with a [`RuntimeFailure`] that says so. The runtime's own
//! words (its `--log` file and its stderr) are in every failure.
//!
//! Adding a verb (pause, resume, update, checkpoint) is one argv builder in
//! `argv` and one trait method here, usually a single call to `simple`.

use std::ffi::OsString;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::output::{self, RuntimeState};
use super::runtime::Runtime;
use crate::reactor::sync;
use crate::sys::capture;
use crate::sys::console::ConsoleSocket;
use crate::sys::error::SysError;
use crate::sys::process::{self, ExitInfo, PendingClaim, Watched};

/// A future on the reactor's one thread (nothing here is `Send`).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What every driver operation returns.
pub type Op<'a, T> = LocalFuture<'a, Result<T, DriverError>>;

/// How long the runtime has to send the pty master after it exited.
const PTY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a process whose pty never came gets to die after SIGKILL.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// The runtime ran and refused, in its own words, or did not finish in time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{runtime} {command} failed: {message}")]
pub struct RuntimeFailure {
    /// Runtime name ("runc").
    pub runtime: String,
    /// The verb ("create").
    pub command: &'static str,
    /// The runtime's message (its log, then its stderr), "exited with
    /// status N", or "timed out after N s ..." with what it printed.
    pub message: String,
    /// Its exit code, if it exited.
    pub exit_code: Option<i32>,
}

impl RuntimeFailure {
    /// For an `exec` the runtime could not start because the command is
    /// missing (127) or cannot be executed (126): the code a shell,
    /// docker, podman and CRI give it. Other failures are the runtime's.
    pub fn not_executable(&self) -> Option<i32> {
        if self.command != "exec" {
            return None;
        }
        output::not_executable(&self.message)
    }

    /// Adds what the runtime wrote to its stderr (for `create` and `exec`
    /// the pipe it shares with the new process, which only the pod reads).
    pub fn with_stderr(mut self, stderr: &[u8]) -> RuntimeFailure {
        let Some(text) = output::error_message(stderr, None) else {
            return self;
        };
        if self.message.contains(&text) {
            return self;
        }
        self.message = match self.message.strip_prefix("exited with status ") {
            Some(code) => format!("{text} (exit status {code})"),
            None => format!("{}; stderr: {text}", self.message),
        };
        self
    }
}

/// Why a runtime operation failed.
#[derive(Debug, Error)]
pub enum DriverError {
    /// The runtime ran and refused.
    #[error(transparent)]
    Failed(#[from] RuntimeFailure),
    /// Running the runtime, or reading what it left, failed.
    #[error(transparent)]
    System(#[from] SysError),
}

/// The stdio the runtime runs with; the new process inherits it. `None`
/// means /dev/null for stdin and a pipe podmon reads for the others.
#[derive(Debug, Default)]
pub struct Stdio {
    /// The process's stdin.
    pub stdin: Option<OwnedFd>,
    /// The process's stdout.
    pub stdout: Option<OwnedFd>,
    /// The process's stderr.
    pub stderr: Option<OwnedFd>,
}

/// What `create` and `exec` need besides the container id.
#[derive(Debug)]
pub struct Launch<'a> {
    /// podmon's directory for this process: the pid file, the runtime's
    /// log and the console socket go here.
    pub dir: &'a Path,
    /// The new process's stdio.
    pub stdio: Stdio,
    /// The process gets a pty; its master is returned.
    pub terminal: bool,
    /// The caller's own deadline (ExecSync's timeout, counted from the
    /// call); the runtime's timeout applies when it is later or absent.
    pub deadline: Option<Instant>,
    /// Descriptors passed into a created container as its fds 3, 4, ...
    /// (`--preserve-fds`; `create` only). The runtime gets them as its
    /// own 3, 4, ...; these copies close when the launch is over.
    pub preserve_fds: Vec<OwnedFd>,
}

/// A process the runtime started, watched by podmon.
#[derive(Debug)]
pub struct Launched {
    /// The process (container init or exec), podmon's child.
    pub process: Watched,
    /// The pty master, for terminal processes.
    pub pty: Option<OwnedFd>,
}

/// The verbs of an OCI runtime, as the pod uses them.
pub trait Driver {
    /// `create`: sets up container `id` from `bundle`; its init process
    /// waits to be started. Any runtime record is removed on failure.
    fn create<'a>(&'a self, id: &'a str, bundle: &'a Path, launch: Launch<'a>) -> Op<'a, Launched>;

    /// `exec --detach`: starts the process described by `process_json`
    /// in container `id`.
    fn exec<'a>(
        &'a self,
        id: &'a str,
        process_json: &'a Path,
        launch: Launch<'a>,
    ) -> Op<'a, Launched>;

    /// `start`: runs the user process of a created container.
    fn start<'a>(&'a self, id: &'a str) -> Op<'a, ()>;

    /// `kill`: sends `signal` to the init process, or with `all` to every
    /// process of the container.
    fn kill<'a>(&'a self, id: &'a str, signal: i32, all: bool) -> Op<'a, ()>;

    /// `delete`: removes the runtime's record; with `force` it kills a
    /// container that still runs.
    fn delete<'a>(&'a self, id: &'a str, force: bool) -> Op<'a, ()>;

    /// `state`: what the runtime knows of `id`; `None` when it keeps no
    /// record of it (never created, or deleted).
    fn state<'a>(&'a self, id: &'a str) -> Op<'a, Option<RuntimeState>>;
}

impl Driver for Runtime {
    fn create<'a>(&'a self, id: &'a str, bundle: &'a Path, launch: Launch<'a>) -> Op<'a, Launched> {
        Box::pin(async move {
            let files = Files::new(launch.dir, launch.terminal)?;
            let args = match &files.console {
                Some(c) => {
                    self.create_args_with_console(id, bundle, &files.pid, &files.log, c.path())
                }
                None => self.create_args(id, bundle, &files.pid, &files.log),
            };
            let args = Runtime::with_preserved_fds(args, launch.preserve_fds.len());
            let stdio = (launch.stdio, launch.preserve_fds);
            match self
                .launch("create", args, stdio, &files, launch.deadline)
                .await
            {
                Ok(init) => self.receive_pty(id, init, &files, Init::Container).await,
                Err(failed) => {
                    // A half-created container (also one whose runtime was
                    // killed at the deadline) stays in the runtime's records.
                    if let Err(e) = self.delete(id, true).await {
                        log::debug!("rolling back the create of {id}: {e}");
                    }
                    Err(failed)
                }
            }
        })
    }

    fn exec<'a>(
        &'a self,
        id: &'a str,
        process_json: &'a Path,
        launch: Launch<'a>,
    ) -> Op<'a, Launched> {
        Box::pin(async move {
            let files = Files::new(launch.dir, launch.terminal)?;
            let console = files.console.as_ref().map(ConsoleSocket::path);
            let args = self.exec_args(id, process_json, &files.pid, &files.log, console);
            let stdio = (launch.stdio, Vec::new());
            let process = self
                .launch("exec", args, stdio, &files, launch.deadline)
                .await?;
            self.receive_pty(id, process, &files, Init::Exec).await
        })
    }

    fn start<'a>(&'a self, id: &'a str) -> Op<'a, ()> {
        Box::pin(self.simple("start", self.start_args(id)))
    }

    fn kill<'a>(&'a self, id: &'a str, signal: i32, all: bool) -> Op<'a, ()> {
        Box::pin(self.simple("kill", self.kill_args(id, signal, all)))
    }

    fn delete<'a>(&'a self, id: &'a str, force: bool) -> Op<'a, ()> {
        Box::pin(self.simple("delete", self.delete_args(id, force)))
    }

    fn state<'a>(&'a self, id: &'a str) -> Op<'a, Option<RuntimeState>> {
        Box::pin(async move {
            // runc keeps `<root>/<id>/state.json`, crun `<root>/<id>/status`:
            // both a directory named after the container, removed by
            // `delete`. Its absence says "unknown" in any runtime's wording.
            if !self.root.join(id).exists() {
                return Ok(None);
            }
            let out = self.run("state", self.state_args(id)).await?;
            output::parse_state(&out.stdout)
                .map(Some)
                .map_err(|e| SysError::other(format!("reading {} state", self.name()), e).into())
        })
    }
}

/// Whose process a launch brought: a container's init or an exec.
#[derive(Clone, Copy)]
enum Init {
    Container,
    Exec,
}

/// When an invocation must be over, and which limit that is (for messages).
#[derive(Clone, Copy)]
struct Deadline {
    at: Instant,
    /// How long it was given, from the start of the call.
    window: Duration,
    /// The caller's deadline, not the runtime timeout, is the one that applies.
    callers: bool,
}

/// Seconds as people write them: "2 s", "0.5 s".
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The files of one `create` or `exec`, in its directory.
struct Files {
    pid: std::path::PathBuf,
    log: std::path::PathBuf,
    console: Option<ConsoleSocket>,
}

impl Files {
    fn new(dir: &Path, terminal: bool) -> Result<Files, SysError> {
        let console = match terminal {
            true => {
                let path = dir.join("console.sock");
                let socket = ConsoleSocket::bind(&path)
                    .map_err(|e| SysError::at("binding the console socket", &path, &e))?;
                Some(socket)
            }
            false => None,
        };
        Ok(Files {
            pid: dir.join("pid"),
            log: dir.join("runtime.log"),
            console,
        })
    }
}

impl Runtime {
    /// The deadline of an invocation starting now: the runtime's timeout,
    /// or the caller's own deadline when that comes first.
    fn deadline(&self, callers: Option<Instant>) -> Deadline {
        let now = Instant::now();
        let ours = now + self.timeout;
        match callers {
            Some(at) if at < ours => Deadline {
                at,
                window: at.saturating_duration_since(now),
                callers: true,
            },
            _ => Deadline {
                at: ours,
                window: self.timeout,
                callers: false,
            },
        }
    }

    /// Runs a verb that brings a new process and returns it, watched. At
    /// the deadline (the runtime's timeout from when it runs, or the
    /// caller's) the runtime is killed with all it started. It waits for
    /// its turn under the bound first; its place is free again before the
    /// caller may run the runtime once more (a create's rollback).
    async fn launch(
        &self,
        command: &'static str,
        args: Vec<OsString>,
        (stdio, preserve): (Stdio, Vec<OwnedFd>),
        files: &Files,
        callers: Option<Instant>,
    ) -> Result<Watched, DriverError> {
        let _turn = self.limit.acquire().await;
        let deadline = self.deadline(callers);
        let claim = PendingClaim::new();
        // Without a stderr of the new process's (a terminal's talks through
        // its pty), the runtime's own stderr is a pipe read here.
        let (runtime, _, err) = process::spawn_preserving(
            &self.path,
            &args,
            stdio.stdin,
            stdio.stdout,
            stdio.stderr,
            &preserve,
        )
        .map_err(|e| SysError::at("running", &self.path, &e))?;
        // The runtime has its own copies (and the container, once created).
        drop(preserve);
        let (status, stderr) = capture::wait_reading(&runtime, err, deadline.at).await;
        let status = match status {
            Some(status) => status.map_err(|e| SysError::io("waiting for the runtime", &e))?,
            None => {
                process::kill_tree(&runtime);
                let _ = sync::timeout(capture::KILL_GRACE, runtime.wait()).await;
                return Err(self.timed_out(command, deadline, &stderr, Some(&files.log)));
            }
        };
        if status.exit_code() != 0 {
            // Its --log file has the message; what it printed on the new
            // process's stdio pipes the pod adds.
            return Err(self.failure(command, status, &stderr, Some(&files.log)));
        }
        let contents =
            std::fs::read(&files.pid).map_err(|e| SysError::at("reading", &files.pid, &e))?;
        let pid = output::parse_pid_file(&contents)
            .map_err(|e| SysError::other("reading the pid file", e).with_path(&files.pid))?;
        let process =
            Watched::open(pid).map_err(|e| SysError::io(format!("pidfd_open({pid})"), &e))?;
        // Closing the window reaps the strays it held back.
        drop(claim);
        Ok(process)
    }

    /// Waits for the pty master of a terminal process. Without it the
    /// process is of no use: it is killed (a container through `delete
    /// --force`) and reaped.
    async fn receive_pty(
        &self,
        id: &str,
        process: Watched,
        files: &Files,
        init: Init,
    ) -> Result<Launched, DriverError> {
        let Some(console) = &files.console else {
            return Ok(Launched { process, pty: None });
        };
        let why = match sync::timeout(PTY_TIMEOUT, console.receive()).await {
            Some(Ok(master)) => {
                return Ok(Launched {
                    process,
                    pty: Some(master),
                });
            }
            Some(Err(e)) => SysError::io("receiving the pty from the runtime", &e),
            None => SysError::other(
                "receiving the pty from the runtime",
                format!("nothing arrived within {} s", PTY_TIMEOUT.as_secs()),
            ),
        };
        match init {
            Init::Container => {
                let _ = self.delete(id, true).await;
            }
            Init::Exec => {
                let _ = process.signal(libc::SIGKILL);
            }
        }
        let _ = sync::timeout(REAP_TIMEOUT, process.wait()).await;
        Err(why.into())
    }

    /// Runs a verb to its end; a non-zero exit is [`DriverError::Failed`].
    async fn simple(&self, command: &'static str, args: Vec<OsString>) -> Result<(), DriverError> {
        self.run(command, args).await.map(drop)
    }

    /// Runs a verb to its end and returns what it printed.
    async fn run(
        &self,
        command: &'static str,
        args: Vec<OsString>,
    ) -> Result<capture::Output, DriverError> {
        // In turn under the bound; the timeout counts from the start.
        let _turn = self.limit.acquire().await;
        let deadline = self.deadline(None);
        let out = capture::run(&self.path, &args, deadline.at)
            .await
            .map_err(|e| SysError::at("running", &self.path, &e))?;
        if out.timed_out {
            return Err(self.timed_out(command, deadline, &out.stderr, None));
        }
        if out.status.exit_code() != 0 {
            return Err(self.failure(command, out.status, &out.stderr, None));
        }
        Ok(out)
    }

    /// The error for a failed verb, worded from the runtime's own output.
    fn failure(
        &self,
        command: &'static str,
        status: ExitInfo,
        stderr: &[u8],
        log: Option<&Path>,
    ) -> DriverError {
        let log_contents = log.and_then(|p| std::fs::read(p).ok());
        let message = output::error_message(&[], log_contents.as_deref())
            .unwrap_or_else(|| format!("exited with status {}", status.exit_code()));
        let failure = RuntimeFailure {
            runtime: self.name(),
            command,
            message,
            exit_code: status.code,
        };
        DriverError::Failed(failure.with_stderr(stderr))
    }

    /// The error for a verb killed at its deadline, naming the limit, with
    /// what the runtime had printed by then.
    fn timed_out(
        &self,
        command: &'static str,
        deadline: Deadline,
        stderr: &[u8],
        log: Option<&Path>,
    ) -> DriverError {
        let limit = match deadline.callers {
            true => "the call's own timeout",
            false => "the runtime timeout, --runtime-timeout",
        };
        let mut message = format!(
            "timed out after {} ({limit}); the runtime was killed",
            seconds(deadline.window)
        );
        let log_contents = log.and_then(|p| std::fs::read(p).ok());
        if let Some(text) = output::error_message(&[], log_contents.as_deref()) {
            message.push_str(&format!("; it logged: {text}"));
        }
        let failure = RuntimeFailure {
            runtime: self.name(),
            command,
            message,
            exit_code: None,
        };
        DriverError::Failed(failure.with_stderr(stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(message: &str) -> RuntimeFailure {
        RuntimeFailure {
            runtime: "runc".into(),
            command: "create",
            message: message.into(),
            exit_code: Some(42),
        }
    }

    #[test]
    fn stderr_joins_the_message() {
        let f = failure("exited with status 42").with_stderr(b"wrapper: cursed\n");
        assert_eq!(f.message, "wrapper: cursed (exit status 42)");
        let f = failure("container_linux.go: bad").with_stderr(b"wrapper: cursed\n");
        assert_eq!(
            f.message,
            "container_linux.go: bad; stderr: wrapper: cursed"
        );
        // Said already (the log and stderr agree), or nothing printed.
        let f = failure("wrapper: cursed").with_stderr(b"wrapper: cursed\n");
        assert_eq!(f.message, "wrapper: cursed");
        let f = failure("exited with status 42").with_stderr(b"");
        assert_eq!(f.message, "exited with status 42");
    }

    #[test]
    fn deadlines_name_the_limit_that_applies() {
        let rt = crate::oci::runtime::tests::rt().with_timeout(Duration::from_secs(10));
        let d = rt.deadline(None);
        assert!(!d.callers && d.window == Duration::from_secs(10));
        let d = rt.deadline(Some(Instant::now() + Duration::from_secs(2)));
        assert!(d.callers && d.window <= Duration::from_secs(2));
        let d = rt.deadline(Some(Instant::now() + Duration::from_secs(60)));
        assert!(!d.callers, "the runtime timeout comes first");
        assert_eq!(seconds(Duration::from_secs(3)), "3 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        let DriverError::Failed(f) = rt.timed_out("exec", d, b"half a message\n", None) else {
            panic!("not a runtime failure");
        };
        assert_eq!(f.exit_code, None);
        assert!(
            f.message
                .starts_with("timed out after 10 s (the runtime timeout")
                && f.message.ends_with("stderr: half a message"),
            "{}",
            f.message
        );
    }
}
