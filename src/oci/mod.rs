//! Everything podmon knows about OCI runtimes: the bundle's config.json it
//! writes, which runtime binary it uses, the command lines, what the runtime
//! prints, and the driver that runs it (the only place that does).

pub mod argv;
pub mod driver;
pub mod limit;
pub mod output;
pub mod runtime;
pub mod spec;
