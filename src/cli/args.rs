//! The arguments of the subcommands and their value parsers: what a user
//! can type, checked before anything connects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{RUN_DIR, logs, size};
use crate::proto;

/// Subcommands that talk to a running `podmon serve`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ClientCommand {
    /// Create a container (without starting it).
    Create(Box<CreateArgs>),
    /// Start a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Send a signal to a container.
    Kill {
        /// Container id.
        id: String,
        /// Signal name or number (default SIGTERM).
        signal: Option<String>,
        /// Signal every process of the container, not only its init process.
        #[arg(long)]
        all: bool,
    },
    /// Wait for a container to stop; exits with its exit code.
    Wait {
        /// Container id.
        id: String,
    },
    /// Delete a container (its log file stays).
    Delete {
        /// Container id.
        id: String,
        /// Kill the container first if it is running.
        #[arg(long)]
        force: bool,
    },
    /// Show one container.
    State {
        /// Container id.
        id: String,
    },
    /// List the pod's containers.
    Ps,
    /// Run a command in a running container; exits with its exit code.
    Exec(Box<ExecArgs>),
    /// Attach to a container's output (and stdin); detach with ctrl-p ctrl-q.
    Attach {
        /// Container id.
        id: String,
        /// Do not forward our stdin to the container.
        #[arg(long)]
        no_stdin: bool,
    },
    /// Print a container's log.
    Logs(LogsArgs),
    /// Show resource usage of one container or of every container.
    Stats {
        /// Container id; default every container.
        id: Option<String>,
        /// Refresh every 2 seconds until interrupted.
        #[arg(long, short = 'w')]
        watch: bool,
    },
    /// Watch the pod's events until interrupted.
    Events {
        /// Only this container's events.
        id: Option<String>,
        /// First the kept events after this seq (0: every kept one).
        #[arg(long, value_name = "SEQ")]
        since: Option<u64>,
    },
    /// Show a summary of the pod and its monitor.
    Pod,
    /// Set or remove a container's log rate limit.
    SetLogLimit(LogLimitArgs),
    /// Reopen a container's log file (after an outside rotator renamed it).
    ReopenLog {
        /// Container id.
        id: String,
    },
    /// Remove a deleted container's log files (kept for readers until then).
    PurgeLog {
        /// Container id.
        id: String,
    },
    /// Set the window size of a terminal container's pty.
    Resize {
        /// Container id.
        id: String,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Live upgrade: the monitor execs the podmon binary on disk in place
    /// (same pid, containers and logs kept); waits until the new one serves.
    Upgrade {
        /// Seconds to wait for the upgraded monitor to answer.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
    },
    /// Forward local TCP connections to a port in the pod's network
    /// namespace (each one a PortForward call); runs until interrupted.
    PortForward(PortForwardArgs),
    /// Make the monitor exit; the containers keep running unless --kill.
    Shutdown {
        /// Stop and delete every container first (SIGTERM, then SIGKILL).
        #[arg(long)]
        kill: bool,
        /// Seconds between SIGTERM and SIGKILL with --kill (0 to 3600; default 10).
        #[arg(long, value_name = "SECONDS", requires = "kill")]
        timeout: Option<u64>,
    },
}

/// Arguments of `podmon port-forward`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct PortForwardArgs {
    /// Local address to listen on (repeatable, or comma-separated);
    /// default 127.0.0.1 and ::1.
    #[arg(long, value_name = "ADDR", value_delimiter = ',')]
    pub address: Vec<std::net::IpAddr>,
    /// LOCAL:POD ports (LOCAL 0 or empty: any free port), or POD alone
    /// for the same port on both sides.
    #[arg(value_name = "LOCAL:POD", value_parser = parse_ports)]
    pub ports: (u16, u16),
}

/// `LOCAL:POD`, `:POD` or `POD`; the pod's port must not be 0.
fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| p.parse::<u16>().map_err(|e| format!("{p:?}: {e}"));
    let (local, pod) = match s.split_once(':') {
        Some(("", pod)) => (0, port(pod)?),
        Some((local, pod)) => (port(local)?, port(pod)?),
        None => (port(s)?, port(s)?),
    };
    if pod == 0 {
        return Err("the pod's port must be 1 to 65535".into());
    }
    Ok((local, pod))
}

/// Arguments of `podmon exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ExecArgs {
    /// Container id.
    pub id: String,
    /// Forward our stdin to the command.
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Give the command a pty (our terminal goes raw with -i).
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Environment variable KEY=VALUE added to the container's (repeatable).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long = "workdir", short = 'w', value_name = "DIR")]
    pub cwd: Option<String>,
    /// User as UID or UID:GID.
    #[arg(long, short = 'u', value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<String>,
    /// Kill the command after this many seconds (runs it without streaming).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, conflicts_with_all = ["interactive", "tty"])]
    pub timeout: Option<Duration>,
    /// Run to completion and print the output at the end (ExecSync).
    #[arg(long, conflicts_with_all = ["interactive", "tty"])]
    pub sync: bool,
    /// Command and arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl ExecArgs {
    /// Whether the command runs through `ExecSync` (output at the end)
    /// rather than a streamed `Exec`: asked for with `--sync` or
    /// `--timeout` (which only ExecSync enforces), or with `--json`, whose
    /// machine-readable output is ExecSync's reply.
    pub fn uses_sync(&self, json: bool) -> bool {
        !self.interactive && !self.tty && (self.sync || self.timeout.is_some() || json)
    }
}

/// Arguments of `podmon logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct LogsArgs {
    /// Container id.
    pub id: String,
    /// Keep printing new records until the container has stopped.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the last N records.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Only records since this time: RFC 3339, or a duration ago such as 10s, 5m, 2h, 1h30m.
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<String>,
    /// Prefix each line with its record's timestamp.
    #[arg(long, short = 't')]
    pub timestamps: bool,
}

/// Arguments of `podmon set-log-limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct LogLimitArgs {
    /// Container id.
    pub id: String,
    /// Sustained rate in bytes per second, e.g. 1M.
    #[arg(long, value_name = "BYTES", value_parser = parse_size_arg, required_unless_present = "off")]
    pub rate: Option<u64>,
    /// Bytes that may pass at once after a quiet spell, e.g. 4M (default: one second's worth).
    #[arg(long, value_name = "BYTES", value_parser = parse_size_arg, requires = "rate")]
    pub burst: Option<u64>,
    /// What happens beyond the limit: block (default) or drop.
    #[arg(long, value_name = "POLICY", value_parser = ["block", "drop"], requires = "rate")]
    pub policy: Option<String>,
    /// Remove the limit.
    #[arg(long, conflicts_with_all = ["rate", "burst", "policy"])]
    pub off: bool,
}

/// Arguments of `podmon create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct CreateArgs {
    /// Container id: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
    pub id: String,
    /// Existing OCI bundle directory (with config.json).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "rootfs",
        required_unless_present = "rootfs"
    )]
    pub bundle: Option<PathBuf>,
    /// Root file system; podmon writes the OCI configuration (needs a command after --).
    #[arg(long, value_name = "DIR", requires = "command")]
    pub rootfs: Option<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable; with --rootfs).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env, conflicts_with = "bundle")]
    pub env: Vec<String>,
    /// Working directory inside the container (with --rootfs; default /).
    #[arg(long, value_name = "DIR", conflicts_with = "bundle")]
    pub cwd: Option<String>,
    /// Host name inside the container (with --rootfs; default: the id).
    #[arg(long, value_name = "NAME", conflicts_with = "bundle")]
    pub hostname: Option<String>,
    /// Memory limit, e.g. 64M (K, M, G, T are powers of 1024; with --rootfs).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, conflicts_with = "bundle")]
    pub memory_max: Option<u64>,
    /// Limit on the number of processes (with --rootfs).
    #[arg(long, value_name = "N", conflicts_with = "bundle")]
    pub pids_max: Option<u64>,
    /// Give the container a pty (with --rootfs; a bundle's config.json says so itself).
    #[arg(long, short = 't', conflicts_with = "bundle")]
    pub terminal: bool,
    /// Keep the container's stdin open for attach.
    #[arg(long, short = 'i')]
    pub stdin: bool,
    /// Close stdin when the first attached client that had it detaches.
    #[arg(long, requires = "stdin")]
    pub stdin_once: bool,
    /// Log driver: cri (default), journald or none; repeat it (or give
    /// cri,journald) for several at once.
    #[arg(long, value_name = "DRIVER", value_delimiter = ',',
          value_parser = ["cri", "journald", "none"])]
    pub log_driver: Vec<String>,
    /// The journal's CONTAINER_TAG and SYSLOG_IDENTIFIER (journald; default the id).
    #[arg(long, value_name = "TAG")]
    pub log_tag: Option<String>,
    /// Longest log record, e.g. 16K; longer lines are split.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub log_max_line: Option<u64>,
    /// Rotate the log file at this size, e.g. 10M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub log_max_size: Option<u64>,
    /// Rotated log files to keep.
    #[arg(long, value_name = "N")]
    pub log_max_files: Option<u64>,
    /// When the log goes to disk: exit (default), interval or never.
    #[arg(long, value_name = "WHEN")]
    pub log_sync: Option<String>,
    /// Log rate limit in bytes per second, e.g. 1M (needs --log-burst).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, requires = "log_burst")]
    pub log_rate: Option<u64>,
    /// Bytes the log rate limit lets pass at once, e.g. 4M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, requires = "log_rate")]
    pub log_burst: Option<u64>,
    /// What happens beyond the rate limit: block (default) or drop.
    #[arg(long, value_name = "POLICY", value_parser = ["block", "drop"], requires = "log_rate")]
    pub log_policy: Option<String>,
    /// A kind of the pod's shared namespaces (net, ipc, uts, pid) this
    /// container gets a new one of instead of joining (repeatable).
    #[arg(long = "own-ns", value_name = "KIND")]
    pub own_ns: Vec<String>,
    /// Join the pod's shared namespaces (with --bundle; a --rootfs container always does).
    #[arg(long, requires = "bundle")]
    pub join_pod: bool,
    /// Command and arguments to run, after `--` (with --rootfs).
    #[arg(last = true, value_name = "CMD", conflicts_with = "bundle")]
    pub command: Vec<String>,
}

/// Arguments of `podmon serve`; the socket is the global `--socket`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Name of the pod this monitor watches.
    #[arg(long, value_name = "NAME")]
    pub pod: String,
    /// OCI runtime binary (runc, crun).
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Seconds one runtime invocation may take before it is killed and the
    /// call fails (an exec's counts from the call).
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub runtime_timeout: u64,
    /// Runtime processes run at once (teardown deletes overlap up to this).
    /// Hidden: 1 is the one-after-another baseline of the teardown bench.
    #[arg(long, value_name = "N", hide = true,
          default_value_t = crate::oci::limit::DEFAULT_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub runtime_concurrency: u16,
    /// State directory (default /run/podmon/NAME).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Directory of the containers' CRI log files (default STATE/logs).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The journal's native socket, where the journald log driver sends
    /// (by default journald's own, where `sd_journal_send` writes).
    #[arg(
        long,
        value_name = "PATH",
        env = "PODMON_JOURNAL_SOCKET",
        default_value = "/run/systemd/journal/socket"
    )]
    pub journal_socket: PathBuf,
    /// Directory where exit codes are written as files, one per container.
    #[arg(long, value_name = "DIR")]
    pub exit_dir: Option<PathBuf>,
    /// Directory where a file named after a container appears when the OOM
    /// killer ended it (as conmon's oom files).
    #[arg(long, value_name = "DIR")]
    pub oom_dir: Option<PathBuf>,
    /// On SIGTERM or SIGINT, stop and delete the pod's containers (SIGTERM,
    /// SIGKILL after 10 s) before exiting; without it they keep running.
    #[arg(long)]
    pub kill_on_exit: bool,
    /// Namespaces the pod's containers share, made and pinned by the
    /// monitor: net,ipc,uts[,pid][,user]; each also as KIND=host (the
    /// host's) or KIND=/path (an existing pinned one). Default: none shared.
    #[arg(long, value_name = "KINDS")]
    pub namespaces: Option<String>,
    /// Sysctl KEY=VALUE written in the pod's new namespaces (repeatable);
    /// only namespaced ones (net.*, kernel.shm*, kernel.msg*, kernel.sem,
    /// fs.mqueue.*, kernel.hostname/domainname) are accepted.
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Host name of the pod's new UTS namespace.
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// A uid mapping of the pod's user namespace, CONTAINER:HOST:SIZE
    /// (repeatable; one must map container uid 0).
    #[arg(long = "uid-map", value_name = "C:H:N")]
    pub uid_map: Vec<String>,
    /// A gid mapping of the pod's user namespace, as --uid-map.
    #[arg(long = "gid-map", value_name = "C:H:N")]
    pub gid_map: Vec<String>,
    /// Base directory of the namespace pins (BASE/netns/POD ...).
    #[arg(long, value_name = "DIR", default_value = "/run/podmon/ns")]
    pub ns_base: PathBuf,
    /// An existing network namespace (a pinned file such as
    /// /run/netns/NAME) the pod joins: the older spelling of
    /// --namespaces net=PATH (giving both is an error).
    #[arg(long, value_name = "PATH", hide = true)]
    pub netns: Option<PathBuf>,
    /// Who may connect besides root (repeatable; peers are checked by SO_PEERCRED).
    #[command(flatten)]
    pub access: AccessArgs,
}

/// The allow-lists of `podmon serve`: numeric ids, each flag repeatable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct AccessArgs {
    /// Uid that may call every method.
    #[arg(long = "allow-uid", value_name = "UID")]
    pub allow_uid: Vec<u32>,
    /// Gid whose members (primary or supplementary group) may call every method.
    #[arg(long = "allow-gid", value_name = "GID")]
    pub allow_gid: Vec<u32>,
    /// Uid that may only look: GetContainer, ListContainers, ReadLogs, Stats, GetPod, WatchEvents.
    #[arg(long = "read-only-uid", value_name = "UID")]
    pub read_only_uid: Vec<u32>,
    /// Gid whose members may only look, as --read-only-uid.
    #[arg(long = "read-only-gid", value_name = "GID")]
    pub read_only_gid: Vec<u32>,
}

impl ClientCommand {
    /// The container the command is about; `None` for `ps`.
    pub fn id(&self) -> Option<&str> {
        match self {
            ClientCommand::Create(args) => Some(&args.id),
            ClientCommand::Start { id }
            | ClientCommand::Kill { id, .. }
            | ClientCommand::Wait { id }
            | ClientCommand::Delete { id, .. }
            | ClientCommand::State { id }
            | ClientCommand::Attach { id, .. }
            | ClientCommand::ReopenLog { id }
            | ClientCommand::PurgeLog { id }
            | ClientCommand::Resize { id, .. } => Some(id),
            ClientCommand::Exec(args) => Some(&args.id),
            ClientCommand::Logs(args) => Some(&args.id),
            ClientCommand::SetLogLimit(args) => Some(&args.id),
            ClientCommand::Stats { id, .. } | ClientCommand::Events { id, .. } => id.as_deref(),
            ClientCommand::Ps
            | ClientCommand::Pod
            | ClientCommand::Shutdown { .. }
            | ClientCommand::PortForward(_)
            | ClientCommand::Upgrade { .. } => None,
        }
    }
}

impl ServeArgs {
    /// Where `serve` listens: the global `--socket`, else
    /// `/run/podmon/<pod>.sock`.
    pub fn socket_path(&self, global: Option<&Path>) -> PathBuf {
        global
            .map(Path::to_owned)
            .unwrap_or_else(|| Path::new(RUN_DIR).join(format!("{}.sock", self.pod)))
    }

    /// The state directory: `--state-dir`, else `/run/podmon/<pod>`.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| Path::new(RUN_DIR).join(&self.pod))
    }

    /// The log directory: `--log-dir`, else `<state dir>/logs`.
    pub fn log_dir(&self) -> PathBuf {
        self.log_dir
            .clone()
            .unwrap_or_else(|| self.state_dir().join("logs"))
    }
}

/// clap adapter for [`size::parse_size`].
fn parse_size_arg(text: &str) -> Result<u64, size::SizeError> {
    size::parse_size(text)
}

/// Accepts `UID` or `UID:GID`, both numeric: the monitor passes them to
/// the runtime as ids, and a name would fail only later and less clearly.
fn parse_user(text: &str) -> Result<String, String> {
    proto::parse_user(text)
        .map(|_| text.to_owned())
        .map_err(|_| format!("expected UID or UID:GID (numbers), got {text:?}"))
}

/// Accepts a positive, finite number of seconds such as `5` or `0.5`.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(d)) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "expected a positive number of seconds, got {text:?}"
        )),
    }
}

/// Checks `--since` while parsing, so a typo is a usage error before
/// anything connects; the text is kept, and a relative time is turned into
/// a time only when the request is built.
fn parse_since(text: &str) -> Result<String, String> {
    logs::since_time(text, std::time::SystemTime::now())
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Accepts `KEY=VALUE` with a non-empty key; the value may be empty.
fn parse_env(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(text.to_owned()),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
