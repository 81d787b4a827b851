//! The pod's init: podmon's own binary run as `podmon __pod-init` inside
//! the pod's new namespaces (the monitor clones it there). It sets the
//! namespaces up (lo up, sysctls, host name), tells the monitor on fd 3
//! ("ok", or the error's text), then holds the namespaces until SIGTERM:
//! as PID 1 of a pod pid namespace it reaps every orphan re-parented to
//! it, so an engine needs no pause container and no zombie stays.

use std::io::Write;
use std::os::fd::FromRawFd;

use crate::sys::ns;

/// The first argument that selects the init mode (hidden from `--help`).
pub const INIT_ARG: &str = "__pod-init";

/// What the monitor asks of the init, as arguments after [`INIT_ARG`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitArgs {
    /// Bring `lo` up (a new network namespace).
    pub loopback: bool,
    /// Sysctls to write, already checked as namespaced.
    pub sysctls: Vec<(String, String)>,
    /// The host name of a new UTS namespace.
    pub hostname: Option<String>,
}

impl InitArgs {
    /// The command line after [`INIT_ARG`].
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec![INIT_ARG.to_owned()];
        if self.loopback {
            out.push("--lo".into());
        }
        for (k, v) in &self.sysctls {
            out.push("--sysctl".into());
            out.push(format!("{k}={v}"));
        }
        if let Some(h) = &self.hostname {
            out.push("--hostname".into());
            out.push(h.clone());
        }
        out
    }

    /// Parses what [`to_args`](Self::to_args) wrote (after [`INIT_ARG`]).
    pub fn parse(args: &[String]) -> Result<InitArgs, String> {
        let mut out = InitArgs::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--lo" => out.loopback = true,
                "--sysctl" => {
                    let kv = it.next().ok_or("--sysctl needs a value")?;
                    out.sysctls
                        .push(ns::parse_sysctl(kv).map_err(|e| e.to_string())?);
                }
                "--hostname" => {
                    out.hostname = Some(it.next().ok_or("--hostname needs a value")?.clone())
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(out)
    }
}

/// Sets the namespaces up as asked.
fn setup(a: &InitArgs) -> Result<(), String> {
    if a.loopback {
        ns::loopback_up().map_err(|e| e.to_string())?;
    }
    for (k, v) in &a.sysctls {
        ns::write_sysctl(k, v).map_err(|e| e.to_string())?;
    }
    if let Some(h) = &a.hostname {
        ns::set_hostname(h).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Blocks the signals the init waits for, so they queue for sigwaitinfo
/// (PID 1 of a namespace would otherwise ignore those without a handler).
fn blocked_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain old data; the calls only write `set`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Reaps every exited child, without blocking.
fn reap_all() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
    }
}

/// The init's main: returns its exit code (0 on SIGTERM).
pub fn run(args: &[String]) -> i32 {
    let set = blocked_set();
    // SAFETY: fd 3 is the ready pipe the monitor gave us (see
    // `ns::spawn_in_new`); nothing else in this process owns it.
    let mut ready = unsafe { std::fs::File::from_raw_fd(3) };
    let result = InitArgs::parse(args).and_then(|a| setup(&a));
    let msg = match &result {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let _ = ready.write_all(msg.as_bytes());
    drop(ready);
    if result.is_err() {
        return 1;
    }
    loop {
        // SAFETY: a zeroed siginfo_t is valid; sigwaitinfo fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `info` are valid for the call.
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        match sig {
            libc::SIGCHLD => reap_all(),
            libc::SIGTERM | libc::SIGINT => {
                reap_all();
                return 0;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let a = InitArgs {
            loopback: true,
            sysctls: vec![("net.ipv4.ip_forward".into(), "1".into())],
            hostname: Some("pod-a".into()),
        };
        let line = a.to_args();
        assert_eq!(line[0], INIT_ARG);
        assert_eq!(InitArgs::parse(&line[1..]).unwrap(), a);
        assert!(InitArgs::parse(&["--what".into()]).is_err());
        assert!(InitArgs::parse(&["--sysctl".into()]).is_err());
    }
}
