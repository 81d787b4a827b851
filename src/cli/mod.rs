//! Command line of the `podmon` binary: `podmon serve` for the monitor, and
//! thin client subcommands that call its Varlink API.

pub mod client;
pub mod errors;
pub mod events;
pub mod interactive;
pub mod logs;
pub mod output;
pub mod size;
pub mod stats;
pub mod term;
pub mod upgrade;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use client::run_client;

/// Where pods' sockets and state live unless told otherwise.
pub const RUN_DIR: &str = "/run/podmon";

/// Top-level arguments.
#[derive(Debug, Parser)]
#[command(name = "podmon", version, about = "Pod-level container monitor")]
pub struct Cli {
    /// Varlink socket of the pod's monitor (serve: where to listen; default
    /// /run/podmon/POD.sock).
    #[arg(long, env = "PODMON_SOCKET", global = true)]
    pub socket: Option<PathBuf>,
    /// Print replies as JSON instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The monitor itself or one of the client subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the monitor of one pod, serving its Varlink API.
    Serve(ServeArgs),
    /// Client subcommands, flattened so they appear as `podmon create` etc.
    #[command(flatten)]
    Client(ClientCommand),
}

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
    /// Set the window size of a terminal container's pty.
    Resize {
        /// Container id.
        id: String,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
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
    /// Log driver: cri (default) or none.
    #[arg(long, value_name = "DRIVER", value_parser = ["cri", "none"])]
    pub log_driver: Option<String>,
    /// Longest log record, e.g. 16K; longer lines are split.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub log_max_line: Option<u64>,
    /// Rotate the log file at this size, e.g. 10M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub log_max_size: Option<u64>,
    /// Rotated log files to keep.
    #[arg(long, value_name = "N")]
    pub log_max_files: Option<u64>,
    /// Log rate limit in bytes per second, e.g. 1M (needs --log-burst).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, requires = "log_burst")]
    pub log_rate: Option<u64>,
    /// Bytes the log rate limit lets pass at once, e.g. 4M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, requires = "log_rate")]
    pub log_burst: Option<u64>,
    /// What happens beyond the rate limit: block (default) or drop.
    #[arg(long, value_name = "POLICY", value_parser = ["block", "drop"], requires = "log_rate")]
    pub log_policy: Option<String>,
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
    /// State directory (default /run/podmon/NAME).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Directory of the containers' CRI log files (default STATE/logs).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Directory where exit codes are written as files, one per container.
    #[arg(long, value_name = "DIR")]
    pub exit_dir: Option<PathBuf>,
    /// Directory where a file named after a container appears when the OOM
    /// killer ended it (as conmon's oom files).
    #[arg(long, value_name = "DIR")]
    pub oom_dir: Option<PathBuf>,
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
            | ClientCommand::Resize { id, .. } => Some(id),
            ClientCommand::Exec(args) => Some(&args.id),
            ClientCommand::Logs(args) => Some(&args.id),
            ClientCommand::SetLogLimit(args) => Some(&args.id),
            ClientCommand::Stats { id, .. } | ClientCommand::Events { id } => id.as_deref(),
            ClientCommand::Ps | ClientCommand::Pod => None,
        }
    }
}

impl Cli {
    /// The socket a client subcommand connects to; there is no default,
    /// because guessing the wrong pod's monitor would be worse than asking.
    pub fn client_socket(&self) -> anyhow::Result<&Path> {
        self.socket.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "no socket given: use --socket PATH or set PODMON_SOCKET (e.g. {RUN_DIR}/POD.sock)"
            )
        })
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
    let numeric = |s: &str| !s.is_empty() && s.parse::<u32>().is_ok();
    let ok = match text.split_once(':') {
        Some((uid, gid)) => numeric(uid) && numeric(gid),
        None => numeric(text),
    };
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("expected UID or UID:GID (numbers), got {text:?}"))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("podmon").chain(args.iter().copied()))
    }

    fn client(args: &[&str]) -> ClientCommand {
        match parse(args).unwrap().command {
            Command::Client(c) => c,
            Command::Serve(_) => panic!("serve"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kill_signal_is_optional() {
        assert_eq!(
            client(&["kill", "web"]),
            ClientCommand::Kill {
                id: "web".into(),
                signal: None,
                all: false
            }
        );
        assert_eq!(
            client(&["kill", "web", "KILL", "--all"]),
            ClientCommand::Kill {
                id: "web".into(),
                signal: Some("KILL".into()),
                all: true
            }
        );
        assert_eq!(
            client(&["kill", "--all", "web", "9"]),
            ClientCommand::Kill {
                id: "web".into(),
                signal: Some("9".into()),
                all: true
            }
        );
    }

    #[test]
    fn create_with_rootfs_and_command_after_dashes() {
        let ClientCommand::Create(args) = client(&[
            "create",
            "web",
            "--rootfs",
            "/tmp/root",
            "--env",
            "A=1",
            "-e",
            "B=",
            "--memory-max",
            "64M",
            "--pids-max",
            "10",
            "--cwd",
            "/srv",
            "--hostname",
            "h",
            "--",
            "sh",
            "-c",
            "echo --not-an-option",
        ]) else {
            panic!("not create")
        };
        assert_eq!(args.id, "web");
        assert_eq!(args.rootfs, Some(PathBuf::from("/tmp/root")));
        assert_eq!(args.bundle, None);
        assert_eq!(args.env, vec!["A=1".to_owned(), "B=".to_owned()]);
        assert_eq!(args.memory_max, Some(64 << 20));
        assert_eq!(args.pids_max, Some(10));
        assert_eq!(args.cwd.as_deref(), Some("/srv"));
        assert_eq!(args.hostname.as_deref(), Some("h"));
        assert_eq!(args.command, vec!["sh", "-c", "echo --not-an-option"]);
    }

    #[test]
    fn create_log_and_terminal_options() {
        let ClientCommand::Create(args) = client(&[
            "create",
            "web",
            "--bundle",
            "b",
            "-i",
            "--stdin-once",
            "--log-driver",
            "none",
            "--log-max-line",
            "16K",
            "--log-max-size",
            "10M",
            "--log-max-files",
            "3",
            "--log-rate",
            "1M",
            "--log-burst",
            "4M",
            "--log-policy",
            "drop",
        ]) else {
            panic!("not create")
        };
        assert!(args.stdin && args.stdin_once && !args.terminal);
        assert_eq!(args.log_driver.as_deref(), Some("none"));
        assert_eq!(args.log_max_line, Some(16 << 10));
        assert_eq!(args.log_max_size, Some(10 << 20));
        assert_eq!(args.log_max_files, Some(3));
        assert_eq!(args.log_rate, Some(1 << 20));
        assert_eq!(args.log_burst, Some(4 << 20));
        assert_eq!(args.log_policy.as_deref(), Some("drop"));
        let ClientCommand::Create(args) =
            client(&["create", "web", "--rootfs", "r", "-t", "--", "sh"])
        else {
            panic!("not create")
        };
        assert!(args.terminal);
    }

    #[test]
    fn create_with_bundle() {
        let ClientCommand::Create(args) = client(&["create", "web", "--bundle", "b"]) else {
            panic!("not create")
        };
        assert_eq!(args.bundle, Some(PathBuf::from("b")));
        assert!(args.command.is_empty());
    }

    #[test]
    fn create_argument_errors_are_usage_errors() {
        for args in [
            &["create", "web"][..],
            &[
                "create", "web", "--bundle", "b", "--rootfs", "r", "--", "sh",
            ],
            &["create", "web", "--rootfs", "r"],
            &["create", "web", "--bundle", "b", "--env", "A=1"],
            &["create", "web", "--bundle", "b", "--", "sh"],
            &[
                "create", "web", "--rootfs", "r", "--env", "NOVALUE", "--", "sh",
            ],
            &["create", "web", "--rootfs", "r", "--env", "=x", "--", "sh"],
            &[
                "create",
                "web",
                "--rootfs",
                "r",
                "--memory-max",
                "64X",
                "--",
                "sh",
            ],
            &[
                "create",
                "web",
                "--rootfs",
                "r",
                "--pids-max",
                "-1",
                "--",
                "sh",
            ],
            &["create", "web", "--bundle", "b", "--terminal"],
            &["create", "web", "--bundle", "b", "--stdin-once"],
            &["create", "web", "--bundle", "b", "--log-driver", "syslog"],
            &["create", "web", "--bundle", "b", "--log-rate", "1M"],
            &["create", "web", "--bundle", "b", "--log-burst", "1M"],
            &["create", "web", "--bundle", "b", "--log-policy", "drop"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        let err = parse(&[
            "create",
            "web",
            "--rootfs",
            "r",
            "--memory-max",
            "lots",
            "--",
            "sh",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("invalid size"), "{err}");
    }

    #[test]
    fn other_client_commands() {
        assert_eq!(
            client(&["start", "a"]),
            ClientCommand::Start { id: "a".into() }
        );
        assert_eq!(
            client(&["wait", "a"]),
            ClientCommand::Wait { id: "a".into() }
        );
        assert_eq!(
            client(&["state", "a"]),
            ClientCommand::State { id: "a".into() }
        );
        assert_eq!(client(&["ps"]), ClientCommand::Ps);
        assert_eq!(
            client(&["delete", "--force", "a"]),
            ClientCommand::Delete {
                id: "a".into(),
                force: true
            }
        );
        assert!(parse(&["start"]).is_err());
        assert_eq!(client(&["kill", "k"]).id(), Some("k"));
        assert_eq!(client(&["ps"]).id(), None);
    }

    #[test]
    fn exec_arguments() {
        let ClientCommand::Exec(args) = client(&[
            "exec", "-i", "-t", "-e", "A=1", "--env", "B=", "-w", "/srv", "-u", "1000:100", "web",
            "--", "sh", "-c", "echo --x",
        ]) else {
            panic!("not exec")
        };
        assert!(args.interactive && args.tty && !args.sync);
        assert_eq!(args.id, "web");
        assert_eq!(args.env, vec!["A=1", "B="]);
        assert_eq!(args.cwd.as_deref(), Some("/srv"));
        assert_eq!(args.user.as_deref(), Some("1000:100"));
        assert_eq!(args.command, vec!["sh", "-c", "echo --x"]);
        let ClientCommand::Exec(args) = client(&["exec", "--timeout", "2.5", "web", "--", "true"])
        else {
            panic!("not exec")
        };
        assert_eq!(args.timeout, Some(Duration::from_millis(2500)));
        assert!(args.uses_sync(false));
        let ClientCommand::Exec(args) = client(&["exec", "-it", "web", "--", "sh"]) else {
            panic!("not exec")
        };
        assert!(args.interactive && args.tty);
        for bad in [
            &["exec", "web"][..],
            &["exec", "web", "--"],
            &["exec", "-u", "root", "web", "--", "id"],
            &["exec", "-u", "1:", "web", "--", "id"],
            &["exec", "--timeout", "0", "web", "--", "id"],
            &["exec", "--timeout", "soon", "web", "--", "id"],
            &["exec", "-i", "--timeout", "5", "web", "--", "id"],
            &["exec", "-t", "--sync", "web", "--", "id"],
            &["exec", "-e", "NOVALUE", "web", "--", "id"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn streaming_subcommands() {
        assert_eq!(
            client(&["attach", "--no-stdin", "web"]),
            ClientCommand::Attach {
                id: "web".into(),
                no_stdin: true
            }
        );
        assert_eq!(
            client(&[
                "logs",
                "-f",
                "--tail",
                "10",
                "--since",
                "5m",
                "--timestamps",
                "web"
            ]),
            ClientCommand::Logs(LogsArgs {
                id: "web".into(),
                follow: true,
                tail: Some(10),
                since: Some("5m".into()),
                timestamps: true
            })
        );
        assert!(parse(&["logs", "--since", "2024-05-01T10:00:00Z", "web"]).is_ok());
        assert_eq!(
            parse(&["logs", "--since", "5 minutes", "web"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            parse(&["logs", "--tail", "-1", "web"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            client(&["stats"]),
            ClientCommand::Stats {
                id: None,
                watch: false
            }
        );
        assert_eq!(
            client(&["stats", "--watch", "web"]),
            ClientCommand::Stats {
                id: Some("web".into()),
                watch: true
            }
        );
        assert_eq!(client(&["events"]), ClientCommand::Events { id: None });
        assert_eq!(client(&["events", "web"]).id(), Some("web"));
        assert_eq!(client(&["pod"]), ClientCommand::Pod);
        assert_eq!(client(&["pod"]).id(), None);
    }

    #[test]
    fn small_subcommands() {
        assert_eq!(
            client(&[
                "set-log-limit",
                "web",
                "--rate",
                "1M",
                "--burst",
                "4M",
                "--policy",
                "drop"
            ]),
            ClientCommand::SetLogLimit(LogLimitArgs {
                id: "web".into(),
                rate: Some(1 << 20),
                burst: Some(4 << 20),
                policy: Some("drop".into()),
                off: false
            })
        );
        assert_eq!(
            client(&["set-log-limit", "web", "--off"]),
            ClientCommand::SetLogLimit(LogLimitArgs {
                id: "web".into(),
                off: true,
                ..LogLimitArgs::default()
            })
        );
        for bad in [
            &["set-log-limit", "web"][..],
            &["set-log-limit", "web", "--off", "--rate", "1M"],
            &["set-log-limit", "web", "--burst", "1M"],
            &["set-log-limit", "web", "--rate", "1Q"],
            &["set-log-limit", "web", "--rate", "1M", "--policy", "queue"],
            &["resize", "web", "80"],
            &["resize", "web", "80", "70000"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
        assert_eq!(
            client(&["reopen-log", "web"]),
            ClientCommand::ReopenLog { id: "web".into() }
        );
        assert_eq!(
            client(&["resize", "web", "120", "40"]),
            ClientCommand::Resize {
                id: "web".into(),
                cols: 120,
                rows: 40
            }
        );
    }

    #[test]
    fn global_options_anywhere() {
        let cli = parse(&["ps", "--json", "--socket", "/tmp/p.sock"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.client_socket().unwrap(), Path::new("/tmp/p.sock"));
        let cli = parse(&["--socket", "/tmp/q.sock", "state", "x"]).unwrap();
        assert!(!cli.json);
        assert_eq!(cli.socket.as_deref(), Some(Path::new("/tmp/q.sock")));
    }

    #[test]
    fn client_without_socket_is_a_clear_error() {
        let cli = Cli {
            socket: None,
            json: false,
            command: Command::Client(ClientCommand::Ps),
        };
        let err = cli.client_socket().unwrap_err().to_string();
        assert!(
            err.contains("--socket") && err.contains("PODMON_SOCKET"),
            "{err}"
        );
    }

    #[test]
    fn serve_defaults() {
        let cli = parse(&["serve", "--pod", "p1"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.pod, "p1");
        assert_eq!(
            args.socket_path(cli.socket.as_deref()),
            PathBuf::from("/run/podmon/p1.sock")
        );
        assert_eq!(args.state_dir(), PathBuf::from("/run/podmon/p1"));
        assert_eq!(args.log_dir(), PathBuf::from("/run/podmon/p1/logs"));
        assert_eq!(args.exit_dir, None);
        assert!(parse(&["serve"]).is_err(), "--pod is required");
    }

    #[test]
    fn serve_explicit_paths() {
        let cli = parse(&[
            "serve",
            "--pod",
            "p1",
            "--socket",
            "/s.sock",
            "--runtime",
            "/usr/bin/crun",
            "--state-dir",
            "/st",
            "--exit-dir",
            "/ex",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(
            args.socket_path(cli.socket.as_deref()),
            PathBuf::from("/s.sock")
        );
        assert_eq!(args.runtime, Some(PathBuf::from("/usr/bin/crun")));
        assert_eq!(args.log_dir(), PathBuf::from("/st/logs"));
        assert_eq!(args.exit_dir, Some(PathBuf::from("/ex")));
    }
}
