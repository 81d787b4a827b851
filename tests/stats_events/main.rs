//! Stats, GetPod, WatchEvents and OOM reporting against real containers.
//!
//! Every test starts its own `podmon serve` (see tests/common) and checks
//! what podmon reports against what the containers really did: a container
//! that really runs out of memory, a busy loop, a shell holding memory, a
//! fork loop against a pids limit, a flood of output under a drop limit.

#[path = "../common/mod.rs"]
mod common;

mod cgroup_v2;
mod events;
mod oom;
mod stats;
mod support;
