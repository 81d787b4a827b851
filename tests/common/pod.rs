//! One `podmon serve` process per test: its directories, its command line
//! (plain or socket-activated, on the backend the run asks for), waiting
//! until it answers, and stopping and cleaning up after it.

use serde_json::json;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Client, cleanup_runtime, env, podmon_bin, runc, socket_activate_bin, test_base};

static POD_COUNTER: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
pub struct PodOptions {
    /// Start through systemd-socket-activate (LISTEN_FDS=1) instead of --socket.
    pub socket_activated: bool,
    /// Extra arguments to `podmon serve`.
    pub extra_args: Vec<String>,
    /// Extra environment variables for `podmon serve`.
    pub env: Vec<(String, String)>,
    /// The runtime instead of runc (a wrapper script, see `wrapper_runtime`).
    pub runtime: Option<PathBuf>,
    /// Start without `--kill-on-exit`, so SIGTERM leaves the containers
    /// running. By default the harness passes it: a test's containers go
    /// with its server at `stop`, `restart` and drop (which also cleans
    /// the runtime up whatever the server did).
    pub leave_containers: bool,
    /// Descriptors passed as `LISTEN_FDS` (fd 3 on), named in
    /// `LISTEN_FDNAMES`, as a service manager gives its file-descriptor
    /// store back to a restarted service (with `--socket` still bound by
    /// podmon itself, since none of them is named "varlink").
    pub passed_fds: Vec<(String, std::os::fd::OwnedFd)>,
    /// cgroup directories the server process moves itself into before it
    /// execs (its `cgroup.procs`), as systemd starts a service in its
    /// unit's cgroup.
    pub join_cgroups: Vec<PathBuf>,
}

/// The environment the server gets on top of the test's: the reactor
/// backend chosen by PODMON_TEST_REACTOR (e.g. `epoll`, to run the whole
/// suite on the fallback), then the options' own variables.
fn server_env(opts: &PodOptions) -> Vec<(String, String)> {
    let mut env = vec![];
    if let Ok(r) = std::env::var("PODMON_TEST_REACTOR")
        && !r.is_empty()
    {
        env.push(("PODMON_REACTOR".to_string(), r));
    }
    env.extend(opts.env.iter().cloned());
    env
}

/// Whether the servers of this run use the epoll backend.
pub fn epoll_run() -> bool {
    std::env::var("PODMON_TEST_REACTOR").is_ok_and(|r| r == "epoll")
}

pub struct Pod {
    pub name: String,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub exit_dir: PathBuf,
    pub server_log: PathBuf,
    /// PID of the podmon server process.
    pub pid: u32,
    child: Option<Child>,
}

impl Pod {
    pub fn start(name: &str) -> Pod {
        Self::start_with(name, PodOptions::default())
    }

    pub fn start_with(name: &str, opts: PodOptions) -> Pod {
        let mut pod = Pod::prepare(name);
        let mut cmd = pod.serve_command(&opts);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        pod.pid = child.id();
        pod.child = Some(child);
        pod.wait_ready();
        // A run meant for the epoll backend must really be on it (the
        // variable reaches the server, socket-activated or not).
        if epoll_run() {
            let log = pod.server_log_text();
            assert!(
                log.contains("using the epoll backend"),
                "PODMON_TEST_REACTOR=epoll, but the server does not say it uses epoll:\n{log}"
            );
        }
        pod
    }

    /// A fresh directory for pod `name` and the paths in it; the server is
    /// not started yet (`pid` 0, no child).
    fn prepare(name: &str) -> Pod {
        env();
        let n = POD_COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = test_base().join(format!("{name}.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("pod.sock");
        assert!(
            socket.as_os_str().len() < 100,
            "socket path too long for sun_path: {}",
            socket.display()
        );
        let log_dir = dir.join("logs");
        let exit_dir = dir.join("exits");
        // The engine owns the log and exit directories; the monitor its state directory.
        fs::create_dir_all(&log_dir).unwrap();
        fs::create_dir_all(&exit_dir).unwrap();
        Pod {
            name: name.into(),
            state_dir: dir.join("state"),
            server_log: dir.join("server.log"),
            dir,
            socket,
            log_dir,
            exit_dir,
            pid: 0,
            child: None,
        }
    }

    /// `podmon serve` for this pod, its output going to the server log.
    fn serve_command(&self, opts: &PodOptions) -> Command {
        let log = fs::File::create(&self.server_log).unwrap();
        let mut serve_args: Vec<String> = vec![
            "serve".into(),
            "--pod".into(),
            self.name.clone(),
            "--runtime".into(),
            opts.runtime
                .as_deref()
                .unwrap_or(&env().runc)
                .display()
                .to_string(),
            "--state-dir".into(),
            self.state_dir.display().to_string(),
            "--log-dir".into(),
            self.log_dir.display().to_string(),
            "--exit-dir".into(),
            self.exit_dir.display().to_string(),
        ];
        if !opts.leave_containers {
            serve_args.push("--kill-on-exit".into());
        }
        let mut cmd = if opts.socket_activated {
            // systemd-socket-activate passes on only a few variables of its own.
            let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
            let mut c = Command::new(socket_activate_bin());
            c.arg("-l")
                .arg(&self.socket)
                .arg(format!("--setenv=RUST_LOG={level}"))
                .args(
                    server_env(opts)
                        .iter()
                        .map(|(k, v)| format!("--setenv={k}={v}")),
                )
                .arg(podmon_bin())
                .args(&serve_args);
            c
        } else if !opts.passed_fds.is_empty() {
            serve_args.push("--socket".into());
            serve_args.push(self.socket.display().to_string());
            passing_fds(&opts.passed_fds, &serve_args)
        } else {
            serve_args.push("--socket".into());
            serve_args.push(self.socket.display().to_string());
            let mut c = Command::new(podmon_bin());
            c.args(&serve_args);
            c
        };
        cmd.args(&opts.extra_args);
        cmd.envs(server_env(opts));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES");
        cmd.env_remove("PODMON_SOCKET");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        join_cgroups(&mut cmd, &opts.join_cgroups);
        cmd
    }

    fn wait_ready(&mut self) {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "podmon serve exited with {st} before its socket answered; its log:\n{}",
                    self.server_log_text()
                );
            }
            if self.socket.exists() && UnixStream::connect(&self.socket).is_ok() {
                // A full round trip: the server is accepting and answering.
                let mut c = Client::connect(&self.socket);
                c.call("org.varlink.service.GetInfo", json!({})).ok();
                return;
            }
            if Instant::now() >= end {
                panic!(
                    "podmon serve did not listen on {} within 15 s; its log:\n{}",
                    self.socket.display(),
                    self.server_log_text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn server_log_text(&self) -> String {
        fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// Panics if the server process has exited.
    #[track_caller]
    pub fn assert_alive(&mut self) {
        if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!(
                "podmon serve died ({st}); its log:\n{}",
                self.server_log_text()
            );
        }
    }

    /// Stops the server with SIGTERM (SIGKILL after 20 s: with
    /// `--kill-on-exit` podmon gives containers that ignore SIGTERM 10 s
    /// before it kills them); returns its exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                let _ = child.kill();
                return child.wait().ok();
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Pod {
    /// Waits at most `within` for the server to exit by itself (after a
    /// Shutdown call): its exit status, or None if it still runs then.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + within;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Removes the pod's parent cgroups (`podmon/NAME` in every
    /// hierarchy), which a monitor that exits without `--kill-on-exit`
    /// leaves behind; a test that deletes such containers itself calls it.
    pub fn remove_pod_cgroups(&self) {
        let Ok(roots) = fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        let mut all = vec![PathBuf::from("/sys/fs/cgroup")];
        all.extend(roots.flatten().map(|e| e.path()));
        for root in all {
            let _ = fs::remove_dir(root.join("podmon").join(&self.name));
        }
    }

    /// Whether any hierarchy still has the pod's parent cgroup.
    pub fn pod_cgroups_left(&self) -> Vec<PathBuf> {
        let Ok(roots) = fs::read_dir("/sys/fs/cgroup") else {
            return vec![];
        };
        let mut all = vec![PathBuf::from("/sys/fs/cgroup")];
        all.extend(roots.flatten().map(|e| e.path()));
        all.into_iter()
            .map(|root| root.join("podmon").join(&self.name))
            .filter(|d| d.is_dir())
            .collect()
    }
}

/// `podmon serve ARGS` with `fds` at 3, 4, … and LISTEN_* naming them:
/// `sh` sets LISTEN_PID to its own pid and execs podmon in its place, as
/// a service manager does after fork.
fn passing_fds(fds: &[(String, std::os::fd::OwnedFd)], args: &[String]) -> Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let names: Vec<&str> = fds.iter().map(|(n, _)| n.as_str()).collect();
    let script = format!(
        "export LISTEN_PID=$$ LISTEN_FDS={} LISTEN_FDNAMES={}; exec \"$0\" \"$@\"",
        fds.len(),
        names.join(":")
    );
    let raw: Vec<i32> = fds.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(script).arg(podmon_bin()).args(args);
    // SAFETY: only fcntl and dup2 (async-signal-safe) run in the child
    // between fork and exec, on descriptors the parent keeps open.
    unsafe {
        c.pre_exec(move || {
            let mut high = Vec::with_capacity(raw.len());
            for fd in &raw {
                let h = libc::fcntl(*fd, libc::F_DUPFD, 200);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, h) in high.iter().enumerate() {
                if libc::dup2(*h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(*h);
            }
            Ok(())
        })
    };
    c
}

impl Pod {
    /// SIGKILLs the server, as a crash would: nothing of it runs after.
    /// Returns once its listener is gone too: the kernel tears a dead
    /// process's io_uring down a little later, and until then a pending
    /// poll keeps the socket taking connections that nobody answers.
    pub fn crash(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let status = child.wait().ok();
        let end = Instant::now() + Duration::from_secs(5);
        while UnixStream::connect(&self.socket).is_ok() && Instant::now() < end {
            thread::sleep(Duration::from_millis(10));
        }
        status
    }

    /// Starts a new server on the same directories and socket with `opts`
    /// (the last one's log moves to `server.log.old`).
    pub fn serve_again(&mut self, opts: &PodOptions) {
        assert!(self.child.is_none(), "the server still runs");
        let _ = fs::rename(&self.server_log, self.dir.join("server.log.old"));
        let mut cmd = self.serve_command(opts);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        self.pid = child.id();
        self.child = Some(child);
        self.wait_ready();
    }

    /// The last server's log, before a restart moved it.
    pub fn old_server_log_text(&self) -> String {
        fs::read_to_string(self.dir.join("server.log.old")).unwrap_or_default()
    }

    /// Stops the server with SIGTERM (which, with the default options,
    /// deletes its containers) and
    /// starts a new one on the same directories and socket, with default
    /// options; the old server's log moves to `server.log.old`. Returns
    /// the old server's exit status.
    pub fn restart(&mut self) -> Option<ExitStatus> {
        let status = self.stop();
        self.serve_again(&PodOptions::default());
        status
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let status = self.stop();
        let leftovers = cleanup_runtime(runc(), &self.state_dir.join("runtime"));
        // A server that left its containers (or died) left their parent too.
        self.remove_pod_cgroups();
        if thread::panicking() {
            eprintln!(
                "--- pod {}: server exit {status:?}, runc leftovers {leftovers:?}, dir kept: {}\n--- server log:\n{}--- end of server log",
                self.name,
                self.dir.display(),
                self.server_log_text()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Has the child write itself into each directory's `cgroup.procs`
/// between fork and exec.
fn join_cgroups(cmd: &mut Command, dirs: &[PathBuf]) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    if dirs.is_empty() {
        return;
    }
    let paths: Vec<std::ffi::CString> = dirs
        .iter()
        .map(|d| std::ffi::CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).unwrap())
        .collect();
    // SAFETY: the hook runs between fork and exec and calls only open,
    // write and close (async-signal-safe) on strings made before the fork;
    // "0" in cgroup.procs means the writing process itself.
    unsafe {
        cmd.pre_exec(move || {
            for p in &paths {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                let err = std::io::Error::last_os_error();
                libc::close(fd);
                if !ok {
                    return Err(err);
                }
            }
            Ok(())
        })
    };
}
