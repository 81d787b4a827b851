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
    let enc = map::output_encoding(p.encoding.as_deref())?;
    let spec = ExecSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        cwd: p.cwd,
        user: user(p.user.as_deref())?,
        terminal: false,
        size: None,
    };
    let res = exec::exec_sync(pod, &p.id, &spec, timeout, cap).await?;
    r.reply(params::encode(&map::exec_sync_reply(&res, enc)))
        .await?;
    Ok(())
}
