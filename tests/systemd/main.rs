//! podmon under systemd, against the real tools: the test plays the
//! service manager on `NOTIFY_SOCKET` (`READY=1` with `MAINPID=`, a
//! `STATUS=` line that follows the containers, `WATCHDOG=1`, also after a
//! live re-exec; no wake-up while idle without a watchdog) (`notify`);
//! `systemd-socket-activate --accept` passing one accepted connection
//! (`accept`), and `--fdname=` naming the socket `varlink` (`fdnames`),
//! both through `activate`; no `LISTEN_*`, `NOTIFY_SOCKET` or
//! `WATCHDOG_*` in a container's or the runtime's environment (`env`); the
//! containers' cgroups under the unit's own when podmon runs as a
//! delegated service (`cgroup`); `systemd-analyze verify` of the units
//! (`units`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../fdstore/manager.rs"]
#[allow(dead_code)]
mod manager;

mod accept;
mod activate;
mod cgroup;
mod env;
mod fdnames;
mod notify;
mod units;
