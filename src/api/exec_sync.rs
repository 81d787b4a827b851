//! io.podmon.Pod.ExecSync

use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HandlerError, Replier};
use crate::pod::Pod;
use crate::pod::exec::{self, ExecSpec};
use crate::varlink::{Call, params};

/// Default cap on each of stdout and stderr.
const DEFAULT_CAP: u64 = 16 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    id: String,
    command: Vec<String>,
    env: Option<Vec<String>>,
    cwd: Option<String>,
    user: Option<String>,
    timeout_seconds: Option<f64>,
    max_output: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out {
    exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
    stdout: String,
    stderr: String,
    stdout_truncated: bool,
    stderr_truncated: bool,
    timed_out: bool,
}

/// Runs a command in the container to completion and returns its output.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: In = params::decode(&call.parameters)?;
    let timeout = match p.timeout_seconds {
        Some(t) if !(t > 0.0 && t.is_finite() && t < 1e9) => {
            return Err(super::invalid_value(
                "timeoutSeconds",
                "must be a positive number of seconds",
            )
            .into());
        }
        Some(t) => Some(Duration::from_secs_f64(t)),
        None => None,
    };
    let cap = usize::try_from(p.max_output.unwrap_or(DEFAULT_CAP)).unwrap_or(usize::MAX);
    let spec = ExecSpec {
        command: p.command,
        env: p.env.unwrap_or_default(),
        cwd: p.cwd,
        user: p.user,
        terminal: false,
        size: None,
    };
    let res = exec::exec_sync(pod, &p.id, &spec, timeout, cap).await?;
    let out = Out {
        exit_code: res.status.exit_code(),
        signal: res.status.signal_name(),
        stdout: String::from_utf8_lossy(&res.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&res.stderr).into_owned(),
        stdout_truncated: res.stdout_truncated,
        stderr_truncated: res.stderr_truncated,
        timed_out: res.timed_out,
    };
    r.reply(params::encode(&out)).await?;
    Ok(())
}
