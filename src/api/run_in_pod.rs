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
    let enc = map::output_encoding(p.encoding.as_deref())?;
    let spec = RunSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        namespaces: limits::namespaces(p.namespaces)?,
        stdin: p.stdin.map(String::into_bytes),
    };
    let res = run_in_pod(pod, &spec, timeout, cap).await?;
    r.reply(params::encode(&map::exec_sync_reply(&res, enc)))
        .await?;
    Ok(())
}
