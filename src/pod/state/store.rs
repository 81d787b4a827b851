//! The records' files under the state directory. Each write replaces the
//! whole file atomically and durably ([`Durability::Synced`]); each
//! directory on the way is opened relative to the one before it, with
//! `O_NOFOLLOW` and an owner check, so a link planted anywhere below the
//! state directory is never followed, for writing or for reading.
//!
//! Only the monitor holding the state directory's lock uses a store, so a
//! leftover temporary file (a write a power cut or a crash interrupted) is
//! nobody's write in progress: loading removes it.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::AtFlags;

use super::StateError;
use super::record::{self, ContainerRecord, ExecRecord, PodRecord};
use crate::pod::id::validate_id;
use crate::sys::files::{self, Durability, FileError, PRIVATE_FILE};

/// A container's (and an exec's) record, in its directory.
pub const RECORD: &str = "state.json";
/// The pod's record, in the state directory.
pub const POD_RECORD: &str = "pod.json";
/// The containers' directories, in the state directory.
const CONTAINERS: &str = "containers";
/// The execs' directories, in a container's.
const EXECS: &str = "execs";
/// Larger than any record podmon writes (a few hundred bytes): a bigger
/// file is not read.
const MAX_RECORD: u64 = 64 << 10;

/// Puts a record's bytes into its new temporary file. The real one writes
/// them all; the tests stand in a power cut with one that stops short.
pub type Writer = Box<dyn Fn(&mut File, &[u8]) -> io::Result<()>>;

/// Everything [`Store::load_all`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The pod's options, if recorded.
    pub pod: Option<PodRecord>,
    /// The containers, ordered by id.
    pub containers: Vec<ContainerRecord>,
    /// The execs that were running.
    pub execs: Vec<ExecRecord>,
    /// What was not taken for a record, and why (each also logged).
    pub skipped: Vec<StateError>,
}

/// The records of one state directory.
pub struct Store {
    dir: PathBuf,
    writer: Writer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// Whether a file error says the file is not there.
fn is_missing(e: &FileError) -> bool {
    matches!(e, FileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

impl Store {
    /// The store of state directory `dir` (nothing is opened yet).
    pub fn new(dir: PathBuf) -> Store {
        Store::with_writer(dir, Box::new(|f, bytes| f.write_all(bytes)))
    }

    /// A store whose records reach their files through `writer`.
    pub fn with_writer(dir: PathBuf, writer: Writer) -> Store {
        Store { dir, writer }
    }

    /// Writes `pod.json`.
    pub fn save_pod(&self, r: &PodRecord) -> Result<(), StateError> {
        let dir = files::open_dir(&self.dir)?;
        self.write(&dir, &self.dir, POD_RECORD, r)
    }

    /// Writes the container's `state.json` in its directory, which the
    /// create made.
    pub fn save_container(&self, r: &ContainerRecord) -> Result<(), StateError> {
        let (dir, path) = self.container_dir(&r.id)?;
        self.write(&dir, &path, RECORD, r)
    }

    /// Writes an exec's `state.json` in its directory, which the exec made.
    pub fn save_exec(&self, r: &ExecRecord) -> Result<(), StateError> {
        let (dir, path) = self.container_dir(&r.container)?;
        let execs = files::open_subdir(&dir, &path, EXECS)?;
        let path = path.join(EXECS);
        component(&path, &r.exec_id)?;
        let dir = files::open_subdir(&execs, &path, &r.exec_id)?;
        // Not fsynced: it only tells a monitor after a crash which exec to
        // kill, and a power cut kills the exec with everything else.
        self.write_as(&dir, &path.join(&r.exec_id), RECORD, r, Durability::Cached)
    }

    /// Removes the container's record (durably) before its directory goes,
    /// so no crash halfway through the removal leaves a record behind.
    pub fn remove_container(&self, id: &str) -> Result<(), StateError> {
        let (dir, path) = match self.container_dir(id) {
            Ok(d) => d,
            Err(StateError::File(e)) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        match rustix::fs::unlinkat(&dir, RECORD, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                let source = e.into();
                let path = path.join(RECORD);
                return Err(FileError::Io {
                    op: "removing",
                    path,
                    source,
                }
                .into());
            }
        }
        Ok(files::sync_dir(&dir, &path)?)
    }

    /// `STATE/containers/ID`, opened without following a link.
    fn container_dir(&self, id: &str) -> Result<(OwnedFd, PathBuf), StateError> {
        let state = files::open_dir(&self.dir)?;
        let containers = files::open_subdir(&state, &self.dir, CONTAINERS)?;
        let path = self.dir.join(CONTAINERS);
        component(&path, id)?;
        let dir = files::open_subdir(&containers, &path, id)?;
        Ok((dir, path.join(id)))
    }

    fn write<T: serde::Serialize>(
        &self,
        dir: &OwnedFd,
        dir_path: &Path,
        name: &str,
        r: &T,
    ) -> Result<(), StateError> {
        self.write_as(dir, dir_path, name, r, Durability::Synced)
    }

    fn write_as<T: serde::Serialize>(
        &self,
        dir: &OwnedFd,
        dir_path: &Path,
        name: &str,
        r: &T,
        durability: Durability,
    ) -> Result<(), StateError> {
        let bytes = record::encode(&dir_path.join(name), r)?;
        let mut fill = |f: &mut File| (self.writer)(f, &bytes);
        files::write_atomic_with(dir, dir_path, name, PRIVATE_FILE, durability, &mut fill)?;
        Ok(())
    }

    /// Reads every record: the pod's, each container's and each running
    /// exec's. What cannot be a record of ours (a corrupt file, a link, a
    /// name no container has, a record under another container's name, a
    /// newer schema) is skipped, logged and listed in
    /// [`Loaded::skipped`]; only a state directory that cannot be opened
    /// is an error.
    pub fn load_all(&self) -> Result<Loaded, StateError> {
        let state = files::open_dir(&self.dir)?;
        let mut loaded = Loaded::default();
        clean_temp(&state, POD_RECORD);
        match read::<PodRecord>(&state, &self.dir, POD_RECORD) {
            Ok(pod) => loaded.pod = pod,
            Err(e) => loaded.skipped.push(e),
        }
        let path = self.dir.join(CONTAINERS);
        match files::open_subdir(&state, &self.dir, CONTAINERS) {
            Ok(containers) => {
                for name in names(&containers, &path)? {
                    load_container(&containers, &path, &name, &mut loaded);
                }
            }
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(e.into()),
        }
        loaded.containers.sort_by(|a, b| a.id.cmp(&b.id));
        for e in &loaded.skipped {
            log::warn!("state: skipped {e}");
        }
        Ok(loaded)
    }
}

/// Refuses a name that is not a single path component.
fn component(dir: &Path, name: &str) -> Result<(), StateError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(StateError::Foreign {
            path: dir.join(name),
            reason: "not a file name".into(),
        });
    }
    Ok(())
}

/// Removes the temporary file a write of `name` left (the link, if a
/// link is there, never its target).
fn clean_temp(dir: &OwnedFd, name: &str) {
    let _ = rustix::fs::unlinkat(dir, files::temp_name(name), AtFlags::empty());
}

/// Reads and decodes `name` in `dir`; `None` if there is no such file.
fn read<T: serde::de::DeserializeOwned>(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
) -> Result<Option<T>, StateError> {
    match files::read_small(dir, dir_path, name, MAX_RECORD) {
        Ok(bytes) => record::decode(&dir_path.join(name), &bytes).map(Some),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The names in directory `dir`, without `.` and `..`; names that are not
/// UTF-8 come back lossily converted (and then fail as foreign).
fn names(dir: &OwnedFd, path: &Path) -> Result<Vec<String>, StateError> {
    let io = |e: rustix::io::Errno| FileError::Io {
        op: "listing",
        path: path.to_owned(),
        source: e.into(),
    };
    let mut out = vec![];
    for entry in rustix::fs::Dir::read_from(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy();
        if name != "." && name != ".." {
            out.push(name.into_owned());
        }
    }
    Ok(out)
}

/// Loads `STATE/containers/NAME` and the execs in it into `loaded`.
fn load_container(containers: &OwnedFd, path: &Path, name: &str, loaded: &mut Loaded) {
    let dir_path = path.join(name);
    let foreign = |reason: String| StateError::Foreign {
        path: dir_path.clone(),
        reason,
    };
    if let Err(e) = validate_id(name) {
        return loaded
            .skipped
            .push(foreign(format!("not a container id: {e}")));
    }
    let dir = match files::open_subdir(containers, path, name) {
        Ok(d) => d,
        Err(e) => return loaded.skipped.push(e.into()),
    };
    clean_temp(&dir, RECORD);
    let record = match read::<ContainerRecord>(&dir, &dir_path, RECORD) {
        Ok(Some(r)) => r,
        Ok(None) => return loaded.skipped.push(foreign(format!("no {RECORD}"))),
        Err(e) => return loaded.skipped.push(e),
    };
    if record.id != name {
        let reason = format!("the record of container {:?}", record.id);
        return loaded.skipped.push(foreign(reason));
    }
    loaded.containers.push(record);
    load_execs(&dir, &dir_path, name, loaded);
}

/// Loads the records in `CONTAINER/execs/*` into `loaded`. An exec
/// directory without a record is one that was being set up.
fn load_execs(container: &OwnedFd, path: &Path, id: &str, loaded: &mut Loaded) {
    let execs = match files::open_subdir(container, path, EXECS) {
        Ok(d) => d,
        Err(e) if is_missing(&e) => return,
        Err(e) => return loaded.skipped.push(e.into()),
    };
    let path = path.join(EXECS);
    let names = match names(&execs, &path) {
        Ok(n) => n,
        Err(e) => return loaded.skipped.push(e),
    };
    for name in names {
        let dir_path = path.join(&name);
        let result = files::open_subdir(&execs, &path, &name)
            .map_err(StateError::from)
            .and_then(|dir| {
                clean_temp(&dir, RECORD);
                read::<ExecRecord>(&dir, &dir_path, RECORD)
            });
        match result {
            Ok(Some(r)) if r.exec_id == name && r.container == id => loaded.execs.push(r),
            Ok(Some(r)) => loaded.skipped.push(StateError::Foreign {
                path: dir_path,
                reason: format!("the record of {} in container {}", r.exec_id, r.container),
            }),
            Ok(None) => {}
            Err(e) => loaded.skipped.push(e),
        }
    }
}
