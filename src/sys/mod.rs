//! The system underneath the pod: child processes and their reaping, the
//! console socket that brings a pty master, signal names and the signalfd,
//! the monitor's own resource figures and what of it stays resident
//! (`resident`), the files it writes without
//! following links (`files`), and the service manager's protocols: the
//! descriptors it passes (`listen_fds`) and the notifications and
//! descriptor store it is sent (`sdnotify`).

pub mod capture;
pub mod console;
pub mod error;
pub mod files;
pub mod idmap;
pub mod listen_fds;
pub mod netns;
pub mod ns;
pub mod nsspawn;
pub mod preserve;
pub mod process;
pub mod reexec;
pub mod resident;
pub mod sdnotify;
pub mod selfstat;
pub mod signal;
pub mod sigwatch;
pub mod time;
