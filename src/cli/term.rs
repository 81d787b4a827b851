//! Our own terminal during `exec -t` and `attach`: raw mode that is always
//! undone, the window size, signals, and the ctrl-p ctrl-q detach keys.

use std::os::fd::AsFd;
use std::sync::Mutex;
use std::thread;

use rustix::termios::{self, OptionalActions, Termios};

/// The settings to restore, shared with the signal thread so a SIGTERM or
/// SIGHUP during raw mode still leaves a usable terminal behind.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Raw mode on our stdin while alive; dropping it restores the settings
/// found on entry, on every return path including errors.
#[derive(Debug)]
pub struct RawMode(());

impl RawMode {
    /// Puts stdin (a terminal) in raw mode, as cfmakeraw(3) does: no echo,
    /// no line editing, no signal keys, so every byte reaches the process.
    pub fn enter() -> std::io::Result<RawMode> {
        let stdin = rustix::stdio::stdin();
        let saved = termios::tcgetattr(stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
        termios::tcsetattr(stdin, OptionalActions::Now, &raw)?;
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal settings saved by [`RawMode::enter`], once.
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(saved) = saved {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &saved);
    }
}

/// Whether our stdin is a terminal (raw mode and detach keys need one).
pub fn stdin_is_tty() -> bool {
    termios::isatty(rustix::stdio::stdin())
}

/// Our window size as (columns, rows), from the first of stdin, stdout and
/// stderr that is a terminal; `None` when none is, or the size is unset.
pub fn window_size() -> Option<(u16, u16)> {
    let fds = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    fds.iter().find_map(|fd| {
        let ws = termios::tcgetwinsize(fd.as_fd()).ok()?;
        (ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
    })
}

/// Blocks SIGWINCH, SIGINT, SIGTERM and SIGHUP in this thread (and so in
/// every thread it starts later) and starts a thread that takes them with
/// sigwait(3): SIGWINCH calls `on_winch`; the others restore the terminal
/// and exit with 128+N, as if the signal had killed us, because a process
/// killed in raw mode would leave the user's terminal unusable.
///
/// Call it before starting any other thread, so none of them gets the
/// signals delivered asynchronously instead.
pub fn handle_signals(on_winch: impl Fn() + Send + 'static) -> std::io::Result<()> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialize it,
    // and pthread_sigmask only reads it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGWINCH, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` is an initialized signal set that outlives
                // the call; `sig` is a valid out pointer.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    continue;
                }
                if sig == libc::SIGWINCH {
                    on_winch();
                } else {
                    restore();
                    std::process::exit(128 + sig);
                }
            }
        })?;
    Ok(())
}

/// ctrl-p
const CTRL_P: u8 = 0x10;
/// ctrl-q
const CTRL_Q: u8 = 0x11;

/// Finds the detach sequence ctrl-p ctrl-q in typed input, also when the
/// two keys arrive in separate reads. A ctrl-p is held back until the next
/// byte shows whether it starts the sequence.
#[derive(Debug, Default)]
pub struct DetachKeys {
    pending: bool,
}

impl DetachKeys {
    /// Appends to `out` the bytes of `input` to forward and returns true
    /// when the sequence was typed (bytes after it are dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.pending {
                self.pending = false;
                if b == CTRL_Q {
                    return true;
                }
                out.push(CTRL_P);
            }
            if b == CTRL_P {
                self.pending = true;
            } else {
                out.push(b);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(keys: &mut DetachKeys, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let detached = keys.feed(input, &mut out);
        (out, detached)
    }

    #[test]
    fn detach_sequence() {
        let mut k = DetachKeys::default();
        assert_eq!(feed(&mut k, b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(feed(&mut k, b"ab\x10\x11cd"), (b"ab".to_vec(), true));
    }

    #[test]
    fn detach_across_reads_and_lone_ctrl_p() {
        let mut k = DetachKeys::default();
        assert_eq!(feed(&mut k, b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(feed(&mut k, b"\x11"), (Vec::new(), true));
        let mut k = DetachKeys::default();
        // ctrl-p followed by something else reaches the process.
        assert_eq!(feed(&mut k, b"\x10"), (Vec::new(), false));
        assert_eq!(feed(&mut k, b"a"), (b"\x10a".to_vec(), false));
        assert_eq!(feed(&mut k, b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }
}
