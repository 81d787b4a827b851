//! io.podmon.Pod.RunInPod

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map};
use crate::pod::run_in_pod::{RunSpec, run_in_pod};
use crate::pod::{Pod, limits};
use crate::proto;
use crate::varlink::{Call, params};

/// Runs a host program in the pod's namespaces to completion and returns
/// its output, as ExecSync returns an exec's.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::RunInPod = decode(call)?;
    let timeout = limits::timeout(p.timeout_seconds)?;
    let cap = limits::max_output(p.max_output)?;
    let spec = RunSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        namespaces: limits::namespaces(p.namespaces)?,
        stdin: p.stdin.map(String::into_bytes),
    };
    let res = run_in_pod(pod, &spec, timeout, cap).await?;
    let (exit_code, signal) = map::exit(res.status);
    let out = proto::ExecSyncReply {
        exit_code,
        signal,
        stdout: String::from_utf8_lossy(&res.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&res.stderr).into_owned(),
        stdout_truncated: res.stdout_truncated,
        stderr_truncated: res.stderr_truncated,
        timed_out: res.timed_out,
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
