//! Finding a process's cgroup directories from /proc/<pid>/cgroup and the
//! mount table.
//!
//! /proc/<pid>/cgroup gives paths relative to each hierarchy's root; the
//! mount table says where (and which part of) each hierarchy is mounted.
//! Joining the two works for pure v1, pure v2 and hybrid hosts, for
//! co-mounted controllers (`cpu,cpuacct`) and inside cgroup namespaces or
//! bind mounts where a mount shows only a sub-tree.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::CgroupPaths;

/// Why a process's cgroup directories could not be found.
#[derive(Debug, Error)]
pub enum LocateError {
    /// /proc/<pid>/cgroup or the mount table could not be read (most often:
    /// the process has exited).
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Neither a v1 memory hierarchy nor a cgroup2 hierarchy holding the
    /// process is mounted here, so there is nowhere to read stats from.
    #[error("no mounted cgroup v1 memory or cgroup v2 hierarchy contains the process")]
    NotFound,
}

/// The v1 controllers podmon reads, in [`CgroupPaths::V1`] field order.
const V1_CONTROLLERS: [&str; 5] = ["cpu", "cpuacct", "memory", "pids", "blkio"];

/// Sans-IO: from the text of /proc/<pid>/cgroup and /proc/self/mountinfo,
/// the directories. Hybrid hosts: prefer v1 controllers when the memory
/// controller is mounted as v1 (that is where runc puts the limits), else v2.
///
/// # Errors
///
/// [`LocateError::NotFound`] when neither a v1 memory hierarchy nor a cgroup2
/// hierarchy holding the process is in the mount table. Malformed lines are
/// skipped, never an error.
pub fn paths_from(proc_cgroup: &str, mountinfo: &str) -> Result<CgroupPaths, LocateError> {
    let memberships: Vec<Membership<'_>> =
        proc_cgroup.lines().filter_map(Membership::parse).collect();
    let mounts: Vec<Mount<'_>> = mountinfo.lines().filter_map(Mount::parse).collect();

    let [cpu, cpuacct, memory, pids, blkio] =
        V1_CONTROLLERS.map(|controller| v1_dir(controller, &memberships, &mounts));
    if memory.is_some() {
        return Ok(CgroupPaths::V1 {
            cpu,
            cpuacct,
            memory,
            pids,
            blkio,
        });
    }
    v2_dir(&memberships, &mounts)
        .map(|dir| CgroupPaths::V2 { dir })
        .ok_or(LocateError::NotFound)
}

/// Reads those two files for `pid`.
///
/// # Errors
///
/// [`LocateError::Io`] when a file cannot be read (typically: the process is
/// gone), otherwise as [`paths_from`].
pub fn paths_for_pid(pid: i32) -> Result<CgroupPaths, LocateError> {
    let proc_cgroup = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
    paths_from(&proc_cgroup, &mountinfo)
}

/// Reads a whole /proc file, keeping its path in the error.
fn read(path: &Path) -> Result<String, LocateError> {
    std::fs::read_to_string(path).map_err(|source| LocateError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The directory of a v1 `controller`: the process's path in the hierarchy
/// holding it, under a mount of that hierarchy.
fn v1_dir(
    controller: &str,
    memberships: &[Membership<'_>],
    mounts: &[Mount<'_>],
) -> Option<PathBuf> {
    let membership = memberships
        .iter()
        .find(|m| !m.is_unified() && m.has_controller(controller))?;
    mounts
        .iter()
        .filter(|mount| mount.fstype == "cgroup" && mount.has_option(controller))
        .find_map(|mount| mount.dir_for(membership.path))
}

/// The process's directory in the cgroup2 hierarchy, if it is mounted.
fn v2_dir(memberships: &[Membership<'_>], mounts: &[Mount<'_>]) -> Option<PathBuf> {
    let membership = memberships.iter().find(|m| m.is_unified())?;
    mounts
        .iter()
        .filter(|mount| mount.fstype == "cgroup2")
        .find_map(|mount| mount.dir_for(membership.path))
}

/// One line of /proc/<pid>/cgroup: `hierarchy-ID:controller-list:path`.
pub(super) struct Membership<'a> {
    /// `0` for the cgroup2 hierarchy.
    id: &'a str,
    /// Comma-separated controllers; empty for cgroup2 and named hierarchies
    /// show as `name=...`.
    controllers: &'a str,
    /// Path relative to the hierarchy root (as seen in our cgroup namespace).
    pub(super) path: &'a str,
}

impl<'a> Membership<'a> {
    /// Splits a line; `None` for lines that do not have the three fields.
    pub(super) fn parse(line: &'a str) -> Option<Self> {
        // The path is last and may itself contain ':'.
        let mut fields = line.splitn(3, ':');
        Some(Self {
            id: fields.next()?,
            controllers: fields.next()?,
            path: fields.next()?,
        })
    }

    /// Whether this is the cgroup2 (unified) hierarchy's line.
    pub(super) fn is_unified(&self) -> bool {
        self.id == "0" && self.controllers.is_empty()
    }

    /// Whether `controller` is bound to this hierarchy (`name=systemd`
    /// for systemd's named v1 hierarchy).
    pub(super) fn has_controller(&self, controller: &str) -> bool {
        self.controllers.split(',').any(|c| c == controller)
    }
}

/// The fields of one /proc/self/mountinfo line that locating needs.
pub(super) struct Mount<'a> {
    /// Which directory of the filesystem is mounted (`/` unless this is a
    /// bind mount of a sub-tree or a cgroup namespace shows only part).
    root: String,
    /// Where it is mounted.
    point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`, among others.
    pub(super) fstype: &'a str,
    /// Super-block options; for v1 these name the controllers.
    super_options: &'a str,
}

impl<'a> Mount<'a> {
    /// Parses a line: `ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTS`.
    pub(super) fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.split_whitespace();
        let root = fields.nth(3)?;
        let point = fields.next()?;
        // Skip mount options and the variable number of optional fields.
        fields.find(|field| *field == "-")?;
        let fstype = fields.next()?;
        let _source = fields.next()?;
        let super_options = fields.next().unwrap_or("");
        Some(Self {
            root: unescape(root),
            point: PathBuf::from(unescape(point)),
            fstype,
            super_options,
        })
    }

    /// Whether the super-block options include `option` exactly.
    pub(super) fn has_option(&self, option: &str) -> bool {
        self.super_options.split(',').any(|o| o == option)
    }

    /// The directory for cgroup `path` under this mount, if the mount shows
    /// that part of the hierarchy.
    pub(super) fn dir_for(&self, path: &str) -> Option<PathBuf> {
        let relative = if self.root == "/" {
            path.trim_start_matches('/')
        } else {
            let rest = path.strip_prefix(self.root.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest.trim_start_matches('/')
        };
        // Paths outside our cgroup namespace show as "/.." and cannot be
        // reached through this mount.
        if relative.split('/').any(|part| part == "..") {
            return None;
        }
        Some(if relative.is_empty() {
            self.point.clone()
        } else {
            self.point.join(relative)
        })
    }
}

/// Undoes mountinfo's octal escapes (`\040` for space, `\011` tab, `\012`
/// newline, `\134` backslash); anything else is kept as it is.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .and_then(|digits| {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                u8::try_from(value).ok()
            });
        if let Some(byte) = octal {
            out.push(byte);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixture_text;
    use super::*;

    fn from_fixtures(dir: &str) -> Result<CgroupPaths, LocateError> {
        paths_from(
            &fixture_text(&format!("proc/{dir}/cgroup")),
            &fixture_text(&format!("proc/{dir}/mountinfo")),
        )
    }

    #[test]
    fn hybrid_host_prefers_v1() {
        // Real files from this hybrid host: separate cpu and cpuacct mounts,
        // memory nested under the session's own memory cgroup.
        let paths = from_fixtures("hybrid").unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V1 {
                cpu: Some("/sys/fs/cgroup/cpu/podmon-fixture".into()),
                cpuacct: Some("/sys/fs/cgroup/cpuacct/podmon-fixture".into()),
                memory: Some(
                    "/sys/fs/cgroup/memory/process_api/6db5eb69f958f4225df2c245fde7a607/podmon-fixture"
                        .into()
                ),
                pids: Some("/sys/fs/cgroup/pids/podmon-fixture".into()),
                blkio: Some("/sys/fs/cgroup/blkio/podmon-fixture".into()),
            }
        );
    }

    #[test]
    fn pure_v2_host() {
        let paths = from_fixtures("v2").unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/podmon/pod-7f3a/ctr-1c9e".into()
            }
        );
    }

    #[test]
    fn comounted_cpu_cpuacct() {
        let paths = from_fixtures("v1-comounted").unwrap();
        let dir = |c: &str| {
            Some(PathBuf::from(format!(
                "/sys/fs/cgroup/{c}/podmon/pod-7f3a/ctr-1c9e"
            )))
        };
        assert_eq!(
            paths,
            CgroupPaths::V1 {
                cpu: dir("cpu,cpuacct"),
                cpuacct: dir("cpu,cpuacct"),
                memory: dir("memory"),
                pids: dir("pids"),
                blkio: dir("blkio"),
            }
        );
    }

    #[test]
    fn hybrid_without_v1_memory_falls_back_to_v2() {
        let cgroup = "8:pids:/a\n1:cpu:/a\n0::/a\n";
        let mountinfo = fixture_text("proc/hybrid/mountinfo")
            .lines()
            .filter(|line| !line.ends_with(",memory"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            paths_from(cgroup, &mountinfo).unwrap(),
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/unified/a".into()
            }
        );
    }

    #[test]
    fn missing_controllers_are_none() {
        let cgroup = "4:memory:/x\n0::/x\n";
        let mountinfo = fixture_text("proc/hybrid/mountinfo");
        assert_eq!(
            paths_from(cgroup, &mountinfo).unwrap(),
            CgroupPaths::V1 {
                cpu: None,
                cpuacct: None,
                memory: Some("/sys/fs/cgroup/memory/x".into()),
                pids: None,
                blkio: None,
            }
        );
    }

    #[test]
    fn root_cgroup_is_the_mount_point() {
        let paths = paths_from("0::/\n", &fixture_text("proc/v2/mountinfo")).unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup".into()
            }
        );
    }

    #[test]
    fn mount_of_subtree_strips_its_root() {
        // A container that bind-mounts only its own part of the host tree.
        let mountinfo = "40 30 0:27 /podmon/pod /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let paths = paths_from("0::/podmon/pod/ctr\n", mountinfo).unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V2 {
                dir: "/sys/fs/cgroup/ctr".into()
            }
        );
        // A sibling sub-tree is not reachable through that mount.
        assert!(matches!(
            paths_from("0::/podmon/pod2/ctr\n", mountinfo),
            Err(LocateError::NotFound)
        ));
        // Outside our cgroup namespace.
        assert!(matches!(
            paths_from(
                "0::/../other\n",
                "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
            ),
            Err(LocateError::NotFound)
        ));
    }

    #[test]
    fn escaped_mount_point() {
        let mountinfo =
            "41 31 0:38 / /mnt/cg\\040two rw,relatime shared:5 master:1 - cgroup2 none rw\n";
        let paths = paths_from("0::/a b\n", mountinfo).unwrap();
        assert_eq!(
            paths,
            CgroupPaths::V2 {
                dir: "/mnt/cg two/a b".into()
            }
        );
    }

    #[test]
    fn garbage_and_empty_input_is_not_found() {
        for (cgroup, mountinfo) in [
            ("", ""),
            ("nonsense\n::\n", "- - -\n\\\n"),
            ("0::/a\n", ""),
            ("", "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"),
        ] {
            assert!(
                matches!(paths_from(cgroup, mountinfo), Err(LocateError::NotFound)),
                "{cgroup:?} {mountinfo:?}"
            );
        }
    }

    #[test]
    fn unescape_keeps_odd_backslashes() {
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\9zz"), "a\\9zz");
        assert_eq!(unescape("end\\04"), "end\\04");
        assert_eq!(unescape("\\777"), "\\777");
    }

    #[test]
    fn self_is_locatable() {
        let paths = paths_for_pid(i32::try_from(std::process::id()).unwrap()).unwrap();
        match paths {
            CgroupPaths::V2 { dir } => assert!(dir.is_dir()),
            CgroupPaths::V1 { memory, .. } => assert!(memory.unwrap().is_dir()),
        }
    }

    #[test]
    fn exited_process_is_io_error() {
        assert!(matches!(paths_for_pid(-1), Err(LocateError::Io { .. })));
    }
}
