//! RunInPod and PortForward against a real `podmon serve --netns`: a
//! network namespace made here with `ip netns add` (deleted again by a
//! guard), host programs that see only its loopback, listeners inside it
//! (busybox, or Python for IPv6-only ones), 100 MiB byte-exact both ways,
//! half-close, refused ports, 50 forwards at once, and `podmon
//! port-forward` end to end.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod forward;
mod run;
mod support;
