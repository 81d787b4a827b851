//! io.podmon.Pod.ExecSync

use std::rc::Rc;
use std::time::Duration;

use super::{HandlerError, Replier, decode, invalid, map, user};
use crate::pod::Pod;
use crate::pod::exec::{self, ExecSpec};
use crate::proto;
use crate::varlink::{Call, params};

/// Default cap on each of stdout and stderr.
const DEFAULT_CAP: u64 = 16 << 20;

/// Runs a command in the container to completion and returns its output.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::ExecSync = decode(call)?;
    let timeout = match p.timeout_seconds {
        Some(t) if !(t > 0.0 && t.is_finite() && t < 1e9) => {
            return Err(invalid(
                "timeoutSeconds",
                "must be a positive number of seconds",
            ));
        }
        Some(t) => Some(Duration::from_secs_f64(t)),
        None => None,
    };
    let cap = usize::try_from(p.max_output.unwrap_or(DEFAULT_CAP)).unwrap_or(usize::MAX);
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
