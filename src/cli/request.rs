//! The one-shot subcommands as io.podmon.Pod requests: what `run_client`
//! sends for `create`, `start`, `kill` ... (the streaming subcommands build
//! theirs in their own files).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde::de::DeserializeOwned;

use super::{ClientCommand, CreateArgs, ExecArgs, LogLimitArgs, LogsArgs};
use crate::proto;

/// A one-shot call, typed by its method.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `create`
    Create(Box<proto::CreateContainer>),
    /// `start`
    Start(proto::StartContainer),
    /// `kill`
    Kill(proto::KillContainer),
    /// `wait`
    Wait(proto::WaitContainer),
    /// `delete`
    Delete(proto::DeleteContainer),
    /// `state`
    State(proto::GetContainer),
    /// `ps`
    Ps(proto::ListContainers),
    /// `pod`
    Pod(proto::GetPod),
    /// `set-log-limit`
    SetLogLimit(proto::SetLogRateLimit),
    /// `reopen-log`
    ReopenLog(proto::ReopenLog),
    /// `purge-log`
    PurgeLog(proto::PurgeLog),
    /// `resize`
    Resize(proto::Resize),
    /// `shutdown`
    Shutdown(proto::Shutdown),
}

impl Request {
    /// The fully qualified method it calls.
    #[cfg(test)]
    pub fn method(&self) -> &'static str {
        use crate::proto::Method;
        match self {
            Request::Create(_) => proto::CreateContainer::METHOD,
            Request::Start(_) => proto::StartContainer::METHOD,
            Request::Kill(_) => proto::KillContainer::METHOD,
            Request::Wait(_) => proto::WaitContainer::METHOD,
            Request::Delete(_) => proto::DeleteContainer::METHOD,
            Request::State(_) => proto::GetContainer::METHOD,
            Request::Ps(_) => proto::ListContainers::METHOD,
            Request::Pod(_) => proto::GetPod::METHOD,
            Request::SetLogLimit(_) => proto::SetLogRateLimit::METHOD,
            Request::ReopenLog(_) => proto::ReopenLog::METHOD,
            Request::PurgeLog(_) => proto::PurgeLog::METHOD,
            Request::Resize(_) => proto::Resize::METHOD,
            Request::Shutdown(_) => proto::Shutdown::METHOD,
        }
    }
}

/// How a subcommand talks to the monitor: one call, or a streaming
/// subcommand that drives its connection itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<'a> {
    /// A one-shot call.
    Call(Request),
    /// `exec`
    Exec(&'a ExecArgs),
    /// `attach`
    Attach {
        /// Container id.
        id: &'a str,
        /// Ask for the container's stdin.
        stdin: bool,
    },
    /// `logs`
    Logs(&'a LogsArgs),
    /// `stats`
    Stats {
        /// One container, or every one.
        id: Option<&'a str>,
        /// Refresh until interrupted.
        watch: bool,
    },
    /// `upgrade`
    Upgrade {
        /// How long to wait for the new image.
        timeout: std::time::Duration,
    },
    /// `port-forward`
    PortForward(&'a super::args::PortForwardArgs),
    /// `events`
    Events {
        /// One container's events, or every one's.
        id: Option<&'a str>,
        /// Replay the kept events after this seq first.
        since: Option<u64>,
    },
}

/// What a subcommand does: the request of a one-shot subcommand, or which
/// streaming subcommand it is. Relative bundle and rootfs paths are made
/// absolute because the monitor runs in another directory.
pub fn plan(cmd: &ClientCommand) -> anyhow::Result<Plan<'_>> {
    let id = || cmd.id().unwrap_or_default().to_owned();
    Ok(Plan::Call(match cmd {
        ClientCommand::Create(args) => Request::Create(Box::new(create(args)?)),
        ClientCommand::Start { .. } => Request::Start(proto::StartContainer { id: id() }),
        ClientCommand::Kill { signal, all, .. } => Request::Kill(proto::KillContainer {
            id: id(),
            signal: signal.clone(),
            all: all.then_some(true),
        }),
        ClientCommand::Wait { .. } => Request::Wait(proto::WaitContainer { id: id() }),
        ClientCommand::Delete { force, .. } => Request::Delete(proto::DeleteContainer {
            id: id(),
            force: force.then_some(true),
        }),
        ClientCommand::State { .. } => Request::State(proto::GetContainer { id: id() }),
        ClientCommand::Ps => Request::Ps(proto::ListContainers {}),
        ClientCommand::Pod => Request::Pod(proto::GetPod {}),
        ClientCommand::SetLogLimit(args) => Request::SetLogLimit(log_limit(args)?),
        ClientCommand::ReopenLog { .. } => Request::ReopenLog(proto::ReopenLog { id: id() }),
        ClientCommand::PurgeLog { .. } => Request::PurgeLog(proto::PurgeLog { id: id() }),
        ClientCommand::Resize { cols, rows, .. } => Request::Resize(proto::Resize {
            id: id(),
            exec_id: None,
            width: *cols,
            height: *rows,
        }),
        ClientCommand::Shutdown { kill, timeout } => Request::Shutdown(proto::Shutdown {
            kill_containers: kill.then_some(true),
            timeout: timeout.map(|t| fit(t, "timeout")).transpose()?,
        }),
        ClientCommand::Upgrade { timeout } => {
            return Ok(Plan::Upgrade {
                timeout: std::time::Duration::from_secs(*timeout),
            });
        }
        ClientCommand::Exec(args) => return Ok(Plan::Exec(args)),
        ClientCommand::PortForward(args) => return Ok(Plan::PortForward(args)),
        ClientCommand::Attach { id, no_stdin } => {
            return Ok(Plan::Attach {
                id,
                stdin: !no_stdin,
            });
        }
        ClientCommand::Logs(args) => return Ok(Plan::Logs(args)),
        ClientCommand::Stats { id, watch } => {
            return Ok(Plan::Stats {
                id: id.as_deref(),
                watch: *watch,
            });
        }
        ClientCommand::Events { id, since } => {
            return Ok(Plan::Events {
                id: id.as_deref(),
                since: *since,
            });
        }
    }))
}

/// A value of one of the IDL's enums from the name clap already checked.
fn wire_enum<T: DeserializeOwned>(name: &str, option: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::from(name))
        .map_err(|_| anyhow!("invalid {option} {name:?}"))
}

/// A number in the parameter's wire type; one that does not fit is what
/// the monitor would refuse, said the same way.
fn fit<T: TryFrom<u64>>(n: u64, parameter: &str) -> anyhow::Result<T> {
    T::try_from(n).map_err(|_| {
        super::Failure::new(
            crate::varlink::message::INVALID_PARAMETER,
            serde_json::json!({ "parameter": parameter }),
            format!("invalid parameter: {parameter}"),
        )
        .into()
    })
}

/// A rate limit from `--rate`/`--burst`/`--policy`.
fn limit(rate: u64, burst: u64, policy: Option<&str>) -> anyhow::Result<proto::LogRateLimit> {
    Ok(proto::LogRateLimit {
        bytes_per_second: rate,
        burst,
        policy: policy.map(|p| wire_enum(p, "policy")).transpose()?,
    })
}

fn log_limit(args: &LogLimitArgs) -> anyhow::Result<proto::SetLogRateLimit> {
    let limit = match (args.off, args.rate) {
        // One second's worth unless told otherwise.
        (false, Some(rate)) => Some(limit(
            rate,
            args.burst.unwrap_or(rate),
            args.policy.as_deref(),
        )?),
        _ => None,
    };
    Ok(proto::SetLogRateLimit {
        id: args.id.clone(),
        limit,
    })
}

fn create(args: &CreateArgs) -> anyhow::Result<proto::CreateContainer> {
    let path = |p: &Option<PathBuf>, option| p.as_deref().map(|p| absolute_str(p, option));
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let rate_limit = match (args.log_rate, args.log_burst) {
        (Some(rate), Some(burst)) => Some(limit(rate, burst, args.log_policy.as_deref())?),
        _ => None,
    };
    Ok(proto::CreateContainer {
        id: args.id.clone(),
        bundle: path(&args.bundle, "--bundle").transpose()?,
        rootfs: path(&args.rootfs, "--rootfs").transpose()?,
        command: list(&args.command),
        env: list(&args.env),
        cwd: args.cwd.clone(),
        hostname: args.hostname.clone(),
        memory_max: args.memory_max.map(|n| fit(n, "memoryMax")).transpose()?,
        pids_max: args.pids_max.map(|n| fit(n, "pidsMax")).transpose()?,
        // One driver as logDriver, which every server knows; several as
        // logDrivers.
        log_driver: match args.log_driver.as_slice() {
            [one] => Some(wire_enum(one, "--log-driver")?),
            _ => None,
        },
        log_drivers: match args.log_driver.as_slice() {
            [] | [_] => None,
            many => Some(
                many.iter()
                    .map(|d| wire_enum(d, "--log-driver"))
                    .collect::<anyhow::Result<_>>()?,
            ),
        },
        log_tag: args.log_tag.clone(),
        log_rate_limit: rate_limit,
        log_max_line: args.log_max_line,
        log_max_size: args.log_max_size,
        log_max_files: args
            .log_max_files
            .map(|n| fit(n, "logMaxFiles"))
            .transpose()?,
        log_sync: args
            .log_sync
            .as_deref()
            .map(|d| wire_enum(d, "--log-sync"))
            .transpose()?,
        stdin: args.stdin.then_some(true),
        stdin_once: args.stdin_once.then_some(true),
        terminal: args.terminal.then_some(true),
        // Set by run_client from our window's size.
        width: None,
        height: None,
        own_namespaces: list(&args.own_ns),
        join_pod: args.join_pod.then_some(true),
        preserve_fds: None,
        hold_fds: None,
    })
}

/// The path made absolute against the current directory, as UTF-8 (JSON
/// strings cannot carry other bytes).
fn absolute_str(path: &Path, option: &str) -> anyhow::Result<String> {
    let absolute: PathBuf = std::path::absolute(path)
        .with_context(|| format!("cannot resolve {option} {}", path.display()))?;
    absolute.into_os_string().into_string().map_err(|raw| {
        anyhow!(
            "{option} path is not valid UTF-8: {}",
            Path::new(&raw).display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::call::wire;
    use serde_json::{Value, json};

    /// The method and parameters a subcommand sends.
    fn sent(cmd: &ClientCommand) -> (&'static str, Value) {
        let Plan::Call(req) = plan(cmd).unwrap() else {
            panic!("not a one-shot call")
        };
        match req {
            Request::Create(r) => wire(&*r),
            Request::Start(r) => wire(&r),
            Request::Kill(r) => wire(&r),
            Request::Wait(r) => wire(&r),
            Request::Delete(r) => wire(&r),
            Request::State(r) => wire(&r),
            Request::Ps(r) => wire(&r),
            Request::Pod(r) => wire(&r),
            Request::SetLogLimit(r) => wire(&r),
            Request::ReopenLog(r) => wire(&r),
            Request::PurgeLog(r) => wire(&r),
            Request::Resize(r) => wire(&r),
            Request::Shutdown(r) => wire(&r),
        }
    }

    fn create(args: CreateArgs) -> (&'static str, Value) {
        sent(&ClientCommand::Create(Box::new(args)))
    }

    #[test]
    fn create_request_omits_unset_options() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            ..CreateArgs::default()
        };
        let (method, params) = create(args);
        assert_eq!(method, "io.podmon.Pod.CreateContainer");
        assert_eq!(params, json!({"id": "web", "bundle": "/b"}));
    }

    #[test]
    fn create_request_with_rootfs() {
        let args = CreateArgs {
            id: "web".into(),
            rootfs: Some("/r".into()),
            env: vec!["A=1".into()],
            cwd: Some("/srv".into()),
            hostname: Some("h".into()),
            memory_max: Some(64 << 20),
            pids_max: Some(10),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            ..CreateArgs::default()
        };
        let (_, params) = create(args);
        assert_eq!(
            params,
            json!({
                "id": "web", "rootfs": "/r", "env": ["A=1"], "cwd": "/srv", "hostname": "h",
                "memoryMax": 67108864, "pidsMax": 10, "command": ["sh", "-c", "true"]
            })
        );
    }

    #[test]
    fn create_request_with_log_options() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            stdin: true,
            stdin_once: true,
            log_driver: vec!["cri".into()],
            log_max_line: Some(100),
            log_max_size: Some(200),
            log_max_files: Some(3),
            log_rate: Some(10),
            log_burst: Some(20),
            log_policy: Some("drop".into()),
            ..CreateArgs::default()
        };
        let (_, params) = create(args);
        assert_eq!(
            params,
            json!({
                "id": "web", "bundle": "/b", "stdin": true, "stdinOnce": true, "logDriver": "cri",
                "logMaxLine": 100, "logMaxSize": 200, "logMaxFiles": 3,
                "logRateLimit": {"bytesPerSecond": 10, "burst": 20, "policy": "drop"}
            })
        );
    }

    #[test]
    fn several_log_drivers_go_as_log_drivers_one_as_log_driver() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            log_driver: vec!["cri".into(), "journald".into()],
            log_tag: Some("t".into()),
            ..CreateArgs::default()
        };
        let (_, params) = create(args);
        assert_eq!(
            params,
            json!({"id": "web", "bundle": "/b", "logDrivers": ["cri", "journald"], "logTag": "t"})
        );
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("/b".into()),
            log_driver: vec!["journald".into()],
            ..CreateArgs::default()
        };
        let (_, params) = create(args);
        assert_eq!(
            params,
            json!({"id": "web", "bundle": "/b", "logDriver": "journald"})
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let args = CreateArgs {
            id: "web".into(),
            bundle: Some("bundles/web".into()),
            ..CreateArgs::default()
        };
        let (_, params) = create(args);
        let bundle = params["bundle"].as_str().unwrap();
        assert!(
            bundle.starts_with('/') && bundle.ends_with("bundles/web"),
            "{bundle}"
        );
    }

    #[test]
    fn other_requests() {
        let kill = |signal: Option<&str>, all| ClientCommand::Kill {
            id: "a".into(),
            signal: signal.map(str::to_owned),
            all,
        };
        assert_eq!(
            sent(&kill(None, false)),
            ("io.podmon.Pod.KillContainer", json!({"id": "a"}))
        );
        assert_eq!(
            sent(&kill(Some("KILL"), true)),
            (
                "io.podmon.Pod.KillContainer",
                json!({"id": "a", "signal": "KILL", "all": true})
            )
        );
        assert_eq!(
            sent(&ClientCommand::Delete {
                id: "a".into(),
                force: true
            }),
            (
                "io.podmon.Pod.DeleteContainer",
                json!({"id": "a", "force": true})
            )
        );
        let method = |cmd| sent(&cmd).0;
        assert_eq!(
            method(ClientCommand::Start { id: "a".into() }),
            "io.podmon.Pod.StartContainer"
        );
        assert_eq!(
            method(ClientCommand::Wait { id: "a".into() }),
            "io.podmon.Pod.WaitContainer"
        );
        assert_eq!(
            method(ClientCommand::State { id: "a".into() }),
            "io.podmon.Pod.GetContainer"
        );
        assert_eq!(
            sent(&ClientCommand::Ps),
            ("io.podmon.Pod.ListContainers", json!({}))
        );
    }

    #[test]
    fn new_requests() {
        let limit = |args: LogLimitArgs| sent(&ClientCommand::SetLogLimit(args));
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                rate: Some(100),
                ..LogLimitArgs::default()
            }),
            (
                "io.podmon.Pod.SetLogRateLimit",
                json!({"id": "a", "limit": {"bytesPerSecond": 100, "burst": 100}})
            )
        );
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                rate: Some(100),
                burst: Some(400),
                policy: Some("drop".into()),
                off: false,
            })
            .1,
            json!({"id": "a", "limit": {"bytesPerSecond": 100, "burst": 400, "policy": "drop"}})
        );
        assert_eq!(
            limit(LogLimitArgs {
                id: "a".into(),
                off: true,
                ..LogLimitArgs::default()
            })
            .1,
            json!({"id": "a"})
        );
        assert_eq!(
            sent(&ClientCommand::Resize {
                id: "a".into(),
                cols: 80,
                rows: 24
            }),
            (
                "io.podmon.Pod.Resize",
                json!({"id": "a", "width": 80, "height": 24})
            )
        );
        assert_eq!(
            sent(&ClientCommand::ReopenLog { id: "a".into() }),
            ("io.podmon.Pod.ReopenLog", json!({"id": "a"}))
        );
        assert_eq!(
            sent(&ClientCommand::PurgeLog { id: "a".into() }),
            ("io.podmon.Pod.PurgeLog", json!({"id": "a"}))
        );
        assert_eq!(
            sent(&ClientCommand::Pod),
            ("io.podmon.Pod.GetPod", json!({}))
        );
        assert_eq!(
            sent(&ClientCommand::Shutdown {
                kill: false,
                timeout: None
            }),
            ("io.podmon.Pod.Shutdown", json!({}))
        );
        assert_eq!(
            sent(&ClientCommand::Shutdown {
                kill: true,
                timeout: Some(2)
            }),
            (
                "io.podmon.Pod.Shutdown",
                json!({"killContainers": true, "timeout": 2})
            )
        );
        assert_eq!(
            wire(&crate::cli::interactive::attach_request("a", true)),
            ("io.podmon.Pod.Attach", json!({"id": "a", "stdin": true}))
        );
    }

    #[test]
    fn streaming_subcommands_build_their_own_requests() {
        assert_eq!(
            plan(&ClientCommand::Events {
                id: None,
                since: Some(3)
            })
            .unwrap(),
            Plan::Events {
                id: None,
                since: Some(3)
            }
        );
    }
}
