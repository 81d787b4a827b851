//! podmon and the service manager, with the test playing the manager over
//! the real protocols: a datagram socket where `NOTIFY_SOCKET` points that
//! receives `READY=1`, `STATUS=` and `STOPPING=1` (`notify`), and
//! descriptors 3 and 4 passed with `LISTEN_FDS=2` and
//! `LISTEN_FDNAMES=varlink:stdin-x`, the Varlink socket and a pipe end of
//! the kind the file-descriptor store gives back after a restart (`passed`),
//! and a monitor killed with SIGKILL whose successor gets the container's
//! pipes back from the store (`restart`).

#[path = "../common/mod.rs"]
mod common;

mod manager;
mod notify;
mod passed;
mod restart;
