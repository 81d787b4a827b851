//! What podmon does to and with the OCI runtime process itself, through
//! wrapper scripts around runc: the clean environment and signal state it
//! starts with, the deadline of every invocation, and the runtime's own
//! words in every RuntimeError.

#[path = "../common/mod.rs"]
mod common;

mod crun;
mod environment;
mod failures;
mod teardown;
mod timeouts;

use common::*;
use std::time::Duration;

/// A pod driven by `wrapper`, with `--runtime-timeout SECS` when given.
pub fn pod_with(name: &str, wrapper: &Wrapper, timeout: Option<u64>, env: &[(&str, &str)]) -> Pod {
    let mut extra_args = vec![];
    if let Some(t) = timeout {
        extra_args = vec!["--runtime-timeout".into(), t.to_string()];
    }
    Pod::start_with(
        name,
        PodOptions {
            runtime: Some(wrapper.path.clone()),
            extra_args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..PodOptions::default()
        },
    )
}

/// Nothing is left behind: no zombie child, no runtime container podmon
/// does not list, no process of podmon's still running besides those of
/// the containers it lists.
#[track_caller]
pub fn assert_nothing_left(pod: &Pod) {
    assert_no_zombies(pod, Duration::from_secs(5));
    assert_runtime_matches_list(pod, Duration::from_secs(5));
}

/// A long-running container that ends at once on SIGTERM.
pub const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";
