//! The stdio of a process the runtime starts (container init or exec):
//! the ends the runtime passes on, and podmon's ends of the same pipes.
//! A terminal process talks through its pty instead, so until the master
//! arrives its stdin and stdout are /dev/null and its stderr a pipe the
//! driver reads for the runtime's own error text.

use std::os::fd::OwnedFd;

use super::PodError;
use crate::oci::driver::Stdio;
use crate::sys::error::SysError;
use crate::sys::process;

/// Both ends of a new process's stdio.
pub(super) struct ProcessStdio {
    /// The process's ends, for the runtime to pass on.
    pub runtime: Stdio,
    /// podmon's write end of stdin, when asked for.
    pub stdin: Option<OwnedFd>,
    /// podmon's read end of stdout; the pty master for terminals.
    pub stdout: Option<OwnedFd>,
    /// podmon's read end of stderr; none for terminals.
    pub stderr: Option<OwnedFd>,
}

impl ProcessStdio {
    /// Pipes (stdin only `want_stdin`), or /dev/null for a `terminal`.
    pub fn new(terminal: bool, want_stdin: bool) -> Result<ProcessStdio, PodError> {
        let pipe = || process::pipe().map_err(|e| SysError::io("pipe", &e));
        if terminal {
            let null = || process::devnull().map_err(|e| SysError::io("opening /dev/null", &e));
            return Ok(ProcessStdio {
                runtime: Stdio {
                    stdin: None,
                    stdout: Some(null()?),
                    // A pipe the driver reads: the runtime's error text.
                    stderr: None,
                },
                stdin: None,
                stdout: None,
                stderr: None,
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin_r, stdin_w) = match want_stdin {
            true => pipe().map(|(r, w)| (Some(r), Some(w)))?,
            false => (None, None),
        };
        Ok(ProcessStdio {
            runtime: Stdio {
                stdin: stdin_r,
                stdout: Some(out_w),
                stderr: Some(err_w),
            },
            stdin: stdin_w,
            stdout: Some(out_r),
            stderr: Some(err_r),
        })
    }

    /// Takes the pty master as the process's output (and stdin).
    pub fn use_pty(&mut self, master: &OwnedFd, want_stdin: bool) -> Result<(), PodError> {
        let dup = || master.try_clone().map_err(|e| SysError::io("dup", &e));
        self.stdout = Some(dup()?);
        if want_stdin {
            self.stdin = Some(dup()?);
        }
        Ok(())
    }
}
