//! OOM-kill notifications through io_uring: an eventfd registered with
//! cgroup v1's memory.oom_control, or inotify on cgroup v2's memory.events.
//! Either wakes the loop only when the kernel has something to say.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::cgroups::CgroupPaths;
use crate::reactor::ops;

/// A source of "the OOM situation may have changed" wake-ups for one cgroup.
pub struct OomWatch {
    fd: OwnedFd,
    // v1: the oom_control fd must stay open while the eventfd is registered.
    _control: Option<OwnedFd>,
}

impl OomWatch {
    /// Registers for OOM notifications of the cgroup at `paths`.
    pub fn new(paths: &CgroupPaths) -> io::Result<OomWatch> {
        let dir = paths
            .memory_dir()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no memory cgroup"))?;
        match paths {
            CgroupPaths::V1 { .. } => {
                let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)?;
                let control = OwnedFd::from(std::fs::File::open(dir.join("memory.oom_control"))?);
                std::fs::write(
                    dir.join("cgroup.event_control"),
                    format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
                )?;
                Ok(OomWatch {
                    fd: efd,
                    _control: Some(control),
                })
            }
            CgroupPaths::V2 { .. } => {
                use rustix::fs::inotify;
                let ifd = inotify::init(inotify::CreateFlags::CLOEXEC)?;
                inotify::add_watch(&ifd, dir.join("memory.events"), inotify::WatchFlags::MODIFY)?;
                Ok(OomWatch {
                    fd: ifd,
                    _control: None,
                })
            }
        }
    }

    /// Waits for the next notification.
    pub async fn changed(&self) -> io::Result<()> {
        let buf = Vec::with_capacity(4096);
        let (r, _) = ops::read(self.fd.as_fd(), buf, 4096).await;
        r.map(|_| ())
    }
}
