//! io.podmon.Pod.ExecSync

use std::rc::Rc;

use super::{HandlerError, Replier, decode, map, user};
use crate::pod::exec::{self, ExecSpec};
use crate::pod::{Pod, limits};
use crate::proto;
use crate::varlink::{Call, params};

/// Runs a command in the container to completion and returns its output.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::ExecSync = decode(call)?;
    let timeout = limits::timeout(p.timeout_seconds)?;
    let cap = limits::max_output(p.max_output)?;
    let spec = ExecSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        cwd: p.cwd,
        user: user(p.user.as_deref())?,
        terminal: false,
        size: None,
    };
    let res = exec::exec_sync(pod, &p.id, &spec, timeout, cap).await?;
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
