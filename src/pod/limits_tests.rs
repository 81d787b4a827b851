//! Every range of `limits.rs` at both ends, through the checks the pod
//! runs (`check_values` for CreateContainer, `check_exec` for execs).

use std::path::PathBuf;

use super::*;
use crate::logs::driver::Rotation;
use crate::logs::ratelimit::Policy;
use crate::pod::exec::ExecSpec;
use crate::pod::request::{CreateRequest, LogOptions, Source, check_values};

/// The field an error names, or None when the value passed.
fn field<T>(r: Result<T, PodError>) -> Option<Field> {
    match r {
        Ok(_) => None,
        Err(PodError::InvalidValue { field, reason }) => {
            assert!(!reason.is_empty(), "{field:?} without a reason");
            Some(field)
        }
        Err(e) => panic!("not InvalidValue: {e}"),
    }
}

fn rootfs_request() -> CreateRequest {
    CreateRequest {
        id: "c1".into(),
        source: Source::Rootfs {
            rootfs: PathBuf::from("/rootfs"),
            command: vec!["true".into()],
            env: vec![],
            cwd: "/".into(),
            hostname: "c1".into(),
            memory_max: None,
            pids_max: None,
        },
        log: LogOptions::default(),
        stdin: false,
        stdin_once: false,
        terminal: false,
        console_size: None,
        own_namespaces: vec![],
        join_pod: false,
    }
}

/// `check_values` of the default request changed by `f`.
fn create(f: impl FnOnce(&mut CreateRequest)) -> Option<Field> {
    let mut r = rootfs_request();
    f(&mut r);
    field(check_values(&r))
}

macro_rules! set_rootfs {
    ($r:expr, $name:ident = $v:expr) => {
        if let Source::Rootfs { $name, .. } = &mut $r.source {
            *$name = $v;
        }
    };
}

#[test]
fn the_default_request_passes() {
    assert_eq!(create(|_| {}), None);
}

#[test]
fn log_max_files_is_bounded() {
    let files = |n: u32| {
        create(|r| {
            r.log.rotation = Rotation {
                max_size: Some(1 << 20),
                max_files: n,
            }
        })
    };
    assert_eq!(files(0), None);
    assert_eq!(files(LOG_MAX_FILES), None);
    assert_eq!(files(LOG_MAX_FILES + 1), Some(Field::LogMaxFiles));
    assert_eq!(files(u32::MAX), Some(Field::LogMaxFiles));
}

#[test]
fn log_max_size_is_bounded() {
    let size = |n: u64| create(|r| r.log.rotation.max_size = Some(n));
    assert_eq!(size(LOG_MAX_SIZE_MIN), None);
    assert_eq!(size(LOG_MAX_SIZE_MAX), None);
    for bad in [0, 1, LOG_MAX_SIZE_MIN - 1, LOG_MAX_SIZE_MAX + 1, u64::MAX] {
        assert_eq!(size(bad), Some(Field::LogMaxSize), "{bad}");
    }
}

#[test]
fn log_max_line_is_bounded() {
    let line = |n: usize| create(|r| r.log.max_line = Some(n));
    assert_eq!(line(LOG_MAX_LINE_MIN as usize), None);
    assert_eq!(line(16 * 1024), None);
    assert_eq!(line(LOG_MAX_LINE_MAX as usize), None);
    for bad in [
        0,
        LOG_MAX_LINE_MIN as usize - 1,
        LOG_MAX_LINE_MAX as usize + 1,
    ] {
        assert_eq!(line(bad), Some(Field::LogMaxLine), "{bad}");
    }
}

#[test]
fn rate_limits_are_bounded() {
    let lim = |rate, burst| {
        field(check_limit(&Limit {
            bytes_per_second: rate,
            burst,
            policy: Policy::Drop,
        }))
    };
    assert_eq!(lim(1, 1), None);
    assert_eq!(lim(RATE_MAX, BURST_MAX), None);
    assert_eq!(lim(0, 1), Some(Field::BytesPerSecond));
    assert_eq!(lim(RATE_MAX + 1, 1), Some(Field::BytesPerSecond));
    assert_eq!(lim(1, 0), Some(Field::Burst));
    assert_eq!(lim(1, BURST_MAX + 1), Some(Field::Burst));
    // At create too.
    let at_create = create(|r| {
        r.log.limit = Some(Limit {
            bytes_per_second: 1,
            burst: u64::MAX,
            policy: Policy::Block,
        })
    });
    assert_eq!(at_create, Some(Field::Burst));
}

#[test]
fn memory_and_pids_are_bounded() {
    let mem = |m: i64| create(|r| set_rootfs!(r, memory_max = Some(m)));
    assert_eq!(mem(MEMORY_MIN), None);
    assert_eq!(mem(MEMORY_MAX), None);
    for bad in [-1, 0, MEMORY_MIN - 1, MEMORY_MAX + 1, i64::MAX] {
        assert_eq!(mem(bad), Some(Field::MemoryMax), "{bad}");
    }
    let pids = |p: i64| create(|r| set_rootfs!(r, pids_max = Some(p)));
    assert_eq!(pids(1), None);
    assert_eq!(pids(PIDS_MAX), None);
    for bad in [-5, 0, PIDS_MAX + 1] {
        assert_eq!(pids(bad), Some(Field::PidsMax), "{bad}");
    }
}

#[test]
fn hostname_is_bounded() {
    let host = |h: &str| create(|r| set_rootfs!(r, hostname = h.to_owned()));
    assert_eq!(host("web-1.example_x"), None);
    assert_eq!(host(&"h".repeat(HOSTNAME_MAX_BYTES)), None);
    for bad in [
        "",
        "a\0b",
        "a b",
        "a/b",
        "é",
        &"h".repeat(HOSTNAME_MAX_BYTES + 1),
    ] {
        assert_eq!(host(bad), Some(Field::Hostname), "{bad:?}");
    }
}

#[test]
fn paths_are_absolute_short_and_without_nul() {
    let cwd = |c: &str| create(|r| set_rootfs!(r, cwd = c.to_owned()));
    assert_eq!(cwd("/srv"), None);
    assert_eq!(cwd(&format!("/{}", "d".repeat(PATH_MAX_BYTES - 1))), None);
    for bad in [
        "relative",
        "/a\0b",
        &format!("/{}", "d".repeat(PATH_MAX_BYTES)),
    ] {
        assert_eq!(cwd(bad), Some(Field::Cwd), "{bad:?}");
    }
    let root = |p: &str| create(|r| set_rootfs!(r, rootfs = PathBuf::from(p)));
    assert_eq!(root("rel/ative"), Some(Field::Rootfs));
    assert_eq!(root("/a\0"), Some(Field::Rootfs));
    let bundle = |p: &str| create(|r| r.source = Source::Bundle(PathBuf::from(p)));
    assert_eq!(bundle("/b"), None);
    assert_eq!(bundle("b"), Some(Field::Bundle));
    assert_eq!(bundle("/b\0"), Some(Field::Bundle));
}

#[test]
fn command_and_env_are_bounded() {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let argv = |c: Vec<String>, e: Vec<String>| field(argv_env(&c, &e));
    assert_eq!(argv(s(&["sh", "-c", "x"]), s(&["A=1", "B="])), None);
    assert_eq!(argv(vec![], vec![]), Some(Field::Command));
    assert_eq!(argv(s(&["a\0"]), vec![]), Some(Field::Command));
    assert_eq!(argv(s(&["x"]), s(&["A=\0"])), Some(Field::Env));
    assert_eq!(argv(s(&["x"]), s(&["NOEQUALS"])), Some(Field::Env));
    assert_eq!(argv(s(&["x"]), s(&["=1"])), Some(Field::Env));
    let many = vec!["a".to_string(); COMMAND_MAX_ARGS + 1];
    assert_eq!(argv(many, vec![]), Some(Field::Command));
    let many_env = vec!["A=1".to_string(); ENV_MAX_ENTRIES + 1];
    assert_eq!(argv(s(&["x"]), many_env), Some(Field::Env));
    assert_eq!(argv(vec!["a".repeat(ARG_MAX_BYTES)], vec![]), None);
    let long = vec!["a".repeat(ARG_MAX_BYTES + 1)];
    assert_eq!(argv(long, vec![]), Some(Field::Command));
    // Each entry fits, all of them together do not.
    let big = vec!["a".repeat(ARG_MAX_BYTES); ARGV_ENV_MAX_BYTES / ARG_MAX_BYTES + 1];
    assert_eq!(argv(big, vec![]), Some(Field::Command));
    // And at create.
    assert_eq!(
        create(|r| set_rootfs!(r, env = s(&["X"]))),
        Some(Field::Env)
    );
}

#[test]
fn width_and_height_come_together_with_a_terminal() {
    assert_eq!(console_size(None, None, false).unwrap(), None);
    assert_eq!(
        console_size(Some(80), Some(24), true).unwrap(),
        Some((80, 24))
    );
    assert_eq!(
        field(console_size(Some(80), None, true)),
        Some(Field::Width)
    );
    assert_eq!(
        field(console_size(None, Some(24), true)),
        Some(Field::Height)
    );
    assert_eq!(
        field(console_size(Some(80), Some(24), false)),
        Some(Field::Width)
    );
    assert_eq!(
        field(console_size(Some(0), Some(24), true)),
        Some(Field::Width)
    );
    assert_eq!(
        field(console_size(Some(80), Some(0), true)),
        Some(Field::Height)
    );
    assert_eq!(field(window(WINDOW_MAX, WINDOW_MAX)), None);
    assert_eq!(field(window(0, 1)), Some(Field::Width));
    // check_values holds a request built without the api to the same rule.
    assert_eq!(
        create(|r| r.console_size = Some((80, 24))),
        Some(Field::Width)
    );
    let ok = create(|r| {
        r.terminal = true;
        r.console_size = Some((80, 24));
    });
    assert_eq!(ok, None);
}

#[test]
fn read_logs_and_exec_sync_numbers_are_bounded() {
    assert_eq!(tail(None).unwrap(), None);
    assert_eq!(tail(Some(0)).unwrap(), Some(0));
    assert_eq!(tail(Some(TAIL_MAX)).unwrap(), Some(TAIL_MAX as usize));
    assert_eq!(field(tail(Some(-1))), Some(Field::Tail));
    assert_eq!(field(tail(Some(TAIL_MAX + 1))), Some(Field::Tail));

    assert_eq!(timeout(None).unwrap(), None);
    assert_eq!(
        timeout(Some(0.5)).unwrap(),
        Some(Duration::from_millis(500))
    );
    assert!(timeout(Some(TIMEOUT_MAX_SECONDS)).is_ok());
    for bad in [
        0.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        TIMEOUT_MAX_SECONDS + 1.0,
    ] {
        assert_eq!(
            field(timeout(Some(bad))),
            Some(Field::TimeoutSeconds),
            "{bad}"
        );
    }

    assert_eq!(max_output(None).unwrap(), MAX_OUTPUT as usize);
    assert_eq!(max_output(Some(0)).unwrap(), 0);
    assert_eq!(
        field(max_output(Some(MAX_OUTPUT + 1))),
        Some(Field::MaxOutput)
    );
    assert_eq!(field(max_output(Some(u64::MAX))), Some(Field::MaxOutput));
}

#[test]
fn exec_specs_are_checked() {
    let spec = || ExecSpec {
        command: vec!["true".into()],
        ..ExecSpec::default()
    };
    assert_eq!(field(check_exec(&spec())), None);
    let with = |f: fn(&mut ExecSpec)| {
        let mut s = spec();
        f(&mut s);
        field(check_exec(&s))
    };
    assert_eq!(with(|s| s.command.clear()), Some(Field::Command));
    assert_eq!(with(|s| s.env = vec!["A".into()]), Some(Field::Env));
    assert_eq!(with(|s| s.cwd = Some("rel".into())), Some(Field::Cwd));
    assert_eq!(with(|s| s.user = Some((0, Some(0)))), None);
    assert_eq!(with(|s| s.user = Some((u32::MAX, None))), Some(Field::User));
    assert_eq!(
        with(|s| s.user = Some((1, Some(u32::MAX)))),
        Some(Field::User)
    );
    assert_eq!(with(|s| s.size = Some((80, 24))), Some(Field::Width));
    let sized = |s: &mut ExecSpec| {
        s.terminal = true;
        s.size = Some((80, 0));
    };
    assert_eq!(with(sized), Some(Field::Height));
}

#[test]
fn ids_are_checked_before_lookup() {
    assert_eq!(create(|r| r.id = "../x".into()), Some(Field::Id));
}

#[test]
fn shutdown_timeouts_are_whole_seconds_up_to_an_hour() {
    use std::time::Duration;
    assert_eq!(
        shutdown_timeout(None).unwrap(),
        Duration::from_secs(SHUTDOWN_TIMEOUT_DEFAULT as u64)
    );
    assert_eq!(shutdown_timeout(Some(0)).unwrap(), Duration::ZERO);
    assert_eq!(
        shutdown_timeout(Some(SHUTDOWN_TIMEOUT_MAX)).unwrap(),
        Duration::from_secs(3600)
    );
    for bad in [-1, SHUTDOWN_TIMEOUT_MAX + 1, i64::MIN, i64::MAX] {
        assert_eq!(field(shutdown_timeout(Some(bad))), Some(Field::Timeout));
    }
}

#[test]
fn namespaces_default_to_net_and_are_known_and_distinct() {
    let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(namespaces(None).unwrap(), ["net"]);
    assert_eq!(namespaces(v(&["net", "uts"])).unwrap(), ["net", "uts"]);
    for bad in [v(&[]), v(&["mnt"]), v(&["net", "net"])] {
        assert_eq!(field(namespaces(bad)), Some(Field::Namespaces));
    }
}

#[test]
fn ports_are_1_to_65535() {
    assert_eq!(port(1).unwrap(), 1);
    assert_eq!(port(65535).unwrap(), 65535);
    for bad in [0, -1, 65536, i64::MAX] {
        assert_eq!(field(port(bad)), Some(Field::Port));
    }
}
