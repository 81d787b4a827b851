//! podmon: a pod-level container monitor. One process watches one pod's
//! containers through an OCI runtime and serves a Varlink API, all on one
//! io_uring event loop.
//!
//! # Layout
//!
//! Dependencies point one way, down this list: a folder uses only folders
//! below it (`cli` uses `proto`, `varlink` and `sys`, and `oci`'s runtime
//! lookup alone, so `--version` names the runtime `serve` would pick).
//!
//! - `server/`: `podmon serve`: the directories and the state lock
//!   (`lock.rs`), the listener (`socket.rs`, or the descriptors the service
//!   manager passes, and the notifications sent back: `activation.rs`), accepting
//!   within the connection bound (`accept.rs`), the peer check that gives each
//!   connection its role (`access.rs`), one task per connection with its
//!   buffers bounded (`conn.rs`), signals, the pod's shutdown, and the live
//!   upgrade that hands the pod to a new image of itself (`upgrade.rs`).
//! - `api/`: the `io.podmon.Pod` methods: one handler file per method, the one
//!   dispatch table (`mod.rs`), the mapping of the pod to wire types (`map.rs`)
//!   and of pod errors to Varlink errors, replies with `more` (`replier.rs`).
//! - `cli/`: the client subcommands of the `podmon` binary (typed requests in
//!   `request.rs`, printing in `output.rs`, failures for people and for
//!   `--json` in `failure.rs`, terminals in `term.rs`), completions and man
//!   pages (`generate.rs`).
//! - `pod/`: the domain: containers and their status rules (`status.rs`),
//!   one file per operation (`create`, `start`, `kill`, `wait`, `delete`,
//!   `shutdown`, `monitor`), the exit requests a Shutdown call leaves for
//!   the server (`exit.rs`), execs (`exec/`), events (`events.rs`: numbered,
//!   one ring shared by every watcher) and their journal on disk
//!   (`journal.rs`), the stdin slot, the pod's network namespace
//!   (`netns.rs`, the one place that finds it) for RunInPod
//!   (`run_in_pod.rs`) and PortForward's connection (`port_forward.rs`), the range of every parameter
//!   (`limits.rs`), and the state on disk: the records and their store
//!   (`state/`), kept current by the operations through `persist.rs`, from
//!   which a new monitor re-adopts the containers (`adopt.rs`) with the
//!   descriptors the service manager's store kept (`fdstore.rs`); the
//!   pod's shared namespaces, their pins and the pod's init, PID 1 of a
//!   pod pid namespace, which is podmon's own binary in a hidden mode
//!   (`sandbox/`); RunInPod and PortForward in the pod's network namespace
//!   (`run_in_pod.rs`, `port_forward.rs`, found by `netns.rs`).
//! - `session/`: exec and attach streaming over an upgraded connection,
//!   and PortForward's raw byte copy (`forward.rs`).
//! - `oci/`: the runtime driver (`driver.rs`, the one place the runtime is
//!   run, behind the `Driver` trait), its command lines (`argv.rs`), what it
//!   prints (`output.rs`), finding it (`runtime.rs`), config.json (`spec.rs`).
//! - `logs/`: a container's log: pipes to a double buffer (`mod.rs`), CRI
//!   codec (`cri.rs`), drivers (`driver.rs`, opened by `open.rs`), rate limit and drop markers
//!   (`ratelimit.rs`, `drops.rs`), reading back (`reader.rs`), the fan-out to
//!   attached clients (`hub.rs`), the files in the log directory, never
//!   through a planted link, and their rotation (`logfile.rs`), when a log
//!   reaches the disk (`sync.rs`) and how much of it stays in the page cache
//!   (`writebehind.rs`), the journald driver's native protocol (`journal/`),
//!   and parking the pipes without losing a byte for an upgrade (`park.rs`).
//! - `cgroups/`: finding a container's cgroups, v1 and v2 statistics, OOM, and the
//!   unit's own cgroup when podmon runs as a delegated systemd service (`unit.rs`).
//! - `proto/`: the contract as types: every method's request and reply
//!   (the `Method` trait), records, errors, the upgrade frame codec
//!   (`frame.rs`); the test in `idl_tests.rs` holds them to the IDL.
//! - `varlink/`: Varlink itself, sans IO (framing, messages, typed
//!   parameters, the descriptors passed with a message, taken by index:
//!   `fds.rs`, `org.varlink.service`), and the one blocking client the CLI,
//!   the tests and the benches share (`client/`).
//! - `sys/`: child processes and reaping (`process.rs`, with the
//!   descriptors a child gets as its fds 3, 4, ...: `preserve.rs`, and what
//!   a finished child printed: `capture.rs`), namespaces (kinds,
//!   namespaced sysctls, lo up, pins, the clone into new ones: `ns.rs`; a
//!   socket made inside one, a program started in one: `netns.rs`), the console socket
//!   and pty size, signal names, the signalfd, timestamps (`time.rs`), system
//!   errors with operation, path and errno (`error.rs`), files written
//!   (atomically, durably if asked) and read back without following links
//!   (`files.rs`), our own usage, and systemd's protocols: passed
//!   descriptors (`listen_fds.rs`), sd_notify and the file-descriptor store
//!   (`sdnotify.rs`), and the exec of our own binary with named
//!   descriptors (`reexec.rs`).
//! - `reactor/`: the event loop: io_uring ring or epoll, the executor, the
//!   operations that own their buffers while the kernel does (`ops.rs`;
//!   `connect.rs` for `ops::connect` on both backends; `msg.rs` for
//!   messages that carry descriptors, SCM_RIGHTS).
//!
//! # The path of a request
//!
//! **CreateContainer.** `server/conn.rs` reads the call and hands it to
//! `api::dispatch`, whose table picks `api/create_container.rs`: it decodes
//! `proto::CreateContainer` and makes a `pod::CreateRequest`.
//! `pod/create.rs` checks it (`request.rs`), writes or checks the bundle
//! (`bundle.rs`, `oci/spec.rs`), makes the pipes (`stdio.rs`) and asks the
//! driver: `oci/driver.rs` runs `runc create` (`argv.rs`,
//! `sys/process.rs`), reads the pid file and the runtime's error text
//! (`output.rs`) and watches the init process through a pidfd. The pipes go
//! to `logs::LogSink`, `pod/monitor.rs` starts waiting for the exit, and the
//! handler replies with the `ContainerInfo` that `api/map.rs` builds.
//!
//! **ExecSync.** `api/exec_sync.rs` decodes `proto::ExecSync` into a
//! `pod::exec::ExecSpec`; `pod/exec/sync.rs` starts it (`spawn.rs`: the
//! process JSON from `process_json.rs`, then the driver's `exec`), reads
//! both pipes up to the cap (`sys::capture::capture`), kills the process
//! tree on timeout (`sys::process::kill_tree`) and returns its `ExitInfo`, which
//! `api/map.rs` turns into `exitCode` and `signal`.
//!
//! **One byte of output.** The container writes to its stdout pipe; the
//! pump task in `logs/mod.rs` reads it (`reactor::ops::read`), lets the rate
//! limit admit or drop it (`ratelimit.rs`, `drops.rs`), hands it to attached
//! clients (`hub.rs`) and formats it as a CRI record (`driver.rs`, `cri.rs`,
//! `sys::time::Timestamp`) into the filling buffer; the writer task swaps
//! the buffers and writes the full one to `ID.log` (`ops::write_offloaded`).
//! The container's exit is reported only after that byte is written.

#![warn(missing_docs)]

pub(crate) mod api;
pub(crate) mod cgroups;
pub mod cli;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod logs;
pub(crate) mod oci;
pub(crate) mod pod;
pub mod proto;
pub(crate) mod reactor;
pub mod server;
pub(crate) mod session;
pub(crate) mod sys;
pub mod varlink;
