//! Everything podmon knows about OCI runtimes: the bundle's config.json it
//! writes and the runc/crun command lines it runs. No process spawning here.

pub mod runtime;
pub mod spec;
